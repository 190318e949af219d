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
    // Ledger entries and sessions written in groups, this many at a time.
    write_lanes: super::LANES,
    begin_write: "BEGIN",
    // Concurrent rotations of one token wait here; the second then sees it rotated.
    lock_rotation: "FOR UPDATE OF t, s",
    // A current token rotated in one statement, sent in groups.
    rotations: super::Rotations = super::Rotations::for_pool,
    key_order: "seq",
}
