//! The state every layer, service and endpoint of one [`TechCentrixAuth`](crate::TechCentrixAuth)
//! shares, and the two calls they all make on it: checking an access token and running a
//! store call under the timeout. Its own module so that the endpoints and the guard depend
//! on it, not on the public handle that builds them.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;

use http::HeaderMap;

use crate::events::AuthEvents;
use crate::rate_limit::RateLimiter;
use crate::store::{ApiKeyValidator, ReplayLedger, SessionStore, UserStore};
use crate::token::{Claims, Expected, SigningKeys, TokenKind};
use crate::{AuthConfig, Error, StoreError};

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
    /// The verified claims of the request's access token (any app); 401/4 otherwise. The
    /// one implementation behind the guard, sign-out and [`TechCentrixAuth::verify_access`].
    pub(crate) fn verify_access(&self, headers: &HeaderMap) -> Result<Claims, Error> {
        let token = crate::request::bearer(headers).ok_or(Error::InvalidAccessToken)?;
        let expected = Expected::new(TokenKind::Access, &self.config.issuer)
            .leeway(self.config.leeway.as_secs());
        self.keys.verify(token, &expected).map_err(|why| {
            tracing::debug!(%why, "access token refused");
            Error::InvalidAccessToken
        })
    }

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

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TechCentrixAuth")
            .field("config", &self.config)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}
