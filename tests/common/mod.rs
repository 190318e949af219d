//! Test helpers: a configured auth state, one-shot calls through the tower service, and (in
//! `process.rs`, shared with the `servers/` member) JWT decoding and the reference servers
//! started as a user would start them.
#![allow(dead_code, unreachable_pub)]

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use techcentrix_auth::token::SigningKeys;
use techcentrix_auth::{
    ApiKey, ApiKeyValidator, AuthConfig, JwtSecret, MemoryApiKeyValidator, TechCentrixAuth,
    UserStore,
};
use tower::ServiceExt;

pub use process::*;

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

mod process;
pub mod proxy;
pub mod services;
