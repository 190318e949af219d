//! The span every auth request runs in (`tcx.request`): it names the endpoint, the app and
//! the outcome, and the handler's own events are inside it.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use http::Request;
use http_body_util::Full;
use tracing_subscriber::fmt::MakeWriter;

/// Log lines written into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }
}

/// Runs `request` through a fresh service with debug logs captured; the log lines.
async fn logged(request: Request<Full<bytes::Bytes>>) -> (u16, Vec<String>) {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let answer = call(&auth(), request).await;
    (answer.status.as_u16(), captured.lines())
}

fn finished(lines: &[String]) -> &String {
    let found: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("request finished"))
        .collect();
    assert_eq!(found.len(), 1, "one `request finished` event: {lines:#?}");
    found[0]
}

#[tokio::test]
async fn a_sign_in_is_logged_with_its_endpoint_app_and_outcome() {
    let (status, lines) = logged(guide_request(KEY, GUIDE_BODY)).await;
    assert_eq!(status, 200);
    let line = finished(&lines);
    assert!(
        line.contains(r#"tcx.request{endpoint="external" app="acme" outcome="ok"}"#),
        "{line}"
    );
    assert!(line.contains("status=200"), "{line}");
}

#[tokio::test]
async fn a_refusal_is_logged_with_its_outcome_and_status() {
    let (status, lines) = logged(guide_request(
        "unknown-key-0123456789abcdef0123456789",
        GUIDE_BODY,
    ))
    .await;
    assert_eq!(status, 401);
    let line = finished(&lines);
    assert!(
        line.contains(r#"tcx.request{endpoint="external" outcome="invalid_api_key"}"#),
        "{line}"
    );
    assert!(line.contains("status=401"), "{line}");
    // The refusal's own event is inside the span too.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("request refused") && l.contains(r#"endpoint="external""#)),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn another_method_is_logged_as_method_not_allowed() {
    let request = Request::get("/user/api/auth/token")
        .body(Full::default())
        .unwrap();
    let (status, lines) = logged(request).await;
    assert_eq!(status, 405);
    let line = finished(&lines);
    assert!(
        line.contains(r#"tcx.request{endpoint="token" outcome="method_not_allowed"}"#),
        "{line}"
    );
}

/// At the default level (`info`), as the reference servers start: a sign-up writes its one
/// audit line and no request span; a sign-in of the same user writes nothing.
#[tokio::test]
async fn at_info_only_the_audit_lines_are_written() {
    use techcentrix_auth::events::TracingEvents;
    use techcentrix_auth::token::SigningKeys;
    use techcentrix_auth::{JwtSecret, TechCentrixAuth};

    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let auth = TechCentrixAuth::builder()
        .api_keys(keys())
        .signing_keys(SigningKeys::hs512(JwtSecret::new(SECRET.to_vec()).unwrap()))
        .events(TracingEvents)
        .build()
        .unwrap();

    assert_eq!(
        call(&auth, guide_request(KEY, GUIDE_BODY)).await.status,
        200
    );
    let lines = captured.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("event=\"sign_up\""), "{lines:#?}");
    assert!(!lines[0].contains("tcx.request"), "{lines:#?}");

    assert_eq!(
        call(&auth, guide_request(KEY, GUIDE_BODY)).await.status,
        200
    );
    assert_eq!(captured.lines().len(), 1, "{:#?}", captured.lines());
}
