//! Which users a store has probably seen: a Bloom filter of `(app, external id)` pairs, so a
//! sign-up need not read before it writes.
//!
//! A sign-in of a known user is a read (no write); a sign-up reads, finds nothing, and then
//! writes. On SQLite that first read is not free: after any write its connection's page cache
//! is stale and its WAL read lock costs two `fcntl` calls, a sixth of a sign-up's server CPU
//! (`bench/profile.sh sign-up`, `BENCHMARKS.md`). The filter answers "never seen" for most new
//! users, and the store then sends the upsert straight away.
//!
//! The filter can only err one way that matters: "maybe seen" for a user never seen costs the
//! read it saves otherwise. "Never seen" for a stored user (one another process signed up,
//! say) is harmless too: the upsert finds the row (its `ON CONFLICT` clause) and the store
//! reads what is stored, as it does for a changed profile. Until the filter has loaded the
//! stored users it answers "maybe" for everyone.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Bits set per pair.
const HASHES: u64 = 4;

/// The smallest filter, in bits: 2 MiB, under 1 % false "maybe" up to about 1.5 million
/// users.
pub(crate) const MIN_BITS: u64 = 1 << 24;

/// The largest filter, in bits: 32 MiB.
const MAX_BITS: u64 = 1 << 28;

/// Bits per stored user when the filter is sized for a database's users: about 20 % free
/// for growth at under 1 % false "maybe"s.
const BITS_PER_USER: u64 = 12;

/// A Bloom filter of the `(app, external id)` pairs of stored users.
pub(crate) struct KnownUsers {
    words: Box<[AtomicU64]>,
    mask: u64,
    hasher: RandomState,
    loaded: AtomicBool,
}

impl std::fmt::Debug for KnownUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnownUsers")
            .field("bits", &(self.mask + 1))
            .field("loaded", &self.loaded.load(Ordering::Relaxed))
            .finish()
    }
}

impl KnownUsers {
    /// An empty filter sized for `users` stored users (between [`MIN_BITS`] and 32 MiB of
    /// bits), answering "maybe" until [`loaded`](Self::loaded).
    pub(crate) fn for_users(users: u64) -> Self {
        let bits = users
            .saturating_mul(BITS_PER_USER)
            .clamp(MIN_BITS, MAX_BITS)
            .next_power_of_two();
        KnownUsers {
            words: (0..bits / 64).map(|_| AtomicU64::new(0)).collect(),
            mask: bits - 1,
            hasher: RandomState::new(),
            loaded: AtomicBool::new(false),
        }
    }

    /// The filter's bits for a pair: double hashing over one 64-bit hash.
    fn bits(&self, app: &str, external_id: &str) -> impl Iterator<Item = u64> + use<> {
        let hash = self.hasher.hash_one((app, external_id));
        let (first, step) = (hash, (hash >> 32) | 1);
        let mask = self.mask;
        (0..HASHES).map(move |i| first.wrapping_add(i.wrapping_mul(step)) & mask)
    }

    /// Records a stored pair.
    pub(crate) fn insert(&self, app: &str, external_id: &str) {
        for bit in self.bits(app, external_id) {
            let word = &self.words[(bit / 64) as usize];
            let mask = 1 << (bit % 64);
            if word.load(Ordering::Relaxed) & mask == 0 {
                word.fetch_or(mask, Ordering::Relaxed);
            }
        }
    }

    /// Whether the pair may be stored: `false` only when the filter has loaded the stored
    /// users and this pair is not among them nor among those inserted since.
    pub(crate) fn may_contain(&self, app: &str, external_id: &str) -> bool {
        !self.loaded.load(Ordering::Acquire)
            || self.bits(app, external_id).all(|bit| {
                self.words[(bit / 64) as usize].load(Ordering::Relaxed) & (1 << (bit % 64)) != 0
            })
    }

    /// Whether the stored users are loaded.
    #[cfg(test)]
    pub(crate) fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Marks the stored users as loaded: from now on a pair never inserted is "never seen".
    pub(crate) fn loaded(&self) {
        self.loaded.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_is_maybe_until_loaded_then_only_the_inserted_ones() {
        let known = KnownUsers::for_users(0);
        known.insert("acme", "user1");
        assert!(known.may_contain("acme", "user2"), "not loaded yet");
        known.loaded();
        assert!(known.may_contain("acme", "user1"));
        assert!(!known.may_contain("acme", "user2"));
        assert!(
            !known.may_contain("other", "user1"),
            "the app is part of the pair"
        );
        known.insert("acme", "user2");
        assert!(known.may_contain("acme", "user2"));
    }

    #[test]
    fn false_maybes_stay_rare_at_the_sized_load() {
        let users = 1_000_000;
        let known = KnownUsers::for_users(users);
        for n in 0..users {
            known.insert("acme", &format!("stored-{n}"));
        }
        known.loaded();
        assert!((0..users).all(|n| known.may_contain("acme", &format!("stored-{n}"))));
        let probes = 100_000;
        let false_maybes = (0..probes)
            .filter(|n| known.may_contain("acme", &format!("new-{n}")))
            .count();
        assert!(
            false_maybes < probes / 100,
            "{false_maybes} of {probes} new users were 'maybe'"
        );
    }

    #[test]
    fn the_size_follows_the_user_count_within_bounds() {
        assert_eq!(KnownUsers::for_users(0).mask + 1, MIN_BITS);
        assert_eq!(KnownUsers::for_users(10_000_000).mask + 1, 1 << 27);
        assert_eq!(KnownUsers::for_users(u64::MAX).mask + 1, MAX_BITS);
    }
}
