//! What the SQL backends share: the mapping of driver errors to [`StoreError`] and the
//! pace of expiry on write.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::StoreError;

/// How often, at most, a store deletes expired rows on its own.
pub(crate) const PURGE_EVERY_SECS: i64 = 60;

/// Whether the caller is the one to purge now (at most once per [`PURGE_EVERY_SECS`] per
/// store).
pub(crate) fn purge_due(purged_at: &AtomicI64, now: i64) -> bool {
    let last = purged_at.load(Ordering::Relaxed);
    now - last >= PURGE_EVERY_SECS
        && purged_at
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

/// Connection trouble, pool exhaustion and lock contention are "unavailable" (503/7 for the
/// client); anything else is a store bug (500/9).
pub(crate) fn store_error(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::unavailable(err),
        sqlx::Error::Database(db) if is_contention(db.code().as_deref()) => {
            StoreError::unavailable(err)
        }
        _ => StoreError::other(err),
    }
}

/// SQLite's BUSY/LOCKED (5, 6 and their extended codes); PostgreSQL's serialization,
/// deadlock, lock-timeout, shutdown, connection and resource classes (40001, 40P01, 55P03,
/// 57P0x, 08xxx, 53xxx).
fn is_contention(code: Option<&str>) -> bool {
    let Some(code) = code else { return false };
    if let Ok(n) = code.parse::<i64>() {
        return matches!(n & 0xff, 5 | 6);
    }
    matches!(code, "40001" | "40P01" | "55P03")
        || code.starts_with("57P")
        || code.starts_with("08")
        || code.starts_with("53")
}

/// Applies, inside the open transaction `$tx`, each of `$migrations` (`(version, sql)`)
/// that `tcx_migrations` does not list yet, and records it. A macro, as the SQLite and
/// PostgreSQL transactions are different types.
macro_rules! apply_migrations {
    ($tx:expr, $migrations:expr) => {
        for (version, sql) in $migrations {
            let applied: Option<i64> =
                sqlx::query_scalar("SELECT version FROM tcx_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&mut *$tx)
                    .await
                    .map_err(store_error)?;
            if applied.is_none() {
                sqlx::raw_sql(sql)
                    .execute(&mut *$tx)
                    .await
                    .map_err(store_error)?;
                sqlx::query("INSERT INTO tcx_migrations (version, applied_at) VALUES ($1, $2)")
                    .bind(version)
                    .bind(crate::store::unix_now())
                    .execute(&mut *$tx)
                    .await
                    .map_err(store_error)?;
            }
        }
    };
}

pub(crate) use apply_migrations;
