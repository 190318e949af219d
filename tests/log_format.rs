//! The reference servers' log lines (`examples/common/log_format.rs`): the same text as
//! tracing-subscriber's default formatter without colours, but for control characters in
//! field values, which are escaped.

#[allow(dead_code)]
#[path = "../examples/common/log_clock.rs"]
mod log_clock;
#[path = "../examples/common/log_format.rs"]
mod log_format;

use std::io;
use std::sync::{Arc, Mutex};

use techcentrix_auth::events::{AuthEvent, AuthEvents, TracingEvents};
use techcentrix_auth::{AppId, SessionId, UserId};
use tracing_subscriber::fmt::MakeWriter;

/// Lines written by a subscriber, kept for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl MakeWriter<'_> for Captured {
    type Writer = Captured;

    fn make_writer(&self) -> Captured {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// The lines, each without its timestamp (the two formatters run at different instants).
    fn lines(&self) -> Vec<String> {
        let text = self.text();
        assert!(text.ends_with('\n'), "{text:?}");
        text.lines()
            .map(|line| {
                let (stamp, rest) = line.split_at(27);
                assert!(stamp.starts_with("20") && stamp.ends_with('Z'), "{line:?}");
                rest.to_owned()
            })
            .collect()
    }
}

/// The lines `emit` logs through the default formatter and through the servers' one.
fn both(emit: impl Fn()) -> (Vec<String>, Vec<String>) {
    let (default, ours) = both_captured(emit);
    (default.lines(), ours.lines())
}

/// What `emit` logs through the default formatter and through the servers' one.
fn both_captured(emit: impl Fn()) -> (Captured, Captured) {
    let default = Captured::default();
    let ours = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(default.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, &emit);
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(ours.clone())
        .with_ansi(false)
        .fmt_fields(log_format::LineFields)
        .event_format(log_format::LineFormat::new())
        .finish();
    tracing::subscriber::with_default(subscriber, &emit);
    (default, ours)
}

#[test]
fn the_audit_lines_are_the_default_formatters_text() {
    let app = AppId::from("demo");
    let user = UserId::new("0b5f6a1e-7c1d-4f7e-9a51-3c2d1e0f9a8b");
    let session = SessionId::new("s-1");
    let events = [
        AuthEvent::SignedUp {
            app: app.clone(),
            user: user.clone(),
        },
        AuthEvent::KeyRejected,
        AuthEvent::RefreshReused {
            app: app.clone(),
            user: user.clone(),
            session: session.clone(),
        },
        AuthEvent::SignedOut {
            session: Some(session),
        },
        AuthEvent::SignedOut { session: None },
    ];
    let (default, ours) = both(|| {
        for event in &events {
            TracingEvents.on_event(event);
        }
    });
    assert_eq!(ours.len(), events.len());
    assert_eq!(ours, default);
    assert_eq!(
        ours[0],
        "  INFO techcentrix_auth::events: auth event event=\"sign_up\" app=demo \
         user=0b5f6a1e-7c1d-4f7e-9a51-3c2d1e0f9a8b"
    );
}

#[test]
fn levels_spans_and_every_kind_of_field_are_the_default_formatters_text() {
    let (default, ours) = both(|| {
        let outer = tracing::info_span!("request", method = "POST", n = 3);
        let _outer = outer.enter();
        let inner = tracing::warn_span!("store", table = %"users");
        let _inner = inner.enter();
        let empty = tracing::error_span!("empty");
        let _empty = empty.enter();
        tracing::trace!(a = 1u64, b = -2i64, c = true, d = 0.5f64, "at {}", "trace");
        tracing::debug!(r#type = "kind", list = ?[1, 2], "with a raw name");
        tracing::info!(
            quoted = "say \"hi\" \\ there",
            unicode = "café ✓",
            "strings"
        );
        tracing::warn!(text = %"display text", debug = ?"debug text");
        tracing::error!(error = %io::Error::other("disk full"), "failed");
        tracing::info!(target: "custom::target", "a target of its own");
        tracing::info!("");
    });
    assert_eq!(ours.len(), 7);
    assert_eq!(ours, default);
    assert!(
        ours[0].starts_with(" TRACE request{method=\"POST\" n=3}:store{table=users}:empty: "),
        "{}",
        ours[0]
    );
}

#[test]
fn control_characters_in_values_are_escaped_where_the_default_lets_some_through() {
    let (default, ours) = both_captured(|| {
        tracing::warn!(why = %"line one\nline two", "refused");
        tracing::warn!("\x1b[31mred\x1b[0m and\ttab");
        tracing::warn!(csi = %"\u{9b}2J", del = "x\x7fy", "c1 and del");
    });
    assert_eq!(
        ours.lines(),
        [
            "  WARN log_format: refused why=line one\\x0aline two",
            "  WARN log_format: \\x1b[31mred\\x1b[0m and\\x09tab",
            "  WARN log_format: c1 and del csi=\\u{9b}2J del=\"x\\u{7f}y\"",
        ]
    );
    // The default writes the display value's newline as it is (one event, two lines) and
    // the tab.
    let default = default.text();
    assert!(default.contains("why=line one\nline two\n"), "{default:?}");
    assert!(default.contains("and\ttab\n"), "{default:?}");
}
