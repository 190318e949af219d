use std::sync::atomic::{AtomicI64, Ordering};

use async_trait::async_trait;
use sqlx::SqlitePool;

use crate::StoreError;
use crate::store::sql::store_error;
use crate::store::{Consumed, ReplayLedger, unix_now};

/// How often, at most, a store deletes expired rows on its own.
pub(super) const PURGE_EVERY_SECS: i64 = 60;

/// Used `jti`s in the `tcx_replay` table: a used token stays used across restarts and
/// across every process sharing the file.
#[derive(Debug)]
pub struct SqliteReplayLedger {
    pool: SqlitePool,
    purged_at: AtomicI64,
}

impl SqliteReplayLedger {
    /// The ledger in `pool`'s database (migrated by [`open`](super::open)).
    pub fn new(pool: SqlitePool) -> Self {
        SqliteReplayLedger {
            pool,
            purged_at: AtomicI64::new(0),
        }
    }

    /// Deletes the entries that expired before `now` (unix seconds); how many.
    pub async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM tcx_replay WHERE expires_at < ?")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected())
    }
}

/// Whether the caller is the one to purge now (at most once per [`PURGE_EVERY_SECS`]).
pub(super) fn purge_due(purged_at: &AtomicI64, now: i64) -> bool {
    let last = purged_at.load(Ordering::Relaxed);
    now - last >= PURGE_EVERY_SECS
        && purged_at
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

#[async_trait]
impl ReplayLedger for SqliteReplayLedger {
    async fn consume(&self, jti: &str, expires_at: u64) -> Result<Consumed, StoreError> {
        let now = unix_now();
        if purge_due(&self.purged_at, now) {
            self.purge_expired(now).await?;
        }
        let expires_at = i64::try_from(expires_at).unwrap_or(i64::MAX);
        // A leftover expired row for the same id is replaced: the id lives anew.
        let done = sqlx::query(
            "INSERT INTO tcx_replay (jti, expires_at) VALUES (?1, ?2)
             ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at
             WHERE tcx_replay.expires_at < ?3",
        )
        .bind(jti)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(if done.rows_affected() == 1 {
            Consumed::First
        } else {
            Consumed::Replayed
        })
    }
}
