use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;

use super::{SHARDS, Uniform, id_bits};
use crate::store::{Rotation, Session, SessionStore, unix_now};
use crate::sync::{lock, read, write};
use crate::{AppId, KeyDigest, SessionId, StoreError, UserId};

/// Token digest → its family's id bits.
type TokenIndex = HashMap<[u8; 32], u128, Uniform>;

/// Refresh-token families in memory, tokens kept as digests.
///
/// Families live in shards by session id, and a second sharded index maps each token's
/// digest to its family, so no lock is global and no table grows past a sixteenth of the
/// sessions (a resize never stalls every request). A rotation holds its family's shard
/// lock throughout: of two concurrent rotations of one token, one rotates and the other
/// sees reuse. Expired families are forgotten: a creation after a shard's earliest expiry
/// sweeps that shard.
#[derive(Debug)]
pub struct MemorySessionStore {
    hasher: RandomState,
    /// One shared `AppId` per app.
    apps: RwLock<HashMap<Arc<str>, AppId>>,
    families: Box<[Mutex<FamilyShard>]>,
    tokens: Box<[Mutex<TokenIndex>]>,
}

#[derive(Debug)]
struct FamilyShard {
    /// By the session id's 128 bits.
    families: HashMap<u128, Family, Uniform>,
    /// The earliest expiry in the shard: no sweep is due before it.
    next_expiry: i64,
}

impl Default for FamilyShard {
    fn default() -> Self {
        FamilyShard {
            families: HashMap::default(),
            next_expiry: i64::MAX,
        }
    }
}

/// A session, compactly: its id is the map key (the original string is kept only when it is
/// not a UUID), the app is shared with every session of the app, and the rotated tokens
/// take no allocation until the first refresh.
#[derive(Debug)]
struct Family {
    user: UserId,
    app: AppId,
    expires_at: i64,
    revoked: bool,
    current: [u8; 32],
    /// The tokens rotated away: presenting one is reuse. Kept for clean-up too.
    rotated: Vec<[u8; 32]>,
    /// The session id when it is not a UUID (the key is then a digest of it).
    custom_id: Option<SessionId>,
}

impl Family {
    fn session(&self, key: u128) -> Session {
        Session {
            id: self.custom_id.clone().unwrap_or_else(|| {
                SessionId::new(
                    uuid::Uuid::from_u128(key)
                        .hyphenated()
                        .encode_lower(&mut [0u8; 36]) as &str,
                )
            }),
            user: self.user.clone(),
            app: self.app.clone(),
            expires_at: self.expires_at,
        }
    }
}

impl Default for MemorySessionStore {
    fn default() -> Self {
        MemorySessionStore {
            hasher: RandomState::new(),
            apps: RwLock::default(),
            families: (0..SHARDS).map(|_| Mutex::default()).collect(),
            tokens: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

impl MemorySessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many families it holds (revoked ones until they expire included).
    pub fn len(&self) -> usize {
        self.families.iter().map(|s| lock(s).families.len()).sum()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shared_app(&self, app: &AppId) -> AppId {
        if let Some(shared) = read(&self.apps).get(app.as_str()) {
            return shared.clone();
        }
        let mut apps = write(&self.apps);
        apps.entry(Arc::from(app.as_str()))
            .or_insert_with(|| app.clone())
            .clone()
    }

    fn family_shard(&self, id: u128) -> &Mutex<FamilyShard> {
        &self.families[(self.hasher.hash_one(id) as usize) % SHARDS]
    }

    fn token_shard(&self, digest: &[u8; 32]) -> &Mutex<TokenIndex> {
        &self.tokens[usize::from(digest[0]) % SHARDS]
    }

    /// The family a token belongs to (lock order: a family shard, then a token shard; this
    /// takes only a token shard).
    fn family_of(&self, digest: &[u8; 32]) -> Option<u128> {
        lock(self.token_shard(digest)).get(digest).copied()
    }

    /// Forgets the shard's expired families and their tokens.
    fn sweep(&self, shard: &mut FamilyShard, now: i64) {
        let expired: Vec<u128> = shard
            .families
            .iter()
            .filter(|(_, f)| f.expires_at < now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(family) = shard.families.remove(&id) {
                for token in family.rotated.iter().chain([&family.current]) {
                    lock(self.token_shard(token)).remove(token);
                }
            }
        }
        shard.next_expiry = shard
            .families
            .values()
            .map(|f| f.expires_at)
            .min()
            .unwrap_or(i64::MAX);
    }

    fn revoke_family(&self, id: u128) -> bool {
        match lock(self.family_shard(id)).families.get_mut(&id) {
            Some(family) if !family.revoked => {
                family.revoked = true;
                true
            }
            _ => false,
        }
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn create(&self, session: &Session, refresh: &KeyDigest) -> Result<(), StoreError> {
        let now = unix_now();
        let digest = *refresh.as_bytes();
        let id = id_bits(session.id.as_str());
        // Only a UUID in its canonical form can be rebuilt from the key.
        let is_uuid = uuid::Uuid::try_parse(session.id.as_str()).is_ok_and(|uuid| {
            uuid.hyphenated().encode_lower(&mut [0u8; 36]) as &str == session.id.as_str()
        });
        let app = self.shared_app(&session.app);
        let mut shard = lock(self.family_shard(id));
        if now > shard.next_expiry {
            self.sweep(&mut shard, now);
        }
        shard.next_expiry = shard.next_expiry.min(session.expires_at);
        shard.families.insert(
            id,
            Family {
                user: session.user.clone(),
                app,
                expires_at: session.expires_at,
                revoked: false,
                current: digest,
                rotated: Vec::new(),
                custom_id: (!is_uuid).then(|| session.id.clone()),
            },
        );
        lock(self.token_shard(&digest)).insert(digest, id);
        Ok(())
    }

    async fn rotate(
        &self,
        presented: &KeyDigest,
        next: &KeyDigest,
        now: i64,
    ) -> Result<Rotation, StoreError> {
        let presented = presented.as_bytes();
        let Some(id) = self.family_of(presented) else {
            return Ok(Rotation::Invalid);
        };
        let mut shard = lock(self.family_shard(id));
        let Some(family) = shard.families.get_mut(&id) else {
            return Ok(Rotation::Invalid);
        };
        if family.revoked || family.expires_at < now {
            return Ok(Rotation::Invalid);
        }
        if family.current != *presented {
            family.revoked = true;
            return Ok(Rotation::Reused(family.session(id)));
        }
        let next = *next.as_bytes();
        family.rotated.push(family.current);
        family.current = next;
        let session = family.session(id);
        lock(self.token_shard(&next)).insert(next, id);
        Ok(Rotation::Rotated(session))
    }

    async fn revoke(&self, id: &SessionId) -> Result<bool, StoreError> {
        Ok(self.revoke_family(id_bits(id.as_str())))
    }

    async fn revoke_by_token(&self, token: &KeyDigest) -> Result<bool, StoreError> {
        Ok(match self.family_of(token.as_bytes()) {
            Some(id) => self.revoke_family(id),
            None => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn expired_families_and_their_tokens_are_forgotten() {
        let store = MemorySessionStore::new();
        let now = unix_now();
        let mut old_tokens = Vec::new();
        for i in 0..100 {
            let session = Session {
                id: SessionId::random(),
                user: "u".into(),
                app: "acme".into(),
                expires_at: now - 10,
            };
            let token = KeyDigest::of(format!("old {i}").as_bytes());
            store.create(&session, &token).await.unwrap();
            old_tokens.push(token);
        }
        // New sessions land in every shard (enough of them to touch every shard): each
        // sweeps what has expired there.
        let new = 40 * SHARDS;
        for i in 0..new {
            let session = Session {
                id: SessionId::random(),
                user: "u".into(),
                app: "acme".into(),
                expires_at: now + 3600,
            };
            let token = KeyDigest::of(format!("new {i}").as_bytes());
            store.create(&session, &token).await.unwrap();
        }
        assert_eq!(store.len(), new);
        let indexed: usize = store.tokens.iter().map(|t| lock(t).len()).sum();
        assert_eq!(indexed, new, "the expired families' tokens left the index");
        for token in &old_tokens {
            let next = KeyDigest::of(b"unused");
            assert_eq!(
                store.rotate(token, &next, now).await.unwrap(),
                Rotation::Invalid
            );
        }
    }

    #[tokio::test]
    async fn sessions_come_back_with_the_id_they_were_given() {
        let store = MemorySessionStore::new();
        for id in [
            SessionId::random(),
            SessionId::from("not-a-uuid"),
            SessionId::from("6F9619FF-8B86-D011-B42D-00C04FC964FF"),
        ] {
            let session = Session {
                id,
                user: "u".into(),
                app: "acme".into(),
                expires_at: i64::MAX,
            };
            let (first, next) = (
                KeyDigest::of(session.id.as_str().as_bytes()),
                KeyDigest::of(format!("next {}", session.id).as_bytes()),
            );
            store.create(&session, &first).await.unwrap();
            let rotated = store.rotate(&first, &next, 0).await.unwrap();
            assert_eq!(rotated, Rotation::Rotated(session.clone()));
            assert!(store.revoke(&session.id).await.unwrap());
        }
    }
}
