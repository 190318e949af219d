//! What the `request` and `profile_differential` targets share: one auth service with
//! in-memory stores, built once per process, and a current-thread runtime to drive it.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::response::Parts;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use techcentrix_auth::endpoints::ResponseBody;
use techcentrix_auth::token::{Claims, Expected, SigningKeys, TokenKind};
use techcentrix_auth::{
    ApiKey, AuthService, JwtSecret, MemoryApiKeyValidator, MemoryReplayLedger, MemorySessionStore,
    MemoryUserStore, TechCentrixAuth,
};
use tower::ServiceExt;

/// The API key of app `acme`.
pub const KEY: &str = "fuzz-key-acme-0123456789abcdef0123456789";
/// The API key of app `other`.
pub const OTHER_KEY: &str = "fuzz-key-other-0123456789abcdef012345678";
/// The HS512 secret.
pub const SECRET: &[u8] = b"fuzz-secret-fuzz-secret-fuzz-secret-0123456789";
pub const ISSUER: &str = "techcentrix-auth";
/// The body of the integration guide's request.
pub const GUIDE_BODY: &[u8] =
    br#"{"id":"user1-external","email":"user1@techcentrix.com","firstName":"User1Name"}"#;

pub struct Harness {
    runtime: tokio::runtime::Runtime,
    service: AuthService,
    pub keys: SigningKeys,
    /// The service's id of the guide's user in app `acme`.
    pub user: String,
}

pub fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime");
        let keys = SigningKeys::hs512(JwtSecret::new(SECRET.to_vec()).unwrap());
        let auth = TechCentrixAuth::builder()
            .api_keys(
                MemoryApiKeyValidator::new()
                    .with_key("acme", &ApiKey::new(KEY))
                    .with_key("other", &ApiKey::new(OTHER_KEY)),
            )
            .user_store(MemoryUserStore::new())
            .replay_ledger(MemoryReplayLedger::new())
            .session_store(MemorySessionStore::new())
            .signing_keys(keys.clone())
            .build()
            .expect("the auth state builds");
        let mut harness = Harness {
            runtime,
            service: auth.service(),
            keys,
            user: String::new(),
        };
        let request = Request::post("/user/api/auth/external")
            .header("authorization", format!("Bearer {KEY}"))
            .header("content-type", "application/json")
            .body(FuzzBody::full(Bytes::from_static(GUIDE_BODY)))
            .unwrap();
        let (parts, body) = harness.call(request);
        assert_eq!(parts.status, 200, "the guide's request: {body:?}");
        let token = std::str::from_utf8(&body).unwrap();
        harness.user = harness
            .verify(token, TokenKind::OneTime)
            .expect("the guide's token verifies")
            .sub
            .as_str()
            .to_owned();
        harness
    })
}

impl Harness {
    /// Sends `request` through the service and reads the whole answer.
    pub fn call(&self, request: Request<FuzzBody>) -> (Parts, Bytes) {
        let response: Response<ResponseBody<_>> = self
            .runtime
            .block_on(self.service.clone().oneshot(request))
            .unwrap_or_else(|never| match never {});
        let (parts, body) = response.into_parts();
        let body = self
            .runtime
            .block_on(body.collect())
            .unwrap_or_else(|never| match never {})
            .to_bytes();
        (parts, body)
    }

    /// A fresh oneTimeToken for the guide's user in app `acme`.
    pub fn one_time_token(&self) -> String {
        let claims = Claims::new(
            TokenKind::OneTime,
            self.user.as_str().into(),
            "acme".into(),
            ISSUER,
            now(),
            60,
        );
        self.keys.sign(&claims).unwrap()
    }

    /// Verifies a token of `kind` issued by the service, for any app.
    pub fn verify(&self, token: &str, kind: TokenKind) -> Option<Claims> {
        let expected = Expected {
            kind,
            issuer: ISSUER,
            audience: None,
            leeway: 5,
        };
        self.keys.verify(token, &expected).ok()
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A request body in one frame with its exact size known (as `Full`), or in several
/// frames of unknown total size (as a chunked body).
pub struct FuzzBody {
    frames: VecDeque<Bytes>,
    hint: SizeHint,
}

impl FuzzBody {
    /// `bytes` in one frame, its size known.
    pub fn full(bytes: Bytes) -> Self {
        let hint = SizeHint::with_exact(bytes.len() as u64);
        FuzzBody {
            frames: VecDeque::from([bytes]),
            hint,
        }
    }

    /// `bytes` in frames of `chunk` bytes (the last shorter), its size unknown.
    pub fn chunked(bytes: Bytes, chunk: usize) -> Self {
        let mut frames = VecDeque::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            frames.push_back(rest.split_to(chunk.min(rest.len())));
        }
        FuzzBody {
            frames,
            hint: SizeHint::default(),
        }
    }
}

impl Body for FuzzBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.frames.pop_front().map(|bytes| Ok(Frame::data(bytes))))
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        self.hint.clone()
    }
}
