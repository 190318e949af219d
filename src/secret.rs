//! Secrets: the Server.API.Key ([`ApiKey`]), its digest ([`KeyDigest`]) and the HS512
//! secret ([`JwtSecret`]).
//!
//! None of them has a `Display`; their `Debug` prints `[redacted]`. Keys are kept and
//! compared as SHA-256 digests, in constant time.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A Server.API.Key as presented by a partner's backend or configured by the host.
///
/// ```
/// use techcentrix_auth::ApiKey;
///
/// let key = ApiKey::new("a-very-secret-key-of-at-least-32-chars");
/// assert_eq!(format!("{key:?}"), "ApiKey([redacted])");
/// ```
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself, for the one place that must show it (a newly created key).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 digest under which the key is stored and looked up.
    pub fn digest(&self) -> KeyDigest {
        KeyDigest::of(self.0.as_bytes())
    }

    /// A new random key: 32 random bytes, URL-safe base64 (43 characters).
    pub fn generate() -> Self {
        ApiKey(random_token())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

/// The SHA-256 digest of a key or token: what stores keep instead of the secret.
///
/// Equality is constant-time.
#[derive(Clone, Copy, Eq)]
pub struct KeyDigest([u8; 32]);

impl KeyDigest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        KeyDigest(Sha256::digest(bytes).into())
    }

    /// Rebuilds a digest from its stored bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        KeyDigest(bytes)
    }

    /// The raw digest bytes, for storage.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first eight bytes, as a lookup index: the full digest is then compared in
    /// constant time.
    pub fn prefix(&self) -> u64 {
        let mut head = [0u8; 8];
        head.copy_from_slice(&self.0[..8]);
        u64::from_le_bytes(head)
    }
}

impl PartialEq for KeyDigest {
    /// Constant-time: the two digests' differences are folded into one byte, with no branch
    /// on the data, and only that byte is compared (through `subtle`, whose barrier then
    /// runs once rather than once per byte).
    fn eq(&self, other: &Self) -> bool {
        let difference = self
            .0
            .iter()
            .zip(&other.0)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        difference.ct_eq(&0).into()
    }
}

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyDigest([redacted])")
    }
}

/// Values indexed by key digest: looked up by the digest's first eight bytes, then the
/// whole digest compared in constant time. The cost is the same with one entry or many.
#[derive(Debug)]
pub(crate) struct DigestMap<V> {
    /// By the digest's first eight bytes (SHA-256 output), hashed by foldhash: a
    /// hand-written hasher folding the bits saved about 0.1 % of a request (BENCHMARKS.md).
    buckets: std::collections::HashMap<u64, Vec<(KeyDigest, V)>, foldhash::fast::RandomState>,
}

impl<V> Default for DigestMap<V> {
    fn default() -> Self {
        DigestMap {
            buckets: std::collections::HashMap::default(),
        }
    }
}

impl<V> DigestMap<V> {
    pub(crate) fn get(&self, digest: &KeyDigest) -> Option<&V> {
        self.buckets
            .get(&digest.prefix())?
            .iter()
            .find(|(d, _)| d == digest)
            .map(|(_, v)| v)
    }

    /// Inserts or replaces the value of `digest`.
    pub(crate) fn insert(&mut self, digest: KeyDigest, value: V) {
        let bucket = self.buckets.entry(digest.prefix()).or_default();
        bucket.retain(|(d, _)| *d != digest);
        bucket.push((digest, value));
    }

    /// Removes the value of `digest`; whether there was one.
    pub(crate) fn remove(&mut self, digest: &KeyDigest) -> bool {
        let Some(bucket) = self.buckets.get_mut(&digest.prefix()) else {
            return false;
        };
        let before = bucket.len();
        bucket.retain(|(d, _)| d != digest);
        let removed = bucket.len() != before;
        if bucket.is_empty() {
            self.buckets.remove(&digest.prefix());
        }
        removed
    }

    /// Keeps only the values for which `keep` holds.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        self.buckets.retain(|_, bucket| {
            bucket.retain(|(_, v)| keep(v));
            !bucket.is_empty()
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.buckets.values().map(Vec::len).sum()
    }
}

/// The shared secret of HS512 tokens: at least 32 bytes.
///
/// ```
/// use techcentrix_auth::JwtSecret;
///
/// assert!(JwtSecret::new(b"short".to_vec()).is_err());
/// let secret = JwtSecret::new(vec![7u8; 32]).unwrap();
/// assert_eq!(format!("{secret:?}"), "JwtSecret([redacted])");
/// ```
#[derive(Clone)]
pub struct JwtSecret(Vec<u8>);

impl JwtSecret {
    /// The least number of bytes a secret may have.
    pub const MIN_LEN: usize = 32;

    /// Wraps a secret; refuses one shorter than [`JwtSecret::MIN_LEN`] bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, crate::ConfigError> {
        let bytes = bytes.into();
        if bytes.len() < Self::MIN_LEN {
            return Err(crate::ConfigError::new(
                "jwt secret",
                format!("must be at least {} bytes", Self::MIN_LEN),
            ));
        }
        Ok(JwtSecret(bytes))
    }

    /// A random 64-byte secret.
    pub fn generate() -> Self {
        JwtSecret(random_bytes::<64>().to_vec())
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtSecret([redacted])")
    }
}

/// `N` bytes from the operating system's random source.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut bytes = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// 32 random bytes as unpadded URL-safe base64 (43 characters): refresh tokens and API
/// keys. From the thread-local CSPRNG (ChaCha12, seeded and periodically reseeded from the
/// operating system): no system call per token.
pub(crate) fn random_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    crate::util::base64url::encode(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_compare_equal_only_for_the_same_key() {
        let a = ApiKey::new("k".repeat(32));
        let b = ApiKey::new("k".repeat(33));
        assert_eq!(a.digest(), ApiKey::new("k".repeat(32)).digest());
        assert_ne!(a.digest(), b.digest());
    }

    #[test]
    fn digests_differing_in_any_one_bit_are_unequal() {
        let digest = ApiKey::new("k".repeat(32)).digest();
        for byte in 0..32 {
            for bit in 0..8 {
                let mut bytes = *digest.as_bytes();
                bytes[byte] ^= 1 << bit;
                assert_ne!(
                    KeyDigest::from_bytes(bytes),
                    digest,
                    "byte {byte} bit {bit}"
                );
            }
        }
        assert_eq!(KeyDigest::from_bytes(*digest.as_bytes()), digest);
    }

    #[test]
    fn generated_keys_are_long_and_distinct() {
        let a = ApiKey::generate();
        let b = ApiKey::generate();
        assert!(a.expose().len() >= 43);
        assert_ne!(a.expose(), b.expose());
    }
}

/// `url` with the password of its user info, if any, replaced by `***`: for `Debug` and
/// log lines of connection settings (`postgres://app:***@db/auth`).
#[cfg_attr(not(any(feature = "postgres", feature = "redis")), allow(dead_code))]
pub(crate) fn redacted_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &rest[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::redacted_url;

    #[test]
    fn passwords_are_hidden_and_the_rest_kept() {
        for (url, shown) in [
            (
                "postgres://app:s3cr3t@db:5432/auth",
                "postgres://app:***@db:5432/auth",
            ),
            (
                "redis://:s3cr3t@127.0.0.1:6379",
                "redis://:***@127.0.0.1:6379",
            ),
            ("redis://user:p%40ss@h/0?x=1", "redis://user:***@h/0?x=1"),
            ("postgres://app@db/auth", "postgres://app@db/auth"),
            ("postgres://db/auth?user=a", "postgres://db/auth?user=a"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redacted_url(url), shown);
        }
    }
}
