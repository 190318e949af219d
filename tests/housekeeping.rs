//! Expiry purges run outside requests, in bounded batches: with a backlog of a million
//! expired ledger rows and thousands of expired sessions, requests neither purge nor wait
//! for a purge (they answer 200 while it runs), and `purge_expired` clears the backlog.
#![cfg(any(feature = "sqlite", feature = "postgres"))]

mod common;

use std::time::{Duration, Instant};

use common::*;
use techcentrix_auth::token::SigningKeys;
use techcentrix_auth::{
    AuthConfig, JwtSecret, ReplayLedger, SessionStore, TechCentrixAuth, UserStore,
};

const EXPIRED_JTIS: i64 = 1_000_000;
const EXPIRED_SESSIONS: i64 = 20_000;

fn auth(
    users: impl UserStore,
    ledger: impl ReplayLedger,
    sessions: impl SessionStore,
) -> TechCentrixAuth {
    TechCentrixAuth::builder()
        .api_keys(keys())
        .user_store(users)
        .replay_ledger(ledger)
        .session_store(sessions)
        .signing_keys(SigningKeys::hs512(JwtSecret::new(SECRET.to_vec()).unwrap()))
        .config(AuthConfig::default())
        .build()
        .unwrap()
}

/// The guide's flow up to a session, timed: it must never wait for a purge.
async fn flow(auth: &TechCentrixAuth, n: usize) -> Duration {
    let started = Instant::now();
    let body = serde_json::json!({"id": format!("hk-{n}"), "email": "a@b.io", "firstName": "A"});
    let token = call(auth, guide_request(KEY, &body.to_string())).await;
    assert_eq!(token.status, 200, "{}", token.text());
    let session = call(auth, redeem_request("acme", token.text())).await;
    assert_eq!(session.status, 200, "{}", session.text());
    started.elapsed()
}

/// Requests with the backlog in place purge nothing; a purge pass running beside requests
/// slows none of them near the store timeout; afterwards no expired row is left and live rows stay.
async fn backlog_is_cleared_outside_requests<F, Fut>(auth: TechCentrixAuth, count: F)
where
    F: Fn(&'static str) -> Fut,
    Fut: std::future::Future<Output = i64>,
{
    let expired_jtis = "SELECT COUNT(*) FROM tcx_replay WHERE expires_at < 100";
    let expired_sessions = "SELECT COUNT(*) FROM tcx_sessions WHERE expires_at < 100";
    for n in 0..5 {
        flow(&auth, n).await;
    }
    assert_eq!(count(expired_jtis).await, EXPIRED_JTIS, "a request purged");
    assert_eq!(
        count(expired_sessions).await,
        EXPIRED_SESSIONS,
        "a request purged"
    );

    let purging = {
        let auth = auth.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let purged = auth.purge_expired(5_000).await.unwrap();
            (purged, started.elapsed())
        })
    };
    let mut slowest = Duration::ZERO;
    let mut flows = 0;
    while !purging.is_finished() {
        slowest = slowest.max(flow(&auth, 100 + flows).await);
        flows += 1;
    }
    let (purged, took) = purging.await.unwrap();
    eprintln!("purged {purged} in {took:?}; {flows} flows meanwhile, the slowest {slowest:?}");
    assert_eq!(purged as i64, EXPIRED_JTIS + EXPIRED_SESSIONS);
    assert!(flows > 0);
    // Well inside the store timeout (3 s): no request waits into a 503.
    assert!(slowest < Duration::from_secs(2), "{slowest:?}");
    assert_eq!(count(expired_jtis).await, 0);
    assert_eq!(count(expired_sessions).await, 0);
    assert_eq!(
        count("SELECT COUNT(*) FROM tcx_replay").await,
        5 + flows as i64,
        "live entries stay"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM tcx_refresh_tokens WHERE session_id LIKE 'old-%'").await,
        0,
        "the expired sessions' tokens went with them"
    );
    assert_eq!(auth.purge_expired(5_000).await.unwrap(), 0);
}

/// The stores of one SQL backend on `pool`, its backlog cleared outside requests.
macro_rules! clear_backlog {
    ($pool:expr, $users:ident, $ledger:ident, $sessions:ident) => {{
        let pool = $pool;
        let auth = auth(
            $users::new(pool.clone()),
            $ledger::new(pool.clone()),
            $sessions::new(pool.clone()),
        );
        backlog_is_cleared_outside_requests(auth, |sql| {
            let pool = pool.clone();
            async move { sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap() }
        })
        .await;
    }};
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backlog_of_a_million_expired_rows() {
    use techcentrix_auth::store::sqlite::{
        self, SqliteReplayLedger, SqliteSessionStore, SqliteUserStore,
    };
    let dir = tempfile::tempdir().unwrap();
    let pool = sqlite::open(dir.path().join("backlog.db")).await.unwrap();
    sqlx::raw_sql(&format!(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {EXPIRED_JTIS})
         INSERT INTO tcx_replay (jti, expires_at) SELECT 'old-' || x, 1 + x % 50 FROM n;
         WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {EXPIRED_SESSIONS})
         INSERT INTO tcx_sessions (id, user_id, app_id, created_at, expires_at)
             SELECT 'old-' || x, 'u', 'acme', 0, 1 + x % 50 FROM n;
         INSERT INTO tcx_refresh_tokens (digest, session_id, created_at)
             SELECT CAST(id AS BLOB), id, 0 FROM tcx_sessions WHERE id LIKE 'old-%';"
    ))
    .execute(&pool)
    .await
    .unwrap();
    clear_backlog!(
        pool,
        SqliteUserStore,
        SqliteReplayLedger,
        SqliteSessionStore
    );
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backlog_of_a_million_expired_rows() {
    use techcentrix_auth::store::postgres::{
        self, PostgresReplayLedger, PostgresSessionStore, PostgresUserStore,
    };
    let Some(schema) = common::services::PgSchema::new() else {
        return;
    };
    let pool = postgres::connect(&schema.options()).await.unwrap();
    sqlx::raw_sql(&format!(
        "INSERT INTO tcx_replay (jti, expires_at)
             SELECT 'old-' || x, 1 + x % 50 FROM generate_series(1, {EXPIRED_JTIS}) x;
         INSERT INTO tcx_sessions (id, user_id, app_id, created_at, expires_at)
             SELECT 'old-' || x, 'u', 'acme', 0, 1 + x % 50 FROM generate_series(1, {EXPIRED_SESSIONS}) x;
         INSERT INTO tcx_refresh_tokens (digest, session_id, created_at)
             SELECT convert_to(id, 'UTF8'), id, 0 FROM tcx_sessions WHERE id LIKE 'old-%';"
    ))
    .execute(&pool)
    .await
    .unwrap();
    clear_backlog!(
        pool,
        PostgresUserStore,
        PostgresReplayLedger,
        PostgresSessionStore
    );
}
