//! In-memory implementations: product features for a single process, not test doubles.

use std::collections::HashMap;
use std::collections::hash_map::{Entry, RandomState};
use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use super::{ApiKeyValidator, ExternalProfile, Upserted, User, UserStore, unix_now};
use crate::{ApiKey, AppId, KeyDigest, StoreError, UserId};

/// API keys held in memory as SHA-256 digests, several per app allowed.
///
/// Look-up is by the digest's first bytes; the whole digest is then compared in constant
/// time, so the cost is the same with one key or a hundred thousand.
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
    keys: RwLock<HashMap<u64, Vec<(KeyDigest, AppId)>>>,
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
        let digest = key.digest();
        let app = app.into();
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        let bucket = keys.entry(digest.prefix()).or_default();
        bucket.retain(|(d, _)| *d != digest);
        bucket.push((digest, app));
    }

    /// Removes a key; returns whether it was there.
    pub fn remove(&self, key: &ApiKey) -> bool {
        let digest = key.digest();
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        let Some(bucket) = keys.get_mut(&digest.prefix()) else {
            return false;
        };
        let before = bucket.len();
        bucket.retain(|(d, _)| *d != digest);
        let removed = bucket.len() != before;
        if bucket.is_empty() {
            keys.remove(&digest.prefix());
        }
        removed
    }

    /// How many keys are live.
    pub fn len(&self) -> usize {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        keys.values().map(Vec::len).sum()
    }

    /// Whether no key is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lookup(&self, digest: &KeyDigest) -> Option<AppId> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        keys.get(&digest.prefix())?
            .iter()
            .find(|(d, _)| d == digest)
            .map(|(_, app)| app.clone())
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

const SHARDS: usize = 16;

type ExternalKey = (AppId, Box<str>);

/// Users held in memory, in shards so that concurrent requests rarely wait on each other.
///
/// Sign-up-or-in is atomic per `(app, external id)`: concurrent first calls create one user.
///
/// ```
/// use techcentrix_auth::store::{ExternalProfile, UserStore};
/// use techcentrix_auth::{AppId, MemoryUserStore};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryUserStore::new();
/// let profile = ExternalProfile {
///     external_id: "user1-external".into(),
///     email: "user1@techcentrix.com".into(),
///     first_name: "User1Name".into(),
/// };
/// let first = store.upsert_external(&AppId::from("acme"), &profile).await.unwrap();
/// let again = store.upsert_external(&AppId::from("acme"), &profile).await.unwrap();
/// assert_eq!(first.user().id, again.user().id);
/// # });
/// ```
pub struct MemoryUserStore {
    hasher: RandomState,
    by_external: Box<[RwLock<HashMap<ExternalKey, User>>]>,
    by_id: Box<[RwLock<HashMap<UserId, ExternalKey>>]>,
}

impl Default for MemoryUserStore {
    fn default() -> Self {
        MemoryUserStore {
            hasher: RandomState::new(),
            by_external: (0..SHARDS).map(|_| RwLock::default()).collect(),
            by_id: (0..SHARDS).map(|_| RwLock::default()).collect(),
        }
    }
}

impl MemoryUserStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many users it holds.
    pub fn len(&self) -> usize {
        self.by_id
            .iter()
            .map(|shard| shard.read().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// Whether it holds no user.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard_of<K: Hash + ?Sized>(&self, key: &K) -> usize {
        (self.hasher.hash_one(key) as usize) % SHARDS
    }

    fn upsert(&self, app: &AppId, profile: &ExternalProfile) -> Upserted {
        let key: (&str, &str) = (app.as_str(), &profile.external_id);
        let shard = &self.by_external[self.shard_of(&key)];
        // A sign-in that changes nothing takes only the read lock.
        {
            let users = shard.read().unwrap_or_else(|e| e.into_inner());
            if let Some(user) = users.get(&(app.clone(), profile.external_id.as_str().into()))
                && user.has_profile(profile)
            {
                return Upserted::SignedIn(user.clone());
            }
        }
        let now = unix_now();
        let mut users = shard.write().unwrap_or_else(|e| e.into_inner());
        match users.entry((app.clone(), profile.external_id.as_str().into())) {
            Entry::Occupied(mut entry) => {
                let user = entry.get_mut();
                if !user.has_profile(profile) {
                    user.email.clone_from(&profile.email);
                    user.first_name.clone_from(&profile.first_name);
                    user.updated_at = now;
                }
                Upserted::SignedIn(user.clone())
            }
            Entry::Vacant(entry) => {
                let user = User {
                    id: UserId::random(),
                    app: app.clone(),
                    external_id: profile.external_id.clone(),
                    email: profile.email.clone(),
                    first_name: profile.first_name.clone(),
                    created_at: now,
                    updated_at: now,
                };
                let external = entry.key().clone();
                entry.insert(user.clone());
                // Still under the shard's write lock: nobody sees the user before its id
                // is findable.
                self.by_id[self.shard_of(&user.id)]
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(user.id.clone(), external);
                Upserted::SignedUp(user)
            }
        }
    }

    fn find_by_id(&self, id: &UserId) -> Option<User> {
        let external = self.by_id[self.shard_of(id)]
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)?
            .clone();
        let key: (&str, &str) = (external.0.as_str(), &external.1);
        self.by_external[self.shard_of(&key)]
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&external)
            .cloned()
    }
}

impl std::fmt::Debug for MemoryUserStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryUserStore")
            .field("users", &self.len())
            .finish()
    }
}

#[async_trait]
impl UserStore for MemoryUserStore {
    async fn upsert_external(
        &self,
        app: &AppId,
        profile: &ExternalProfile,
    ) -> Result<Upserted, StoreError> {
        Ok(self.upsert(app, profile))
    }

    async fn find(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        Ok(self.find_by_id(id))
    }
}
