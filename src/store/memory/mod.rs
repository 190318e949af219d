//! In-memory implementations: product features for one process, not test doubles.
//!
//! Nothing survives a restart; a used oneTimeToken is remembered only by the process that
//! saw it.

mod keys;
mod ledger;
mod sessions;
mod users;

pub use keys::{ChainedApiKeyValidator, MemoryApiKeyValidator};
pub use ledger::MemoryReplayLedger;
pub use sessions::MemorySessionStore;
pub use users::MemoryUserStore;

/// How many independently locked parts each in-memory store has: few enough to cost
/// nothing when empty, enough that a part resizing under a flood of sign-ups or redemptions
/// (its table rehashed) holds up only a small share of them, briefly. A power of two.
pub(crate) const SHARDS: usize = 1024;

/// The shard of an id whose low bits are random (a UUID this crate made, a digest): those
/// bits.
pub(crate) fn shard_of(bits: u128) -> usize {
    (bits % SHARDS as u128) as usize
}

/// An id as 128 bits without an allocation: the UUID it is (those this crate makes), or
/// the first 128 bits of the SHA-256 of anything else.
pub(crate) fn id_bits(id: &str) -> u128 {
    match uuid::Uuid::try_parse(id) {
        Ok(uuid) => uuid.as_u128(),
        Err(_) => {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(id.as_bytes());
            u128::from_le_bytes(digest[..16].try_into().expect("16 bytes"))
        }
    }
}

/// The bits of `id` when it is a UUID in canonical form (lowercase, hyphenated): the ids
/// that can be kept as bits and written back unchanged.
pub(crate) fn canonical_uuid(id: &str) -> Option<u128> {
    let uuid = uuid::Uuid::try_parse(id).ok()?;
    (uuid.hyphenated().encode_lower(&mut [0u8; 36]) as &str == id).then(|| uuid.as_u128())
}

/// An id kept compactly: a canonical UUID as its 16 bytes, anything else as its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CompactId {
    /// A canonical UUID's bytes (big-endian).
    Uuid([u8; 16]),
    /// Any other id.
    Text(std::sync::Arc<str>),
}

impl CompactId {
    pub(crate) fn new(id: &str) -> Self {
        match canonical_uuid(id) {
            Some(bits) => CompactId::Uuid(bits.to_be_bytes()),
            None => CompactId::Text(id.into()),
        }
    }

    /// The id as it was given.
    pub(crate) fn text(&self) -> std::sync::Arc<str> {
        match self {
            CompactId::Uuid(bytes) => uuid::Uuid::from_bytes(*bytes)
                .hyphenated()
                .encode_lower(&mut [0u8; 36])
                .into(),
            CompactId::Text(text) => text.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_ids_come_back_as_given() {
        for id in [
            "6f9619ff-8b86-d011-b42d-00c04fc964ff",
            "6F9619FF-8B86-D011-B42D-00C04FC964FF",
            "6f9619ff8b86d011b42d00c04fc964ff",
            "user-1",
            "",
        ] {
            assert_eq!(&*CompactId::new(id).text(), id);
        }
        assert!(matches!(
            CompactId::new("6f9619ff-8b86-d011-b42d-00c04fc964ff"),
            CompactId::Uuid(_)
        ));
        assert!(matches!(
            CompactId::new("6F9619FF-8B86-D011-B42D-00C04FC964FF"),
            CompactId::Text(_)
        ));
    }
}
