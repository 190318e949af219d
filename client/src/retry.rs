//! When a call is sent again: only after `503` or `429`, as `Retry-After` says, a bounded
//! number of times and for a bounded total wait.

use std::time::Duration;

use http::{HeaderMap, StatusCode};

/// How [`Client`](crate::Client) retries `503 Service unavailable` and `429 Too many requests`.
///
/// No other answer is retried: a `4xx` other than `429` means the request itself is wrong,
/// and a transport error or timeout may hide a request that the host carried out. The wait
/// before a retry is the answer's `Retry-After` (delta-seconds; the SPEC promises at least 1),
/// or [`fallback_delay`](RetryPolicy::fallback_delay) when it has none or one that is not
/// delta-seconds. A retry whose wait would take the total past
/// [`max_total_wait`](RetryPolicy::max_total_wait) is not made: the `503`/`429` is returned
/// as [`Error::Api`](crate::Error::Api) with its `retry_after`.
///
/// ```
/// use std::time::Duration;
/// use techcentrix_auth_client::RetryPolicy;
///
/// let policy = RetryPolicy::default();
/// assert_eq!(policy.max_attempts, 3);
/// let never = RetryPolicy::none();
/// assert_eq!(never.max_attempts, 1);
/// let patient = RetryPolicy { max_attempts: 5, max_total_wait: Duration::from_secs(30), ..policy };
/// # let _ = patient;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry). Default 3.
    pub max_attempts: u32,
    /// The most time spent waiting between attempts, in all. Default 10 s.
    pub max_total_wait: Duration,
    /// The wait when a `503`/`429` has no usable `Retry-After`. Default 1 s.
    pub fallback_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            max_total_wait: Duration::from_secs(10),
            fallback_delay: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The wait before attempt `attempts + 1` after an answer of `status`, or `None` when
    /// the answer stands (`waited` is what was already spent waiting).
    pub(crate) fn delay(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        attempts: u32,
        waited: Duration,
    ) -> Option<Duration> {
        let retryable =
            status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS;
        if !retryable || attempts >= self.max_attempts {
            return None;
        }
        let delay = retry_after(headers).unwrap_or(self.fallback_delay);
        (waited + delay <= self.max_total_wait).then_some(delay)
    }
}

/// `Retry-After` as delta-seconds.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok().map(Duration::from_secs)
}
