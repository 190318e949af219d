//! The reference servers as a user runs them: the built example binaries on port 0, real
//! HTTP over loopback.

mod common;

use common::*;

const SERVERS: [&str; 2] = ["axum", "hyper"];

fn env_keys() -> String {
    format!("acme:{KEY},other:{OTHER_KEY}")
}

/// Server `name` with the test keys and secret, plus `extra` variables.
fn start_keyed(name: &str, dir: &std::path::Path, extra: &[(&str, &str)]) -> Server {
    let keys = env_keys();
    let secret = std::str::from_utf8(SECRET).unwrap();
    let mut env = vec![("TCX_API_KEYS", keys.as_str()), ("TCX_JWT_SECRET", secret)];
    env.extend_from_slice(extra);
    Server::start(name, &env, dir)
}

async fn guide_call(server: &Server, key: &str) -> Answer {
    http_external(server.addr, key, GUIDE_BODY).await
}

#[tokio::test]
async fn guide_request_and_a_bad_key_against_both_servers() {
    for name in SERVERS {
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
}

#[tokio::test]
async fn without_api_keys_a_demo_key_is_generated_and_printed() {
    for name in SERVERS {
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
}

#[tokio::test]
async fn sqlite_users_survive_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let secret = std::str::from_utf8(SECRET).unwrap();
    let keys = env_keys();
    let env = [
        ("TCX_API_KEYS", keys.as_str()),
        ("TCX_JWT_SECRET", secret),
        ("TCX_DATABASE_URL", "sqlite://users.db"),
    ];
    let first = Server::start("axum", &env, dir.path());
    let sub = decode_parts(guide_call(&first, KEY).await.text()).1["sub"].clone();
    assert!(first.terminate().success());
    assert!(dir.path().join("users.db").exists());
    // The other server on the same file: same user.
    let second = Server::start("hyper", &env, dir.path());
    let again = decode_parts(guide_call(&second, KEY).await.text()).1["sub"].clone();
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

#[test]
fn bad_settings_stop_the_server_naming_the_variable() {
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
    for name in SERVERS {
        for (var, value) in cases {
            assert_refuses_to_start(name, var, value);
        }
    }
}

#[tokio::test]
async fn no_secret_appears_in_the_log() {
    let secret = std::str::from_utf8(SECRET).unwrap();
    for name in SERVERS {
        let dir = tempfile::tempdir().unwrap();
        let keys = env_keys();
        let mut server = Server::start(
            name,
            &[
                ("TCX_API_KEYS", &keys),
                ("TCX_JWT_SECRET", secret),
                ("RUST_LOG", "trace"),
            ],
            dir.path(),
        );
        assert_eq!(guide_call(&server, KEY).await.status, 200);
        let wrong = format!("{KEY}-but-wrong");
        assert_eq!(guide_call(&server, &wrong).await.status, 401);
        let _ = server.child.kill();
        let _ = server.child.wait();
        let log = server.stderr();
        assert!(
            log.contains("tcx.request"),
            "{name} logged its spans: {log}"
        );
        assert!(log.contains("acme"), "{name} logged the app id");
        for leaked in [KEY, wrong.as_str(), OTHER_KEY, secret] {
            assert!(!log.contains(leaked), "{name} logged a secret");
        }
    }
}

/// The mobile SDK's whole flow over HTTP: external → token → /me → refresh → reuse of the
/// old refresh token (revokes the family) → a new session → sign-out.
#[tokio::test]
async fn full_session_flow_against_both_servers() {
    for name in SERVERS {
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
        let me = http(
            server.addr,
            "GET",
            "/me",
            &[("Authorization", &format!("Bearer {access}"))],
            "",
        )
        .await;
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
            let addr = server.addr;
            async move { http(addr, "POST", "/user/api/auth/refresh", &json, &body).await }
        };
        let second = refresh(r1.clone()).await;
        assert_eq!(second.status, 200, "{name}");
        let r2 = second.json()["refreshToken"].as_str().unwrap().to_owned();
        refresh(r1).await.assert_error(401, 5);
        refresh(r2).await.assert_error(401, 5);

        // A new session, then sign-out with its access token.
        let ott = guide_call(&server, KEY).await.text().to_owned();
        let session = redeem(ott).await.json();
        let access = session["accessToken"].as_str().unwrap();
        let out = http(
            server.addr,
            "POST",
            "/user/api/auth/sign-out",
            &[("Authorization", &format!("Bearer {access}"))],
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
}

#[tokio::test]
async fn asymmetric_keys_from_the_environment_are_published() {
    let root = env!("CARGO_MANIFEST_DIR");
    let keys = format!("new:{root}/tests/keys/ec-b.pem,old:{root}/tests/keys/ed-a.pem");
    for name in SERVERS {
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
}
