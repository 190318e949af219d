//! Test helpers: a configured auth state, one-shot calls through the tower service, JWT
//! decoding, and the reference servers started as a user would start them.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use techcentrix_auth::token::SigningKeys;
use techcentrix_auth::{
    ApiKey, ApiKeyValidator, AuthConfig, JwtSecret, MemoryApiKeyValidator, TechCentrixAuth,
    UserStore,
};
use tower::ServiceExt;

pub const KEY: &str = "test-key-0123456789abcdef0123456789";
pub const OTHER_KEY: &str = "other-key-0123456789abcdef012345678";
pub const SECRET: &[u8] = b"test-secret-test-secret-test-secret-0123456789";
/// The body of the integration guide's (and its Postman collection's) request.
pub const GUIDE_BODY: &str =
    r#"{"id":"user1-external","email":"user1@techcentrix.com","firstName":"User1Name"}"#;

pub fn keys() -> MemoryApiKeyValidator {
    MemoryApiKeyValidator::new()
        .with_key("acme", &ApiKey::new(KEY))
        .with_key("other", &ApiKey::new(OTHER_KEY))
}

pub fn auth_with(
    validator: impl ApiKeyValidator,
    users: impl UserStore,
    config: AuthConfig,
) -> TechCentrixAuth {
    TechCentrixAuth::builder()
        .api_keys(validator)
        .user_store(users)
        .signing_keys(SigningKeys::hs512(JwtSecret::new(SECRET.to_vec()).unwrap()))
        .config(config)
        .build()
        .unwrap()
}

pub fn auth() -> TechCentrixAuth {
    auth_with(
        keys(),
        techcentrix_auth::MemoryUserStore::new(),
        AuthConfig::default(),
    )
}

/// The guide's request, with its exact headers.
pub fn guide_request(key: &str, body: &str) -> Request<Full<Bytes>> {
    Request::post("/user/api/auth/external")
        .header("Authorization", format!("Bearer {key}"))
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

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

pub async fn call<B>(auth: &TechCentrixAuth, request: Request<B>) -> Answer
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<techcentrix_auth::BoxError>,
{
    let response = auth.service().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

/// The guide's flow up to a session: external → token. Returns the session answer's JSON.
pub async fn start_session(auth: &TechCentrixAuth, app: &str, key: &str) -> Value {
    let token = call(auth, guide_request(key, GUIDE_BODY)).await;
    assert_eq!(token.status, 200);
    let answer = call(auth, redeem_request(app, token.text())).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()
}

/// `POST /user/api/auth/token` for `app` with `token`.
pub fn redeem_request(app: &str, token: &str) -> Request<Full<Bytes>> {
    json_post(
        "/user/api/auth/token",
        &[("x-techcentrix-app-id", app)],
        &serde_json::json!({ "oneTimeToken": token }).to_string(),
    )
}

/// `POST /user/api/auth/refresh` with `token`.
pub fn refresh_request(token: &str) -> Request<Full<Bytes>> {
    json_post(
        "/user/api/auth/refresh",
        &[],
        &serde_json::json!({ "refreshToken": token }).to_string(),
    )
}

/// A JSON `POST` to `path` with extra `headers`.
pub fn json_post(path: &str, headers: &[(&str, &str)], body: &str) -> Request<Full<Bytes>> {
    let mut builder = Request::post(path).header("content-type", "application/json");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

/// A `GET` of `path` with `Authorization: Bearer <token>`.
pub fn bearer_get(path: &str, token: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// The claims of the token issued for `body` under `key`.
pub async fn issue(auth: &TechCentrixAuth, key: &str, body: &str) -> Value {
    call(auth, guide_request(key, body)).await.claims()
}

/// `n` concurrent guide requests; the set of `sub`s they got (all must be 200).
pub async fn concurrent_first_calls(
    auth: &TechCentrixAuth,
    n: usize,
) -> std::collections::HashSet<String> {
    let calls: Vec<_> = (0..n)
        .map(|_| {
            let auth = auth.clone();
            tokio::spawn(async move { call(&auth, guide_request(KEY, GUIDE_BODY)).await })
        })
        .collect();
    let mut subs = std::collections::HashSet::new();
    for handle in calls {
        let claims = handle.await.unwrap().claims();
        subs.insert(claims["sub"].as_str().unwrap().to_owned());
    }
    subs
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

/// The built example binary `name`, building it first if `cargo test` has not.
pub fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let path = profile_dir.join("examples").join(name);
    if !path.exists() {
        let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cargo.args(["build", "--example", name]);
        if profile_dir.ends_with("release") {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("run cargo build");
        assert!(status.success(), "cargo build --example {name} failed");
    }
    path
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
    pub fn start(name: &str, env: &[(&str, &str)], dir: &std::path::Path) -> Server {
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
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
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

pub mod proxy;
pub mod services;
