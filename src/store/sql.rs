//! What the SQL backends share: the mapping of driver errors to [`StoreError`] and the
//! migrations.

use crate::StoreError;

/// Connection trouble, pool exhaustion and every "cannot answer now" code of the database
/// are "unavailable" (503/7 for the client); anything else is a store bug (500/9).
pub(crate) fn store_error(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::unavailable(err),
        sqlx::Error::Database(db) if db.code().as_deref().is_some_and(is_transient) => {
            StoreError::unavailable(err)
        }
        _ => StoreError::other(err),
    }
}

/// Whether a database error code says "cannot answer now": a PostgreSQL SQLSTATE (always
/// five characters) or a SQLite result code (primary or extended, a decimal number of at
/// most four digits).
pub(crate) fn is_transient(code: &str) -> bool {
    if code.len() == 5 {
        return postgres_is_transient(code);
    }
    code.parse::<i32>().is_ok_and(sqlite_is_transient)
}

/// SQLite's BUSY (5), LOCKED (6), IOERR (10), FULL (13) and CANTOPEN (14), with their
/// extended codes (the primary code is the low byte).
pub(crate) fn sqlite_is_transient(code: i32) -> bool {
    matches!(code & 0xff, 5 | 6 | 10 | 13 | 14)
}

/// PostgreSQL's classes 08 (connection), 40 (transaction rollback: serialization failure,
/// deadlock; not 40002, a constraint violation at commit), 53 (insufficient resources) and
/// 57 (operator intervention: statement timeout, shutdown), and 55P03 (lock not available).
fn postgres_is_transient(sqlstate: &str) -> bool {
    match sqlstate.get(..2) {
        Some("08" | "53" | "57") => true,
        Some("40") => sqlstate != "40002",
        _ => sqlstate == "55P03",
    }
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

/// Begins a transaction on a task of its own and waits for it, so that a caller that gives
/// up (a client gone, the store timeout) cannot cancel the `BEGIN` half-way. sqlx 0.8.6 is not
/// cancel-safe there: a `begin()` dropped while its `BEGIN` is in flight leaves a PostgreSQL
/// connection inside an open transaction, and the pool hands it to the next caller, whose
/// statements then run (and are rolled back or committed) with the stale transaction
/// (transact-rs/sqlx#4393). Seen here: a refresh run cut off by its client left connections
/// that turned later sessions' commits into `there is no transaction in progress` notices,
/// and those sessions were lost. Once begun, a transaction dropped by its caller is rolled
/// back (sqlx queues the `ROLLBACK`), so a timed-out rotation changes nothing. SQLite needs
/// it as much: begun in place, a cancelled rotation on its one connection left the next
/// session uncommitted too (`sqlite_a_cancelled_rotation_leaves_no_open_transaction_behind`
/// fails that way).
pub(crate) async fn begin<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    statement: Option<&'static str>,
) -> Result<sqlx::Transaction<'static, DB>, StoreError> {
    let pool = pool.clone();
    let begin = async move {
        match statement {
            Some(statement) => pool.begin_with(statement).await,
            None => pool.begin().await,
        }
    };
    tokio::spawn(begin)
        .await
        .map_err(|e| StoreError::other(format!("a transaction's task failed: {e}")))?
        .map_err(store_error)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::error::Error as StdError;

    use super::*;

    /// A database error with a given code, as a driver reports it.
    #[derive(Debug)]
    struct Coded(&'static str);

    impl std::fmt::Display for Coded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "database error {}", self.0)
        }
    }

    impl StdError for Coded {}

    impl sqlx::error::DatabaseError for Coded {
        fn message(&self) -> &str {
            "database error"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn StdError + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn StdError + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    /// Every code the SPEC names, and its outcome: 503 (unavailable) or 500 (other).
    const TABLE: &[(&str, &str, bool)] = &[
        // PostgreSQL
        ("08000", "connection exception", true),
        ("08006", "connection failure", true),
        ("08P01", "protocol violation", true),
        ("40001", "serialization failure", true),
        ("40P01", "deadlock detected", true),
        ("40003", "statement completion unknown", true),
        ("40002", "integrity constraint violation at commit", false),
        ("53000", "insufficient resources", true),
        ("53100", "disk full", true),
        ("53200", "out of memory", true),
        ("53300", "too many connections", true),
        ("57014", "statement timeout (query canceled)", true),
        ("57P01", "admin shutdown", true),
        ("57P02", "crash shutdown", true),
        ("57P03", "cannot connect now", true),
        ("55P03", "lock not available", true),
        ("23505", "unique violation", false),
        ("42P01", "undefined table", false),
        ("22P02", "invalid text representation", false),
        // SQLite (primary and extended codes)
        ("5", "SQLITE_BUSY", true),
        ("261", "SQLITE_BUSY_RECOVERY", true),
        ("517", "SQLITE_BUSY_SNAPSHOT", true),
        ("6", "SQLITE_LOCKED", true),
        ("262", "SQLITE_LOCKED_SHAREDCACHE", true),
        ("10", "SQLITE_IOERR", true),
        ("266", "SQLITE_IOERR_READ", true),
        ("778", "SQLITE_IOERR_WRITE", true),
        ("13", "SQLITE_FULL", true),
        ("14", "SQLITE_CANTOPEN", true),
        ("1", "SQLITE_ERROR", false),
        ("11", "SQLITE_CORRUPT", false),
        ("19", "SQLITE_CONSTRAINT", false),
        ("2067", "SQLITE_CONSTRAINT_UNIQUE", false),
    ];

    #[test]
    fn each_code_has_its_outcome() {
        for &(code, what, unavailable) in TABLE {
            let err = store_error(sqlx::Error::Database(Box::new(Coded(code))));
            assert_eq!(err.is_unavailable(), unavailable, "{code} ({what})");
        }
    }

    #[test]
    fn connection_and_pool_trouble_is_unavailable() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        for err in [
            sqlx::Error::Io(io),
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
            sqlx::Error::Protocol("unexpected end".into()),
        ] {
            assert!(store_error(err).is_unavailable());
        }
        assert!(!store_error(sqlx::Error::RowNotFound).is_unavailable());
        assert!(!store_error(sqlx::Error::ColumnNotFound("x".into())).is_unavailable());
    }
}
