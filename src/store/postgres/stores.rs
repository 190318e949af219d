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
    rotate_current: Some(ROTATE_CURRENT),
    key_order: "seq",
}

/// A current token's rotation in one statement (1 round trip where the transaction takes 7):
/// the family's row as the snapshot sees it (`$1`, the presented digest), and `rotated`,
/// true when the token was current and is now rotated away at `$2`, its successor `$3`
/// inserted and the token `$4 + 1` generations back deleted. `locked` takes the same row
/// locks as the transaction's `FOR UPDATE OF t, s`, and only when the token is current: a
/// concurrent presentation of the same token waits, then finds `rotated_at` set and matches
/// nothing; an unknown token takes no lock and writes nothing.
const ROTATE_CURRENT: &str = "WITH family AS (
    SELECT t.session_id, t.rotated_at, s.user_id, s.app_id, s.expires_at, s.revoked_at
    FROM tcx_refresh_tokens t JOIN tcx_sessions s ON s.id = t.session_id
    WHERE t.digest = $1
), locked AS (
    SELECT t.session_id, t.generation
    FROM tcx_refresh_tokens t JOIN tcx_sessions s ON s.id = t.session_id
    WHERE t.digest = $1 AND t.rotated_at IS NULL AND s.revoked_at IS NULL AND s.expires_at >= $2
    FOR UPDATE OF t, s
), rotated AS (
    UPDATE tcx_refresh_tokens t SET rotated_at = $2, grace_used_at = NULL
    FROM locked l WHERE t.digest = $1
    RETURNING l.session_id, l.generation
), added AS (
    INSERT INTO tcx_refresh_tokens (digest, session_id, created_at, generation)
    SELECT $3, r.session_id, $2, r.generation + 1 FROM rotated r
), trimmed AS (
    DELETE FROM tcx_refresh_tokens d USING rotated r
    WHERE d.session_id = r.session_id AND d.generation = r.generation - $4
)
SELECT f.session_id, f.rotated_at, f.user_id, f.app_id, f.expires_at, f.revoked_at,
       EXISTS (SELECT 1 FROM rotated) AS rotated
FROM family f";
