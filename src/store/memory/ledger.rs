use std::collections::HashMap;

use foldhash::fast::RandomState;
use std::collections::hash_map::Entry;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{SHARDS, id_bits, shard_of};
use crate::store::{Consumed, ReplayLedger};
use crate::util::sync::lock;
use crate::{Jti, StoreError};

/// Used `jti`s in memory, each until its expiry.
///
/// Expired entries are forgotten by housekeeping ([`ReplayLedger::purge_expired`], run by
/// [`TechCentrixAuth::run_housekeeping`](crate::TechCentrixAuth::run_housekeeping)), never
/// inside a request: run it, or the ledger keeps every `jti` it was given. With it, the
/// ledger holds what expires within the token lifetime plus one housekeeping interval.
///
/// ```
/// use techcentrix_auth::store::{Consumed, MemoryReplayLedger, ReplayLedger};
/// use techcentrix_auth::Jti;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let ledger = MemoryReplayLedger::new();
/// let jti = Jti::random();
/// assert_eq!(ledger.consume(&jti, i64::MAX).await.unwrap(), Consumed::First);
/// assert_eq!(ledger.consume(&jti, i64::MAX).await.unwrap(), Consumed::Replayed);
/// # });
/// ```
pub struct MemoryReplayLedger {
    shards: Box<[Mutex<Shard>]>,
}

#[derive(Default)]
struct Shard {
    /// Used ids (a UUID's 128 bits, or the first 128 bits of another id's SHA-256) → expiry
    /// (unix seconds, held as at most `u32::MAX`: 2106). Bytes, not a `u128`, so that an
    /// entry takes 20 bytes where a 16-aligned key would pad it to 32.
    used: HashMap<[u8; 16], u32, RandomState>,
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

    /// The first use of `jti`? It is then held until `expires_at` has passed and
    /// housekeeping has run.
    fn consume_now(&self, jti: &str, expires_at: u64) -> Consumed {
        // A jti is a random UUID of ours (or a digest).
        let id = id_bits(jti);
        let mut shard = lock(&self.shards[shard_of(id)]);
        match shard.used.entry(id.to_le_bytes()) {
            // Held, even past its expiry: a used id is never new again while it is held.
            Entry::Occupied(_) => Consumed::Replayed,
            Entry::Vacant(entry) => {
                entry.insert(u32::try_from(expires_at).unwrap_or(u32::MAX));
                Consumed::First
            }
        }
    }
}

impl Shard {
    fn sweep(&mut self, now: u64) {
        self.used
            .retain(|_, expires_at| u64::from(*expires_at) >= now);
        if self.used.capacity() > 4 * self.used.len().max(64) {
            self.used.shrink_to_fit();
        }
    }
}

#[async_trait]
impl ReplayLedger for MemoryReplayLedger {
    async fn consume(&self, jti: &Jti, expires_at: i64) -> Result<Consumed, StoreError> {
        // Kept as u64 inside: a time before 1970 is "expired already".
        Ok(self.consume_now(jti.as_str(), u64::try_from(expires_at).unwrap_or(0)))
    }

    /// Sweeps every shard (the limit does not apply: a shard is swept whole, in memory).
    async fn purge_expired(&self, now: i64, _limit: usize) -> Result<u64, StoreError> {
        Ok(self.sweep_all(u64::try_from(now).unwrap_or(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_id_stays_used_past_its_expiry() {
        let ledger = MemoryReplayLedger::new();
        assert_eq!(ledger.consume_now("a", 100), Consumed::First);
        // A late caller (a redemption that stalled): the id is held until housekeeping
        // forgets it, and used all that time.
        assert_eq!(ledger.consume_now("a", 100), Consumed::Replayed);
        assert_eq!(ledger.consume_now("a", 500), Consumed::Replayed);
        assert_eq!(ledger.sweep_all(101), 1);
        assert_eq!(ledger.consume_now("a", 500), Consumed::First);
    }

    #[test]
    fn second_use_is_a_replay() {
        let ledger = MemoryReplayLedger::new();
        assert_eq!(ledger.consume_now("a", 100), Consumed::First);
        assert_eq!(ledger.consume_now("a", 100), Consumed::Replayed);
        assert_eq!(ledger.consume_now("b", 100), Consumed::First);
    }

    #[test]
    fn a_million_expired_entries_are_forgotten_by_housekeeping() {
        let ledger = MemoryReplayLedger::new();
        let ttl = 5;
        for i in 0..1_000_000u32 {
            // Time runs at 20,000 redemptions a second; housekeeping runs every 10 s.
            let now = u64::from(i / 20_000);
            if i % 200_000 == 0 {
                ledger.sweep_all(now);
            }
            ledger.consume_now(&format!("jti-{i}"), now + ttl);
        }
        // At most one housekeeping interval and one lifetime's worth is held, not the million.
        assert!(
            ledger.len() <= (10 + ttl as usize + 1) * 20_000,
            "{}",
            ledger.len()
        );
        // Once everything has expired, a pass forgets it all and gives the memory back.
        let later = 1_000_000 / 20_000 + ttl + 1;
        ledger.sweep_all(later);
        assert_eq!(ledger.len(), 0);
        let capacity: usize = ledger
            .shards
            .iter()
            .map(|s| s.lock().unwrap().used.capacity())
            .sum();
        assert!(capacity <= SHARDS * 1024, "capacity {capacity}");
    }
}
