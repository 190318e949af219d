//! Test support: the reference server started as a process, tiny hyper servers, and a proxy
//! that breaks one SPEC rule in front of a real server.

#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use techcentrix_auth_client::{Client, RawRequest, RawResponse};

pub const APP: &str = "acme";
pub const KEY: &str = "client-tests-acme-key-0123456789abcdef01";
pub const JWT_SECRET: &str = "client-tests-jwt-secret-0123456789abcdef01";

/// The reference server's binary: `TCX_REFERENCE_SERVER`, or built from the repository this
/// crate sits in (`cargo build --example axum` one directory up), or `Err(why)` to skip.
fn reference_binary() -> Result<PathBuf, String> {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            if let Ok(path) = std::env::var("TCX_REFERENCE_SERVER") {
                let path = PathBuf::from(path);
                return if path.is_file() {
                    Ok(path)
                } else {
                    Err(format!(
                        "TCX_REFERENCE_SERVER={} is not a file",
                        path.display()
                    ))
                };
            }
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
            let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
            if !manifest.contains("name = \"techcentrix-auth\"") {
                return Err(
                    "no techcentrix-auth repository above this crate and no TCX_REFERENCE_SERVER"
                        .into(),
                );
            }
            // A target directory of its own beside the tests' (the outer cargo holds its own).
            let exe = std::env::current_exe().map_err(|e| e.to_string())?;
            let target = exe
                .ancestors()
                .nth(3)
                .map(|t| t.join("tcx-reference-server"))
                .ok_or("no target directory")?;
            eprintln!(
                "building the reference server (cargo build --example axum) into {}",
                target.display()
            );
            let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args(["build", "--example", "axum"])
                .current_dir(&root)
                .env("CARGO_TARGET_DIR", &target)
                .status()
                .map_err(|e| format!("cargo could not run: {e}"))?;
            if !status.success() {
                return Err(format!("the reference server did not build ({status})"));
            }
            Ok(target.join("debug/examples/axum"))
        })
        .clone()
}

/// A running reference server; killed on drop.
pub struct Server {
    pub url: String,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the reference server on a free port (in memory, HS512), or prints why not and
/// answers `None`.
pub fn reference_server() -> Option<Server> {
    let binary = match reference_binary() {
        Ok(binary) => binary,
        Err(why) => {
            // `.ci/run` sets TCX_REQUIRE_SERVICES=1: there a missing server is a failure.
            if std::env::var_os("TCX_REQUIRE_SERVICES").is_some_and(|v| v == "1") {
                panic!("the reference server is not available: {why}");
            }
            eprintln!("SKIPPED: the reference server is not available: {why}");
            return None;
        }
    };
    let mut child = Command::new(binary)
        .env("TCX_LISTEN", "127.0.0.1:0")
        .env("TCX_DATABASE_URL", "memory:")
        .env("TCX_API_KEYS", format!("{APP}:{KEY}"))
        .env("TCX_JWT_SECRET", JWT_SECRET)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the reference server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("a first line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Some(Server { url, child })
}

/// Serves `handler` on a free loopback port over HTTP/1.1; answers the base URL.
pub async fn serve<F, Fut>(handler: F) -> String
where
    F: Fn(http::Request<Bytes>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = http::Response<Full<Bytes>>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let handler = handler.clone();
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        Ok::<_, Infallible>(handler(http::Request::from_parts(parts, body)).await)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

/// A response of `status` with `body` and `headers`.
pub fn response(
    status: u16,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> http::Response<Full<Bytes>> {
    let mut builder = http::Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Full::new(body.into())).expect("a response")
}

/// One broken rule: may change the request on its way in and the answer on its way out.
pub trait Breakage: Send + Sync + 'static {
    fn request(&self, request: RawRequest) -> RawRequest {
        request
    }
    fn response(&self, request: &RawRequest, response: RawResponse) -> RawResponse {
        let _ = request;
        response
    }
}

/// A proxy in front of `upstream` that applies `breakage`; answers its base URL.
pub async fn broken_proxy(upstream: &str, breakage: impl Breakage) -> String {
    let client = Client::builder(upstream)
        .retry(techcentrix_auth_client::RetryPolicy::none())
        .request_timeout(Duration::from_secs(20))
        .build()
        .expect("a client");
    let breakage = Arc::new(breakage);
    serve(move |request: http::Request<Bytes>| {
        let (client, breakage) = (client.clone(), breakage.clone());
        async move {
            let (parts, body) = request.into_parts();
            let path = parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            let mut raw = RawRequest::new(parts.method, path).body(body);
            for (name, value) in &parts.headers {
                if !matches!(
                    name.as_str(),
                    "host" | "content-length" | "transfer-encoding" | "connection"
                ) {
                    raw.headers_mut().append(name.clone(), value.clone());
                }
            }
            let raw = breakage.request(raw);
            let answer = match client.raw(&raw).await {
                Ok(answer) => breakage.response(&raw, answer),
                Err(err) => return response(502, &[], err.to_string()),
            };
            let mut out = http::Response::builder().status(answer.status);
            for (name, value) in &answer.headers {
                if !matches!(
                    name.as_str(),
                    "content-length" | "transfer-encoding" | "connection"
                ) {
                    out = out.header(name, value);
                }
            }
            out.body(Full::new(answer.body)).expect("a response")
        }
    })
    .await
}

/// `answer` with its body replaced by `body`.
pub fn with_body(mut answer: RawResponse, body: impl Into<Bytes>) -> RawResponse {
    answer.body = body.into();
    answer
}
