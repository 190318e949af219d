//! The reference servers as processes and the HTTP client that talks to them, with the
//! answer type and token helpers they need: self-contained (no item of `tests/common/mod.rs`),
//! so that the `servers/` member's tests include this file by `#[path]` too.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::Value;

pub const KEY: &str = "test-key-0123456789abcdef0123456789";
pub const OTHER_KEY: &str = "other-key-0123456789abcdef012345678";
pub const SECRET: &[u8] = b"test-secret-test-secret-test-secret-0123456789";
/// The body of the integration guide's (and its Postman collection's) request.
pub const GUIDE_BODY: &str =
    r#"{"id":"user1-external","email":"user1@techcentrix.com","firstName":"User1Name"}"#;

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    /// Asserts the SPEC §3 error shape: status, JSON content type, exactly
    /// `{"message","errorCode"}`.
    pub fn assert_error(&self, status: u16, code: u64) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.headers["content-type"], "application/json");
        let json = self.json();
        let object = json.as_object().unwrap();
        assert_eq!(object.len(), 2, "{json}");
        assert!(object["message"].is_string());
        assert_eq!(object["errorCode"], code, "{json}");
    }

    /// The claims of the token this answer carries (plain-text form).
    pub fn claims(&self) -> Value {
        assert_eq!(self.status, 200, "{}", String::from_utf8_lossy(&self.body));
        decode_parts(self.text()).1
    }

    pub fn message(&self) -> String {
        self.json()["message"].as_str().unwrap().to_owned()
    }
}

/// The decoded header and claims of a compact JWT (no verification).
pub fn decode_parts(jwt: &str) -> (Value, Value) {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "not a compact JWT: {jwt}");
    let decode = |s: &str| -> Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    (decode(parts[0]), decode(parts[1]))
}

/// Verifies an HS512 JWT with `secret` through jsonwebtoken and returns its claims.
pub fn verify_hs512(jwt: &str, secret: &[u8], audience: &str) -> Value {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS512);
    validation.set_audience(&[audience]);
    validation.set_issuer(&["techcentrix-auth"]);
    jsonwebtoken::decode::<Value>(
        jwt,
        &jsonwebtoken::DecodingKey::from_secret(secret),
        &validation,
    )
    .unwrap()
    .claims
}

// ---- the reference servers, as processes ----

/// The built example binary `name` of the package under test, building it first if
/// `cargo test` has not: `cargo build --example NAME` runs in the test's working directory,
/// which cargo sets to the package's own (the root package, or the `servers/` member).
pub fn example_binary(name: &str) -> PathBuf {
    let path = examples_dir().join(name);
    if !path.exists() {
        cargo_build(&["--example", name]);
    }
    path
}

/// `target/<profile>/examples`, next to the test binary's `deps` directory.
fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("examples")
}

fn cargo_build(args: &[&str]) {
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo.arg("build").args(args);
    if examples_dir().parent().unwrap().ends_with("release") {
        cargo.arg("--release");
    }
    let status = cargo.status().expect("run cargo build");
    assert!(status.success(), "cargo build {} failed", args.join(" "));
}

/// The repository's root (the root package's directory), from either package's tests: where
/// `tests/keys` is.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("tests/keys").is_dir())
        .expect("tests/keys above the package")
}

/// A reference server process; killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub stderr_log: PathBuf,
}

impl Server {
    /// Starts example `name` on 127.0.0.1:0 with `env` (plus an empty working dir), waits for
    /// `listening on http://ADDR` on stdout.
    pub fn start(name: &str, env: &[(&str, &str)], dir: &Path) -> Server {
        let stderr_log = dir.join(format!("{name}-{}.stderr", std::process::id()));
        let mut command = Command::new(example_binary(name));
        command
            .current_dir(dir)
            .env_remove("RUST_LOG")
            .env("TCX_LISTEN", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_log).unwrap());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start server");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| {
                let err = std::fs::read_to_string(&stderr_log).unwrap_or_default();
                panic!("unexpected first line {line:?}; stderr: {err}")
            })
            .parse()
            .unwrap();
        Server {
            child,
            addr,
            stderr_log,
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(12);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "server did not exit within 12 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request over a fresh loopback TCP connection.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    // Through the typed client's raw call (never retried): the requests the tests make are
    // the ones a partner or an app makes with it.
    use techcentrix_auth_client::{Client, RawRequest};
    let client = Client::new(&format!("http://{addr}")).unwrap();
    let mut request = RawRequest::new(method.parse().unwrap(), path);
    for (k, v) in headers {
        request = request.header(k, v);
    }
    let response = client
        .raw(&request.body(Bytes::from(body.to_owned())))
        .await
        .unwrap();
    Answer {
        status: response.status,
        headers: response.headers,
        body: response.body,
    }
}

/// The guide's request over HTTP: `POST /user/api/auth/external` with `key` and `body`.
pub async fn http_external(addr: SocketAddr, key: &str, body: &str) -> Answer {
    let authorization = format!("Bearer {key}");
    let headers = [
        ("Authorization", authorization.as_str()),
        ("Content-Type", "application/json"),
    ];
    http(addr, "POST", "/user/api/auth/external", &headers, body).await
}

/// `POST /user/api/auth/token` over HTTP for app `acme`.
pub async fn http_redeem(addr: SocketAddr, token: &str) -> Answer {
    let body = serde_json::json!({ "oneTimeToken": token }).to_string();
    let headers = [
        ("Content-Type", "application/json"),
        ("X-TechCentrix-App-Id", "acme"),
    ];
    http(addr, "POST", "/user/api/auth/token", &headers, &body).await
}
