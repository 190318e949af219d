//! The SQL stores of [`sql_stores!`](crate::store::sql_stores) on a SQLite pool.

use sqlx::SqlitePool;

use crate::store::grouped::{Consumes, Grouped, SessionInserts};

crate::store::sql_stores::sql_stores! {
    backend: "SQLite",
    pool: SqlitePool,
    shortcuts: super::Shortcuts = super::Shortcuts::for_pool,
    users: SqliteUserStore,
    keys: SqliteApiKeyStore,
    ledger: SqliteReplayLedger,
    sessions: SqliteSessionStore,
    // One lane each: SQLite has one writer.
    session_shortcuts: Grouped<SessionInserts<SqlitePool>> = |pool| {
        Grouped::new(SessionInserts(pool.clone()), 1)
    },
    ledger_shortcuts: Grouped<Consumes<SqlitePool>> = |pool| Grouped::new(Consumes(pool.clone()), 1),
    // The write lock up front: concurrent rotations queue on busy_timeout instead of
    // failing to upgrade a read transaction.
    begin_write: "BEGIN IMMEDIATE",
    lock_rotation: "",
    key_order: "rowid",
}
