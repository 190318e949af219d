//! The reference servers as a user runs them: the built example binaries on port 0, real
//! HTTP over loopback.

mod common;

use common::*;

const SERVERS: [&str; 2] = ["axum", "hyper"];

fn env_keys() -> String {
    format!("acme:{KEY},other:{OTHER_KEY}")
}

async fn guide_call(server: &Server, key: &str) -> Answer {
    http(
        server.addr,
        "POST",
        "/user/api/auth/external",
        &[
            ("Authorization", &format!("Bearer {key}")),
            ("Content-Type", "application/json"),
        ],
        GUIDE_BODY,
    )
    .await
}

#[tokio::test]
async fn guide_request_and_a_bad_key_against_both_servers() {
    let secret = std::str::from_utf8(SECRET).unwrap();
    for name in SERVERS {
        let dir = tempfile::tempdir().unwrap();
        let keys = env_keys();
        let server = Server::start(
            name,
            &[("TCX_API_KEYS", &keys), ("TCX_JWT_SECRET", secret)],
            dir.path(),
        );
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

#[test]
fn bad_settings_stop_the_server_naming_the_variable() {
    let cases = [
        ("TCX_LISTEN", "not-an-address"),
        ("TCX_API_KEYS", "acme:short"),
        ("TCX_JWT_SECRET", "short"),
        ("TCX_DATABASE_URL", "mysql://localhost/x"),
        ("TCX_ONE_TIME_TOKEN_TTL", "3601"),
        ("TCX_STORE_TIMEOUT", "soon"),
    ];
    for name in SERVERS {
        let binary = example_binary(name);
        for (var, value) in cases {
            let dir = tempfile::tempdir().unwrap();
            let output = std::process::Command::new(&binary)
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
    }
}

#[test]
fn unopenable_database_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(example_binary("axum"))
        .current_dir(dir.path())
        .env("TCX_LISTEN", "127.0.0.1:0")
        .env("TCX_DATABASE_URL", "sqlite:///nonexistent-dir/deeper/x.db")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("TCX_DATABASE_URL"));
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
