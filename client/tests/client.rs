//! The client against the reference server (the whole flow, typed errors) and against tiny
//! local servers (Retry-After, no retry of 401, timeouts, redaction).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{APP, KEY, response};
use techcentrix_auth_client::{
    ApiKey, Client, Error, ErrorCode, Profile, RawRequest, RetryPolicy, Timeout,
};

fn profile(id: &str) -> Profile {
    Profile::new(id, format!("{id}@example.com"), "Client")
}

#[tokio::test]
async fn the_whole_flow_against_the_reference_server() {
    let Some(server) = common::reference_server() else {
        return;
    };
    let client = Client::new(&server.url).unwrap();
    let partner = client.partner(ApiKey::new(KEY));

    let token = partner.external(&profile("flow-user")).await.unwrap();
    let session = client.redeem(APP, &token).await.unwrap();
    assert_eq!(session.token_type, "Bearer");
    assert_eq!(session.expires_in, 900);

    let me: serde_json::Value = client.get_json("/me", &session.access_token).await.unwrap();
    assert_eq!(me["email"], "flow-user@example.com");
    assert_eq!(me["userId"], session.user_id.as_str());
    let raw = client.get("/me", &session.access_token).await.unwrap();
    assert_eq!(raw.status, 200);

    let refreshed = client.refresh(&session.refresh_token).await.unwrap();
    assert_ne!(refreshed.refresh_token, session.refresh_token);
    assert_eq!(refreshed.user_id, session.user_id);

    // Sign out with the access token, then with the refresh token of another session.
    client.sign_out(&refreshed.access_token).await.unwrap();
    let err = client.refresh(&refreshed.refresh_token).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidToken));

    let issued = partner.external_json(&profile("flow-user")).await.unwrap();
    assert_eq!(issued.expires_in, 60);
    let other = client.redeem(APP, &issued.one_time_token).await.unwrap();
    client.sign_out(&other.refresh_token).await.unwrap();
    client.sign_out(&other.refresh_token).await.unwrap(); // idempotent
    assert_eq!(
        client
            .refresh(&other.refresh_token)
            .await
            .unwrap_err()
            .code(),
        Some(ErrorCode::InvalidToken)
    );
}

#[tokio::test]
async fn typed_errors_from_the_reference_server() {
    let Some(server) = common::reference_server() else {
        return;
    };
    let client = Client::new(&server.url).unwrap();

    let wrong = client.partner(ApiKey::new("client-tests-wrong-key-0123456789abcdef"));
    let Error::Api(api) = wrong.external(&profile("typed")).await.unwrap_err() else {
        panic!("an API error")
    };
    assert_eq!(
        (api.status.as_u16(), api.code, api.message.as_str()),
        (401, ErrorCode::InvalidAccessToken, "Invalid access token")
    );

    let partner = client.partner(ApiKey::new(KEY));
    let err = partner
        .external(&Profile::new("typed", "not-an-email", "T"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::MalformedRequest));
    assert!(
        err.api()
            .unwrap()
            .message
            .starts_with("Malformed request: ")
    );

    let token = partner.external(&profile("typed")).await.unwrap();
    assert_eq!(
        client.redeem("other-app", &token).await.unwrap_err().code(),
        Some(ErrorCode::InvalidToken)
    );
    let session = client.redeem(APP, &token).await.unwrap();
    let again = client.redeem(APP, &token).await.unwrap_err();
    assert_eq!(again.api().unwrap().message, "Invalid one-time token");

    // Reuse of a rotated refresh token revokes the session.
    let rotated = client.refresh(&session.refresh_token).await.unwrap();
    let reuse = client.refresh(&session.refresh_token).await.unwrap_err();
    assert_eq!(reuse.api().unwrap().message, "Invalid refresh token");
    assert!(client.refresh(&rotated.refresh_token).await.is_err());

    let bad = techcentrix_auth_client::AccessToken::new("not-a-token");
    assert_eq!(
        client
            .get_json::<serde_json::Value>("/me", &bad)
            .await
            .unwrap_err()
            .code(),
        Some(ErrorCode::InvalidAccessToken)
    );
    assert_eq!(
        client.sign_out(&bad).await.unwrap_err().code(),
        Some(ErrorCode::InvalidAccessToken)
    );

    // raw: anything goes, answered as it is.
    let answer = client
        .raw(&RawRequest::get("/user/api/auth/external"))
        .await
        .unwrap();
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("POST"));
}

/// A server answering each request with the next of `answers` (the last one repeats), and
/// the number of requests it got.
type Answer = (u16, Vec<(&'static str, &'static str)>, &'static str);

async fn scripted(answers: Vec<Answer>) -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let answers = Arc::new(answers);
    let url = common::serve(move |_request| {
        let (answers, seen) = (answers.clone(), seen.clone());
        async move {
            let n = seen.fetch_add(1, Ordering::SeqCst).min(answers.len() - 1);
            let (status, headers, body) = &answers[n];
            response(*status, headers, *body)
        }
    })
    .await;
    (url, count)
}

const UNAVAILABLE: &str = r#"{"message":"Service unavailable","errorCode":7}"#;
const SESSION: &str = r#"{"accessToken":"a.b.c","refreshToken":"r","tokenType":"Bearer","expiresIn":900,"userId":"u"}"#;

#[tokio::test]
async fn a_503_with_retry_after_is_retried_after_that_wait() {
    let (url, count) = scripted(vec![
        (
            503,
            vec![("content-type", "application/json"), ("retry-after", "1")],
            UNAVAILABLE,
        ),
        (200, vec![("content-type", "application/json")], SESSION),
    ])
    .await;
    let client = Client::new(&url).unwrap();
    let started = Instant::now();
    let session = client
        .refresh(&techcentrix_auth_client::RefreshToken::new("r0"))
        .await
        .unwrap();
    assert_eq!(session.user_id, "u");
    assert_eq!(count.load(Ordering::SeqCst), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_429_is_retried_until_the_attempts_run_out() {
    let (url, count) = scripted(vec![(
        429,
        vec![("content-type", "application/json"), ("retry-after", "1")],
        r#"{"message":"Too many requests","errorCode":6}"#,
    )])
    .await;
    let policy = RetryPolicy {
        max_attempts: 2,
        ..RetryPolicy::default()
    };
    let client = Client::builder(&url).retry(policy).build().unwrap();
    let err = client
        .partner(ApiKey::new(KEY))
        .external(&profile("x"))
        .await
        .unwrap_err();
    let api = err.api().expect("the 429 itself");
    assert_eq!(
        (api.code, api.retry_after),
        (ErrorCode::TooManyRequests, Some(Duration::from_secs(1)))
    );
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_retry_after_past_the_total_wait_is_not_waited_for() {
    let (url, count) = scripted(vec![(
        503,
        vec![("content-type", "application/json"), ("retry-after", "120")],
        UNAVAILABLE,
    )])
    .await;
    let client = Client::new(&url).unwrap();
    let started = Instant::now();
    let err = client
        .refresh(&techcentrix_auth_client::RefreshToken::new("r0"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::ServiceUnavailable));
    assert_eq!(
        err.api().unwrap().retry_after,
        Some(Duration::from_secs(120))
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_401_and_a_500_are_not_retried() {
    for (status, body) in [
        (401, r#"{"message":"Invalid access token","errorCode":4}"#),
        (500, r#"{"message":"Internal error","errorCode":9}"#),
        (400, r#"{"message":"Malformed request: id","errorCode":1}"#),
    ] {
        let (url, count) = scripted(vec![(
            status,
            vec![("content-type", "application/json"), ("retry-after", "1")],
            body,
        )])
        .await;
        let client = Client::new(&url).unwrap();
        let err = client
            .partner(ApiKey::new(KEY))
            .external(&profile("x"))
            .await
            .unwrap_err();
        assert_eq!(err.api().unwrap().status.as_u16(), status);
        assert_eq!(count.load(Ordering::SeqCst), 1, "HTTP {status} was retried");
    }
}

#[tokio::test]
async fn the_api_key_never_shows_in_debug_or_errors() {
    // A host that echoes the presented Authorization header in its message.
    let url = common::serve(|request: http::Request<bytes::Bytes>| async move {
        let presented = request.headers()["authorization"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = serde_json::json!({ "message": format!("bad key {presented}"), "errorCode": 4 })
            .to_string();
        response(401, &[("content-type", "application/json")], body)
    })
    .await;
    let partner = Client::new(&url).unwrap().partner(ApiKey::new(KEY));
    assert!(!format!("{partner:?}").contains(KEY));
    let err = partner.external(&profile("x")).await.unwrap_err();
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(KEY), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
    }
}

#[tokio::test]
async fn a_slow_host_times_out_and_a_closed_port_is_a_transport_error() {
    let url = common::serve(|_request| async {
        tokio::time::sleep(Duration::from_secs(10)).await;
        response(200, &[], "late")
    })
    .await;
    let client = Client::builder(&url)
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client.raw(&RawRequest::get("/")).await.unwrap_err();
    assert!(matches!(err, Error::Timeout(Timeout::Request)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));

    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = Client::new(&closed)
        .unwrap()
        .raw(&RawRequest::get("/"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
}

#[test]
fn https_needs_the_rustls_feature_and_urls_are_checked() {
    let https = Client::new("https://auth.example");
    if cfg!(feature = "rustls") {
        assert!(https.is_ok());
    } else {
        assert!(matches!(https, Err(Error::InvalidUrl(_))));
    }
    assert!(matches!(Client::new("ftp://x"), Err(Error::InvalidUrl(_))));
    assert!(matches!(
        Client::new("http://user:pw@x"),
        Err(Error::InvalidUrl(_))
    ));
}
