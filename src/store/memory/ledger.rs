use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{SHARDS, Uniform, id_bits, shard_of};
use crate::StoreError;
use crate::store::{Consumed, ReplayLedger, unix_now};
use crate::sync::lock;

/// Used `jti`s in memory, each until its expiry.
///
/// Memory stays bounded under a flood of tokens: a shard forgets its expired entries once
/// one has expired (at most once a second) or when it has doubled since its last sweep, so
/// the cost is amortized O(1) per call and the ledger holds about what expires within the
/// token lifetime.
///
/// ```
/// use techcentrix_auth::store::{Consumed, MemoryReplayLedger, ReplayLedger};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let ledger = MemoryReplayLedger::new();
/// assert_eq!(ledger.consume("jti-1", u64::MAX).await.unwrap(), Consumed::First);
/// assert_eq!(ledger.consume("jti-1", u64::MAX).await.unwrap(), Consumed::Replayed);
/// # });
/// ```
pub struct MemoryReplayLedger {
    shards: Box<[Mutex<Shard>]>,
}

struct Shard {
    /// Used ids (a UUID's 128 bits, or the first 128 bits of another id's SHA-256) → expiry.
    used: HashMap<u128, u64, Uniform>,
    swept_at: u64,
    size_after_sweep: usize,
    /// The earliest expiry among the entries: no sweep is due before it.
    next_expiry: u64,
}

impl Default for Shard {
    fn default() -> Self {
        Shard {
            used: HashMap::default(),
            swept_at: 0,
            size_after_sweep: 0,
            next_expiry: u64::MAX,
        }
    }
}

/// A summary: how many entries it holds, never the `jti`s.
impl std::fmt::Debug for MemoryReplayLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryReplayLedger")
            .field("entries", &self.len())
            .finish()
    }
}

impl Default for MemoryReplayLedger {
    fn default() -> Self {
        MemoryReplayLedger {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

impl MemoryReplayLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many entries it holds (expired ones not yet swept included).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).used.len()).sum()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every entry that expired before `now` (unix seconds); how many.
    fn sweep_all(&self, now: u64) -> u64 {
        let mut forgotten = 0;
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            let before = shard.used.len();
            shard.sweep(now);
            forgotten += (before - shard.used.len()) as u64;
        }
        forgotten
    }

    /// The first use of `jti` at time `now`?
    pub fn consume_at(&self, jti: &str, expires_at: u64, now: u64) -> Consumed {
        let id = id_bits(jti);
        // A jti is a random UUID of ours (or a digest).
        let mut shard = lock(&self.shards[shard_of(id)]);
        // Sweep once an entry has expired, at most once a second, or when the shard has
        // doubled since its last sweep.
        let expiry_due = now > shard.next_expiry && now > shard.swept_at;
        if expiry_due || shard.used.len() >= 2 * shard.size_after_sweep.max(512) {
            shard.sweep(now);
        }
        shard.next_expiry = shard.next_expiry.min(expires_at);
        match shard.used.entry(id) {
            // Held, even past its expiry: a used id is never new again while it is held.
            Entry::Occupied(_) => Consumed::Replayed,
            Entry::Vacant(entry) => {
                entry.insert(expires_at);
                Consumed::First
            }
        }
    }
}

impl Shard {
    fn sweep(&mut self, now: u64) {
        self.used.retain(|_, expires_at| *expires_at >= now);
        if self.used.capacity() > 4 * self.used.len().max(64) {
            self.used.shrink_to_fit();
        }
        self.swept_at = now;
        self.size_after_sweep = self.used.len();
        self.next_expiry = self.used.values().copied().min().unwrap_or(u64::MAX);
    }
}

#[async_trait]
impl ReplayLedger for MemoryReplayLedger {
    async fn consume(&self, jti: &str, expires_at: u64) -> Result<Consumed, StoreError> {
        Ok(self.consume_at(jti, expires_at, unix_now() as u64))
    }

    /// Sweeps every shard (the limit does not apply: a shard is swept whole, in memory).
    async fn purge_expired(&self, now: u64, _limit: usize) -> Result<u64, StoreError> {
        Ok(self.sweep_all(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_id_stays_used_past_its_expiry() {
        let ledger = MemoryReplayLedger::new();
        // A sweep ran at 101 (sweeps come at most once a second)...
        ledger.sweep_all(101);
        // ...then a late caller consumes an id whose expiry has passed: it is held until the
        // next sweep, and used all that time.
        assert_eq!(ledger.consume_at("a", 100, 101), Consumed::First);
        assert_eq!(ledger.consume_at("a", 100, 101), Consumed::Replayed);
        assert_eq!(ledger.consume_at("a", 500, 101), Consumed::Replayed);
    }

    #[test]
    fn second_use_is_a_replay() {
        let ledger = MemoryReplayLedger::new();
        assert_eq!(ledger.consume_at("a", 100, 10), Consumed::First);
        assert_eq!(ledger.consume_at("a", 100, 11), Consumed::Replayed);
        assert_eq!(ledger.consume_at("b", 100, 11), Consumed::First);
    }

    #[test]
    fn a_million_expired_entries_are_forgotten() {
        let ledger = MemoryReplayLedger::new();
        let ttl = 5;
        for i in 0..1_000_000u32 {
            // Time runs at 20,000 redemptions a second.
            let now = u64::from(i / 20_000);
            ledger.consume_at(&format!("jti-{i}"), now + ttl, now);
        }
        // During the flood only what had not expired yet is held: about ttl + 1 seconds'
        // worth, not the million.
        let end = 1_000_000 / 20_000;
        assert!(
            ledger.len() <= (ttl as usize + 2) * 20_000,
            "{}",
            ledger.len()
        );
        // Later, new redemptions sweep the shards they touch (enough of them to touch every
        // shard): the flood is gone.
        let later = end + ttl + 1;
        let late = 40 * SHARDS;
        for i in 0..late {
            ledger.consume_at(&format!("late-{i}"), later + ttl, later);
        }
        assert_eq!(ledger.len(), late);
        let capacity: usize = ledger
            .shards
            .iter()
            .map(|s| s.lock().unwrap().used.capacity())
            .sum();
        assert!(capacity <= SHARDS * 1024, "capacity {capacity}");
    }
}
