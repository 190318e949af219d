//! [`TechCentrixAuth`]: the configured service state (keys, stores, hook), shared by every
//! layer and service built from it; cloning it copies a pointer.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::endpoints::{AuthEndpointsLayer, AuthService};
use crate::events::{AuthEvents, NoEvents};
use crate::guard::AccessGuardLayer;
use crate::rate_limit::RateLimiter;
use crate::state::Shared;
use crate::store::Session;
use crate::store::{
    ApiKeyValidator, MemoryReplayLedger, MemorySessionStore, MemoryUserStore, ReplayLedger,
    SessionStore, UserStore,
};
use crate::token::{Claims, SigningKeys};
use crate::{AuthBody, AuthConfig, ConfigError, Error, StoreError, UserId};
use http::HeaderMap;

/// The auth service's state: configuration, signing keys, key validator, user store and
/// event hook.
///
/// Build one with [`TechCentrixAuth::builder`], then mount it with [`TechCentrixAuth::layer`]
/// (wraps a whole application) or [`TechCentrixAuth::service`] (for routers that mount by
/// path).
///
/// ```
/// use techcentrix_auth::{ApiKey, JwtSecret, MemoryApiKeyValidator, MemoryUserStore, TechCentrixAuth};
/// use techcentrix_auth::token::SigningKeys;
///
/// let auth = TechCentrixAuth::builder()
///     .api_keys(MemoryApiKeyValidator::new().with_key("demo", &ApiKey::generate()))
///     .user_store(MemoryUserStore::new())
///     .signing_keys(SigningKeys::hs512(JwtSecret::generate()))
///     .build()
///     .unwrap();
/// let _layer = auth.layer();
/// ```
#[derive(Clone)]
pub struct TechCentrixAuth {
    pub(crate) shared: Arc<Shared>,
}

impl TechCentrixAuth {
    /// Starts a builder.
    pub fn builder() -> AuthBuilder {
        AuthBuilder::default()
    }

    /// A layer that serves the auth endpoints on their paths and passes every other request
    /// to the service it wraps.
    pub fn layer(&self) -> AuthEndpointsLayer {
        AuthEndpointsLayer::new(self.shared.clone())
    }

    /// A service that serves the auth endpoints and answers `404` for any other path.
    pub fn service(&self) -> AuthService {
        AuthService::standalone(self.shared.clone())
    }

    /// A layer that lets through only requests with a valid access token (of any app), and
    /// hands the verified [`Claims`](crate::token::Claims) to the inner service in the
    /// request extensions.
    pub fn guard(&self) -> AccessGuardLayer {
        AccessGuardLayer::new(self.shared.clone())
    }

    /// Checks the access token of a request's headers (`Authorization: Bearer <token>`),
    /// without tower: the verified [`Claims`] of a valid, unexpired access token of this
    /// issuer (any app), or [`Error::InvalidAccessToken`], whose
    /// [`into_response`](Error::into_response) is the SPEC's 401/4. The guard layer and
    /// sign-out use this same check.
    ///
    /// ```
    /// # use techcentrix_auth::{ApiKey, Error, JwtSecret, MemoryApiKeyValidator, TechCentrixAuth};
    /// # use techcentrix_auth::token::SigningKeys;
    /// # let auth = TechCentrixAuth::builder()
    /// #     .api_keys(MemoryApiKeyValidator::new())
    /// #     .signing_keys(SigningKeys::hs512(JwtSecret::generate()))
    /// #     .build()
    /// #     .unwrap();
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("authorization", "Bearer not-a-token".parse().unwrap());
    /// let refused = auth.verify_access(&headers).unwrap_err();
    /// assert_eq!(refused.into_response().status(), 401);
    /// ```
    ///
    /// A host holding a request's [`Parts`](http::request::Parts) passes `&parts.headers`.
    pub fn verify_access(&self, headers: &HeaderMap) -> Result<Claims, Error> {
        self.shared.verify_access(headers)
    }

    /// Whether `path` is one of the auth endpoints' configured paths: what a host that
    /// routes by itself sends to [`TechCentrixAuth::serve`].
    ///
    /// ```
    /// # use techcentrix_auth::{JwtSecret, MemoryApiKeyValidator, TechCentrixAuth};
    /// # use techcentrix_auth::token::SigningKeys;
    /// # let auth = TechCentrixAuth::builder()
    /// #     .api_keys(MemoryApiKeyValidator::new())
    /// #     .signing_keys(SigningKeys::hs512(JwtSecret::generate()))
    /// #     .build()
    /// #     .unwrap();
    /// assert!(auth.handles("/user/api/auth/external"));
    /// assert!(!auth.handles("/me"));
    /// ```
    pub fn handles(&self, path: &str) -> bool {
        crate::endpoints::handles(&self.shared.config, path)
    }

    /// Serves one auth request whose body the host has already read, without tower: for
    /// hosts that are not tower stacks (actix-web, or a hand-written loop). The answer is
    /// the one the layer gives, byte for byte: the endpoint's, a refusal of the SPEC's
    /// table (a body over the limit is `413`), or `404` with an empty body for a path that
    /// is none of the endpoints' (see [`TechCentrixAuth::handles`]).
    ///
    /// ```
    /// # use techcentrix_auth::{ApiKey, JwtSecret, MemoryApiKeyValidator, TechCentrixAuth};
    /// # use techcentrix_auth::token::SigningKeys;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let auth = TechCentrixAuth::builder()
    /// #     .api_keys(MemoryApiKeyValidator::new().with_key("acme", &ApiKey::new("0123456789abcdef0123456789abcdef")))
    /// #     .signing_keys(SigningKeys::hs512(JwtSecret::generate()))
    /// #     .build()
    /// #     .unwrap();
    /// let request = http::Request::post("/user/api/auth/external")
    ///     .header("authorization", "Bearer 0123456789abcdef0123456789abcdef")
    ///     .header("content-type", "application/json")
    ///     .body(bytes::Bytes::from_static(
    ///         br#"{"id":"user1-external","email":"user1@techcentrix.com","firstName":"User1Name"}"#,
    ///     ))
    ///     .unwrap();
    /// let response = auth.serve(request).await;
    /// assert_eq!(response.status(), 200);
    /// let token = response.into_body().into_bytes();
    /// assert_eq!(token.split(|b| *b == b'.').count(), 3);
    /// # }
    /// ```
    pub async fn serve(&self, request: http::Request<bytes::Bytes>) -> http::Response<AuthBody> {
        crate::endpoints::serve_buffered(self.shared.clone(), request).await
    }

    /// The OpenAPI 3.1 document of the auth endpoints, at the configured paths: every
    /// status each operation can answer with its body and headers, the security schemes
    /// (the partner's API key and the access token, both HTTP bearer) and the integration
    /// guide's request as the example. The lifetimes (`expiresIn`) and the body limit are
    /// the configuration's too.
    ///
    /// It is built from the code (each error response is read off the [`Error`] it
    /// describes), so a host can serve it, e.g. at `GET /openapi.json`, without it drifting
    /// from what the endpoints answer. A host that mounts the guard on routes of its own
    /// adds them to the document itself; [`TechCentrixAuth::openapi_with_reference_routes`]
    /// is the reference servers' document.
    ///
    /// ```
    /// # use techcentrix_auth::{JwtSecret, MemoryApiKeyValidator, AuthConfig, TechCentrixAuth};
    /// # use techcentrix_auth::token::SigningKeys;
    /// let auth = TechCentrixAuth::builder()
    ///     .api_keys(MemoryApiKeyValidator::new())
    ///     .signing_keys(SigningKeys::hs512(JwtSecret::generate()))
    ///     .config(AuthConfig::default().with_external_path("/partner/sign-in"))
    ///     .build()
    ///     .unwrap();
    /// let document = auth.openapi();
    /// assert_eq!(document["openapi"], "3.1.0");
    /// assert!(document["paths"]["/partner/sign-in"]["post"].is_object());
    /// assert!(document["paths"]["/me"].is_null());
    /// // Serve it as bytes:
    /// let body = serde_json::to_vec(&document).unwrap();
    /// # assert!(!body.is_empty());
    /// ```
    pub fn openapi(&self) -> serde_json::Value {
        crate::openapi::document(&self.shared.config, crate::openapi::Routes::Endpoints)
    }

    /// [`TechCentrixAuth::openapi`] plus the two routes the reference servers
    /// (`examples/axum.rs`, `examples/hyper.rs`) serve beside the endpoints: `GET /me`
    /// (behind the guard: the stored profile `{"userId", "email", "firstName", "app"}`) and
    /// `GET /healthz` (`ok`), both marked `x-techcentrix-reference-server: true`.
    ///
    /// ```
    /// # use techcentrix_auth::{JwtSecret, MemoryApiKeyValidator, TechCentrixAuth};
    /// # use techcentrix_auth::token::SigningKeys;
    /// # let auth = TechCentrixAuth::builder()
    /// #     .api_keys(MemoryApiKeyValidator::new())
    /// #     .signing_keys(SigningKeys::hs512(JwtSecret::generate()))
    /// #     .build()
    /// #     .unwrap();
    /// let document = auth.openapi_with_reference_routes();
    /// let me = &document["paths"]["/me"]["get"];
    /// assert_eq!(me["x-techcentrix-reference-server"], true);
    /// assert_eq!(me["security"][0]["accessToken"], serde_json::json!([]));
    /// ```
    pub fn openapi_with_reference_routes(&self) -> serde_json::Value {
        crate::openapi::document(
            &self.shared.config,
            crate::openapi::Routes::WithReferenceRoutes,
        )
    }

    /// The configuration in force.
    pub fn config(&self) -> &AuthConfig {
        &self.shared.config
    }

    /// The signing keys.
    pub fn signing_keys(&self) -> &SigningKeys {
        &self.shared.keys
    }

    /// The user store.
    pub fn user_store(&self) -> &Arc<dyn UserStore> {
        &self.shared.users
    }

    /// The session store.
    pub fn session_store(&self) -> &Arc<dyn SessionStore> {
        &self.shared.sessions
    }

    /// Signs `user` out everywhere: revokes every live session (refresh tokens stop
    /// working; access tokens already issued live until their `exp`); how many sessions it
    /// revoked.
    pub async fn sign_out_everywhere(&self, user: &UserId) -> Result<u64, StoreError> {
        self.shared.sessions.revoke_user(user).await
    }

    /// The live sessions of `user` (neither revoked nor expired), oldest first.
    pub async fn sessions_of(&self, user: &UserId) -> Result<Vec<Session>, StoreError> {
        let now = crate::util::sync::unix_seconds() as i64;
        self.shared.sessions.list_user(user, now).await
    }

    /// Erases `user` for a data-protection request: its sessions (with their tokens) first,
    /// then the user; whether the user existed. A failure part-way leaves the user without
    /// sessions, never sessions without their user; calling it again finishes the job.
    pub async fn erase_user(&self, user: &UserId) -> Result<bool, StoreError> {
        crate::store::erase_user(&*self.shared.users, &*self.shared.sessions, user).await
    }

    /// Housekeeping: deletes what has expired from the replay ledger and the session store,
    /// `batch` rows per statement (each its own short transaction), until nothing expired is
    /// left; how many entries and sessions went. A failed batch stops the pass with the
    /// error; what earlier batches deleted stays deleted, and the next pass goes on from
    /// there. Requests never purge (SQL stores); call this, or run
    /// [`TechCentrixAuth::run_housekeeping`], from a task of the host.
    ///
    /// ```
    /// # use techcentrix_auth::{ApiKey, JwtSecret, MemoryApiKeyValidator, MemoryUserStore, TechCentrixAuth};
    /// # use techcentrix_auth::token::SigningKeys;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let auth = TechCentrixAuth::builder()
    /// #     .api_keys(MemoryApiKeyValidator::new())
    /// #     .user_store(MemoryUserStore::new())
    /// #     .signing_keys(SigningKeys::hs512(JwtSecret::generate()))
    /// #     .build()
    /// #     .unwrap();
    /// let purged = auth.purge_expired(10_000).await.unwrap();
    /// assert_eq!(purged, 0);
    /// # });
    /// ```
    pub async fn purge_expired(&self, batch: usize) -> Result<u64, StoreError> {
        let batch = batch.max(1);
        let now = crate::store::unix_now();
        let ledger = in_batches(batch, || self.shared.ledger.purge_expired(now, batch)).await?;
        let sessions = in_batches(batch, || self.shared.sessions.purge_expired(now, batch)).await?;
        Ok(ledger + sessions)
    }

    /// Runs [`TechCentrixAuth::purge_expired`] (batches of [`HOUSEKEEPING_BATCH`] rows) every
    /// `every`, forever: spawn it next to the server. A pass that fails is logged and
    /// retried at the next tick; nothing is skipped.
    ///
    /// ```no_run
    /// # fn run(auth: techcentrix_auth::TechCentrixAuth) {
    /// tokio::spawn(auth.clone().run_housekeeping(std::time::Duration::from_secs(60)));
    /// # }
    /// ```
    pub async fn run_housekeeping(self, every: std::time::Duration) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match self.purge_expired(HOUSEKEEPING_BATCH).await {
                Ok(0) => {}
                Ok(purged) => tracing::debug!(purged, "housekeeping: expired entries deleted"),
                Err(err) => {
                    tracing::warn!(error = %err, "housekeeping failed; retrying at the next tick")
                }
            }
        }
    }
}

/// Calls `purge` (one batch of at most `batch` rows) until a batch comes back short; how
/// many rows went in all.
async fn in_batches<F, Fut>(batch: usize, mut purge: F) -> Result<u64, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, StoreError>>,
{
    let mut purged = 0;
    loop {
        let done = purge().await?;
        purged += done;
        if done < batch as u64 {
            return Ok(purged);
        }
    }
}

/// Rows per statement in [`TechCentrixAuth::run_housekeeping`]: small enough that a batch
/// holds a SQLite write lock for milliseconds, not seconds.
pub const HOUSEKEEPING_BATCH: usize = 5_000;

impl fmt::Debug for TechCentrixAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.shared, f)
    }
}

/// `$value` as an `Arc<$dyn>`: an `Arc<$dyn>` the host passes in is kept as it is (one
/// pointer to follow per call, not two); any other value is wrapped.
macro_rules! shared {
    ($value:expr, $dyn:ty) => {{
        let mut value = Some($value);
        match (&mut value as &mut dyn std::any::Any).downcast_mut::<Option<Arc<$dyn>>>() {
            Some(already) => already.take().expect("set just above"),
            None => Arc::new(value.expect("set just above")) as Arc<$dyn>,
        }
    }};
}

/// Builds a [`TechCentrixAuth`]. The key validator and the signing keys are required; the
/// stores default to their in-memory implementations ([`MemoryUserStore`],
/// [`MemoryReplayLedger`], [`MemorySessionStore`]), the configuration to
/// [`AuthConfig::default`] and the event hook to [`NoEvents`].
#[derive(Default)]
pub struct AuthBuilder {
    config: Option<AuthConfig>,
    keys: Option<SigningKeys>,
    api_keys: Option<Arc<dyn ApiKeyValidator>>,
    users: Option<Arc<dyn UserStore>>,
    ledger: Option<Arc<dyn ReplayLedger>>,
    sessions: Option<Arc<dyn SessionStore>>,
    events: Option<Arc<dyn AuthEvents>>,
    rate_limiter: Option<Arc<dyn RateLimiter>>,
}

impl AuthBuilder {
    /// Sets the configuration.
    pub fn config(mut self, config: AuthConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// Sets the signing keys.
    pub fn signing_keys(mut self, keys: SigningKeys) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Sets the API-key validator (required). Like every store below, it may be a plain
    /// value or an `Arc` of one shared with the host (kept as it is, not wrapped again).
    pub fn api_keys(mut self, validator: impl ApiKeyValidator) -> Self {
        self.api_keys = Some(shared!(validator, dyn ApiKeyValidator));
        self
    }

    /// Sets the user store (default: a [`MemoryUserStore`]).
    pub fn user_store(mut self, store: impl UserStore) -> Self {
        self.users = Some(shared!(store, dyn UserStore));
        self
    }

    /// Sets the replay ledger (default: a [`MemoryReplayLedger`]).
    pub fn replay_ledger(mut self, ledger: impl ReplayLedger) -> Self {
        self.ledger = Some(shared!(ledger, dyn ReplayLedger));
        self
    }

    /// Sets the session store (default: a [`MemorySessionStore`]).
    pub fn session_store(mut self, store: impl SessionStore) -> Self {
        self.sessions = Some(shared!(store, dyn SessionStore));
        self
    }

    /// Sets the event hook (default: [`NoEvents`]): any [`AuthEvents`], a closure
    /// `Fn(&AuthEvent)` included.
    pub fn events(mut self, events: impl AuthEvents) -> Self {
        self.events = Some(shared!(events, dyn AuthEvents));
        self
    }

    /// Sets the per-key rate limiter (default: none), e.g. a
    /// [`MemoryRateLimiter`](crate::rate_limit::MemoryRateLimiter) or, shared by every
    /// instance, a Redis one.
    pub fn rate_limiter(mut self, limiter: impl RateLimiter) -> Self {
        self.rate_limiter = Some(shared!(limiter, dyn RateLimiter));
        self
    }

    /// Checks the configuration and builds.
    pub fn build(self) -> Result<TechCentrixAuth, ConfigError> {
        let config = self.config.unwrap_or_default();
        config.validate()?;
        let keys = self
            .keys
            .ok_or_else(|| ConfigError::new("signing_keys", "required"))?;
        let api_keys = self
            .api_keys
            .ok_or_else(|| ConfigError::new("api_keys", "required"))?;
        Ok(TechCentrixAuth {
            shared: Arc::new(Shared {
                config,
                api_keys,
                users: self
                    .users
                    .unwrap_or_else(|| Arc::new(MemoryUserStore::new())),
                ledger: self
                    .ledger
                    .unwrap_or_else(|| Arc::new(MemoryReplayLedger::new())),
                sessions: self
                    .sessions
                    .unwrap_or_else(|| Arc::new(MemorySessionStore::new())),
                events: self.events.unwrap_or_else(|| Arc::new(NoEvents)),
                rate_limiter: self.rate_limiter,
                jwks: jwks_body(&keys),
                keys,
            }),
        })
    }
}

impl fmt::Debug for AuthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthBuilder")
            .field("config", &self.config)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

/// The JWKS document of `keys`, serialized once.
fn jwks_body(keys: &SigningKeys) -> bytes::Bytes {
    // A JSON value always serializes.
    serde_json::to_vec(&keys.jwks()).unwrap_or_default().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::JwtSecret;

    #[test]
    fn a_shared_store_is_kept_as_it_is() {
        let users: Arc<dyn UserStore> = Arc::new(MemoryUserStore::new());
        let sessions = Arc::new(MemorySessionStore::new());
        let auth = TechCentrixAuth::builder()
            .api_keys(crate::MemoryApiKeyValidator::new())
            .user_store(users.clone())
            .session_store(sessions.clone())
            .events(|_: &crate::events::AuthEvent| {})
            .signing_keys(SigningKeys::hs512(JwtSecret::generate()))
            .build()
            .unwrap();
        // The `Arc<dyn UserStore>` itself, not an `Arc` around it.
        assert!(Arc::ptr_eq(auth.user_store(), &users));
        // An `Arc<MemorySessionStore>` is a store of its own: wrapped once.
        assert!(!std::ptr::addr_eq(
            Arc::as_ptr(auth.session_store()),
            Arc::as_ptr(&sessions)
        ));
    }
}
