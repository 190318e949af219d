//! [`TechCentrixAuth`]: the configured service state (keys, stores, hook), shared by every
//! layer and service built from it; cloning it copies a pointer.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;

use crate::endpoints::{AuthEndpointsLayer, AuthService};
use crate::events::{AuthEvents, NoEvents};
use crate::guard::AccessGuardLayer;
use crate::rate_limit::{MemoryRateLimiter, RateLimiter};
use crate::store::{
    ApiKeyValidator, MemoryReplayLedger, MemorySessionStore, MemoryUserStore, ReplayLedger,
    SessionStore, UserStore,
};
use crate::token::SigningKeys;
use crate::{AuthConfig, ConfigError, StoreError};

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

pub(crate) struct Shared {
    pub(crate) config: AuthConfig,
    pub(crate) keys: SigningKeys,
    pub(crate) api_keys: Arc<dyn ApiKeyValidator>,
    pub(crate) users: Arc<dyn UserStore>,
    pub(crate) ledger: Arc<dyn ReplayLedger>,
    pub(crate) sessions: Arc<dyn SessionStore>,
    pub(crate) events: Arc<dyn AuthEvents>,
    pub(crate) rate_limiter: Option<Arc<dyn RateLimiter>>,
    /// The JWKS answer's body: the keys never change after the build.
    pub(crate) jwks: bytes::Bytes,
}

impl Shared {
    /// Runs a store call under the configured timeout. A call that completes at its first
    /// poll (an in-memory store) never arms a timer.
    pub(crate) async fn store_call<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let mut call = std::pin::pin!(call);
        let first = std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await;
        if let Poll::Ready(result) = first {
            return result;
        }
        tokio::time::timeout(self.config.store_timeout, call)
            .await
            .unwrap_or_else(|_| Err(StoreError::timeout()))
    }
}

impl TechCentrixAuth {
    /// Starts a builder.
    pub fn builder() -> AuthBuilder {
        AuthBuilder::default()
    }

    /// A layer that serves the auth endpoints on their paths and passes every other request
    /// to the service it wraps.
    pub fn layer(&self) -> AuthEndpointsLayer {
        AuthEndpointsLayer::new(self.clone())
    }

    /// A service that serves the auth endpoints and answers `404` for any other path.
    pub fn service(&self) -> AuthService {
        AuthService::standalone(self.clone())
    }

    /// A layer that lets through only requests with a valid access token (of any app), and
    /// hands the verified [`Claims`](crate::token::Claims) to the inner service in the
    /// request extensions.
    pub fn guard(&self) -> AccessGuardLayer {
        AccessGuardLayer::new(self.clone())
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
        let now = crate::sync::unix_seconds();
        let mut purged = 0;
        loop {
            let done = self.shared.ledger.purge_expired(now, batch).await?;
            purged += done;
            if done < batch as u64 {
                break;
            }
            tokio::task::yield_now().await;
        }
        loop {
            let done = self
                .shared
                .sessions
                .purge_expired(now as i64, batch)
                .await?;
            purged += done;
            if done < batch as u64 {
                break;
            }
            tokio::task::yield_now().await;
        }
        Ok(purged)
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

/// Rows per statement in [`TechCentrixAuth::run_housekeeping`]: small enough that a batch
/// holds a SQLite write lock for milliseconds, not seconds.
pub const HOUSEKEEPING_BATCH: usize = 5_000;

impl fmt::Debug for TechCentrixAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TechCentrixAuth")
            .field("config", &self.shared.config)
            .field("keys", &self.shared.keys)
            .finish_non_exhaustive()
    }
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

    /// Sets the API-key validator.
    pub fn api_keys(mut self, validator: impl ApiKeyValidator) -> Self {
        self.api_keys = Some(Arc::new(validator));
        self
    }

    /// Sets the API-key validator from a shared one.
    pub fn api_keys_arc(mut self, validator: Arc<dyn ApiKeyValidator>) -> Self {
        self.api_keys = Some(validator);
        self
    }

    /// Sets the user store.
    pub fn user_store(mut self, store: impl UserStore) -> Self {
        self.users = Some(Arc::new(store));
        self
    }

    /// Sets the user store from a shared one.
    pub fn user_store_arc(mut self, store: Arc<dyn UserStore>) -> Self {
        self.users = Some(store);
        self
    }

    /// Sets the replay ledger.
    pub fn replay_ledger(mut self, ledger: impl ReplayLedger) -> Self {
        self.ledger = Some(Arc::new(ledger));
        self
    }

    /// Sets the replay ledger from a shared one.
    pub fn replay_ledger_arc(mut self, ledger: Arc<dyn ReplayLedger>) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// Sets the session store.
    pub fn session_store(mut self, store: impl SessionStore) -> Self {
        self.sessions = Some(Arc::new(store));
        self
    }

    /// Sets the session store from a shared one.
    pub fn session_store_arc(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.sessions = Some(store);
        self
    }

    /// Sets the event hook.
    pub fn events(mut self, events: impl AuthEvents) -> Self {
        self.events = Some(Arc::new(events));
        self
    }

    /// Limits each API key to `per_second` requests a second with an in-memory
    /// [`MemoryRateLimiter`]; 0 turns the limit off.
    pub fn rate_limit(mut self, per_second: u32) -> Self {
        self.rate_limiter = (per_second > 0)
            .then(|| Arc::new(MemoryRateLimiter::new(per_second)) as Arc<dyn RateLimiter>);
        self
    }

    /// Sets the rate limiter (none by default).
    pub fn rate_limiter(mut self, limiter: impl RateLimiter) -> Self {
        self.rate_limiter = Some(Arc::new(limiter));
        self
    }

    /// Sets the rate limiter from a shared one.
    pub fn rate_limiter_arc(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.rate_limiter = Some(limiter);
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
