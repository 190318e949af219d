use std::collections::HashMap;
use std::collections::hash_map::{Entry, RandomState};
use std::hash::{BuildHasher, Hash};
use std::sync::RwLock;

use async_trait::async_trait;

use crate::store::{ExternalProfile, Upserted, User, UserCount, UserStore, unix_now};
use crate::{AppId, StoreError, UserId};

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

#[async_trait]
impl UserCount for MemoryUserStore {
    async fn count_users(&self, app: Option<&AppId>) -> Result<u64, StoreError> {
        let count = match app {
            None => self.len(),
            Some(app) => self
                .by_external
                .iter()
                .map(|shard| {
                    let users = shard.read().unwrap_or_else(|e| e.into_inner());
                    users.keys().filter(|(a, _)| a == app).count()
                })
                .sum(),
        };
        Ok(count as u64)
    }
}
