use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use hashbrown::HashTable;

use super::{SHARDS, shard_of};
use crate::store::{ExternalProfile, Upserted, User, UserCount, UserStore, unix_now};
use crate::util::sync::{read, write};
use crate::{AppId, StoreError, UserId};

// Layout: users live in 1,024 shards. A user is a 48-byte record (the id as a 128-bit UUID,
// an interned app, the timestamps) and one allocation holding its external id, email and
// first name, indexed by two tables of 8-byte slots (by id, by (app, external id)), each
// slot the record's index and 32 bits of its hash. The user's id carries its shard in its
// last bits, so a look-up by id touches one shard.

/// Users held in memory, compactly (about 150 bytes a user, `cargo bench --bench
/// footprint`), in shards so that concurrent requests rarely wait on each other.
///
/// Sign-up-or-in is atomic per `(app, external id)`: concurrent first calls create one user.
///
/// ```
/// use techcentrix_auth::store::{ExternalProfile, UserStore};
/// use techcentrix_auth::{AppId, MemoryUserStore};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryUserStore::new();
/// let profile = ExternalProfile::new("user1-external", "user1@techcentrix.com", "User1Name");
/// let first = store.upsert_external(&AppId::from("acme"), &profile).await.unwrap();
/// let again = store.upsert_external(&AppId::from("acme"), &profile).await.unwrap();
/// assert_eq!(first.user().id, again.user().id);
/// # });
/// ```
pub struct MemoryUserStore {
    hasher: RandomState,
    apps: RwLock<Apps>,
    shards: Box<[RwLock<Shard>]>,
}

/// App ids interned to 4-byte indices.
#[derive(Default)]
struct Apps {
    names: Vec<AppId>,
    index: HashMap<Arc<str>, u32>,
}

#[derive(Default)]
struct Shard {
    records: Vec<Record>,
    /// Records by `(app, external id)`, hashed by the store's keyed hasher.
    by_external: HashTable<Slot>,
    /// Records by id, hashed by the id's own random bits ([`id_hash`]).
    by_id: HashTable<Slot>,
}

/// An index entry: a record's place in its shard's `records` and 32 bits of the hash it was
/// filed under. A growing table rehashes from these alone; were it to hash each record again,
/// it would read two scattered allocations per user (the record and its text) and run the
/// keyed hasher: 2.9 % of a sign-up's server CPU (`bash bench/profile.sh sign-up`).
#[derive(Clone, Copy)]
struct Slot {
    index: u32,
    hash: u32,
}

impl Slot {
    fn new(index: u32, hash: u32) -> Slot {
        Slot { index, hash }
    }

    /// The hash the table files the slot under: see [`table_hash`].
    fn table_hash(&self) -> u64 {
        table_hash(self.hash)
    }
}

/// The 64-bit hash a table files 32 bits under: the bits in both halves. Hashbrown places an
/// entry by the hash's low bits and tags it with its top seven, so both come from the 32 bits
/// (independent while a shard's table has fewer than 2^25 buckets).
fn table_hash(hash: u32) -> u64 {
    (u64::from(hash) << 32) | u64::from(hash)
}

/// The 32 bits an id is filed under: random bits of the id above its shard's (the ids are
/// this store's random UUIDs, so no keyed hash is needed to spread them).
fn id_hash(id: u128) -> u32 {
    (id >> SHARD_BITS) as u32
}

/// The bits of an id that name its shard.
const SHARD_BITS: u32 = SHARDS.trailing_zeros();

struct Record {
    id: u128,
    app: u32,
    /// Lengths of the external id and the email inside `text` (each at most 254 bytes).
    external_len: u8,
    email_len: u8,
    created_at: u32,
    updated_at: u32,
    /// External id, email and first name, back to back.
    text: Box<str>,
}

impl Record {
    fn external_id(&self) -> &str {
        &self.text[..usize::from(self.external_len)]
    }

    fn email(&self) -> &str {
        let start = usize::from(self.external_len);
        &self.text[start..start + usize::from(self.email_len)]
    }

    fn first_name(&self) -> &str {
        &self.text[usize::from(self.external_len) + usize::from(self.email_len)..]
    }

    fn matches(&self, profile: &ExternalProfile) -> bool {
        self.email() == profile.email && self.first_name() == profile.first_name
    }

    fn set_profile(&mut self, profile: &ExternalProfile, now: u32) {
        self.text = pack(&profile.external_id, &profile.email, &profile.first_name);
        self.email_len = profile.email.len() as u8;
        self.updated_at = now;
    }

    fn to_user(&self, app: AppId) -> User {
        User {
            id: UserId::new(
                uuid::Uuid::from_u128(self.id)
                    .hyphenated()
                    .encode_lower(&mut [0u8; 36]) as &str,
            ),
            app,
            external_id: self.external_id().to_owned(),
            email: self.email().to_owned(),
            first_name: self.first_name().to_owned(),
            created_at: i64::from(self.created_at),
            updated_at: i64::from(self.updated_at),
        }
    }
}

fn pack(external_id: &str, email: &str, first_name: &str) -> Box<str> {
    let mut text = String::with_capacity(external_id.len() + email.len() + first_name.len());
    text.push_str(external_id);
    text.push_str(email);
    text.push_str(first_name);
    text.into_boxed_str()
}

/// The shard of a user by its `(app, external id)` hash: bits of the hash's upper half. The
/// shard's table files the entry under the lower half ([`Slot`]); were the shard taken from
/// bits the table uses, every entry of a shard would share them and its table would probe
/// linearly (measured: 4 µs a sign-up at 700,000 users).
fn external_shard(hash: u64) -> usize {
    ((hash >> 32) as usize) % SHARDS
}

/// The 32 bits of a user's `(app, external id)` hash its shard's table files it under: the
/// lower half, which [`external_shard`] leaves alone.
fn filed_under(hash: u64) -> u32 {
    hash as u32
}

/// Whether the store can hold `profile` compactly (the endpoint's limits guarantee it:
/// ids ≤ 128 bytes, emails ≤ 254).
fn fits(profile: &ExternalProfile) -> bool {
    profile.external_id.len() <= usize::from(u8::MAX) && profile.email.len() <= usize::from(u8::MAX)
}

impl Default for MemoryUserStore {
    fn default() -> Self {
        MemoryUserStore {
            hasher: RandomState::new(),
            apps: RwLock::default(),
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
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
        self.shards.iter().map(|s| read(s).records.len()).sum()
    }

    /// Whether it holds no user.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The app's index, if it has users.
    fn app_index(&self, app: &AppId) -> Option<u32> {
        read(&self.apps).index.get(app.as_str()).copied()
    }

    fn intern(&self, app: &AppId) -> u32 {
        if let Some(index) = self.app_index(app) {
            return index;
        }
        let mut apps = write(&self.apps);
        if let Some(index) = apps.index.get(app.as_str()) {
            return *index;
        }
        let index = apps.names.len() as u32;
        apps.names.push(app.clone());
        apps.index.insert(app.as_str().into(), index);
        index
    }

    fn app_name(&self, index: u32) -> AppId {
        read(&self.apps).names[index as usize].clone()
    }

    fn external_hash(&self, app: u32, external_id: &str) -> u64 {
        self.hasher.hash_one((app, external_id))
    }

    fn upsert(&self, app: &AppId, profile: &ExternalProfile) -> Result<Upserted, StoreError> {
        if !fits(profile) {
            return Err(StoreError::other(
                "profile over the in-memory store's limits",
            ));
        }
        let app_index = self.intern(app);
        let hash = self.external_hash(app_index, &profile.external_id);
        let shard_index = external_shard(hash);
        let shard = &self.shards[shard_index];
        let filed = filed_under(hash);
        let find = |shard: &Shard| {
            shard
                .by_external
                .find(table_hash(filed), |slot| {
                    let r = &shard.records[slot.index as usize];
                    slot.hash == filed
                        && r.app == app_index
                        && r.external_id() == profile.external_id
                })
                .map(|slot| slot.index)
        };
        // A sign-in that changes nothing takes only the read lock.
        {
            let shard = read(shard);
            if let Some(i) = find(&shard) {
                let record = &shard.records[i as usize];
                if record.matches(profile) {
                    return Ok(Upserted::SignedIn(record.to_user(app.clone())));
                }
            }
        }
        let now = unix_now() as u32;
        let mut shard = write(shard);
        if let Some(i) = find(&shard) {
            let record = &mut shard.records[i as usize];
            if !record.matches(profile) {
                record.set_profile(profile, now);
            }
            return Ok(Upserted::SignedIn(record.to_user(app.clone())));
        }
        // The id's last bits name its shard.
        let id = (uuid::Uuid::new_v4().as_u128() & !(SHARDS as u128 - 1)) | shard_index as u128;
        let index = shard.records.len() as u32;
        shard.records.push(Record {
            id,
            app: app_index,
            external_len: profile.external_id.len() as u8,
            email_len: profile.email.len() as u8,
            created_at: now,
            updated_at: now,
            text: pack(&profile.external_id, &profile.email, &profile.first_name),
        });
        let Shard {
            records,
            by_external,
            by_id,
        } = &mut *shard;
        by_external.insert_unique(table_hash(filed), Slot::new(index, filed), Slot::table_hash);
        by_id.insert_unique(
            table_hash(id_hash(id)),
            Slot::new(index, id_hash(id)),
            Slot::table_hash,
        );
        Ok(Upserted::SignedUp(
            records[index as usize].to_user(app.clone()),
        ))
    }

    /// Removes the user's record and its two index entries; the shard's last record takes
    /// its place (and its index entries are pointed there).
    fn erase_record(&self, id: &UserId) -> bool {
        let Ok(id) = uuid::Uuid::try_parse(id.as_str()).map(|u| u.as_u128()) else {
            return false;
        };
        let mut shard = write(&self.shards[shard_of(id)]);
        let Shard {
            records,
            by_external,
            by_id,
        } = &mut *shard;
        let Ok(entry) = by_id.find_entry(table_hash(id_hash(id)), |slot| {
            records[slot.index as usize].id == id
        }) else {
            return false;
        };
        let index = entry.get().index;
        entry.remove();
        let erased = &records[index as usize];
        let external = filed_under(self.external_hash(erased.app, erased.external_id()));
        if let Ok(entry) = by_external.find_entry(table_hash(external), |s| s.index == index) {
            entry.remove();
        }
        let last = (records.len() - 1) as u32;
        if index != last {
            let moved = &records[last as usize];
            let external = filed_under(self.external_hash(moved.app, moved.external_id()));
            for (table, hash) in [
                (&mut *by_id, id_hash(moved.id)),
                (&mut *by_external, external),
            ] {
                if let Some(slot) = table.find_mut(table_hash(hash), |s| s.index == last) {
                    slot.index = index;
                }
            }
        }
        records.swap_remove(index as usize);
        true
    }

    fn find_by_id(&self, id: &UserId) -> Option<User> {
        self.with_record(id, |record| record.to_user(self.app_name(record.app)))
    }

    /// `read_record` applied to the record of the user with this id, if any.
    fn with_record<T>(&self, id: &UserId, read_record: impl FnOnce(&Record) -> T) -> Option<T> {
        let id = uuid::Uuid::try_parse(id.as_str()).ok()?.as_u128();
        let shard = read(&self.shards[shard_of(id)]);
        let slot = shard.by_id.find(table_hash(id_hash(id)), |slot| {
            shard.records[slot.index as usize].id == id
        })?;
        Some(read_record(&shard.records[slot.index as usize]))
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
        self.upsert(app, profile)
    }

    async fn find(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        Ok(self.find_by_id(id))
    }

    async fn erase(&self, id: &UserId) -> Result<bool, StoreError> {
        Ok(self.erase_record(id))
    }

    async fn exists(&self, id: &UserId) -> Result<bool, StoreError> {
        Ok(self.with_record(id, |_| ()).is_some())
    }
}

#[async_trait]
impl UserCount for MemoryUserStore {
    async fn count_users(&self, app: Option<&AppId>) -> Result<u64, StoreError> {
        let count = match app {
            None => self.len(),
            Some(app) => match self.app_index(app) {
                None => 0,
                Some(index) => self
                    .shards
                    .iter()
                    .map(|s| read(s).records.iter().filter(|r| r.app == index).count())
                    .sum(),
            },
        };
        Ok(count as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(id: &str, email: &str, first_name: &str) -> ExternalProfile {
        ExternalProfile {
            external_id: id.into(),
            email: email.into(),
            first_name: first_name.into(),
        }
    }

    #[test]
    fn a_shards_entries_spread_over_its_tables_buckets() {
        // The users of one shard must not share the low bits their table places them by.
        let store = MemoryUserStore::new();
        let mut buckets = std::collections::HashSet::new();
        let mut in_shard = 0;
        for n in 0..200_000 {
            let hash = store.external_hash(0, &format!("user-{n}"));
            if external_shard(hash) == 7 {
                in_shard += 1;
                buckets.insert(table_hash(filed_under(hash)) % 1024);
            }
        }
        assert!(in_shard > 100, "{in_shard} users in the shard");
        // Spread at random, about 1024 × (1 − e^(−n/1024)) buckets; all alike gives 1.
        assert!(buckets.len() > in_shard / 2, "{} buckets", buckets.len());
    }

    #[test]
    fn records_round_trip_profiles() {
        let store = MemoryUserStore::new();
        let app = AppId::from("acme");
        let up = store
            .upsert(&app, &profile("ext-1", "a@b.io", "Ann"))
            .unwrap();
        let user = up.user().clone();
        assert_eq!(
            (
                user.external_id.as_str(),
                user.email.as_str(),
                user.first_name.as_str()
            ),
            ("ext-1", "a@b.io", "Ann")
        );
        assert_eq!(store.find_by_id(&user.id), Some(user.clone()));
        let changed = store
            .upsert(&app, &profile("ext-1", "longer-email@b.io", ""))
            .unwrap();
        assert_eq!(changed.user().id, user.id);
        assert_eq!(changed.user().email, "longer-email@b.io");
        assert_eq!(changed.user().first_name, "");
        assert_eq!(
            store.find_by_id(&user.id).unwrap().email,
            "longer-email@b.io"
        );
    }

    #[test]
    fn many_users_stay_findable() {
        let store = MemoryUserStore::new();
        let ids: Vec<UserId> = (0..5_000)
            .map(|i| {
                let app = AppId::from(if i % 2 == 0 { "a" } else { "b" });
                store
                    .upsert(&app, &profile(&format!("u{i}"), "e@x.io", "F"))
                    .unwrap()
                    .into_user()
                    .id
            })
            .collect();
        assert_eq!(store.len(), 5_000);
        for (i, id) in ids.iter().enumerate() {
            let user = store.find_by_id(id).unwrap();
            assert_eq!(user.external_id, format!("u{i}"));
        }
        assert!(store.find_by_id(&UserId::random()).is_none());
        assert!(store.find_by_id(&UserId::from("not-a-uuid")).is_none());
    }

    #[test]
    fn erasing_moves_a_shards_last_record_and_keeps_both_indexes_right() {
        // 5,000 users over 1,024 shards: most shards hold several, so most erasures move the
        // shard's last record into the erased one's place.
        let store = MemoryUserStore::new();
        let app = AppId::from("a");
        let ids: Vec<UserId> = (0..5_000)
            .map(|i| {
                let profile = profile(&format!("u{i}"), "e@x.io", "F");
                store.upsert(&app, &profile).unwrap().into_user().id
            })
            .collect();
        for id in ids.iter().step_by(3) {
            assert!(store.erase_record(id));
            assert!(!store.erase_record(id), "erased twice");
        }
        assert_eq!(store.len(), 5_000 - ids.iter().step_by(3).count());
        for (i, id) in ids.iter().enumerate() {
            let profile = profile(&format!("u{i}"), "e@x.io", "F");
            if i % 3 == 0 {
                assert!(store.find_by_id(id).is_none(), "u{i} still found by id");
                let again = store.upsert(&app, &profile).unwrap();
                assert!(matches!(again, Upserted::SignedUp(_)), "u{i} signs up anew");
                assert_ne!(&again.user().id, id);
            } else {
                assert_eq!(store.find_by_id(id).unwrap().external_id, format!("u{i}"));
                let again = store.upsert(&app, &profile).unwrap();
                assert!(matches!(again, Upserted::SignedIn(_)), "u{i} signs in");
                assert_eq!(&again.user().id, id);
            }
        }
    }
}
