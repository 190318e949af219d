use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use crate::secret::DigestMap;
use crate::store::ApiKeyValidator;
use crate::util::sync::{read, write};
use crate::{ApiKey, AppId, KeyDigest, StoreError};

// Layout: keys are found by their digest's first eight bytes, and the whole digest is then
// compared in constant time (`secret::DigestMap`).

/// API keys held in memory as SHA-256 digests, several per app allowed. A look-up costs the
/// same with one key or a hundred thousand, and compares digests in constant time.
///
/// ```
/// use techcentrix_auth::{ApiKey, ApiKeyValidator, AppId, MemoryApiKeyValidator};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let old = ApiKey::new("old-key-old-key-old-key-old-key-01");
/// let new = ApiKey::new("new-key-new-key-new-key-new-key-02");
/// let keys = MemoryApiKeyValidator::new()
///     .with_key("acme", &old)
///     .with_key("acme", &new);
/// assert_eq!(keys.validate(&new).await.unwrap(), Some(AppId::from("acme")));
/// keys.remove(&old);
/// assert_eq!(keys.validate(&old).await.unwrap(), None);
/// # });
/// ```
#[derive(Default)]
pub struct MemoryApiKeyValidator {
    keys: RwLock<DigestMap<AppId>>,
}

impl MemoryApiKeyValidator {
    /// No keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key for `app` (builder style).
    pub fn with_key(self, app: impl Into<AppId>, key: &ApiKey) -> Self {
        self.insert(app, key);
        self
    }

    /// Adds a key for `app`. Only its digest is kept.
    pub fn insert(&self, app: impl Into<AppId>, key: &ApiKey) {
        let mut keys = write(&self.keys);
        keys.insert(key.digest(), app.into());
    }

    /// Removes a key; returns whether it was there.
    pub fn remove(&self, key: &ApiKey) -> bool {
        let mut keys = write(&self.keys);
        keys.remove(&key.digest())
    }

    /// How many keys are live.
    pub fn len(&self) -> usize {
        read(&self.keys).len()
    }

    /// Whether no key is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lookup(&self, digest: &KeyDigest) -> Option<AppId> {
        let keys = read(&self.keys);
        keys.get(digest).cloned()
    }
}

impl std::fmt::Debug for MemoryApiKeyValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryApiKeyValidator")
            .field("keys", &self.len())
            .finish()
    }
}

#[async_trait]
impl ApiKeyValidator for MemoryApiKeyValidator {
    async fn validate(&self, key: &ApiKey) -> Result<Option<AppId>, StoreError> {
        Ok(self.lookup(&key.digest()))
    }
}

/// Asks several validators in turn; the first that knows the key wins.
///
/// A validator that fails does not stop the others: a key that a later one knows is still
/// accepted. Only when none knows the key and one failed is the answer that failure
/// (503/7 for the client rather than 401), since the failed one might have known it.
///
/// ```
/// use std::sync::Arc;
/// use techcentrix_auth::{ApiKey, ApiKeyValidator, ChainedApiKeyValidator, MemoryApiKeyValidator};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let key = ApiKey::new("0123456789abcdef0123456789abcdef");
/// let chain = ChainedApiKeyValidator::new(vec![
///     Arc::new(MemoryApiKeyValidator::new()),
///     Arc::new(MemoryApiKeyValidator::new().with_key("acme", &key)),
/// ]);
/// assert_eq!(chain.validate(&key).await.unwrap().unwrap().as_str(), "acme");
/// # });
/// ```
pub struct ChainedApiKeyValidator {
    validators: Vec<Arc<dyn ApiKeyValidator>>,
}

impl ChainedApiKeyValidator {
    /// Asks `validators` in this order.
    pub fn new(validators: Vec<Arc<dyn ApiKeyValidator>>) -> Self {
        ChainedApiKeyValidator { validators }
    }
}

impl std::fmt::Debug for ChainedApiKeyValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainedApiKeyValidator")
            .field("validators", &self.validators.len())
            .finish()
    }
}

#[async_trait]
impl ApiKeyValidator for ChainedApiKeyValidator {
    async fn validate(&self, key: &ApiKey) -> Result<Option<AppId>, StoreError> {
        let mut failure = None;
        for validator in &self.validators {
            match validator.validate(key).await {
                Ok(Some(app)) => return Ok(Some(app)),
                Ok(None) => {}
                Err(err) => failure = Some(err),
            }
        }
        failure.map_or(Ok(None), Err)
    }
}
