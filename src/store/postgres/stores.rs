//! The SQL stores of [`sql_stores!`](crate::store::sql_stores) on a PostgreSQL pool.

use sqlx::PgPool;

crate::store::sql_stores::sql_stores! {
    backend: "PostgreSQL",
    pool: PgPool,
    shortcuts: super::Shortcuts = super::Shortcuts::for_pool,
    users: PostgresUserStore,
    keys: PostgresApiKeyStore,
    ledger: PostgresReplayLedger,
    sessions: PostgresSessionStore,
    session_shortcuts: super::SessionShortcuts = super::SessionShortcuts::for_pool,
    begin_write: "BEGIN",
    // Concurrent rotations of one token wait here; the second then sees it rotated.
    lock_rotation: "FOR UPDATE OF t, s",
    key_order: "seq",
}
