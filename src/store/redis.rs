//! Redis backends (feature `redis`): [`RedisReplayLedger`] (an atomic `SET NX EXAT` per
//! used `jti`) and [`RedisRateLimiter`] (a per-key counter per second), over a reconnecting
//! [`ConnectionManager`].
//!
//! Every instance pointed at the same Redis (and key prefix) shares the ledger and the
//! limits. A used token stays used as long as Redis keeps the key: run Redis with
//! persistence (`appendonly yes`) where a Redis restart must not reopen the window of
//! unexpired tokens. When Redis is down every call fails (503/7 for the client): the
//! ledger fails closed, never accepting a token it could not record.
//!
//! ```no_run
//! use techcentrix_auth::store::redis::{RedisOptions, RedisReplayLedger};
//!
//! # async fn run() -> Result<(), techcentrix_auth::StoreError> {
//! let connection = RedisOptions::new("redis://127.0.0.1:6379").connect().await?;
//! let ledger = RedisReplayLedger::new(connection.clone(), "tcx:");
//! # Ok(()) }
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Consumed, ReplayLedger};
use crate::rate_limit::{RateDecision, RateLimiter};
use crate::{Jti, KeyDigest, StoreError};

/// How to reach Redis. Its `Debug` hides the URL's password.
#[derive(Clone)]
pub struct RedisOptions {
    url: String,
    timeout: Duration,
}

impl std::fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOptions")
            .field("url", &crate::secret::redacted_url(&self.url))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RedisOptions {
    /// A `redis://` URL; commands and connection attempts time out after 3 s.
    pub fn new(url: impl Into<String>) -> Self {
        RedisOptions {
            url: url.into(),
            timeout: Duration::from_secs(3),
        }
    }

    /// How long a command or a connection attempt may take.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connects (failing if Redis cannot be reached now). The manager reconnects by itself
    /// after a failure; calls made meanwhile fail fast.
    pub async fn connect(&self) -> Result<ConnectionManager, StoreError> {
        let client = redis::Client::open(self.url.as_str()).map_err(StoreError::other)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        ConnectionManager::new_with_config(client, config)
            .await
            .map_err(redis_error)
    }
}

/// Redis failures are all "unavailable" for the client (503/7): the call's effect is unknown.
fn redis_error(err: redis::RedisError) -> StoreError {
    StoreError::unavailable(err)
}

/// Used `jti`s in Redis: `SET <prefix>jti:<jti> 1 NX EXAT <expiry>`, so the first use wins
/// atomically across every instance and Redis forgets the key when the token expires.
#[derive(Clone)]
pub struct RedisReplayLedger {
    connection: ConnectionManager,
    prefix: String,
}

impl RedisReplayLedger {
    /// A ledger whose keys start with `prefix` (e.g. `tcx:`).
    pub fn new(connection: ConnectionManager, prefix: impl Into<String>) -> Self {
        RedisReplayLedger {
            connection,
            prefix: prefix.into(),
        }
    }
}

impl std::fmt::Debug for RedisReplayLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisReplayLedger")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl ReplayLedger for RedisReplayLedger {
    async fn consume(&self, jti: &Jti, expires_at: i64) -> Result<Consumed, StoreError> {
        let mut connection = self.connection.clone();
        // At least one second ahead: an EXAT in the past would be refused.
        let expires_at = expires_at.max(crate::store::unix_now() + 1);
        let set: Option<String> = redis::cmd("SET")
            .arg(format!("{}jti:{jti}", self.prefix))
            .arg(1)
            .arg("NX")
            .arg("EXAT")
            .arg(expires_at)
            .query_async(&mut connection)
            .await
            .map_err(redis_error)?;
        Ok(if set.is_some() {
            Consumed::First
        } else {
            Consumed::Replayed
        })
    }
}

/// Per-key rate limits shared by every instance: a counter per key and second
/// (`INCR` + `EXPIRE` in one transaction).
#[derive(Clone)]
pub struct RedisRateLimiter {
    connection: ConnectionManager,
    prefix: String,
    per_second: u32,
}

impl RedisRateLimiter {
    /// Allows `per_second` requests per key and second; keys start with `prefix`.
    pub fn new(connection: ConnectionManager, prefix: impl Into<String>, per_second: u32) -> Self {
        RedisRateLimiter {
            connection,
            prefix: prefix.into(),
            per_second: per_second.max(1),
        }
    }
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("prefix", &self.prefix)
            .field("per_second", &self.per_second)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(&self, key: &KeyDigest) -> Result<RateDecision, StoreError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let second = now.as_secs();
        // The digest's prefix names the key: never the key, and short.
        let name = format!("{}rate:{:016x}:{second}", self.prefix, key.prefix());
        let mut connection = self.connection.clone();
        let (count,): (u64,) = redis::pipe()
            .atomic()
            .incr(&name, 1)
            .expire(&name, 2)
            .ignore()
            .query_async(&mut connection)
            .await
            .map_err(redis_error)?;
        Ok(if count <= u64::from(self.per_second) {
            RateDecision::Allowed
        } else {
            RateDecision::Limited {
                retry_after: Duration::from_secs(1)
                    - Duration::from_nanos(u64::from(now.subsec_nanos())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use redis::{ErrorKind, RedisError, ServerErrorKind};

    use super::redis_error;

    /// Every way the SPEC names of Redis not answering now is 503/7, never 500/9.
    #[test]
    fn each_failure_is_unavailable() {
        let io = |kind| RedisError::from(std::io::Error::new(kind, "redis"));
        let table: Vec<(&str, RedisError)> = vec![
            (
                "connection refused",
                io(std::io::ErrorKind::ConnectionRefused),
            ),
            ("connection reset", io(std::io::ErrorKind::ConnectionReset)),
            ("timeout", io(std::io::ErrorKind::TimedOut)),
            (
                "LOADING",
                (ErrorKind::Server(ServerErrorKind::BusyLoading), "LOADING").into(),
            ),
            (
                "READONLY",
                (ErrorKind::Server(ServerErrorKind::ReadOnly), "READONLY").into(),
            ),
            (
                "CLUSTERDOWN",
                (
                    ErrorKind::Server(ServerErrorKind::ClusterDown),
                    "CLUSTERDOWN",
                )
                    .into(),
            ),
            (
                "MASTERDOWN",
                (ErrorKind::Server(ServerErrorKind::MasterDown), "MASTERDOWN").into(),
            ),
            (
                "TRYAGAIN",
                (ErrorKind::Server(ServerErrorKind::TryAgain), "TRYAGAIN").into(),
            ),
        ];
        for (what, err) in table {
            assert!(redis_error(err).is_unavailable(), "{what}");
        }
    }
}
