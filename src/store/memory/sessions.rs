use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::{Uniform, id_bits};
use crate::store::{Rotation, Session, SessionStore, unix_now};
use crate::{KeyDigest, SessionId, StoreError};

const SHARDS: usize = 16;

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

#[derive(Debug)]
struct Family {
    session: Session,
    revoked: bool,
    current: [u8; 32],
    /// Every token the family ever had, current included: for reuse detection and clean-up.
    tokens: Vec<[u8; 32]>,
}

impl Default for MemorySessionStore {
    fn default() -> Self {
        MemorySessionStore {
            hasher: RandomState::new(),
            families: (0..SHARDS).map(|_| Mutex::default()).collect(),
            tokens: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
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
            .filter(|(_, f)| f.session.expires_at < now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(family) = shard.families.remove(&id) {
                for token in &family.tokens {
                    lock(self.token_shard(token)).remove(token);
                }
            }
        }
        shard.next_expiry = shard
            .families
            .values()
            .map(|f| f.session.expires_at)
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
        let mut shard = lock(self.family_shard(id));
        if now > shard.next_expiry {
            self.sweep(&mut shard, now);
        }
        shard.next_expiry = shard.next_expiry.min(session.expires_at);
        shard.families.insert(
            id,
            Family {
                session: session.clone(),
                revoked: false,
                current: digest,
                tokens: vec![digest],
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
        if family.revoked || family.session.expires_at < now {
            return Ok(Rotation::Invalid);
        }
        if family.current != *presented {
            family.revoked = true;
            return Ok(Rotation::Reused(family.session.clone()));
        }
        let next = *next.as_bytes();
        family.current = next;
        family.tokens.push(next);
        let session = family.session.clone();
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
