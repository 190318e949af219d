//! The SQL stores of [`sql_stores!`](crate::store::sql_stores) on a SQLite pool.

use sqlx::SqlitePool;

crate::store::sql_stores::sql_stores! {
    backend: "SQLite",
    pool: SqlitePool,
    shortcuts: super::Shortcuts = super::Shortcuts::for_pool,
    users: SqliteUserStore,
    keys: SqliteApiKeyStore,
    ledger: SqliteReplayLedger,
    sessions: SqliteSessionStore,
    // Ledger entries and sessions written in groups, one lane each: SQLite has one writer.
    write_lanes: 1,
    // The write lock up front: concurrent rotations queue on busy_timeout instead of
    // failing to upgrade a read transaction.
    begin_write: "BEGIN IMMEDIATE",
    lock_rotation: "",
    // No data-modifying `WITH` in SQLite: every rotation takes the transaction.
    rotations: () = |_| (),
    key_order: "rowid",
}
