//! The SQL stores of [`sql_stores!`](crate::store::sql_stores) on a PostgreSQL pool.

use sqlx::PgPool;

use crate::store::grouped::{Consumes, Grouped, SessionInserts};

crate::store::sql_stores::sql_stores! {
    backend: "PostgreSQL",
    pool: PgPool,
    shortcuts: super::Shortcuts = super::Shortcuts::for_pool,
    users: PostgresUserStore,
    keys: PostgresApiKeyStore,
    ledger: PostgresReplayLedger,
    sessions: PostgresSessionStore,
    session_shortcuts: Grouped<SessionInserts<PgPool>> = |pool| {
        Grouped::new(SessionInserts(pool.clone()), super::LANES)
    },
    ledger_shortcuts: Grouped<Consumes<PgPool>> = |pool| Grouped::new(Consumes(pool.clone()), super::LANES),
    begin_write: "BEGIN",
    // Concurrent rotations of one token wait here; the second then sees it rotated.
    lock_rotation: "FOR UPDATE OF t, s",
    key_order: "seq",
}
