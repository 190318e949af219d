//! One behaviour suite for every store backend: the same test functions run against the
//! in-memory stores, SQLite, PostgreSQL and (for the ledger) Redis, so the backends cannot
//! drift apart. PostgreSQL and Redis need `TCX_TEST_POSTGRES_URL` / `TCX_TEST_REDIS_URL`.

#![allow(missing_debug_implementations)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use techcentrix_auth::store::{
    Consumed, ExternalProfile, ReplayLedger, Rotation, Session, SessionStore, Upserted, UserStore,
};
use techcentrix_auth::{AppId, Jti, KeyDigest, SessionId, UserId};

/// The stores of one backend, and whatever keeps them alive (a temporary directory).
struct Backend {
    users: Arc<dyn UserStore>,
    ledger: Arc<dyn ReplayLedger>,
    sessions: Arc<dyn SessionStore>,
    _keep: Box<dyn std::any::Any + Send>,
}

fn profile(id: &str, email: &str) -> ExternalProfile {
    ExternalProfile::new(id, email, "First")
}

fn session(expires_at: i64) -> Session {
    Session::new(
        SessionId::random(),
        UserId::random(),
        AppId::from("acme"),
        expires_at,
    )
}

fn digest(label: &str) -> KeyDigest {
    KeyDigest::of(format!("{label}-{}", uuid::Uuid::new_v4()).as_bytes())
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

const FAR: i64 = 4_000_000_000;

mod behaviour {
    use super::*;

    pub(crate) async fn upsert_signs_up_then_in(b: Backend) {
        let app = AppId::from("acme");
        let id = unique("user");
        let first = b
            .users
            .upsert_external(&app, &profile(&id, "a@x.io"))
            .await
            .unwrap();
        let Upserted::SignedUp(created) = first else {
            panic!("first call signs up")
        };
        assert_eq!(created.app, app);
        assert_eq!(created.external_id, id);
        let again = b
            .users
            .upsert_external(&app, &profile(&id, "a@x.io"))
            .await
            .unwrap();
        assert_eq!(again, Upserted::SignedIn(created.clone()));
        assert_eq!(b.users.find(&created.id).await.unwrap(), Some(created));
    }

    pub(crate) async fn upsert_updates_a_changed_profile(b: Backend) {
        let app = AppId::from("acme");
        let id = unique("user");
        let created = b
            .users
            .upsert_external(&app, &profile(&id, "a@x.io"))
            .await
            .unwrap()
            .into_user();
        let changed = b
            .users
            .upsert_external(&app, &profile(&id, "b@x.io"))
            .await
            .unwrap();
        let Upserted::SignedIn(changed) = changed else {
            panic!("a known user signs in")
        };
        assert_eq!(changed.id, created.id);
        assert_eq!(changed.email, "b@x.io");
        assert_eq!(
            b.users.find(&created.id).await.unwrap().unwrap().email,
            "b@x.io"
        );
    }

    pub(crate) async fn apps_do_not_share_users(b: Backend) {
        let id = unique("user");
        let a = b
            .users
            .upsert_external(&"a".into(), &profile(&id, "a@x.io"))
            .await
            .unwrap();
        let c = b
            .users
            .upsert_external(&"c".into(), &profile(&id, "a@x.io"))
            .await
            .unwrap();
        assert!(matches!(c, Upserted::SignedUp(_)));
        assert_ne!(a.user().id, c.user().id);
    }

    pub(crate) async fn unknown_user_is_none(b: Backend) {
        assert_eq!(b.users.find(&UserId::random()).await.unwrap(), None);
    }

    pub(crate) async fn concurrent_first_upserts_make_one_user(b: Backend) {
        let app = AppId::from("acme");
        let id = unique("user");
        let calls: Vec<_> = (0..50)
            .map(|_| {
                let (users, app, p) = (b.users.clone(), app.clone(), profile(&id, "a@x.io"));
                tokio::spawn(async move { users.upsert_external(&app, &p).await.unwrap() })
            })
            .collect();
        let mut ids = HashSet::new();
        let mut sign_ups = 0;
        for call in calls {
            let up = call.await.unwrap();
            sign_ups += matches!(up, Upserted::SignedUp(_)) as usize;
            ids.insert(up.into_user().id);
        }
        assert_eq!(ids.len(), 1);
        assert_eq!(sign_ups, 1);
    }

    pub(crate) async fn ledger_accepts_a_jti_once(b: Backend) {
        let jti = Jti::from(unique("jti"));
        assert_eq!(b.ledger.consume(&jti, FAR).await.unwrap(), Consumed::First);
        assert_eq!(
            b.ledger.consume(&jti, FAR).await.unwrap(),
            Consumed::Replayed
        );
        assert_eq!(
            b.ledger
                .consume(&Jti::from(unique("jti")), FAR)
                .await
                .unwrap(),
            Consumed::First
        );
    }

    pub(crate) async fn ledger_concurrent_consumes_have_one_first(b: Backend) {
        let jti = Jti::from(unique("jti"));
        let calls: Vec<_> = (0..50)
            .map(|_| {
                let (ledger, jti) = (b.ledger.clone(), jti.clone());
                tokio::spawn(async move { ledger.consume(&jti, FAR).await.unwrap() })
            })
            .collect();
        let mut firsts = 0;
        for call in calls {
            firsts += (call.await.unwrap() == Consumed::First) as usize;
        }
        assert_eq!(firsts, 1);
    }

    pub(crate) async fn sessions_rotate_and_detect_reuse(b: Backend) {
        let s = session(FAR);
        let (t1, t2, t3) = (digest("t1"), digest("t2"), digest("t3"));
        b.sessions.create(&s, &t1).await.unwrap();
        assert_eq!(
            b.sessions.rotate(&t1, &t2, 1, 0).await.unwrap(),
            Rotation::Rotated(s.clone())
        );
        assert_eq!(
            b.sessions.rotate(&t2, &t3, 2, 0).await.unwrap(),
            Rotation::Rotated(s.clone())
        );
        // t1 and t2 are rotated: presenting one revokes the family, t3 included.
        assert_eq!(
            b.sessions.rotate(&t1, &digest("x"), 3, 0).await.unwrap(),
            Rotation::Reused(s)
        );
        assert_eq!(
            b.sessions.rotate(&t3, &digest("y"), 4, 0).await.unwrap(),
            Rotation::Invalid
        );
    }

    /// A long-lived family keeps a bounded history: a token far older than the last
    /// `ROTATED_TOKENS_KEPT` rotations is unknown (401, the family lives on); a recent
    /// rotated one is still reuse.
    pub(crate) async fn rotation_history_is_bounded(b: Backend) {
        use techcentrix_auth::store::ROTATED_TOKENS_KEPT;
        let s = session(FAR);
        let tokens: Vec<KeyDigest> = (0..=3 * ROTATED_TOKENS_KEPT)
            .map(|i| digest(&format!("g{i}")))
            .collect();
        b.sessions.create(&s, &tokens[0]).await.unwrap();
        for pair in tokens.windows(2) {
            assert_eq!(
                b.sessions.rotate(&pair[0], &pair[1], 1, 0).await.unwrap(),
                Rotation::Rotated(s.clone())
            );
        }
        assert_eq!(
            b.sessions
                .rotate(&tokens[0], &digest("x"), 2, 0)
                .await
                .unwrap(),
            Rotation::Invalid,
            "a forgotten token is unknown, not reuse"
        );
        let current = tokens.last().unwrap();
        let next = digest("next");
        assert_eq!(
            b.sessions.rotate(current, &next, 3, 0).await.unwrap(),
            Rotation::Rotated(s.clone())
        );
        let recent = &tokens[tokens.len() - 3];
        assert_eq!(
            b.sessions.rotate(recent, &digest("y"), 4, 0).await.unwrap(),
            Rotation::Reused(s)
        );
        assert_eq!(
            b.sessions.rotate(&next, &digest("z"), 5, 0).await.unwrap(),
            Rotation::Invalid
        );
    }

    /// Within the reuse interval the token rotated last is accepted once more (its lost
    /// successor is rotated away); a second retry, an older token, or a retry after the
    /// interval is reuse.
    pub(crate) async fn the_reuse_interval_accepts_one_retry(b: Backend) {
        let s = session(FAR);
        let (t1, t2, t3, t4) = (digest("t1"), digest("t2"), digest("t3"), digest("t4"));
        b.sessions.create(&s, &t1).await.unwrap();
        assert_eq!(
            b.sessions.rotate(&t1, &t2, 100, 10).await.unwrap(),
            Rotation::Rotated(s.clone())
        );
        // t2's answer was lost: the client retries t1 within 10 s.
        assert_eq!(
            b.sessions.rotate(&t1, &t3, 110, 10).await.unwrap(),
            Rotation::Rotated(s.clone())
        );
        // t3 is current; t1 a second time is reuse.
        assert_eq!(
            b.sessions.rotate(&t1, &t4, 111, 10).await.unwrap(),
            Rotation::Reused(s.clone())
        );

        // After the interval, or with the interval off, a retry is reuse.
        for (when, interval) in [(111, 10), (101, 0)] {
            let s = session(FAR);
            let (t1, t2) = (digest("t1"), digest("t2"));
            b.sessions.create(&s, &t1).await.unwrap();
            b.sessions.rotate(&t1, &t2, 100, interval).await.unwrap();
            assert_eq!(
                b.sessions
                    .rotate(&t1, &digest("t3"), when, interval)
                    .await
                    .unwrap(),
                Rotation::Reused(s),
                "at {when} with interval {interval}"
            );
        }

        // The lost successor, presented after a grace retry, is reuse: it was rotated away.
        let s = session(FAR);
        let (t1, t2, t3) = (digest("t1"), digest("t2"), digest("t3"));
        b.sessions.create(&s, &t1).await.unwrap();
        b.sessions.rotate(&t1, &t2, 100, 10).await.unwrap();
        b.sessions.rotate(&t1, &t3, 101, 10).await.unwrap();
        assert_eq!(
            b.sessions
                .rotate(&t2, &digest("t4"), 102, 10)
                .await
                .unwrap(),
            Rotation::Reused(s)
        );

        // Only the token rotated last: an older one is reuse even within the interval.
        let s = session(FAR);
        let (t1, t2, t3) = (digest("t1"), digest("t2"), digest("t3"));
        b.sessions.create(&s, &t1).await.unwrap();
        b.sessions.rotate(&t1, &t2, 100, 10).await.unwrap();
        b.sessions.rotate(&t2, &t3, 101, 10).await.unwrap();
        assert_eq!(
            b.sessions
                .rotate(&t1, &digest("t4"), 102, 10)
                .await
                .unwrap(),
            Rotation::Reused(s)
        );
    }

    fn session_of(user: &UserId, expires_at: i64) -> Session {
        let mut session = session(expires_at);
        session.user = user.clone();
        session
    }

    /// Sign out everywhere revokes every live session of one user and no other's; the
    /// list shows a user's live sessions only.
    pub(crate) async fn sign_out_everywhere_and_list(b: Backend) {
        let (alice, bob) = (UserId::random(), UserId::random());
        let (a1, a2, old, b1) = (
            session_of(&alice, FAR),
            session_of(&alice, FAR),
            session_of(&alice, 10),
            session_of(&bob, FAR),
        );
        let tokens: Vec<KeyDigest> = (0..4).map(|i| digest(&format!("t{i}"))).collect();
        for (s, t) in [
            (&a1, &tokens[0]),
            (&a2, &tokens[1]),
            (&old, &tokens[2]),
            (&b1, &tokens[3]),
        ] {
            b.sessions.create(s, t).await.unwrap();
        }
        let ids = |sessions: Vec<Session>| -> HashSet<String> {
            sessions.into_iter().map(|s| s.id.to_string()).collect()
        };
        let listed = ids(b.sessions.list_user(&alice, 100).await.unwrap());
        let expected: HashSet<String> = [a1.id.to_string(), a2.id.to_string()].into();
        assert_eq!(
            listed, expected,
            "live sessions only: the expired one is not listed"
        );

        // The two live ones, and the expired one housekeeping has not deleted yet.
        assert_eq!(b.sessions.revoke_user(&alice).await.unwrap(), 3);
        assert_eq!(b.sessions.revoke_user(&alice).await.unwrap(), 0);
        assert!(b.sessions.list_user(&alice, 100).await.unwrap().is_empty());
        for token in &tokens[..2] {
            assert_eq!(
                b.sessions
                    .rotate(token, &digest("n"), 100, 0)
                    .await
                    .unwrap(),
                Rotation::Invalid
            );
        }
        assert_eq!(
            b.sessions
                .rotate(&tokens[3], &digest("n"), 100, 0)
                .await
                .unwrap(),
            Rotation::Rotated(b1.clone())
        );
        assert_eq!(b.sessions.list_user(&bob, 100).await.unwrap(), vec![b1]);
    }

    /// Deleting a user's sessions removes them and their tokens, live or not; others stay.
    pub(crate) async fn a_users_sessions_are_deleted(b: Backend) {
        let (alice, bob) = (UserId::random(), UserId::random());
        let (a1, a2, b1) = (
            session_of(&alice, FAR),
            session_of(&alice, FAR),
            session_of(&bob, FAR),
        );
        let (ta1, ta2, tb1) = (digest("a1"), digest("a2"), digest("b1"));
        b.sessions.create(&a1, &ta1).await.unwrap();
        b.sessions.create(&a2, &ta2).await.unwrap();
        b.sessions.create(&b1, &tb1).await.unwrap();
        b.sessions
            .rotate(&ta1, &digest("a1-next"), 1, 0)
            .await
            .unwrap();
        b.sessions.revoke(&a2.id).await.unwrap();
        assert_eq!(b.sessions.delete_user(&alice).await.unwrap(), 2);
        assert_eq!(b.sessions.delete_user(&alice).await.unwrap(), 0);
        assert!(!b.sessions.revoke_by_token(&ta1).await.unwrap());
        assert_eq!(
            b.sessions.rotate(&ta1, &digest("n"), 2, 0).await.unwrap(),
            Rotation::Invalid,
            "a deleted session's rotated token is unknown, not reuse"
        );
        // The id is free again, as after any deletion.
        b.sessions.create(&a1, &digest("again")).await.unwrap();
        assert_eq!(
            b.sessions.rotate(&tb1, &digest("n"), 2, 0).await.unwrap(),
            Rotation::Rotated(b1)
        );
    }

    /// Erasing users: gone by id and by `(app, external id)` (a new sign-up follows), the
    /// others untouched, among many (so that stores that move records around are tried).
    pub(crate) async fn users_are_erased(b: Backend) {
        let app = AppId::from("acme");
        let prefix = unique("erase");
        let mut users = Vec::new();
        for i in 0..300 {
            let up = b
                .users
                .upsert_external(&app, &profile(&format!("{prefix}-{i}"), "e@x.io"))
                .await
                .unwrap();
            users.push(up.into_user());
        }
        for user in users.iter().step_by(3) {
            assert!(b.users.erase(&user.id).await.unwrap());
            assert!(!b.users.erase(&user.id).await.unwrap());
        }
        assert!(!b.users.erase(&UserId::random()).await.unwrap());
        for (i, user) in users.iter().enumerate() {
            let found = b.users.find(&user.id).await.unwrap();
            let again = b
                .users
                .upsert_external(&app, &profile(&user.external_id, "e@x.io"))
                .await
                .unwrap();
            if i % 3 == 0 {
                assert_eq!(found, None, "{i}");
                assert!(
                    matches!(&again, Upserted::SignedUp(u) if u.id != user.id),
                    "{i}"
                );
            } else {
                assert_eq!(found.as_ref(), Some(user), "{i}");
                assert_eq!(again, Upserted::SignedIn(user.clone()), "{i}");
            }
        }
    }

    pub(crate) async fn sessions_are_independent(b: Backend) {
        let (a, c) = (session(FAR), session(FAR));
        let (ta, tc) = (digest("a"), digest("c"));
        b.sessions.create(&a, &ta).await.unwrap();
        b.sessions.create(&c, &tc).await.unwrap();
        assert!(b.sessions.revoke(&a.id).await.unwrap());
        assert!(!b.sessions.revoke(&a.id).await.unwrap(), "revoking twice");
        assert_eq!(
            b.sessions.rotate(&ta, &digest("n"), 1, 0).await.unwrap(),
            Rotation::Invalid
        );
        assert!(matches!(
            b.sessions.rotate(&tc, &digest("m"), 1, 0).await.unwrap(),
            Rotation::Rotated(_)
        ));
    }

    pub(crate) async fn sessions_expire(b: Backend) {
        let s = session(1_000);
        let t = digest("t");
        b.sessions.create(&s, &t).await.unwrap();
        assert_eq!(
            b.sessions.rotate(&t, &digest("n"), 1_001, 0).await.unwrap(),
            Rotation::Invalid
        );
    }

    pub(crate) async fn sessions_revoke_by_token(b: Backend) {
        let s = session(FAR);
        let (t1, t2) = (digest("t1"), digest("t2"));
        b.sessions.create(&s, &t1).await.unwrap();
        b.sessions.rotate(&t1, &t2, 1, 0).await.unwrap();
        // By a rotated token too.
        assert!(b.sessions.revoke_by_token(&t1).await.unwrap());
        assert!(
            !b.sessions.revoke_by_token(&t2).await.unwrap(),
            "already revoked"
        );
        assert!(
            !b.sessions
                .revoke_by_token(&digest("unknown"))
                .await
                .unwrap()
        );
        assert_eq!(
            b.sessions.rotate(&t2, &digest("n"), 2, 0).await.unwrap(),
            Rotation::Invalid
        );
    }

    pub(crate) async fn unknown_refresh_token_is_invalid(b: Backend) {
        assert_eq!(
            b.sessions
                .rotate(&digest("nope"), &digest("n"), 1, 0)
                .await
                .unwrap(),
            Rotation::Invalid
        );
    }

    pub(crate) async fn a_session_id_in_use_is_refused(b: Backend) {
        let s = session(FAR);
        let (first, second) = (digest("first"), digest("second"));
        b.sessions.create(&s, &first).await.unwrap();
        assert!(b.sessions.create(&s, &second).await.is_err());
        assert_eq!(
            b.sessions
                .rotate(&second, &digest("n"), 1, 0)
                .await
                .unwrap(),
            Rotation::Invalid,
            "the refused creation left nothing behind"
        );
        assert_eq!(
            b.sessions.rotate(&first, &digest("m"), 1, 0).await.unwrap(),
            Rotation::Rotated(s),
            "the first family is untouched"
        );
    }

    pub(crate) async fn concurrent_rotations_rotate_once(b: Backend) {
        let s = session(FAR);
        let t = digest("t");
        b.sessions.create(&s, &t).await.unwrap();
        let calls: Vec<_> = (0..20)
            .map(|i| {
                let (sessions, t) = (b.sessions.clone(), t);
                tokio::spawn(async move {
                    sessions
                        .rotate(&t, &digest(&format!("n{i}")), 1, 0)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut rotated = 0;
        for call in calls {
            rotated += matches!(call.await.unwrap(), Rotation::Rotated(_)) as usize;
        }
        assert_eq!(rotated, 1);
    }
}

/// One test per behaviour for a backend made by `$make` (an async expression giving
/// `Option<Backend>`: `None` when its service is not configured). `ledger_only` runs just
/// the ledger behaviours (a backend that only has a ledger).
macro_rules! suite {
    ($backend:ident, $make:expr, ledger_only) => {
        mod $backend {
            use super::*;
            suite!(@tests $make;
                ledger_accepts_a_jti_once,
                ledger_concurrent_consumes_have_one_first,
            );
        }
    };
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;
            suite!(@tests $make;
                upsert_signs_up_then_in,
                upsert_updates_a_changed_profile,
                apps_do_not_share_users,
                unknown_user_is_none,
                concurrent_first_upserts_make_one_user,
                ledger_accepts_a_jti_once,
                ledger_concurrent_consumes_have_one_first,
                sessions_rotate_and_detect_reuse,
                rotation_history_is_bounded,
                the_reuse_interval_accepts_one_retry,
                sign_out_everywhere_and_list,
                a_users_sessions_are_deleted,
                users_are_erased,
                sessions_are_independent,
                sessions_expire,
                sessions_revoke_by_token,
                unknown_refresh_token_is_invalid,
                a_session_id_in_use_is_refused,
                concurrent_rotations_rotate_once,
            );
        }
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(backend) = $make.await {
                    behaviour::$name(backend).await;
                }
            }
        )*
    };
}

async fn memory() -> Option<Backend> {
    use techcentrix_auth::{MemoryReplayLedger, MemorySessionStore, MemoryUserStore};
    Some(Backend {
        users: Arc::new(MemoryUserStore::new()),
        ledger: Arc::new(MemoryReplayLedger::new()),
        sessions: Arc::new(MemorySessionStore::new()),
        _keep: Box::new(()),
    })
}

#[cfg(feature = "sqlite")]
async fn sqlite() -> Option<Backend> {
    use techcentrix_auth::store::sqlite::{
        self, SqliteReplayLedger, SqliteSessionStore, SqliteUserStore,
    };
    let dir = tempfile::tempdir().unwrap();
    let pool = sqlite::open(dir.path().join("suite.db")).await.unwrap();
    Some(Backend {
        users: Arc::new(SqliteUserStore::new(pool.clone())),
        ledger: Arc::new(SqliteReplayLedger::new(pool.clone())),
        sessions: Arc::new(SqliteSessionStore::new(pool)),
        _keep: Box::new(dir),
    })
}

#[cfg(feature = "postgres")]
async fn postgres() -> Option<Backend> {
    use techcentrix_auth::store::postgres::{
        self, PostgresReplayLedger, PostgresSessionStore, PostgresUserStore,
    };
    let schema = common::services::PgSchema::new()?;
    let pool = postgres::connect(&schema.options()).await.unwrap();
    Some(Backend {
        users: Arc::new(PostgresUserStore::new(pool.clone())),
        ledger: Arc::new(PostgresReplayLedger::new(pool.clone())),
        sessions: Arc::new(PostgresSessionStore::new(pool)),
        _keep: Box::new(schema),
    })
}

#[cfg(feature = "redis")]
async fn redis() -> Option<Backend> {
    use techcentrix_auth::store::redis::{RedisOptions, RedisReplayLedger};
    let prefix = common::services::RedisPrefix::new()?;
    let connection = RedisOptions::new(&prefix.url).connect().await.unwrap();
    let mut backend = memory().await?;
    backend.ledger = Arc::new(RedisReplayLedger::new(connection, prefix.prefix.clone()));
    backend._keep = Box::new(prefix);
    Some(backend)
}

suite!(memory_backend, memory());
#[cfg(feature = "sqlite")]
suite!(sqlite_backend, sqlite());
#[cfg(feature = "postgres")]
suite!(postgres_backend, postgres());
#[cfg(feature = "redis")]
suite!(redis_backend, redis(), ledger_only);
