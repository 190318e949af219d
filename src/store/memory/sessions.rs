use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::Mutex;

use async_trait::async_trait;
use foldhash::fast::RandomState;
use hashbrown::HashTable;

use super::{CompactId, SHARDS, canonical_uuid, id_bits, shard_of};
use crate::store::{ROTATED_TOKENS_KEPT, Rotation, Session, SessionStore};
use crate::util::sync::lock;
use crate::{AppId, KeyDigest, SessionId, StoreError, UserId};

/// A refresh token as the store knows it: the first 128 bits of its SHA-256 (the token
/// itself has 256 bits of entropy; 128 bits of its digest name it unambiguously).
type TokenKey = [u8; 16];

/// Token key → its family's id bits.
type TokenIndex = HashMap<TokenKey, u128, RandomState>;

// Layout: families live in 1,024 shards by session id, and a second sharded index maps each
// token's digest to its family, so no lock is global and no table grows past a 1,024th of
// the sessions (a resize never stalls every request). A rotation holds its family's shard
// lock throughout.

/// Refresh-token families in memory, tokens kept as digests.
///
/// Of two concurrent rotations of one token, one rotates and the other sees reuse. Expired
/// families are forgotten by housekeeping
/// ([`SessionStore::purge_expired`], run by
/// [`TechCentrixAuth::run_housekeeping`](crate::TechCentrixAuth::run_housekeeping)), never
/// inside a request.
pub struct MemorySessionStore {
    families: Box<[Mutex<FamilyShard>]>,
    tokens: Box<[Mutex<TokenIndex>]>,
}

/// One shard's families: kept densely in a vector (a new one is appended, not written at a
/// random place in a large table), found by their session id's bits through a table of
/// 4-byte positions.
#[derive(Debug)]
struct FamilyShard {
    families: Vec<(u128, Family)>,
    by_id: HashTable<u32>,
    /// Hashes the ids for `by_id` (foldhash, seeded per shard).
    hasher: RandomState,
    /// One shared `AppId` per app, so that a family holds a pointer, not a copy.
    apps: HashSet<AppId>,
}

impl Default for FamilyShard {
    fn default() -> Self {
        FamilyShard {
            families: Vec::new(),
            by_id: HashTable::new(),
            hasher: RandomState::default(),
            apps: HashSet::new(),
        }
    }
}

impl FamilyShard {
    fn position(&self, id: u128) -> Option<usize> {
        let families = &self.families;
        self.by_id
            .find(self.hasher.hash_one(id), |&i| families[i as usize].0 == id)
            .map(|&i| i as usize)
    }

    fn get_mut(&mut self, id: u128) -> Option<&mut Family> {
        let at = self.position(id)?;
        Some(&mut self.families[at].1)
    }

    /// Adds a family. Refuses an id the shard holds (as the SQL stores' primary key does),
    /// and a family past the 4,294,967,295th in one shard (memory runs out long before).
    fn insert(&mut self, id: u128, family: Family) -> Result<(), StoreError> {
        if self.position(id).is_some() {
            return Err(StoreError::other("a session with this id exists"));
        }
        let at = u32::try_from(self.families.len())
            .map_err(|_| StoreError::other("the in-memory session store's shard is full"))?;
        self.families.push((id, family));
        self.index(at);
        Ok(())
    }

    /// Makes the family at position `at` findable by its id.
    fn index(&mut self, at: u32) {
        let (families, hasher) = (&self.families, &self.hasher);
        self.by_id
            .insert_unique(hasher.hash_one(families[at as usize].0), at, |&i| {
                hasher.hash_one(families[i as usize].0)
            });
    }

    /// Removes the families `expired` picks; returns them.
    fn remove_where(&mut self, expired: impl Fn(&Family) -> bool) -> Vec<Family> {
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.families)
            .into_iter()
            .partition(|(_, family)| expired(family));
        self.families = kept;
        self.by_id.clear();
        for at in 0..self.families.len() {
            self.index(at as u32);
        }
        gone.into_iter().map(|(_, family)| family).collect()
    }
}

/// A session, compactly (128 bytes with its key): its id is the map key (the original
/// string is kept only when it is not a canonical UUID), a UUID user id is kept as its bits,
/// the app is shared with the shard's other sessions of the app, and the rotated tokens
/// take no allocation until the first refresh.
#[derive(Debug)]
struct Family {
    user: CompactId,
    app: AppId,
    expires_at: i64,
    current: TokenKey,
    /// The latest tokens rotated away, oldest first, at most [`ROTATED_TOKENS_KEPT`]:
    /// presenting one is reuse. Kept for clean-up too.
    rotated: Box<[TokenKey]>,
    /// When the last of `rotated` was rotated (unix seconds), for the reuse interval.
    rotated_at: i64,
    /// Whether the last of `rotated` was already accepted once more within the interval.
    grace_used: bool,
    /// The session id when it is not a canonical UUID (the key is then a digest of it).
    custom_id: Option<SessionId>,
    revoked: bool,
}

impl Family {
    fn session(&self, key: u128) -> Session {
        Session {
            id: self
                .custom_id
                .clone()
                .unwrap_or_else(|| SessionId::new(CompactId::Uuid(key.to_be_bytes()).text())),
            user: UserId::new(self.user.text()),
            app: self.app.clone(),
            expires_at: self.expires_at,
        }
    }

    fn tokens(&self) -> impl Iterator<Item = &TokenKey> {
        self.rotated.iter().chain([&self.current])
    }
}

fn token_key(digest: &KeyDigest) -> TokenKey {
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest.as_bytes()[..16]);
    key
}

/// A summary: how many families it holds, never their tokens or users.
impl std::fmt::Debug for MemorySessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySessionStore")
            .field("sessions", &self.len())
            .finish()
    }
}

impl Default for MemorySessionStore {
    fn default() -> Self {
        MemorySessionStore {
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

    /// The shard of a family. Session ids are random UUIDs or digests: their low bits
    /// spread them evenly.
    fn family_shard(&self, id: u128) -> &Mutex<FamilyShard> {
        &self.families[shard_of(id)]
    }

    fn token_shard(&self, token: &TokenKey) -> &Mutex<TokenIndex> {
        &self.tokens[shard_of(u128::from_le_bytes(*token))]
    }

    /// The family a token belongs to (lock order: a family shard, then a token shard; this
    /// takes only a token shard).
    fn family_of(&self, token: &TokenKey) -> Option<u128> {
        lock(self.token_shard(token)).get(token).copied()
    }

    /// Forgets the shard's expired families and their tokens.
    fn sweep(&self, shard: &mut FamilyShard, now: i64) {
        for family in shard.remove_where(|f| f.expires_at < now) {
            for token in family.tokens() {
                lock(self.token_shard(token)).remove(token);
            }
        }
    }

    fn revoke_family(&self, id: u128) -> bool {
        match lock(self.family_shard(id)).get_mut(id) {
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
        let token = token_key(refresh);
        // Only a canonical UUID can be rebuilt from the key; any other id is kept as given.
        let (id, custom_id) = match canonical_uuid(session.id.as_str()) {
            Some(bits) => (bits, None),
            None => (id_bits(session.id.as_str()), Some(session.id.clone())),
        };
        let user = CompactId::new(session.user.as_str());
        let mut guard = lock(self.family_shard(id));
        let shard = &mut *guard;
        let app = match shard.apps.get(&session.app) {
            Some(app) => app.clone(),
            None => {
                shard.apps.insert(session.app.clone());
                session.app.clone()
            }
        };
        shard.insert(
            id,
            Family {
                user,
                app,
                expires_at: session.expires_at,
                current: token,
                rotated: Box::default(),
                rotated_at: 0,
                grace_used: false,
                custom_id,
                revoked: false,
            },
        )?;
        lock(self.token_shard(&token)).insert(token, id);
        Ok(())
    }

    async fn rotate(
        &self,
        presented: &KeyDigest,
        next: &KeyDigest,
        now: i64,
        reuse_interval: u64,
    ) -> Result<Rotation, StoreError> {
        let presented = token_key(presented);
        let Some(id) = self.family_of(&presented) else {
            return Ok(Rotation::Invalid);
        };
        let mut shard = lock(self.family_shard(id));
        let Some(family) = shard.get_mut(id) else {
            return Ok(Rotation::Invalid);
        };
        if family.revoked || family.expires_at < now {
            return Ok(Rotation::Invalid);
        }
        let grace = reuse_interval > 0
            && family.current != presented
            && family.rotated.last() == Some(&presented)
            && !family.grace_used
            && now.saturating_sub(family.rotated_at)
                <= i64::try_from(reuse_interval).unwrap_or(i64::MAX);
        if family.current != presented && !grace {
            family.revoked = true;
            return Ok(Rotation::Reused(family.session(id)));
        }
        // Rotate the current token away (on a grace retry, the one whose answer was lost),
        // keeping the latest ROTATED_TOKENS_KEPT; the oldest is forgotten.
        let next = token_key(next);
        let mut rotated: Vec<TokenKey> = Vec::with_capacity(family.rotated.len() + 1);
        rotated.extend_from_slice(&family.rotated);
        rotated.push(family.current);
        let forgotten = rotated.len().saturating_sub(ROTATED_TOKENS_KEPT);
        for old in rotated.drain(..forgotten) {
            lock(self.token_shard(&old)).remove(&old);
        }
        family.rotated = rotated.into_boxed_slice();
        family.current = next;
        if grace {
            family.grace_used = true;
        } else {
            family.rotated_at = now;
            family.grace_used = false;
        }
        let session = family.session(id);
        lock(self.token_shard(&next)).insert(next, id);
        Ok(Rotation::Rotated(session))
    }

    async fn revoke(&self, id: &SessionId) -> Result<bool, StoreError> {
        Ok(self.revoke_family(id_bits(id.as_str())))
    }

    /// A scan of every shard (no index by user: these are operators' calls, not requests').
    async fn revoke_user(&self, user: &UserId) -> Result<u64, StoreError> {
        let user = CompactId::new(user.as_str());
        let mut revoked = 0;
        for shard in self.families.iter() {
            for (_, family) in lock(shard).families.iter_mut() {
                if family.user == user && !family.revoked {
                    family.revoked = true;
                    revoked += 1;
                }
            }
        }
        Ok(revoked)
    }

    async fn list_user(&self, user: &UserId, now: i64) -> Result<Vec<Session>, StoreError> {
        let user = CompactId::new(user.as_str());
        let mut live = Vec::new();
        for shard in self.families.iter() {
            for (id, family) in lock(shard).families.iter() {
                if family.user == user && !family.revoked && family.expires_at >= now {
                    live.push(family.session(*id));
                }
            }
        }
        // No creation time is kept in memory: oldest first by expiry (one session lifetime).
        live.sort_by(|a, b| (a.expires_at, a.id.as_str()).cmp(&(b.expires_at, b.id.as_str())));
        Ok(live)
    }

    async fn delete_user(&self, user: &UserId) -> Result<u64, StoreError> {
        let user = CompactId::new(user.as_str());
        let mut deleted = 0;
        for shard in self.families.iter() {
            let mut shard = lock(shard);
            for family in shard.remove_where(|f| f.user == user) {
                for token in family.tokens() {
                    lock(self.token_shard(token)).remove(token);
                }
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// Sweeps every shard (the limit does not apply: a shard is swept whole, in memory).
    async fn purge_expired(&self, now: i64, _limit: usize) -> Result<u64, StoreError> {
        let mut forgotten = 0;
        for shard in self.families.iter() {
            let mut shard = lock(shard);
            let before = shard.families.len();
            self.sweep(&mut shard, now);
            forgotten += (before - shard.families.len()) as u64;
        }
        Ok(forgotten)
    }

    async fn revoke_by_token(&self, token: &KeyDigest) -> Result<bool, StoreError> {
        Ok(match self.family_of(&token_key(token)) {
            Some(id) => self.revoke_family(id),
            None => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::unix_now;

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
        // New sessions beside them; then a housekeeping pass forgets the expired ones.
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
        assert_eq!(store.len(), new + 100, "requests forget nothing");
        assert_eq!(store.purge_expired(now, usize::MAX).await.unwrap(), 100);
        assert_eq!(store.len(), new);
        let indexed: usize = store.tokens.iter().map(|t| lock(t).len()).sum();
        assert_eq!(indexed, new, "the expired families' tokens left the index");
        for token in &old_tokens {
            let next = KeyDigest::of(b"unused");
            assert_eq!(
                store.rotate(token, &next, now, 0).await.unwrap(),
                Rotation::Invalid
            );
        }
    }

    #[tokio::test]
    async fn a_sweep_keeps_the_live_families_of_its_shard_findable() {
        let store = MemorySessionStore::new();
        let now = unix_now();
        // Ids with the same low bits share a shard.
        let session = |n: u128, expires_at| Session {
            id: SessionId::new(
                uuid::Uuid::from_u128((n << 64) | (n << 10) | 7)
                    .hyphenated()
                    .to_string(),
            ),
            user: "u".into(),
            app: "acme".into(),
            expires_at,
        };
        let token = |n: u128| KeyDigest::of(format!("token {n}").as_bytes());
        let expiry = |n: u128| {
            if n.is_multiple_of(2) {
                now - 10
            } else {
                now + 3600
            }
        };
        // A housekeeping pass sweeps the shard, live families in it.
        for n in 1..=51 {
            store
                .create(&session(n, expiry(n)), &token(n))
                .await
                .unwrap();
        }
        assert_eq!(store.purge_expired(now, usize::MAX).await.unwrap(), 25);
        assert_eq!(store.len(), 26);
        for n in 1..=51 {
            let next = KeyDigest::of(format!("next {n}").as_bytes());
            let expected = match n % 2 {
                1 => Rotation::Rotated(session(n, expiry(n))),
                _ => Rotation::Invalid,
            };
            assert_eq!(
                store.rotate(&token(n), &next, now, 0).await.unwrap(),
                expected
            );
        }
    }

    #[test]
    fn a_family_takes_128_bytes_with_its_key() {
        assert!(std::mem::size_of::<(u128, Family)>() <= 128);
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
            let rotated = store.rotate(&first, &next, 0, 0).await.unwrap();
            assert_eq!(rotated, Rotation::Rotated(session.clone()));
            assert!(store.revoke(&session.id).await.unwrap());
        }
    }
}
