//! [`CachedApiKeyValidator`]: trusts a positive key look-up for a short time.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::ApiKeyValidator;
use crate::secret::DigestMap;
use crate::util::sync::{read, write};
use crate::{ApiKey, AppId, KeyDigest, StoreError};

/// Remembers which keys a slower validator (a database) accepted, for at most `ttl`
/// (default 4 s): a revoked key stops working everywhere within that time, inside the
/// SPEC's 5 s with a second's margin for requests in flight. Refusals are not
/// cached, so a newly added key works at once.
///
/// ```
/// use std::time::Duration;
/// use techcentrix_auth::store::CachedApiKeyValidator;
/// use techcentrix_auth::{ApiKey, ApiKeyValidator, MemoryApiKeyValidator};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let key = ApiKey::generate();
/// let cached = CachedApiKeyValidator::new(MemoryApiKeyValidator::new().with_key("acme", &key))
///     .with_ttl(Duration::from_secs(5));
/// assert!(cached.validate(&key).await.unwrap().is_some());
/// # });
/// ```
pub struct CachedApiKeyValidator {
    inner: Arc<dyn ApiKeyValidator>,
    ttl: Duration,
    /// Accepted keys, each with the time until which it is trusted.
    accepted: RwLock<DigestMap<(AppId, Instant)>>,
}

impl CachedApiKeyValidator {
    /// Caches `inner`'s acceptances for 4 s.
    pub fn new(inner: impl ApiKeyValidator) -> Self {
        Self::from_arc(Arc::new(inner))
    }

    /// Caches a shared validator's acceptances for 4 s.
    pub fn from_arc(inner: Arc<dyn ApiKeyValidator>) -> Self {
        CachedApiKeyValidator {
            inner,
            ttl: Duration::from_secs(4),
            accepted: RwLock::default(),
        }
    }

    /// Sets how long an acceptance is trusted.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    fn cached(&self, digest: &KeyDigest, now: Instant) -> Option<AppId> {
        let accepted = read(&self.accepted);
        let (app, until) = accepted.get(digest)?;
        (*until > now).then(|| app.clone())
    }

    fn remember(&self, digest: KeyDigest, app: AppId, now: Instant) {
        let mut accepted = write(&self.accepted);
        if accepted.len() > 1024 {
            accepted.retain(|(_, until)| *until > now);
        }
        accepted.insert(digest, (app, now + self.ttl));
    }
}

impl std::fmt::Debug for CachedApiKeyValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedApiKeyValidator")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl ApiKeyValidator for CachedApiKeyValidator {
    async fn validate(&self, key: &ApiKey) -> Result<Option<AppId>, StoreError> {
        let digest = key.digest();
        let now = Instant::now();
        if let Some(app) = self.cached(&digest, now) {
            return Ok(Some(app));
        }
        let answer = self.inner.validate(key).await?;
        if let Some(app) = &answer {
            self.remember(digest, app.clone(), now);
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryApiKeyValidator;

    #[tokio::test]
    async fn a_revoked_key_is_trusted_only_until_the_ttl() {
        let key = ApiKey::generate();
        let inner = Arc::new(MemoryApiKeyValidator::new().with_key("acme", &key));
        let cached =
            CachedApiKeyValidator::from_arc(inner.clone()).with_ttl(Duration::from_millis(100));
        assert!(cached.validate(&key).await.unwrap().is_some());
        inner.remove(&key);
        assert!(cached.validate(&key).await.unwrap().is_some(), "cached");
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(cached.validate(&key).await.unwrap().is_none(), "expired");
    }
}
