//! Per-key rate limiting (SPEC §3, 429/6): the [`RateLimiter`] trait and its in-memory
//! token bucket, [`MemoryRateLimiter`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::util::sync::lock;
use crate::{KeyDigest, StoreError};

/// Whether a request may go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateDecision {
    /// Within the limit.
    Allowed,
    /// Over the limit: the client may retry after this long.
    Limited {
        /// The time until a request would be allowed.
        retry_after: Duration,
    },
}

/// Counts requests per API key (by digest) and decides whether each may go on.
///
/// A complete custom implementation: a fixed window of one second per key.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use std::time::{Duration, UNIX_EPOCH};
/// use async_trait::async_trait;
/// use techcentrix_auth::rate_limit::{RateDecision, RateLimiter};
/// use techcentrix_auth::{ApiKey, KeyDigest, StoreError};
///
/// struct PerSecond {
///     limit: u32,
///     // By the digest's bytes: the window's start (whole seconds) and its count.
///     windows: Mutex<HashMap<[u8; 32], (u64, u32)>>,
/// }
///
/// #[async_trait]
/// impl RateLimiter for PerSecond {
///     async fn check(&self, key: &KeyDigest) -> Result<RateDecision, StoreError> {
///         let now = UNIX_EPOCH.elapsed().unwrap();
///         let mut windows = self.windows.lock().unwrap();
///         let window = windows.entry(*key.as_bytes()).or_insert((now.as_secs(), 0));
///         if window.0 != now.as_secs() {
///             *window = (now.as_secs(), 0);
///         }
///         window.1 += 1;
///         Ok(if window.1 <= self.limit {
///             RateDecision::Allowed
///         } else {
///             let retry_after = Duration::from_secs(now.as_secs() + 1) - now;
///             RateDecision::Limited { retry_after }
///         })
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let limiter = PerSecond { limit: 1, windows: Mutex::default() };
/// let key = ApiKey::generate().digest();
/// let second_of = || UNIX_EPOCH.elapsed().unwrap().as_secs();
/// let start = second_of();
/// let first = limiter.check(&key).await.unwrap();
/// let second = limiter.check(&key).await.unwrap();
/// if second_of() == start {
///     // Both in one window: the second is over the limit.
///     assert_eq!(first, RateDecision::Allowed);
///     assert!(matches!(second, RateDecision::Limited { .. }));
/// }
/// # });
/// ```
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts one request of the key with this digest.
    async fn check(&self, key: &KeyDigest) -> Result<RateDecision, StoreError>;
}

#[async_trait]
impl<T: RateLimiter + ?Sized> RateLimiter for Arc<T> {
    async fn check(&self, key: &KeyDigest) -> Result<RateDecision, StoreError> {
        (**self).check(key).await
    }
}

/// A token bucket per key, in memory: `per_second` requests a second, with bursts of up to
/// `per_second`.
///
/// ```
/// use techcentrix_auth::rate_limit::{MemoryRateLimiter, RateDecision, RateLimiter};
/// use techcentrix_auth::ApiKey;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let limiter = MemoryRateLimiter::new(2);
/// let key = ApiKey::generate().digest();
/// assert_eq!(limiter.check(&key).await.unwrap(), RateDecision::Allowed);
/// assert_eq!(limiter.check(&key).await.unwrap(), RateDecision::Allowed);
/// assert!(matches!(limiter.check(&key).await.unwrap(), RateDecision::Limited { .. }));
/// # });
/// ```
pub struct MemoryRateLimiter {
    per_second: f64,
    buckets: Mutex<HashMap<u64, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// A summary: the rate and how many keys have a bucket, never the keys' digests.
impl std::fmt::Debug for MemoryRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRateLimiter")
            .field("per_second", &self.per_second)
            .field("keys", &crate::util::sync::lock(&self.buckets).len())
            .finish()
    }
}

impl MemoryRateLimiter {
    /// A limiter allowing `per_second` requests per second per key (at least 1).
    pub fn new(per_second: u32) -> Self {
        MemoryRateLimiter {
            per_second: f64::from(per_second.max(1)),
            buckets: Mutex::default(),
        }
    }

    fn take(&self, key: &KeyDigest, now: Instant) -> RateDecision {
        let mut buckets = lock(&self.buckets);
        if buckets.len() > 10_000 {
            // Forget keys whose buckets have refilled: they hold no information.
            let full = self.per_second;
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * full < full
            });
        }
        let bucket = buckets.entry(key.prefix()).or_insert(Bucket {
            tokens: self.per_second,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.per_second);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            RateDecision::Allowed
        } else {
            let wait = (1.0 - bucket.tokens) / self.per_second;
            RateDecision::Limited {
                retry_after: Duration::from_secs_f64(wait),
            }
        }
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn check(&self, key: &KeyDigest) -> Result<RateDecision, StoreError> {
        Ok(self.take(key, Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ApiKey;

    #[test]
    fn bucket_refills_with_time() {
        let limiter = MemoryRateLimiter::new(10);
        let key = ApiKey::generate().digest();
        let start = Instant::now();
        for _ in 0..10 {
            assert_eq!(limiter.take(&key, start), RateDecision::Allowed);
        }
        assert!(matches!(
            limiter.take(&key, start),
            RateDecision::Limited { .. }
        ));
        let later = start + Duration::from_millis(150);
        assert_eq!(limiter.take(&key, later), RateDecision::Allowed);
    }

    #[test]
    fn keys_have_their_own_buckets() {
        let limiter = MemoryRateLimiter::new(1);
        let now = Instant::now();
        let a = ApiKey::generate().digest();
        let b = ApiKey::generate().digest();
        assert_eq!(limiter.take(&a, now), RateDecision::Allowed);
        assert_eq!(limiter.take(&b, now), RateDecision::Allowed);
        assert!(matches!(
            limiter.take(&a, now),
            RateDecision::Limited { .. }
        ));
    }
}
