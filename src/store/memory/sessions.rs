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

/// Token key → the low 32 bits of its family's id: enough to find the family's shard and,
/// with the token itself, the family (see [`FamilyShard::holding`]). 20 bytes an entry
/// where the whole id would take 32 (a `u128` is 16-aligned).
type TokenIndex = HashMap<TokenKey, u32, RandomState>;

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

/// One shard's families: kept densely in fixed chunks (a new one is appended, not written
/// at a random place in a large table), found by their session id's bits through a table
/// of 4-byte positions.
#[derive(Debug)]
struct FamilyShard {
    families: Families,
    /// Positions in `families`, hashed by the low 32 bits of the family's id.
    by_id: HashTable<u32>,
    /// Hashes the ids for `by_id` (foldhash, seeded per shard).
    hasher: RandomState,
    /// One shared `AppId` per app, so that a family holds a pointer, not a copy.
    apps: HashSet<AppId>,
    /// What does not fit a family's fixed fields, by family id: a session id that is not a
    /// canonical UUID, a user id that is not one (rare: this crate makes UUIDs).
    extra: HashMap<u128, Extra, RandomState>,
}

/// A family's ids as they were given, when they cannot be rebuilt from their bits.
#[derive(Debug, Default)]
struct Extra {
    id: Option<SessionId>,
    user: Option<UserId>,
}

impl Default for FamilyShard {
    fn default() -> Self {
        FamilyShard {
            families: Families::default(),
            by_id: HashTable::new(),
            hasher: RandomState::default(),
            apps: HashSet::new(),
            extra: HashMap::default(),
        }
    }
}

/// How many families a chunk holds (6 KiB of them).
const CHUNK: usize = 64;

/// A shard's families in chunks of [`CHUNK`], each allocated once at its full size and
/// never moved: a growing shard adds a chunk instead of copying itself into a larger buffer
/// and freeing the old one (freed buffers of every size are what the allocator keeps
/// resident and reuses only in part).
#[derive(Debug, Default)]
struct Families {
    chunks: Vec<Vec<Family>>,
    len: usize,
}

impl Families {
    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, family: Family) {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        if let Some(chunk) = self.chunks.last_mut() {
            chunk.push(family);
            self.len += 1;
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Family> {
        self.chunks.iter().flatten()
    }
}

impl std::ops::Index<usize> for Families {
    type Output = Family;

    fn index(&self, at: usize) -> &Family {
        &self.chunks[at / CHUNK][at % CHUNK]
    }
}

impl std::ops::IndexMut<usize> for Families {
    fn index_mut(&mut self, at: usize) -> &mut Family {
        &mut self.chunks[at / CHUNK][at % CHUNK]
    }
}

impl IntoIterator for Families {
    type Item = Family;
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Vec<Family>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.chunks.into_iter().flatten()
    }
}

/// The low 32 bits of a family id: what the token index keeps and `by_id` hashes. Their
/// low 10 bits name the shard; the other 22 are shared by about one in four million of
/// the shard's families, told apart by the token (see [`FamilyShard::holding`]).
fn low(id: u128) -> u32 {
    id as u32
}

impl FamilyShard {
    fn hash(&self, low: u32) -> u64 {
        self.hasher.hash_one(low)
    }

    fn position(&self, id: u128) -> Option<usize> {
        let families = &self.families;
        self.by_id
            .find(self.hash(low(id)), |&i| families[i as usize].id() == id)
            .map(|&i| i as usize)
    }

    fn get_mut(&mut self, id: u128) -> Option<&mut Family> {
        let at = self.position(id)?;
        Some(&mut self.families[at])
    }

    /// The position of the family whose id has the low bits `low` and which holds `token`
    /// (two families may share low bits; only one holds a given token).
    fn holding(&self, low: u32, token: &TokenKey) -> Option<usize> {
        let families = &self.families;
        self.by_id
            .find(self.hash(low), |&i| {
                let family = &families[i as usize];
                self::low(family.id()) == low && family.tokens().any(|t| t == token)
            })
            .map(|&i| i as usize)
    }

    /// Adds a family. Refuses an id the shard holds (as the SQL stores' primary key does),
    /// and a family past the 4,294,967,295th in one shard (memory runs out long before).
    fn insert(&mut self, family: Family, extra: Extra) -> Result<(), StoreError> {
        let id = family.id();
        if self.position(id).is_some() {
            return Err(StoreError::other("a session with this id exists"));
        }
        let at = u32::try_from(self.families.len())
            .map_err(|_| StoreError::other("the in-memory session store's shard is full"))?;
        if extra.id.is_some() || extra.user.is_some() {
            self.extra.insert(id, extra);
        }
        self.families.push(family);
        self.index(at);
        Ok(())
    }

    /// Makes the family at position `at` findable by its id.
    fn index(&mut self, at: u32) {
        let (families, hasher) = (&self.families, &self.hasher);
        let hash = |i: &u32| hasher.hash_one(low(families[*i as usize].id()));
        self.by_id.insert_unique(hash(&at), at, |i| hash(i));
    }

    /// Removes the families `expired` picks; returns them.
    fn remove_where(&mut self, expired: impl Fn(&FamilyShard, &Family) -> bool) -> Vec<Family> {
        let (mut gone, mut kept) = (Vec::new(), Families::default());
        for family in std::mem::take(&mut self.families) {
            if expired(self, &family) {
                gone.push(family);
            } else {
                kept.push(family);
            }
        }
        self.families = kept;
        self.by_id.clear();
        for at in 0..self.families.len() {
            self.index(at as u32);
        }
        for family in &gone {
            self.extra.remove(&family.id());
        }
        gone
    }

    /// The session `family` stands for, with its ids as they were given.
    fn session(&self, family: &Family) -> Session {
        let id = family.id();
        let extra = self.extra.get(&id);
        Session {
            id: extra
                .and_then(|e| e.id.clone())
                .unwrap_or_else(|| SessionId::new(CompactId::Uuid(id.to_be_bytes()).text())),
            user: extra
                .and_then(|e| e.user.clone())
                .unwrap_or_else(|| UserId::new(CompactId::Uuid(family.user).text())),
            app: family.app.clone(),
            expires_at: family.expires_at,
        }
    }

    /// Whether `family` is a session of `user`.
    fn is_of(&self, family: &Family, user: &CompactId) -> bool {
        let given = self.extra.get(&family.id()).and_then(|e| e.user.as_ref());
        match (user, given) {
            (CompactId::Uuid(bytes), None) => family.user == *bytes,
            (CompactId::Text(text), Some(given)) => given.as_str() == &**text,
            _ => false,
        }
    }
}

/// A session, compactly (96 bytes): its id as bits (the original string is kept aside only
/// when it is not a canonical UUID), a UUID user id as its bits (likewise), the app shared
/// with the shard's other sessions of the app, and the rotated tokens taking no allocation
/// until the first refresh.
#[derive(Debug)]
struct Family {
    /// The session id's bits ([`id_bits`]), little-endian: 8-aligned, where a `u128` would
    /// pad the family to 112 bytes.
    id: [u8; 16],
    /// A UUID user id's bytes; zeros when the id is kept in the shard's `extra`.
    user: [u8; 16],
    app: AppId,
    expires_at: i64,
    current: TokenKey,
    /// The latest tokens rotated away, oldest first, at most [`ROTATED_TOKENS_KEPT`]:
    /// presenting one is reuse. Kept for clean-up too.
    rotated: Box<[TokenKey]>,
    /// When the last of `rotated` was rotated (unix seconds, clamped to 0..=u32::MAX), for
    /// the reuse interval.
    rotated_at: u32,
    /// Whether the last of `rotated` was already accepted once more within the interval.
    grace_used: bool,
    revoked: bool,
}

impl Family {
    fn id(&self) -> u128 {
        u128::from_le_bytes(self.id)
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

/// Unix seconds as a family keeps `rotated_at`.
fn seconds(now: i64) -> u32 {
    now.clamp(0, i64::from(u32::MAX)) as u32
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

    /// The low bits of the id of the family a token belongs to (lock order: a family
    /// shard, then a token shard; this takes only a token shard).
    fn family_of(&self, token: &TokenKey) -> Option<u32> {
        lock(self.token_shard(token)).get(token).copied()
    }

    /// Forgets the shard's expired families and their tokens.
    fn sweep(&self, shard: &mut FamilyShard, now: i64) {
        let gone = shard.remove_where(|_, f| f.expires_at < now);
        self.forget_tokens(&gone);
    }

    fn forget_tokens(&self, families: &[Family]) {
        for token in families.iter().flat_map(Family::tokens) {
            lock(self.token_shard(token)).remove(token);
        }
    }

    /// Revokes the family `find` picks in the shard of `low`; whether it was live.
    fn revoke_in(
        &self,
        low: u32,
        find: impl FnOnce(&mut FamilyShard) -> Option<&mut Family>,
    ) -> bool {
        match find(&mut lock(self.family_shard(u128::from(low)))) {
            Some(family) if !family.revoked => {
                family.revoked = true;
                true
            }
            _ => false,
        }
    }

    /// Calls `act` with each shard, locked, and `user` as the shard compares it.
    fn for_user(&self, user: &UserId, mut act: impl FnMut(&mut FamilyShard, &CompactId)) {
        let user = CompactId::new(user.as_str());
        for shard in self.families.iter() {
            act(&mut lock(shard), &user);
        }
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn create(&self, session: &Session, refresh: &KeyDigest) -> Result<(), StoreError> {
        let token = token_key(refresh);
        // Only canonical UUIDs can be rebuilt from their bits; any other id is kept as given.
        let (id, custom_id) = match canonical_uuid(session.id.as_str()) {
            Some(bits) => (bits, None),
            None => (id_bits(session.id.as_str()), Some(session.id.clone())),
        };
        let (user, custom_user) = match canonical_uuid(session.user.as_str()) {
            Some(bits) => (bits.to_be_bytes(), None),
            None => ([0; 16], Some(session.user.clone())),
        };
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
            Family {
                id: id.to_le_bytes(),
                user,
                app,
                expires_at: session.expires_at,
                current: token,
                rotated: Box::default(),
                rotated_at: 0,
                grace_used: false,
                revoked: false,
            },
            Extra {
                id: custom_id,
                user: custom_user,
            },
        )?;
        lock(self.token_shard(&token)).insert(token, low(id));
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
        let Some(low) = self.family_of(&presented) else {
            return Ok(Rotation::Invalid);
        };
        let mut guard = lock(self.family_shard(u128::from(low)));
        let Some(at) = guard.holding(low, &presented) else {
            return Ok(Rotation::Invalid);
        };
        let family = &mut guard.families[at];
        if family.revoked || family.expires_at < now {
            return Ok(Rotation::Invalid);
        }
        let grace = reuse_interval > 0
            && family.current != presented
            && family.rotated.last() == Some(&presented)
            && !family.grace_used
            && now.saturating_sub(i64::from(family.rotated_at))
                <= i64::try_from(reuse_interval).unwrap_or(i64::MAX);
        if family.current != presented && !grace {
            family.revoked = true;
            return Ok(Rotation::Reused(guard.session(&guard.families[at])));
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
            family.rotated_at = seconds(now);
            family.grace_used = false;
        }
        let session = guard.session(&guard.families[at]);
        lock(self.token_shard(&next)).insert(next, low);
        Ok(Rotation::Rotated(session))
    }

    async fn revoke(&self, id: &SessionId) -> Result<bool, StoreError> {
        let id = id_bits(id.as_str());
        Ok(self.revoke_in(low(id), |shard| shard.get_mut(id)))
    }

    /// A scan of every shard (no index by user: these are operators' calls, not requests').
    async fn revoke_user(&self, user: &UserId) -> Result<u64, StoreError> {
        let mut revoked = 0;
        self.for_user(user, |shard, user| {
            for at in 0..shard.families.len() {
                if shard.is_of(&shard.families[at], user) && !shard.families[at].revoked {
                    shard.families[at].revoked = true;
                    revoked += 1;
                }
            }
        });
        Ok(revoked)
    }

    async fn list_user(&self, user: &UserId, now: i64) -> Result<Vec<Session>, StoreError> {
        let mut live = Vec::new();
        self.for_user(user, |shard, user| {
            for family in shard.families.iter() {
                if shard.is_of(family, user) && !family.revoked && family.expires_at >= now {
                    live.push(shard.session(family));
                }
            }
        });
        // No creation time is kept in memory: oldest first by expiry (one session lifetime).
        live.sort_by(|a, b| (a.expires_at, a.id.as_str()).cmp(&(b.expires_at, b.id.as_str())));
        Ok(live)
    }

    async fn delete_user(&self, user: &UserId) -> Result<u64, StoreError> {
        let mut deleted = 0;
        self.for_user(user, |shard, user| {
            let gone = shard.remove_where(|shard, f| shard.is_of(f, user));
            self.forget_tokens(&gone);
            deleted += gone.len() as u64;
        });
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
        let token = token_key(token);
        Ok(match self.family_of(&token) {
            Some(low) => self.revoke_in(low, |shard| {
                let at = shard.holding(low, &token)?;
                Some(&mut shard.families[at])
            }),
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

    #[tokio::test]
    async fn families_whose_ids_share_their_low_bits_stay_apart() {
        let store = MemorySessionStore::new();
        let now = unix_now();
        // The token index keeps the low 32 bits of a family's id; these two share them.
        let session = |high: u128| {
            Session::new(
                SessionId::new(
                    uuid::Uuid::from_u128((high << 64) | 0x0123_4567_89ab_cdef)
                        .hyphenated()
                        .to_string(),
                ),
                UserId::random(),
                AppId::from("acme"),
                now + 3600,
            )
        };
        let (a, b) = (session(1), session(2));
        let token = |name: &str| KeyDigest::of(name.as_bytes());
        store.create(&a, &token("a0")).await.unwrap();
        store.create(&b, &token("b0")).await.unwrap();
        let rotate = |from: &'static str, to: &'static str| {
            let store = &store;
            async move {
                store
                    .rotate(&token(from), &token(to), now, 0)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(rotate("b0", "b1").await, Rotation::Rotated(b.clone()));
        assert_eq!(rotate("a0", "a1").await, Rotation::Rotated(a.clone()));
        // Reuse of a's old token revokes a, not b.
        assert_eq!(rotate("a0", "a2").await, Rotation::Reused(a.clone()));
        assert_eq!(rotate("a1", "a2").await, Rotation::Invalid);
        assert_eq!(rotate("b1", "b2").await, Rotation::Rotated(b.clone()));
        assert!(store.revoke_by_token(&token("b2")).await.unwrap());
        assert!(!store.revoke(&a.id).await.unwrap(), "a was revoked already");
        assert_eq!(rotate("b2", "b3").await, Rotation::Invalid);
    }

    #[test]
    fn a_family_takes_96_bytes() {
        assert!(std::mem::size_of::<Family>() <= 96);
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
