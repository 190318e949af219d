//! The conformance kit against the reference server (all pass) and against hosts that break
//! one rule each (the kit names the broken rule).

mod common;

use std::collections::HashMap;
use std::sync::Mutex;

use common::{APP, Breakage, JWT_SECRET, KEY, with_body};
use http::StatusCode;
use serde_json::Value;
use techcentrix_auth_client::conformance::{self, Config, Outcome, Report};
use techcentrix_auth_client::{ApiKey, RawRequest, RawResponse};

fn config(url: &str) -> Config {
    let mut config = Config::new(url, APP, ApiKey::new(KEY));
    config.jwt_secret = Some(ApiKey::new(JWT_SECRET));
    config.protected = Some("/me".into());
    config
}

async fn run(url: &str) -> Report {
    let report = conformance::run(&config(url)).await;
    for result in &report.results {
        println!("{result}");
    }
    println!("{}", report.summary());
    report
}

fn assert_fails(report: &Report, check: &str, why_contains: &str) {
    match report.outcome(check) {
        Some(Outcome::Fail(why)) => assert!(
            why.contains(why_contains),
            "`{check}` failed for another reason: {why}"
        ),
        other => panic!("`{check}` should fail, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_passes() {
    let Some(server) = common::reference_server() else {
        return;
    };
    let report = run(&server.url).await;
    assert!(
        report.is_success(),
        "failures: {:?}",
        report.failures().collect::<Vec<_>>()
    );
    assert!(report.passed() > 90);
    // Twice against one server: fresh ids every run.
    assert!(run(&server.url).await.is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_options_the_dependent_checks_skip() {
    let Some(server) = common::reference_server() else {
        return;
    };
    let report = conformance::run(&Config::new(server.url.clone(), APP, ApiKey::new(KEY))).await;
    assert!(
        report.is_success(),
        "failures: {:?}",
        report.failures().collect::<Vec<_>>()
    );
    assert!(matches!(
        report.outcome("guard: no token"),
        Some(Outcome::Skip(_))
    ));
    assert!(matches!(
        report.outcome("external: HS512 signature"),
        Some(Outcome::Skip(_))
    ));
}

/// Answers the first session of a oneTimeToken again to every later redemption of it.
#[derive(Default)]
struct AcceptsTwice(Mutex<HashMap<Vec<u8>, RawResponse>>);

impl Breakage for AcceptsTwice {
    fn response(&self, request: &RawRequest, response: RawResponse) -> RawResponse {
        if request.path() != "/user/api/auth/token" {
            return response;
        }
        let mut seen = self.0.lock().unwrap();
        let body = request.body_bytes();
        if response.status == StatusCode::OK {
            seen.insert(body, response.clone());
            response
        } else {
            seen.get(&body).cloned().unwrap_or(response)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_accepting_a_token_twice_fails_single_use() {
    let Some(server) = common::reference_server() else {
        return;
    };
    let url = common::broken_proxy(&server.url, AcceptsTwice::default()).await;
    let report = run(&url).await;
    assert_fails(
        &report,
        "single use: second redemption refused",
        "status 200, expected 401",
    );
    assert!(!report.is_success());
}

/// Puts the presented key into the 401 message.
struct EchoesKey;

impl Breakage for EchoesKey {
    fn response(&self, request: &RawRequest, response: RawResponse) -> RawResponse {
        let key = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        match key {
            Some(key) if response.status == StatusCode::UNAUTHORIZED => {
                let body = serde_json::json!({ "message": format!("Invalid access token: {key}"), "errorCode": 4 });
                with_body(response, body.to_string())
            }
            _ => response,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_echoing_the_key_fails_the_secret_rule() {
    let Some(server) = common::reference_server() else {
        return;
    };
    let url = common::broken_proxy(&server.url, EchoesKey).await;
    let report = run(&url).await;
    assert_fails(
        &report,
        "secrets: never in a response",
        "contains the presented API key",
    );
    assert_fails(
        &report,
        "401/4: wrong key",
        "expected \"Invalid access token\"",
    );
}

/// Hides the rotation: the client keeps seeing the refresh token it first got, while the
/// proxy swaps in the real one.
#[derive(Default)]
struct NoRotation(Mutex<HashMap<String, String>>);

fn refresh_token_of(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    Some(value.get("refreshToken")?.as_str()?.to_owned())
}

impl Breakage for NoRotation {
    fn request(&self, request: RawRequest) -> RawRequest {
        let Some(presented) = refresh_token_of(&request.body_bytes()) else {
            return request;
        };
        let real = self.0.lock().unwrap().get(&presented).cloned();
        match real {
            Some(real) => {
                let body = serde_json::json!({ "refreshToken": real, "presented": presented });
                RawRequest::new(request.method().clone(), request.path()).json(body.to_string())
            }
            None => request,
        }
    }

    fn response(&self, request: &RawRequest, response: RawResponse) -> RawResponse {
        if request.path() != "/user/api/auth/refresh" || response.status != StatusCode::OK {
            return response;
        }
        let sent: Value = serde_json::from_slice(&request.body_bytes()).unwrap();
        let presented = sent
            .get("presented")
            .or(sent.get("refreshToken"))
            .and_then(Value::as_str)
            .unwrap()
            .to_owned();
        let mut session: Value = serde_json::from_slice(&response.body).unwrap();
        let fresh = session["refreshToken"].as_str().unwrap().to_owned();
        self.0.lock().unwrap().insert(presented.clone(), fresh);
        session["refreshToken"] = Value::String(presented);
        with_body(response, session.to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_not_rotating_refresh_tokens_fails_rotation() {
    let Some(server) = common::reference_server() else {
        return;
    };
    let url = common::broken_proxy(&server.url, NoRotation::default()).await;
    let report = run(&url).await;
    assert_fails(&report, "refresh: rotation", "not rotated");
    assert_fails(
        &report,
        "refresh: reuse of a rotated token refused and revokes the session",
        "not rotated",
    );
}

/// Answers 500/9 where the host answered 400/1.
struct InternalOnBadJson;

impl Breakage for InternalOnBadJson {
    fn response(&self, _request: &RawRequest, mut response: RawResponse) -> RawResponse {
        if response.status == StatusCode::BAD_REQUEST {
            response.status = StatusCode::INTERNAL_SERVER_ERROR;
            return with_body(response, r#"{"message":"Internal error","errorCode":9}"#);
        }
        response
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_answering_500_to_bad_json_fails_the_400_rows() {
    let Some(server) = common::reference_server() else {
        return;
    };
    let url = common::broken_proxy(&server.url, InternalOnBadJson).await;
    let report = run(&url).await;
    assert_fails(&report, "400/1: bad JSON", "status 500, expected 400");
    assert_fails(
        &report,
        "400/1: redemption body not JSON",
        "status 500, expected 400",
    );
    // The rest of the contract still holds.
    assert!(matches!(
        report.outcome("single use: second redemption refused"),
        Some(Outcome::Pass)
    ));
}

/// Publishes the HS512 secret as a JWK.
struct SymmetricJwks;

impl Breakage for SymmetricJwks {
    fn response(&self, request: &RawRequest, response: RawResponse) -> RawResponse {
        if request.path() == "/.well-known/jwks.json" && response.status == StatusCode::OK {
            return with_body(
                response,
                r#"{"keys":[{"kty":"oct","kid":"hs","alg":"HS512","k":"c2VjcmV0"}]}"#,
            );
        }
        response
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_publishing_a_symmetric_key_fails_the_jwks_rule() {
    let Some(server) = common::reference_server() else {
        return;
    };
    let url = common::broken_proxy(&server.url, SymmetricJwks).await;
    let report = run(&url).await;
    assert_fails(
        &report,
        "jwks: no symmetric key published",
        "has a `k` member",
    );
    assert_eq!(
        report.failed(),
        1,
        "only the JWKS rule is broken: {:?}",
        report.failures().collect::<Vec<_>>()
    );
}

/// Drops `WWW-Authenticate` from 401 answers.
struct NoChallenge;

impl Breakage for NoChallenge {
    fn response(&self, _request: &RawRequest, mut response: RawResponse) -> RawResponse {
        response.headers.remove("www-authenticate");
        response
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_without_www_authenticate_fails_the_401_rows() {
    let Some(server) = common::reference_server() else {
        return;
    };
    let url = common::broken_proxy(&server.url, NoChallenge).await;
    let report = run(&url).await;
    assert_fails(&report, "401/4: wrong key", "WWW-Authenticate None");
    assert_fails(&report, "guard: no token", "WWW-Authenticate None");
}
