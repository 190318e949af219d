//! A redeemed oneTimeToken is refused at every instant until verification itself refuses it,
//! on every replay ledger (memory, SQLite, PostgreSQL, Redis): across the last (sub-)second
//! of `exp + leeway`, with the ledger's host clock running 5 s ahead of the app's, and
//! however long the redemption stalls between verifying the token and consuming its `jti`.
//!
//! "The ledger's clock runs 5 s ahead" is simulated by a task that, all along, makes the
//! ledger forget what a ledger reading that clock would have forgotten.

#![allow(missing_debug_implementations)]

mod common;

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use common::*;
use techcentrix_auth::store::{ExternalProfile, ReplayLedger, Upserted, User, UserStore};
use techcentrix_auth::token::SigningKeys;
use techcentrix_auth::{
    AppId, AuthConfig, JwtSecret, MemoryReplayLedger, MemoryUserStore, StoreError, TechCentrixAuth,
    UserId,
};

type Forget = Arc<dyn Fn(u64) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A ledger, and how to make it forget what a ledger whose clock reads `t` would forget.
struct Ledger {
    ledger: Arc<dyn ReplayLedger>,
    forget_as_of: Forget,
    _keep: Box<dyn Any + Send + Sync>,
}

/// The skew the SPEC tolerates between the app hosts and the ledger's host.
const SKEW: u64 = 5;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A user store whose `exists` (the call between verification and consumption) stalls for
/// the set number of milliseconds.
#[derive(Default)]
struct StallingUsers {
    inner: MemoryUserStore,
    stall_ms: AtomicU64,
}

#[async_trait]
impl UserStore for StallingUsers {
    async fn upsert_external(
        &self,
        app: &AppId,
        profile: &ExternalProfile,
    ) -> Result<Upserted, StoreError> {
        self.inner.upsert_external(app, profile).await
    }

    async fn find(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.inner.find(id).await
    }

    async fn erase(&self, id: &UserId) -> Result<bool, StoreError> {
        self.inner.erase(id).await
    }

    async fn exists(&self, id: &UserId) -> Result<bool, StoreError> {
        let stall = self.stall_ms.load(Ordering::SeqCst);
        if stall > 0 {
            tokio::time::sleep(Duration::from_millis(stall)).await;
        }
        self.inner.exists(id).await
    }
}

struct Setup {
    auth: TechCentrixAuth,
    users: Arc<StallingUsers>,
    _ledger: Ledger,
    _clock: tokio::task::JoinHandle<()>,
}

fn setup(ledger: Ledger, leeway: u64) -> Setup {
    let users = Arc::new(StallingUsers::default());
    let config = AuthConfig::default()
        .with_leeway(Duration::from_secs(leeway))
        .with_one_time_token_ttl(Duration::from_secs(1))
        .with_store_timeout(Duration::from_secs(60));
    let auth = TechCentrixAuth::builder()
        .api_keys(keys())
        .user_store(users.clone())
        .replay_ledger(ledger.ledger.clone())
        .signing_keys(SigningKeys::hs512(JwtSecret::new(SECRET.to_vec()).unwrap()))
        .config(config)
        .build()
        .unwrap();
    // The ledger's host clock runs SKEW seconds ahead: it forgets accordingly, all along.
    let forget = ledger.forget_as_of.clone();
    let clock = tokio::spawn(async move {
        loop {
            forget(now_secs() + SKEW).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    Setup {
        auth,
        users,
        _ledger: ledger,
        _clock: clock,
    }
}

/// A fresh one-second token (a new user each time) and its `exp`.
async fn fresh_token(auth: &TechCentrixAuth) -> (String, u64) {
    let body = serde_json::json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "email": "a@b.io",
        "firstName": "A",
    })
    .to_string();
    let answer = call(auth, guide_request(KEY, &body)).await;
    let exp = answer.claims()["exp"].as_u64().unwrap();
    (answer.text().to_owned(), exp)
}

/// Redeems once, then replays until one second past the last instant verification accepts
/// the token (`exp + leeway` in whole seconds): no replay may succeed.
async fn replays_across_the_boundary(ledger: Ledger, leeway: u64) {
    let setup = setup(ledger, leeway);
    let (token, exp) = fresh_token(&setup.auth).await;
    let first = call(&setup.auth, redeem_request("acme", &token)).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let stop = (exp + leeway + 2) * 1000;
    let mut replays = 0;
    while now_millis() < stop {
        let again = call(&setup.auth, redeem_request("acme", &token)).await;
        assert_eq!(
            again.status,
            401,
            "replay accepted at {} ms past exp (leeway {leeway})",
            now_millis() as i64 - (exp * 1000) as i64
        );
        replays += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(replays > 20, "{replays}");
}

/// Redeems once, then replays with the user store stalling between verification and
/// consumption until `stall_past` seconds after `exp + leeway`.
async fn a_stalled_replay_is_refused(ledger: Ledger, leeway: u64, stall_past: u64) {
    let setup = setup(ledger, leeway);
    let (token, exp) = fresh_token(&setup.auth).await;
    let first = call(&setup.auth, redeem_request("acme", &token)).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let resume = (exp + leeway + stall_past) * 1000 + 100;
    setup
        .users
        .stall_ms
        .store(resume.saturating_sub(now_millis()), Ordering::SeqCst);
    let again = call(&setup.auth, redeem_request("acme", &token)).await;
    assert_eq!(again.status, 401, "{}", again.text());
    assert!(now_millis() >= resume, "the replay did stall");
}

/// A token whose redemption stalls past its expiry is refused even on its first use (the
/// ledger may have forgotten it by then, so it cannot be told from a replay).
async fn a_first_use_that_stalls_past_expiry_is_refused(ledger: Ledger) {
    let setup = setup(ledger, 0);
    let (token, exp) = fresh_token(&setup.auth).await;
    let resume = (exp + 1) * 1000 + 100;
    setup
        .users
        .stall_ms
        .store(resume.saturating_sub(now_millis()), Ordering::SeqCst);
    let late = call(&setup.auth, redeem_request("acme", &token)).await;
    late.assert_error(401, 5);
}

/// A ledger that forgets through its own purge: what it holds past `expires_at < t` goes.
fn purging(ledger: Arc<dyn ReplayLedger>, keep: Box<dyn Any + Send + Sync>) -> Ledger {
    let forgetting = ledger.clone();
    Ledger {
        ledger,
        forget_as_of: Arc::new(move |t| {
            let ledger = forgetting.clone();
            Box::pin(async move {
                ledger.purge_expired(t as i64, usize::MAX).await.unwrap();
            })
        }),
        _keep: keep,
    }
}

fn memory() -> Option<Ledger> {
    Some(purging(Arc::new(MemoryReplayLedger::new()), Box::new(())))
}

#[cfg(feature = "sqlite")]
async fn sqlite() -> Option<Ledger> {
    use techcentrix_auth::store::sqlite::{self, SqliteReplayLedger};
    let dir = tempfile::tempdir().unwrap();
    let pool = sqlite::open(dir.path().join("ledger.db")).await.unwrap();
    Some(purging(
        Arc::new(SqliteReplayLedger::new(pool)),
        Box::new(dir),
    ))
}

#[cfg(feature = "postgres")]
async fn postgres() -> Option<Ledger> {
    use techcentrix_auth::store::postgres::{self, PostgresReplayLedger};
    let schema = common::services::PgSchema::new()?;
    let pool = postgres::connect(&schema.options()).await.unwrap();
    Some(purging(
        Arc::new(PostgresReplayLedger::new(pool)),
        Box::new(schema),
    ))
}

/// Redis forgets a key at its `EXAT`; a Redis whose clock reads `t` has forgotten every
/// key whose expiry time is at or before `t`.
#[cfg(feature = "redis")]
async fn redis() -> Option<Ledger> {
    use techcentrix_auth::store::redis::{RedisOptions, RedisReplayLedger};
    let prefix = common::services::RedisPrefix::new()?;
    let connection = RedisOptions::new(&prefix.url).connect().await.unwrap();
    let ledger = Arc::new(RedisReplayLedger::new(
        connection.clone(),
        prefix.prefix.clone(),
    ));
    let pattern = format!("{}jti:*", prefix.prefix);
    Some(Ledger {
        ledger,
        forget_as_of: Arc::new(move |t| {
            let mut connection = connection.clone();
            let pattern = pattern.clone();
            Box::pin(async move {
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(&pattern)
                    .query_async(&mut connection)
                    .await
                    .unwrap();
                for key in keys {
                    let expires_ms: i64 = redis::cmd("PEXPIRETIME")
                        .arg(&key)
                        .query_async(&mut connection)
                        .await
                        .unwrap();
                    if expires_ms >= 0 && expires_ms as u64 <= t * 1000 {
                        let _: i64 = redis::cmd("DEL")
                            .arg(&key)
                            .query_async(&mut connection)
                            .await
                            .unwrap();
                    }
                }
            })
        }),
        _keep: Box::new(prefix),
    })
}

/// Every scenario against one kind of ledger, run concurrently (each waits on the clock).
/// A failing scenario names itself in its panic message.
macro_rules! ledger_tests {
    ($name:ident, $make:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let Some(_) = $make else { return };
            tokio::join!(
                async { replays_across_the_boundary($make.unwrap(), 0).await },
                async { replays_across_the_boundary($make.unwrap(), 5).await },
                // Stalled past exp: the ledger still holds the jti.
                async { a_stalled_replay_is_refused($make.unwrap(), 0, 2).await },
                // Stalled past exp + leeway + the skew allowance: the ledger may have forgotten.
                async { a_stalled_replay_is_refused($make.unwrap(), 0, SKEW + 3).await },
                async { a_first_use_that_stalls_past_expiry_is_refused($make.unwrap()).await },
            );
        }
    };
}

ledger_tests!(memory_ledger, memory());
#[cfg(feature = "sqlite")]
ledger_tests!(sqlite_ledger, sqlite().await);
#[cfg(feature = "postgres")]
ledger_tests!(postgres_ledger, postgres().await);
#[cfg(feature = "redis")]
ledger_tests!(redis_ledger, redis().await);
