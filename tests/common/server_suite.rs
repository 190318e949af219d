//! The reference-server suite: every check takes the example's name and runs the built
//! binary as a user would (port 0, real HTTP over loopback). The root package's
//! `tests/servers.rs` runs it against `axum` and `hyper`, the `servers/` member's against
//! `tonic`, `poem`, `salvo` and `actix`: both include this file by path as `mod suite`,
//! beside `tests/common/process.rs` as `mod common`, and call [`server_suite!`].
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;

/// One test per check for server `$server`: `server_suite!(name)` runs the checks every
/// reference server passes, `server_suite!(name, extra, …)` adds checks, and
/// `server_suite!(name only: check, …)` runs just those.
macro_rules! server_suite {
    ($server:ident $(, $extra:ident)*) => {
        server_suite!($server only:
            guide_request_and_a_bad_key,
            without_api_keys_a_demo_key_is_generated_and_printed,
            bad_settings_stop_the_server_naming_the_variable,
            no_secret_appears_in_the_log,
            a_sign_up_is_in_the_log_while_the_server_runs,
            full_session_flow,
            asymmetric_keys_from_the_environment_are_published,
            an_error_row_per_status,
            a_body_over_the_limit_is_413_however_framed,
            the_guard_on_get_me,
            get_routes_405_and_404,
            the_conformance_kit_passes,
            sigterm_finishes_the_request_in_flight_and_exits_0
            $(, $extra)*
        );
    };
    ($server:ident only: $($check:ident),+ $(,)?) => {
        mod $server {
            $(
                // Two threads: the client connections' tasks run (and close) while the
                // test blocks on the server's exit, so a graceful shutdown does not wait.
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    crate::suite::$check(stringify!($server)).await;
                }
            )+
        }
    };
}

pub fn env_keys() -> String {
    format!("acme:{KEY},other:{OTHER_KEY}")
}

fn secret() -> &'static str {
    std::str::from_utf8(SECRET).unwrap()
}

/// Server `name` with the test keys and secret, plus `extra` variables.
pub fn start_keyed(name: &str, dir: &Path, extra: &[(&str, &str)]) -> Server {
    let keys = env_keys();
    let mut env = vec![
        ("TCX_API_KEYS", keys.as_str()),
        ("TCX_JWT_SECRET", secret()),
    ];
    env.extend_from_slice(extra);
    Server::start(name, &env, dir)
}

pub async fn guide_call(server: &Server, key: &str) -> Answer {
    http_external(server.addr, key, GUIDE_BODY).await
}

/// A session for the guide's user on `server`: the session answer's JSON.
async fn session(server: &Server) -> serde_json::Value {
    let ott = guide_call(server, KEY).await;
    let session = http_redeem(server.addr, ott.text()).await;
    assert_eq!(session.status, 200, "{}", session.text());
    session.json()
}

async fn get_with_token(server: &Server, path: &str, token: &str) -> Answer {
    let authorization = format!("Bearer {token}");
    http(
        server.addr,
        "GET",
        path,
        &[("Authorization", &authorization)],
        "",
    )
    .await
}

pub async fn guide_request_and_a_bad_key(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = start_keyed(name, dir.path(), &[]);
    let ok = guide_call(&server, KEY).await;
    assert_eq!(ok.status, 200, "{name}: {}", ok.text());
    assert_eq!(ok.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(ok.headers["cache-control"], "no-store");
    let claims = verify_hs512(ok.text(), SECRET, "acme");
    assert_eq!(claims["type"], "one_time");

    let bad = guide_call(&server, "not-a-key-not-a-key-not-a-key-000").await;
    bad.assert_error(401, 4);
    assert_eq!(bad.headers["www-authenticate"], "Bearer");

    let get = http(server.addr, "GET", "/user/api/auth/external", &[], "").await;
    get.assert_error(405, 8);
    assert_eq!(get.headers["allow"], "POST");

    // The default store is the SQLite file in the working directory.
    assert!(dir.path().join("techcentrix-auth.db").exists(), "{name}");
    assert!(server.terminate().success(), "{name} exits 0 on SIGTERM");
}

pub async fn without_api_keys_a_demo_key_is_generated_and_printed(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(name, &[("TCX_DATABASE_URL", "memory:")], dir.path());
    let stderr = server.stderr();
    let key = stderr
        .lines()
        .find_map(|l| l.split("generated API key for app `demo`: ").nth(1))
        .unwrap_or_else(|| panic!("{name} printed no demo key: {stderr}"))
        .trim()
        .to_owned();
    assert!(key.len() >= 32);
    let ok = guide_call(&server, &key).await;
    assert_eq!(ok.status, 200, "{name}");
    assert_eq!(decode_parts(ok.text()).1["aud"], "demo");
}

/// The guide's user made on `first`, then found again by `second` on the same SQLite file.
pub async fn users_survive_a_restart(first: &str, second: &str) {
    let dir = tempfile::tempdir().unwrap();
    let keys = env_keys();
    let env = [
        ("TCX_API_KEYS", keys.as_str()),
        ("TCX_JWT_SECRET", secret()),
        ("TCX_DATABASE_URL", "sqlite://users.db"),
    ];
    let server = Server::start(first, &env, dir.path());
    let sub = decode_parts(guide_call(&server, KEY).await.text()).1["sub"].clone();
    assert!(server.terminate().success());
    assert!(dir.path().join("users.db").exists());
    let server = Server::start(second, &env, dir.path());
    let again = decode_parts(guide_call(&server, KEY).await.text()).1["sub"].clone();
    assert_eq!(sub, again);
}

/// Runs server `name` with `var=value` and asserts that it refuses to start, naming `var`
/// on stderr, and exits non-zero without listening.
fn assert_refuses_to_start(name: &str, var: &str, value: &str) {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(example_binary(name))
        .current_dir(dir.path())
        .env("TCX_LISTEN", "127.0.0.1:0")
        .env(var, value)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success(), "{name} {var}={value} should fail");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(var), "{name}: {stderr}");
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("listening on"),
        "{name} {var}"
    );
}

pub async fn bad_settings_stop_the_server_naming_the_variable(name: &str) {
    let cases = [
        ("TCX_LISTEN", "not-an-address"),
        ("TCX_API_KEYS", "acme:short"),
        ("TCX_JWT_SECRET", "short"),
        ("TCX_DATABASE_URL", "mysql://localhost/x"),
        ("TCX_ONE_TIME_TOKEN_TTL", "3601"),
        ("TCX_STORE_TIMEOUT", "soon"),
        ("TCX_DATABASE_URL", "sqlite:///nonexistent-dir/deeper/x.db"),
        ("TCX_SIGNING_KEYS", "k:/nonexistent/key.pem"),
    ];
    for (var, value) in cases {
        assert_refuses_to_start(name, var, value);
    }
}

/// The log writer writes its lines in batches: a sign-up's audit line (at the default
/// level) reaches stderr within moments, not only when the server stops.
pub async fn a_sign_up_is_in_the_log_while_the_server_runs(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = start_keyed(name, dir.path(), &[]);
    assert_eq!(guide_call(&server, KEY).await.status, 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !server.stderr().contains(r#"event="sign_up""#) {
        assert!(
            std::time::Instant::now() < deadline,
            "{name}: no sign-up line within 5 s: {}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(server.terminate().success(), "{name} exits 0 on SIGTERM");
}

pub async fn no_secret_appears_in_the_log(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = start_keyed(name, dir.path(), &[("RUST_LOG", "trace")]);
    assert_eq!(guide_call(&server, KEY).await.status, 200);
    let wrong = format!("{KEY}-but-wrong");
    assert_eq!(guide_call(&server, &wrong).await.status, 401);
    // SIGTERM: the server writes out the lines its log writer still holds, then exits.
    let log_file = server.stderr_log.clone();
    assert!(server.terminate().success(), "{name} exits 0 on SIGTERM");
    let log = std::fs::read_to_string(log_file).unwrap();
    assert!(
        log.contains("tcx.request"),
        "{name} logged its spans: {log}"
    );
    assert!(log.contains("acme"), "{name} logged the app id");
    for leaked in [KEY, wrong.as_str(), OTHER_KEY, secret()] {
        assert!(!log.contains(leaked), "{name} logged a secret");
    }
}

/// The mobile SDK's whole flow over HTTP: external → token → /me → refresh → reuse of the
/// old refresh token (revokes the family) → a new session → sign-out.
pub async fn full_session_flow(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = start_keyed(name, dir.path(), &[]);
    let json = [("Content-Type", "application/json")];
    let addr = server.addr;
    let redeem = |ott: String| async move { http_redeem(addr, &ott).await };
    let ott = guide_call(&server, KEY).await.text().to_owned();
    let session = redeem(ott.clone()).await;
    assert_eq!(session.status, 200, "{name}: {}", session.text());
    assert_eq!(session.headers["cache-control"], "no-store");
    let session = session.json();
    redeem(ott).await.assert_error(401, 5);

    let access = session["accessToken"].as_str().unwrap();
    let me = get_with_token(&server, "/me", access).await;
    assert_eq!(me.status, 200, "{name}: {}", me.text());
    let me = me.json();
    assert_eq!(me["userId"], session["userId"]);
    assert_eq!(me["email"], "user1@techcentrix.com");
    assert_eq!(me["firstName"], "User1Name");
    assert_eq!(me["app"], "acme");
    let post = http(server.addr, "POST", "/me", &[], "").await;
    post.assert_error(405, 8);
    assert!(
        post.headers["allow"].to_str().unwrap().contains("GET"),
        "{name}"
    );
    let anonymous = http(server.addr, "GET", "/me", &[], "").await;
    anonymous.assert_error(401, 4);
    assert_eq!(
        anonymous.headers["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );

    let r1 = session["refreshToken"].as_str().unwrap().to_owned();
    let refresh = |token: String| {
        let body = serde_json::json!({ "refreshToken": token }).to_string();
        async move { http(addr, "POST", "/user/api/auth/refresh", &json, &body).await }
    };
    let second = refresh(r1.clone()).await;
    assert_eq!(second.status, 200, "{name}");
    let r2 = second.json()["refreshToken"].as_str().unwrap().to_owned();
    refresh(r1).await.assert_error(401, 5);
    refresh(r2).await.assert_error(401, 5);

    // A new session, then sign-out with its access token.
    let session = self::session(&server).await;
    let access = session["accessToken"].as_str().unwrap();
    let authorization = format!("Bearer {access}");
    let out = http(
        server.addr,
        "POST",
        "/user/api/auth/sign-out",
        &[("Authorization", &authorization)],
        "",
    )
    .await;
    assert_eq!(out.status, 204, "{name}");
    refresh(session["refreshToken"].as_str().unwrap().to_owned())
        .await
        .assert_error(401, 5);

    let jwks = http(server.addr, "GET", "/.well-known/jwks.json", &[], "").await;
    assert_eq!(jwks.json(), serde_json::json!({ "keys": [] }), "{name}");
}

pub async fn asymmetric_keys_from_the_environment_are_published(name: &str) {
    let root = repo_root().display();
    let keys = format!("new:{root}/tests/keys/ec-b.pem,old:{root}/tests/keys/ed-a.pem");
    let dir = tempfile::tempdir().unwrap();
    let api_keys = env_keys();
    let server = Server::start(
        name,
        &[
            ("TCX_API_KEYS", &api_keys),
            ("TCX_SIGNING_KEYS", &keys),
            ("TCX_DATABASE_URL", "memory:"),
        ],
        dir.path(),
    );
    let ott = guide_call(&server, KEY).await;
    let (header, _) = decode_parts(ott.text());
    assert_eq!(
        (header["alg"].as_str(), header["kid"].as_str()),
        (Some("ES256"), Some("new"))
    );
    let jwks = http(server.addr, "GET", "/.well-known/jwks.json", &[], "")
        .await
        .json();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, ["new", "old"], "{name}");
    assert!(
        !jwks.to_string().contains("\"d\""),
        "no private part is published"
    );
}

/// The guide's body padded with an unknown field to exactly `len` bytes.
fn padded_guide_body(len: usize) -> String {
    let open =
        r#"{"id":"user1-external","email":"user1@techcentrix.com","firstName":"User1Name","pad":""#;
    let close = "\"}";
    let pad = len - open.len() - close.len();
    format!("{open}{}{close}", "x".repeat(pad))
}

/// One SPEC §3 row per status the servers can be made to answer over HTTP: 400/1, 401/4,
/// 401/5, 405/8, 413/3, 415/2 and 429/6 (503 and 500 need a failing store; the library's
/// own suites cover them).
pub async fn an_error_row_per_status(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = start_keyed(name, dir.path(), &[("TCX_DATABASE_URL", "memory:")]);
    let addr = server.addr;
    let authorization = format!("Bearer {KEY}");
    let keyed = |content_type: &'static str| {
        let authorization = authorization.clone();
        move |body: String| {
            let authorization = authorization.clone();
            async move {
                let headers = [
                    ("Authorization", authorization.as_str()),
                    ("Content-Type", content_type),
                ];
                http(addr, "POST", "/user/api/auth/external", &headers, &body).await
            }
        }
    };
    let json = keyed("application/json");
    json("{\"id\":".into()).await.assert_error(400, 1);
    json(r#"{"id":"a","email":"no-at","firstName":""}"#.into())
        .await
        .assert_error(400, 1);
    let unauthenticated = http(addr, "POST", "/user/api/auth/external", &[], GUIDE_BODY).await;
    unauthenticated.assert_error(401, 4);
    assert_eq!(unauthenticated.headers["www-authenticate"], "Bearer");
    let text = keyed("text/plain")(GUIDE_BODY.into()).await;
    text.assert_error(415, 2);
    assert_eq!(text.message(), "Unsupported media type");
    assert_eq!(json(padded_guide_body(16_384)).await.status, 200, "{name}");
    let large = json(padded_guide_body(16_385)).await;
    large.assert_error(413, 3);
    assert_eq!(large.message(), "Payload too large");
    // The key is checked before the body: a large body without a key is 401.
    let headers = [("Content-Type", "application/json")];
    let large = padded_guide_body(16_385);
    let keyless = http(addr, "POST", "/user/api/auth/external", &headers, &large).await;
    keyless.assert_error(401, 4);
    let forged = http_redeem(addr, "not.a.token").await;
    forged.assert_error(401, 5);
    assert_eq!(forged.message(), "Invalid one-time token");
    let put = http(addr, "PUT", "/user/api/auth/token", &[], "").await;
    put.assert_error(405, 8);
    assert_eq!(put.headers["allow"], "POST");
    drop(server);

    let server = start_keyed(name, dir.path(), &[("TCX_RATE_LIMIT", "1")]);
    let mut limited = None;
    for _ in 0..10 {
        let answer = guide_call(&server, KEY).await;
        if answer.status == 429 {
            limited = Some(answer);
            break;
        }
    }
    let limited = limited.unwrap_or_else(|| panic!("{name}: no 429 at 1 request/s"));
    limited.assert_error(429, 6);
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
}

/// Writes `request` on a fresh connection and reads the answer up to the end of its head
/// (and whatever body came with it).
async fn raw_exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0; 4096];
    let read = async {
        loop {
            let n = stream.read(&mut buffer).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&answer);
            if text.contains("\r\n\r\n") && text.contains("\"errorCode\"") {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
    String::from_utf8_lossy(&answer).into_owned()
}

pub async fn a_body_over_the_limit_is_413_however_framed(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = start_keyed(name, dir.path(), &[("TCX_DATABASE_URL", "memory:")]);
    let body = padded_guide_body(16_385);
    let head = format!(
        "POST /user/api/auth/external HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/json\r\n"
    );
    // Chunked, in two chunks that only together pass the limit.
    let (first, second) = body.split_at(10_000);
    let chunked = format!(
        "{head}Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
        first.len(),
        second.len()
    );
    let answer = raw_exchange(server.addr, chunked.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{name}: {answer}");
    assert!(
        answer.contains(r#"{"message":"Payload too large","errorCode":3}"#),
        "{name}: {answer}"
    );
    // A Content-Length over the limit, body sent.
    let sized = format!("{head}Content-Length: {}\r\n\r\n{body}", body.len());
    let answer = raw_exchange(server.addr, sized.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{name}: {answer}");
    assert!(answer.contains(r#""errorCode":3"#), "{name}: {answer}");
}

/// `GET /me` with a valid, a missing, a malformed and a wrong-kind token.
/// The conformance kit (the client crate's, as `cargo run --example conformance` runs it),
/// with the secret and the protected path: every check passes.
pub async fn the_conformance_kit_passes(name: &str) {
    use techcentrix_auth_client::conformance::{self, Config};
    let dir = tempfile::tempdir().unwrap();
    let server = start_keyed(name, dir.path(), &[("TCX_DATABASE_URL", "memory:")]);
    let mut config = Config::new(
        format!("http://{}", server.addr),
        "acme",
        techcentrix_auth_client::ApiKey::new(KEY),
    );
    config.jwt_secret = Some(techcentrix_auth_client::ApiKey::new(secret()));
    config.protected = Some("/me".to_owned());
    let report = conformance::run(&config).await;
    let failures: Vec<String> = report.failures().map(|f| f.to_string()).collect();
    assert!(
        report.is_success(),
        "{name}: {}\n{failures:#?}",
        report.summary()
    );
    assert!(report.passed() >= 100, "{name}: {}", report.summary());
}

pub async fn the_guard_on_get_me(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = start_keyed(name, dir.path(), &[("TCX_DATABASE_URL", "memory:")]);
    let session = session(&server).await;
    let access = session["accessToken"].as_str().unwrap();
    let me = get_with_token(&server, "/me", access).await;
    assert_eq!(me.status, 200, "{name}: {}", me.text());
    assert_eq!(me.headers["content-type"], "application/json");
    assert_eq!(me.headers["cache-control"], "no-store");
    assert_eq!(me.json()["userId"], session["userId"]);
    let head = http(
        server.addr,
        "HEAD",
        "/me",
        &[("Authorization", &format!("Bearer {access}"))],
        "",
    )
    .await;
    assert_eq!((head.status.as_u16(), head.body.len()), (200, 0), "{name}");

    let invalid = "Bearer error=\"invalid_token\"";
    let missing = http(server.addr, "GET", "/me", &[], "").await;
    missing.assert_error(401, 4);
    assert_eq!(missing.headers["www-authenticate"], invalid);
    assert_eq!(missing.message(), "Invalid access token");
    let malformed = get_with_token(&server, "/me", "not-a-token").await;
    malformed.assert_error(401, 4);
    assert_eq!(malformed.headers["www-authenticate"], invalid);
    let tampered = format!("{access}x");
    get_with_token(&server, "/me", &tampered)
        .await
        .assert_error(401, 4);
    // A oneTimeToken is not an access token.
    let ott = guide_call(&server, KEY).await;
    get_with_token(&server, "/me", ott.text())
        .await
        .assert_error(401, 4);
    // Nor is a refresh token.
    let refresh = session["refreshToken"].as_str().unwrap();
    get_with_token(&server, "/me", refresh)
        .await
        .assert_error(401, 4);
}

/// `GET /healthz`, other methods on the two routes (405/8, `Allow: GET, HEAD`, checked
/// before the token), and the empty 404 elsewhere.
pub async fn get_routes_405_and_404(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = start_keyed(name, dir.path(), &[("TCX_DATABASE_URL", "memory:")]);
    let health = http(server.addr, "GET", "/healthz", &[], "").await;
    assert_eq!(
        (health.status.as_u16(), health.text()),
        (200, "ok"),
        "{name}"
    );
    assert_eq!(health.headers["content-type"], "text/plain; charset=utf-8");
    let head = http(server.addr, "HEAD", "/healthz", &[], "").await;
    assert_eq!((head.status.as_u16(), head.body.len()), (200, 0), "{name}");
    for path in ["/me", "/healthz"] {
        for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
            let answer = http(server.addr, method, path, &[], "").await;
            answer.assert_error(405, 8);
            assert_eq!(
                answer.headers["allow"], "GET, HEAD",
                "{name} {method} {path}"
            );
            assert_eq!(answer.message(), "Method not allowed");
        }
    }
    for path in ["/", "/nowhere", "/user/api/auth", "/me/x"] {
        let answer = http(server.addr, "GET", path, &[], "").await;
        assert_eq!(answer.status, 404, "{name} {path}");
        assert!(answer.body.is_empty(), "{name} {path}: {}", answer.text());
    }
}

/// SIGTERM while a request's body is half sent: the request is answered, then the process
/// exits 0.
pub async fn sigterm_finishes_the_request_in_flight_and_exits_0(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = start_keyed(name, dir.path(), &[("TCX_DATABASE_URL", "memory:")]);
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /user/api/auth/external HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        GUIDE_BODY.len()
    );
    let (first, second) = GUIDE_BODY.split_at(20);
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = server.child.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(kill.unwrap().success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(second.as_bytes()).await.unwrap();
    let mut answer = String::new();
    let read = stream.read_to_string(&mut answer);
    let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{name}: {answer:?}");
    let status = server.terminate();
    assert!(status.success(), "{name} exits 0 on SIGTERM: {status:?}");
}

/// An answer reduced to what must match between two servers: status, headers but `date`,
/// and the body (a token's claims by name only: they differ by their values).
fn comparable(answer: &Answer) -> (u16, BTreeMap<String, Vec<String>>, String) {
    let mut headers = BTreeMap::<String, Vec<String>>::new();
    for (name, value) in &answer.headers {
        if name != "date" {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            headers.entry(name.to_string()).or_default().push(value);
        }
    }
    let text = String::from_utf8_lossy(&answer.body).into_owned();
    let claim_names = |jwt: &str| {
        let claims = decode_parts(jwt).1;
        let mut names: Vec<String> = claims.as_object().unwrap().keys().cloned().collect();
        names.sort();
        format!("a JWT with {names:?}")
    };
    let body = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(mut object)) => {
            for value in object.values_mut() {
                if let Some(jwt) = value.as_str().filter(|v| v.starts_with("eyJ")) {
                    *value = claim_names(jwt).into();
                }
            }
            serde_json::Value::Object(object).to_string()
        }
        _ if text.starts_with("eyJ") => claim_names(&text),
        _ => text,
    };
    (answer.status.as_u16(), headers, body)
}

/// The same requests to the axum server and to `name`, both fresh: every answer the same
/// (status, headers but `date`, body) across SPEC rows, routes, 404, 405, HEAD and
/// framework edge cases (trailing slash, `OPTIONS`, an upper-case path).
pub async fn same_answers_as_axum(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let keys = env_keys();
    let env = [
        ("TCX_API_KEYS", keys.as_str()),
        ("TCX_JWT_SECRET", secret()),
        ("TCX_DATABASE_URL", "memory:"),
    ];
    // The `servers/` member builds the root package's axum server as its own example.
    let reference = match env!("CARGO_PKG_NAME") {
        "techcentrix-auth" => "axum",
        _ => "axum-reference",
    };
    let axum = Server::start(reference, &env, dir.path());
    let other = Server::start(name, &env, dir.path());

    let key = format!("Bearer {KEY}");
    let json = ("Content-Type", "application/json");
    let large = padded_guide_body(16_385);
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/user/api/auth/external",
            vec![("Authorization", &key), json],
            GUIDE_BODY,
        ),
        (
            "POST",
            "/user/api/auth/external",
            vec![
                ("Authorization", &key),
                json,
                ("Accept", "application/json"),
            ],
            GUIDE_BODY,
        ),
        ("POST", "/user/api/auth/external", vec![json], GUIDE_BODY),
        (
            "POST",
            "/user/api/auth/external",
            vec![("Authorization", &key)],
            GUIDE_BODY,
        ),
        (
            "POST",
            "/user/api/auth/external",
            vec![("Authorization", &key), json],
            "{",
        ),
        (
            "POST",
            "/user/api/auth/external",
            vec![("Authorization", &key), json],
            &large,
        ),
        ("GET", "/user/api/auth/external", vec![], ""),
        ("HEAD", "/user/api/auth/external", vec![], ""),
        ("OPTIONS", "/user/api/auth/external", vec![], ""),
        (
            "POST",
            "/user/api/auth/external/",
            vec![("Authorization", &key), json],
            GUIDE_BODY,
        ),
        (
            "POST",
            "/USER/api/auth/external",
            vec![("Authorization", &key), json],
            GUIDE_BODY,
        ),
        (
            "POST",
            "/user/api/auth/token",
            vec![json],
            r#"{"oneTimeToken":"x"}"#,
        ),
        (
            "POST",
            "/user/api/auth/token",
            vec![json, ("X-TechCentrix-App-Id", "acme")],
            "[]",
        ),
        (
            "POST",
            "/user/api/auth/refresh",
            vec![json],
            r#"{"refreshToken":"nope"}"#,
        ),
        ("POST", "/user/api/auth/sign-out", vec![], ""),
        (
            "POST",
            "/user/api/auth/sign-out",
            vec![json],
            r#"{"refreshToken":"nope"}"#,
        ),
        (
            "POST",
            "/user/api/auth/sign-out",
            vec![("Authorization", "Bearer x")],
            "",
        ),
        ("GET", "/.well-known/jwks.json", vec![], ""),
        ("POST", "/.well-known/jwks.json", vec![], ""),
        ("GET", "/me", vec![], ""),
        ("HEAD", "/me", vec![], ""),
        (
            "GET",
            "/me",
            vec![("Authorization", "Bearer not-a-token")],
            "",
        ),
        ("GET", "/me", vec![("Authorization", "Basic abc")], ""),
        ("POST", "/me", vec![], ""),
        ("DELETE", "/me", vec![("Authorization", &key)], ""),
        ("OPTIONS", "/me", vec![], ""),
        ("GET", "/me/", vec![], ""),
        ("GET", "/healthz", vec![], ""),
        ("HEAD", "/healthz", vec![], ""),
        ("PUT", "/healthz", vec![], "x"),
        ("GET", "/healthz/", vec![], ""),
        ("GET", "/openapi.json", vec![], ""),
        ("HEAD", "/openapi.json", vec![], ""),
        ("POST", "/openapi.json", vec![json], "{}"),
        ("GET", "/", vec![], ""),
        ("GET", "/nowhere", vec![], ""),
        ("POST", "/nowhere", vec![json], "{}"),
        ("GET", "/user/api/auth", vec![], ""),
    ];
    for (method, path, headers, body) in &cases {
        let expected = http(axum.addr, method, path, headers, body).await;
        let answer = http(other.addr, method, path, headers, body).await;
        assert_eq!(
            comparable(&answer),
            comparable(&expected),
            "{name} differs from axum on {method} {path} {headers:?}"
        );
    }

    // The session rows, each server on its own session: the same statuses and header names
    // (the tokens, and so the lengths, differ).
    let mut shapes = Vec::new();
    for server in [&axum, &other] {
        let ott = guide_call(server, KEY).await;
        let session = http_redeem(server.addr, ott.text()).await;
        let replay = http_redeem(server.addr, ott.text()).await;
        let access = session.json()["accessToken"].as_str().unwrap().to_owned();
        let authorization = format!("Bearer {access}");
        let me = get_with_token(server, "/me", &access).await;
        let head = http(
            server.addr,
            "HEAD",
            "/me",
            &[("Authorization", &authorization)],
            "",
        )
        .await;
        let out = http(
            server.addr,
            "POST",
            "/user/api/auth/sign-out",
            &[("Authorization", &authorization)],
            "",
        )
        .await;
        let shape: Vec<(u16, Vec<String>)> = [&session, &replay, &me, &head, &out]
            .iter()
            .map(|answer| {
                let (status, headers, _) = comparable(answer);
                (status, headers.into_keys().collect())
            })
            .collect();
        shapes.push(shape);
    }
    assert_eq!(
        shapes[1], shapes[0],
        "{name} differs from axum on the session rows"
    );
}
