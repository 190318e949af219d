//! `POST /user/api/auth/external` in process, through the tower service (`oneshot`).

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::{Full, StreamBody};
use techcentrix_auth::store::{ExternalProfile, Upserted, User};
use techcentrix_auth::{
    ApiKey, ApiKeyValidator, AppId, AuthConfig, MemoryUserStore, StoreError, UserId, UserStore,
};

fn body(id: &str, email: &str, first_name: &str) -> String {
    serde_json::json!({ "id": id, "email": email, "firstName": first_name }).to_string()
}

#[tokio::test]
async fn guide_request_returns_a_plain_jwt() {
    let auth = auth();
    let answer = call(&auth, guide_request(KEY, GUIDE_BODY)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(answer.headers["cache-control"], "no-store");
    let jwt = answer.text();
    assert!(!jwt.starts_with('"') && !jwt.contains(char::is_whitespace));
    let (header, claims) = decode_parts(jwt);
    assert_eq!(header["alg"], "HS512");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["kid"], auth.signing_keys().kid());
    assert_eq!(claims["auth"], serde_json::json!(["ROLE_USER"]));
    assert_eq!(claims["type"], "one_time");
    assert_eq!(claims["iss"], "techcentrix-auth");
    assert_eq!(claims["aud"], "acme");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        60
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(claims["iat"].as_u64().unwrap().abs_diff(now) <= 2);
    uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).expect("jti is a UUID");
    // `sub` is the service's own id, not the partner's.
    assert_ne!(claims["sub"], "user1-external");
    let verified = verify_hs512(jwt, SECRET, "acme");
    assert_eq!(verified, claims);
    assert_eq!(
        claims.as_object().unwrap().len(),
        8,
        "exactly the SPEC's claims: {claims}"
    );
}

#[tokio::test]
async fn each_token_has_a_fresh_jti() {
    let auth = auth();
    let a = issue(&auth, KEY, GUIDE_BODY).await;
    let b = issue(&auth, KEY, GUIDE_BODY).await;
    assert_ne!(a["jti"], b["jti"]);
}

#[tokio::test]
async fn sign_up_then_sign_in_maps_to_the_same_sub() {
    let auth = auth();
    let first = issue(&auth, KEY, GUIDE_BODY).await;
    let second = issue(&auth, KEY, GUIDE_BODY).await;
    assert_eq!(first["sub"], second["sub"]);
}

#[tokio::test]
async fn same_external_id_in_another_app_is_another_user() {
    let auth = auth();
    let a = issue(&auth, KEY, GUIDE_BODY).await;
    let b = issue(&auth, OTHER_KEY, GUIDE_BODY).await;
    assert_ne!(a["sub"], b["sub"]);
    assert_eq!(b["aud"], "other");
}

#[tokio::test]
async fn profile_updates_are_stored() {
    let users = Arc::new(MemoryUserStore::new());
    let auth = auth_with(keys(), users.clone(), AuthConfig::default());
    let first = call(&auth, guide_request(KEY, GUIDE_BODY)).await;
    let sub = decode_parts(first.text()).1["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let changed = body("user1-external", "new@techcentrix.com", "Renamed");
    let second = call(&auth, guide_request(KEY, &changed)).await;
    assert_eq!(decode_parts(second.text()).1["sub"], sub.as_str());
    let user = users
        .find(&UserId::from(sub.as_str()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.email, "new@techcentrix.com");
    assert_eq!(user.first_name, "Renamed");
    assert_eq!(users.len(), 1);
}

#[tokio::test]
async fn json_form_under_accept_application_json() {
    let auth = auth();
    let mut request = guide_request(KEY, GUIDE_BODY);
    request
        .headers_mut()
        .insert("accept", "application/json".parse().unwrap());
    let answer = call(&auth, request).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-type"], "application/json");
    assert_eq!(answer.headers["cache-control"], "no-store");
    assert!(answer.text().starts_with(r#"{"oneTimeToken":""#));
    let json = answer.json();
    assert_eq!(json.as_object().unwrap().len(), 2);
    assert_eq!(json["expiresIn"], 60);
    let (_, claims) = decode_parts(json["oneTimeToken"].as_str().unwrap());
    assert_eq!(claims["type"], "one_time");
}

#[tokio::test]
async fn accept_naming_text_plain_or_wildcards_gets_the_plain_token() {
    let auth = auth();
    for accept in [
        "application/json, text/plain",
        "*/*",
        "text/*",
        "text/plain",
    ] {
        let mut request = guide_request(KEY, GUIDE_BODY);
        request
            .headers_mut()
            .insert("accept", accept.parse().unwrap());
        let answer = call(&auth, request).await;
        assert_eq!(
            answer.headers["content-type"], "text/plain; charset=utf-8",
            "{accept}"
        );
    }
}

#[tokio::test]
async fn configured_ttl_and_issuer_are_used() {
    let config = AuthConfig::default()
        .with_issuer("auth.example")
        .with_one_time_token_ttl(Duration::from_secs(3600));
    let auth = auth_with(keys(), MemoryUserStore::new(), config);
    let answer = call(&auth, guide_request(KEY, GUIDE_BODY)).await;
    let (_, claims) = decode_parts(answer.text());
    assert_eq!(claims["iss"], "auth.example");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600
    );
}

#[test]
fn ttl_over_an_hour_is_refused() {
    let config = AuthConfig::default().with_one_time_token_ttl(Duration::from_secs(3601));
    let built = techcentrix_auth::TechCentrixAuth::builder()
        .api_keys(keys())
        .signing_keys(techcentrix_auth::token::SigningKeys::hs512(
            techcentrix_auth::JwtSecret::generate(),
        ))
        .config(config)
        .build();
    assert_eq!(built.unwrap_err().setting(), "one_time_token_ttl");
}

#[tokio::test]
async fn unknown_fields_are_ignored() {
    let auth = auth();
    let with_extra = r#"{"id":"u","email":"u@x.io","firstName":"U","lastName":"L","nested":{"a":[1,2,{"b":null}]}}"#;
    let answer = call(&auth, guide_request(KEY, with_extra)).await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn first_name_may_be_empty() {
    let answer = call(&auth(), guide_request(KEY, &body("u", "u@x.io", ""))).await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn limits_are_inclusive() {
    let auth = auth();
    let email = format!("{}@{}", "l".repeat(64), "d".repeat(189));
    assert_eq!(email.len(), 254);
    let answer = call(
        &auth,
        guide_request(KEY, &body(&"i".repeat(128), &email, &"f".repeat(128))),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
}

// ---- 400/1 ----

#[tokio::test]
async fn malformed_bodies_are_400_1() {
    let auth = auth();
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "empty body"),
        ("not json".into(), "not JSON"),
        ("[1,2,3]".into(), "array"),
        (r#"["a","a@b","c"]"#.into(), "array shaped like the struct"),
        ("\"a string\"".into(), "string"),
        ("{".into(), "truncated"),
        (r#"{"email":"a@b","firstName":"A"}"#.into(), "missing id"),
        (r#"{"id":"a","firstName":"A"}"#.into(), "missing email"),
        (r#"{"id":"a","email":"a@b"}"#.into(), "missing firstName"),
        (
            r#"{"id":null,"email":"a@b","firstName":"A"}"#.into(),
            "null id",
        ),
        (
            r#"{"id":"a","email":null,"firstName":"A"}"#.into(),
            "null email",
        ),
        (
            r#"{"id":"a","email":"a@b","firstName":null}"#.into(),
            "null firstName",
        ),
        (
            r#"{"id":1,"email":"a@b","firstName":"A"}"#.into(),
            "number id",
        ),
        (
            r#"{"id":"a","email":["a@b"],"firstName":"A"}"#.into(),
            "array email",
        ),
        (
            r#"{"id":"a","email":"a@b","firstName":{}}"#.into(),
            "object firstName",
        ),
        (
            r#"{"id":"a","id":"b","email":"a@b","firstName":"A"}"#.into(),
            "duplicate id",
        ),
        (
            r#"{"id":"a","email":"a@b","email":"c@d","firstName":"A"}"#.into(),
            "duplicate email",
        ),
        (body("", "a@b", "A"), "empty id"),
        (body(&"i".repeat(129), "a@b", "A"), "id over 128 bytes"),
        (
            body(&"é".repeat(65), "a@b", "A"),
            "id over 128 bytes in UTF-8",
        ),
        (body("a\u{0}b", "a@b", "A"), "NUL in id"),
        (body("a\nb", "a@b", "A"), "newline in id"),
        (body("a\u{7f}", "a@b", "A"), "DEL in id"),
        (body("a\u{85}", "a@b", "A"), "C1 control in id"),
        (
            body("a", "a@b", &"f".repeat(129)),
            "firstName over 128 bytes",
        ),
        (body("a", "a@b", "A\tB"), "tab in firstName"),
        (body("a", "ab", "A"), "email without @"),
        (body("a", "a@b@c", "A"), "email with two @"),
        (body("a", "@b", "A"), "empty local part"),
        (body("a", "a@", "A"), "empty domain"),
        (body("a", "a b@c", "A"), "space in email"),
        (body("a", "a@b\u{1}", "A"), "control in email"),
        (
            body("a", &format!("{}@b", "l".repeat(65)), "A"),
            "local part over 64",
        ),
        (
            body("a", &format!("a@{}", "d".repeat(253)), "A"),
            "email over 254",
        ),
        (
            "{\"id\":\"\\ud800\",\"email\":\"a@b\",\"firstName\":\"A\"}".into(),
            "lone surrogate",
        ),
    ];
    for (input, why) in cases {
        let answer = call(&auth, guide_request(KEY, &input)).await;
        answer.assert_error(400, 1);
        assert!(
            answer.message().starts_with("Malformed request: "),
            "{why}: {}",
            answer.message()
        );
    }
}

#[tokio::test]
async fn invalid_utf8_is_400_1() {
    let request = Request::post("/user/api/auth/external")
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(
            b"{\"id\":\"\xff\",\"email\":\"a@b\",\"firstName\":\"A\"}",
        )))
        .unwrap();
    call(&auth(), request).await.assert_error(400, 1);
}

#[tokio::test]
async fn malformed_messages_name_the_field() {
    let auth = auth();
    let answer = call(&auth, guide_request(KEY, r#"{"id":"a","email":"a@b"}"#)).await;
    assert!(
        answer.message().contains("firstName"),
        "{}",
        answer.message()
    );
    let answer = call(
        &auth,
        guide_request(KEY, r#"{"id":7,"email":"a@b","firstName":""}"#),
    )
    .await;
    assert!(answer.message().contains("`id`"), "{}", answer.message());
}

// ---- 401/4 ----

#[tokio::test]
async fn unknown_key_is_401_4() {
    let answer = call(
        &auth(),
        guide_request("unknown-key-0123456789abcdef0123456", GUIDE_BODY),
    )
    .await;
    answer.assert_error(401, 4);
    assert_eq!(answer.message(), "Invalid access token");
    assert_eq!(answer.headers["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn missing_or_malformed_authorization_is_401_4() {
    let auth = auth();
    for value in [
        None,
        Some(format!("Basic {KEY}")),
        Some(KEY.to_owned()),
        Some("Bearer".to_owned()),
        Some("Bearer ".to_owned()),
        Some(format!("Bearer  {KEY}")),
        Some(format!("Bearer {KEY} extra")),
    ] {
        let mut builder =
            Request::post("/user/api/auth/external").header("content-type", "application/json");
        if let Some(value) = &value {
            builder = builder.header("authorization", value);
        }
        let answer = call(
            &auth,
            builder.body(Full::new(Bytes::from(GUIDE_BODY))).unwrap(),
        )
        .await;
        answer.assert_error(401, 4);
        assert_eq!(answer.headers["www-authenticate"], "Bearer", "{value:?}");
    }
}

#[tokio::test]
async fn bearer_scheme_is_case_insensitive() {
    let auth = auth();
    for scheme in ["bearer", "BEARER", "BeArEr"] {
        let request = Request::post("/user/api/auth/external")
            .header("authorization", format!("{scheme} {KEY}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(GUIDE_BODY)))
            .unwrap();
        assert_eq!(call(&auth, request).await.status, 200, "{scheme}");
    }
}

#[tokio::test]
async fn key_is_checked_before_content_type_size_and_body() {
    let auth = auth();
    let huge = "x".repeat(100_000);
    let request = Request::post("/user/api/auth/external")
        .header(
            "authorization",
            "Bearer wrong-key-wrong-key-wrong-key-wrong",
        )
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from(huge)))
        .unwrap();
    call(&auth, request).await.assert_error(401, 4);
}

#[tokio::test]
async fn key_is_checked_before_the_body_is_read() {
    // A body that never ends: the 401 must come without reading it.
    let auth = auth();
    let stream = futures_pending_body();
    let request = Request::post("/user/api/auth/external")
        .header(
            "authorization",
            "Bearer wrong-key-wrong-key-wrong-key-wrong",
        )
        .header("content-type", "application/json")
        .body(stream)
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), call(&auth, request))
        .await
        .expect("answered without reading the body");
    answer.assert_error(401, 4);
}

type FrameResult = Result<http_body::Frame<Bytes>, std::io::Error>;

/// A body that never yields a frame.
struct Pending;

impl futures_core::Stream for Pending {
    type Item = FrameResult;
    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<FrameResult>> {
        std::task::Poll::Pending
    }
}

fn futures_pending_body() -> StreamBody<Pending> {
    StreamBody::new(Pending)
}

// ---- 405/8, 415/2, 413/3 ----

#[tokio::test]
async fn other_methods_are_405_8_with_allow() {
    let auth = auth();
    for method in ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"] {
        let request = Request::builder()
            .method(method)
            .uri("/user/api/auth/external")
            .header("authorization", format!("Bearer {KEY}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let answer = call(&auth, request).await;
        answer.assert_error(405, 8);
        assert_eq!(answer.headers["allow"], "POST", "{method}");
    }
}

#[tokio::test]
async fn method_is_checked_before_the_key() {
    let request = Request::get("/user/api/auth/external")
        .body(Full::new(Bytes::new()))
        .unwrap();
    call(&auth(), request).await.assert_error(405, 8);
}

#[tokio::test]
async fn wrong_content_type_is_415_2() {
    let auth = auth();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/jsonx"),
    ] {
        let mut builder = Request::post("/user/api/auth/external")
            .header("authorization", format!("Bearer {KEY}"));
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        let answer = call(
            &auth,
            builder.body(Full::new(Bytes::from(GUIDE_BODY))).unwrap(),
        )
        .await;
        answer.assert_error(415, 2);
        assert_eq!(answer.message(), "Unsupported media type");
    }
}

#[tokio::test]
async fn content_type_parameters_are_allowed() {
    let request = Request::post("/user/api/auth/external")
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json; charset=utf-8")
        .body(Full::new(Bytes::from(GUIDE_BODY)))
        .unwrap();
    assert_eq!(call(&auth(), request).await.status, 200);
}

#[tokio::test]
async fn content_type_is_checked_before_size() {
    let request = Request::post("/user/api/auth/external")
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from("x".repeat(20_000))))
        .unwrap();
    call(&auth(), request).await.assert_error(415, 2);
}

/// A body padded with spaces to exactly `len` bytes.
fn padded(len: usize) -> String {
    let mut body = GUIDE_BODY.to_owned();
    body.push_str(&" ".repeat(len - body.len()));
    body
}

#[tokio::test]
async fn body_of_exactly_the_limit_passes() {
    let answer = call(&auth(), guide_request(KEY, &padded(16_384))).await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn body_over_the_limit_is_413_3() {
    let answer = call(&auth(), guide_request(KEY, &padded(16_385))).await;
    answer.assert_error(413, 3);
    assert_eq!(answer.message(), "Payload too large");
}

#[tokio::test]
async fn chunked_body_over_the_limit_is_413_3() {
    // Many small frames with no length known in advance.
    let body = padded(16_385);
    let chunks: Vec<FrameResult> = body
        .as_bytes()
        .chunks(1000)
        .map(|c| Ok(http_body::Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    let request = Request::post("/user/api/auth/external")
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json")
        .body(StreamBody::new(tokio_stream_iter(chunks)))
        .unwrap();
    call(&auth(), request).await.assert_error(413, 3);
}

#[tokio::test]
async fn chunked_body_within_the_limit_passes() {
    let body = padded(16_384);
    let chunks: Vec<FrameResult> = body
        .as_bytes()
        .chunks(7)
        .map(|c| Ok(http_body::Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    let request = Request::post("/user/api/auth/external")
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json")
        .body(StreamBody::new(tokio_stream_iter(chunks)))
        .unwrap();
    assert_eq!(call(&auth(), request).await.status, 200);
}

fn tokio_stream_iter(items: Vec<FrameResult>) -> IterStream {
    IterStream(items.into_iter())
}

struct IterStream(std::vec::IntoIter<FrameResult>);

impl futures_core::Stream for IterStream {
    type Item = FrameResult;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<FrameResult>> {
        std::task::Poll::Ready(self.0.next())
    }
}

#[tokio::test]
async fn content_length_over_the_limit_is_413_before_reading() {
    let request = Request::post("/user/api/auth/external")
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json")
        .header("content-length", "1000000")
        .body(futures_pending_body())
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), call(&auth(), request))
        .await
        .expect("answered without reading the body");
    answer.assert_error(413, 3);
}

#[tokio::test]
async fn configured_body_limit_holds() {
    let auth = auth_with(
        keys(),
        MemoryUserStore::new(),
        AuthConfig::default().with_body_limit(100),
    );
    call(&auth, guide_request(KEY, &padded(101)))
        .await
        .assert_error(413, 3);
    assert_eq!(
        call(&auth, guide_request(KEY, &padded(100))).await.status,
        200
    );
}

// ---- 503/7 and 500/9: stores that fail or hang ----

struct FailingUsers(fn() -> StoreError);

#[async_trait]
impl UserStore for FailingUsers {
    async fn upsert_external(
        &self,
        _: &AppId,
        _: &ExternalProfile,
    ) -> Result<Upserted, StoreError> {
        Err((self.0)())
    }
    async fn find(&self, _: &UserId) -> Result<Option<User>, StoreError> {
        Err((self.0)())
    }
    async fn erase(&self, _: &UserId) -> Result<bool, StoreError> {
        Err((self.0)())
    }
}

struct HangingUsers;

#[async_trait]
impl UserStore for HangingUsers {
    async fn upsert_external(
        &self,
        _: &AppId,
        _: &ExternalProfile,
    ) -> Result<Upserted, StoreError> {
        std::future::pending().await
    }
    async fn find(&self, _: &UserId) -> Result<Option<User>, StoreError> {
        std::future::pending().await
    }
    async fn erase(&self, _: &UserId) -> Result<bool, StoreError> {
        std::future::pending().await
    }
}

struct HangingKeys;

#[async_trait]
impl ApiKeyValidator for HangingKeys {
    async fn validate(&self, _: &ApiKey) -> Result<Option<AppId>, StoreError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn unreachable_user_store_is_503_7_with_retry_after() {
    let down = || {
        StoreError::unavailable(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "refused",
        ))
    };
    let auth = auth_with(keys(), FailingUsers(down), AuthConfig::default());
    let answer = call(&auth, guide_request(KEY, GUIDE_BODY)).await;
    answer.assert_error(503, 7);
    assert_eq!(answer.message(), "Service unavailable");
    let retry: u64 = answer.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
}

#[tokio::test]
async fn hanging_user_store_is_503_7_after_the_timeout() {
    let config = AuthConfig::default().with_store_timeout(Duration::from_millis(200));
    let auth = auth_with(keys(), HangingUsers, config);
    let answer = tokio::time::timeout(
        Duration::from_secs(5),
        call(&auth, guide_request(KEY, GUIDE_BODY)),
    )
    .await
    .expect("the store timeout answered");
    answer.assert_error(503, 7);
    assert!(answer.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn hanging_key_validator_is_503_7_after_the_timeout() {
    let config = AuthConfig::default().with_store_timeout(Duration::from_millis(200));
    let auth = auth_with(HangingKeys, MemoryUserStore::new(), config);
    let answer = tokio::time::timeout(
        Duration::from_secs(5),
        call(&auth, guide_request(KEY, GUIDE_BODY)),
    )
    .await
    .expect("the store timeout answered");
    answer.assert_error(503, 7);
}

#[tokio::test]
async fn store_bug_is_500_9_without_details() {
    let broken = || StoreError::other("constraint tcx_users_secret_detail violated");
    let auth = auth_with(keys(), FailingUsers(broken), AuthConfig::default());
    let answer = call(&auth, guide_request(KEY, GUIDE_BODY)).await;
    answer.assert_error(500, 9);
    assert_eq!(answer.message(), "Internal error");
    assert!(!answer.text().contains("tcx_users_secret_detail"));
}

// ---- concurrency ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_first_calls_create_one_user() {
    let users = Arc::new(MemoryUserStore::new());
    let auth = auth_with(keys(), users.clone(), AuthConfig::default());
    let subs = concurrent_first_calls(&auth, 100).await;
    assert_eq!(subs.len(), 1);
    assert_eq!(users.len(), 1);
}

// ---- rate limit ----

#[tokio::test]
async fn over_the_rate_limit_is_429_6_with_retry_after() {
    let auth = techcentrix_auth::TechCentrixAuth::builder()
        .api_keys(keys())
        .signing_keys(techcentrix_auth::token::SigningKeys::hs512(
            techcentrix_auth::JwtSecret::generate(),
        ))
        .rate_limiter(techcentrix_auth::rate_limit::MemoryRateLimiter::new(3))
        .build()
        .unwrap();
    for _ in 0..3 {
        assert_eq!(
            call(&auth, guide_request(KEY, GUIDE_BODY)).await.status,
            200
        );
    }
    let answer = call(&auth, guide_request(KEY, GUIDE_BODY)).await;
    answer.assert_error(429, 6);
    assert_eq!(answer.message(), "Too many requests");
    let retry: u64 = answer.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    // Another key has its own budget.
    assert_eq!(
        call(&auth, guide_request(OTHER_KEY, GUIDE_BODY))
            .await
            .status,
        200
    );
}

// ---- the layer ----

#[tokio::test]
async fn layer_passes_other_requests_through_untouched() {
    use tower::{Layer, ServiceExt};
    let inner = tower::service_fn(|request: Request<Full<Bytes>>| async move {
        let mut response = http::Response::new(Full::new(Bytes::from(format!(
            "inner saw {} {}",
            request.method(),
            request.uri().path()
        ))));
        response
            .headers_mut()
            .insert("x-inner", "1".parse().unwrap());
        Ok::<_, std::convert::Infallible>(response)
    });
    let app = auth().layer().layer(inner);
    for (method, path) in [
        ("GET", "/"),
        ("POST", "/user/api/auth"),
        ("POST", "/user/api/auth/external/x"),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.headers()["x-inner"], "1");
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(body, format!("inner saw {method} {path}"));
    }
    let answer = app.oneshot(guide_request(KEY, GUIDE_BODY)).await.unwrap();
    assert_eq!(answer.status(), 200);
}

#[tokio::test]
async fn configured_path_is_served_and_the_default_is_not() {
    let config = AuthConfig::default().with_external_path("/auth/ext");
    let auth = auth_with(keys(), MemoryUserStore::new(), config);
    let mut request = guide_request(KEY, GUIDE_BODY);
    *request.uri_mut() = "/auth/ext".parse().unwrap();
    assert_eq!(call(&auth, request).await.status, 200);
    assert_eq!(
        call(&auth, guide_request(KEY, GUIDE_BODY)).await.status,
        404
    );
}

#[tokio::test]
async fn several_live_keys_per_app() {
    let second = "acme-second-key-0123456789abcdef01234";
    let validator = keys().with_key("acme", &ApiKey::new(second));
    let auth = auth_with(validator, MemoryUserStore::new(), AuthConfig::default());
    let a = call(&auth, guide_request(KEY, GUIDE_BODY)).await;
    let b = call(&auth, guide_request(second, GUIDE_BODY)).await;
    assert_eq!(
        decode_parts(a.text()).1["sub"],
        decode_parts(b.text()).1["sub"]
    );
}
