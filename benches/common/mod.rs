//! What the in-process benches share: the guide's request, a service with in-memory stores,
//! stores filled with users, and the bare jsonwebtoken encode of the claims the endpoint
//! issues.

#![allow(dead_code)] // each bench uses part of it

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use techcentrix_auth::store::{ExternalProfile, UserStore};
use techcentrix_auth::token::{Claims, SigningKeys, TokenKind};
use techcentrix_auth::{
    ApiKey, AppId, JwtSecret, MemoryApiKeyValidator, MemoryUserStore, TechCentrixAuth,
};

pub(crate) const KEY: &str = "bench-key-0123456789abcdef0123456789";
pub(crate) const BODY: &str =
    r#"{"id":"user1-external","email":"user1@techcentrix.com","firstName":"User1Name"}"#;

/// The HS512 secret of [`auth`] and [`BareEncode`].
const SECRET: [u8; 64] = [7; 64];

/// A single-threaded runtime, as a bench drives one request at a time.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `KEY` for app `acme` among `keys` keys.
pub(crate) fn keys(keys: usize) -> MemoryApiKeyValidator {
    let validator = MemoryApiKeyValidator::new();
    for i in 1..keys {
        validator.insert(format!("app{i}"), &ApiKey::new(format!("{KEY}-{i}")));
    }
    validator.with_key("acme", &ApiKey::new(KEY))
}

/// In-memory stores, one key for app `acme`, HS512.
pub(crate) fn auth() -> TechCentrixAuth {
    auth_with(keys(1), MemoryUserStore::new())
}

/// These keys and users, HS512.
pub(crate) fn auth_with(keys: MemoryApiKeyValidator, users: MemoryUserStore) -> TechCentrixAuth {
    TechCentrixAuth::builder()
        .api_keys(keys)
        .user_store(users)
        .signing_keys(SigningKeys::hs512(JwtSecret::new(SECRET.to_vec()).unwrap()))
        .build()
        .unwrap()
}

/// The guide's request: `POST /user/api/auth/external` with the key and a profile.
pub(crate) fn request() -> Request<Full<Bytes>> {
    Request::post("/user/api/auth/external")
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(BODY.as_bytes())))
        .unwrap()
}

/// A request that is not ours: it passes through the layer.
pub(crate) fn other_request() -> Request<Full<Bytes>> {
    Request::get("/api/things")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// The service the layer wraps in the pass-through benches: answers "hi".
pub(crate) fn inner() -> impl tower::Service<
    Request<Full<Bytes>>,
    Response = http::Response<Full<Bytes>>,
    Error = std::convert::Infallible,
    Future: Send,
> + Copy {
    tower::service_fn(|_request: Request<Full<Bytes>>| async {
        Ok(http::Response::new(Full::new(Bytes::from_static(b"hi"))))
    })
}

/// jsonwebtoken alone encoding the claims of a oneTimeToken of `auth`'s key: the yardstick
/// of the in-process goal.
pub(crate) struct BareEncode {
    header: jsonwebtoken::Header,
    claims: Claims,
    key: jsonwebtoken::EncodingKey,
}

impl BareEncode {
    pub(crate) fn new(auth: &TechCentrixAuth) -> Self {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512);
        header.kid = Some(auth.signing_keys().kid().to_owned());
        let claims = Claims::new(
            TokenKind::OneTime,
            "e774b7e4-3817-4c92-8402-ae41c4113a78".into(),
            "acme".into(),
            "techcentrix-auth",
            1_795_624_987,
            60,
        );
        let key = jsonwebtoken::EncodingKey::from_secret(&SECRET);
        BareEncode {
            header,
            claims,
            key,
        }
    }

    pub(crate) fn encode(&self) -> String {
        use std::hint::black_box;
        jsonwebtoken::encode(black_box(&self.header), black_box(&self.claims), &self.key).unwrap()
    }
}

/// User `i` of app `acme`, with realistic sizes.
pub(crate) fn profile(i: usize) -> ExternalProfile {
    ExternalProfile::new(
        format!("user-{i:08}"),
        format!("user{i}@techcentrix.com"),
        "Username",
    )
}

/// A new in-memory store holding users `0..users` of app `acme`.
pub(crate) fn users(rt: &tokio::runtime::Runtime, users: usize) -> MemoryUserStore {
    let store = MemoryUserStore::new();
    let app = AppId::from("acme");
    rt.block_on(async {
        for i in 0..users {
            store.upsert_external(&app, &profile(i)).await.unwrap();
        }
    });
    store
}
