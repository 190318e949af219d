//! One behaviour suite for every store backend: the same test functions run against the
//! in-memory stores, SQLite, PostgreSQL and Redis, so the backends cannot drift apart.
//! Each backend has some of the parts (user store, replay ledger, session store, API key
//! validator, key admin, rate limiter); the suite runs every behaviour of each part it has,
//! and checks that it runs every part the backend has. PostgreSQL and Redis need
//! `TCX_TEST_POSTGRES_URL` / `TCX_TEST_REDIS_URL`.

#![allow(missing_debug_implementations)]

mod common;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use techcentrix_auth::rate_limit::{RateDecision, RateLimiter};
use techcentrix_auth::store::{
    ApiKeyAdmin, CachedApiKeyValidator, Consumed, ExternalProfile, ReplayLedger, Rotation, Session,
    SessionStore, StoredKey, Upserted, UserStore,
};
use techcentrix_auth::{
    ApiKey, ApiKeyValidator, AppId, ChainedApiKeyValidator, Jti, KeyDigest, KeyId,
    MemoryApiKeyValidator, SessionId, StoreError, UserId,
};

/// The parts one backend has, and whatever keeps them alive (a temporary directory, a
/// schema, a key prefix). A behaviour asks for the part it tests, and fails when the backend
/// lacks it: the suite never passes a backend on behaviours it cannot run.
#[derive(Default)]
struct Backend {
    users: Option<Arc<dyn UserStore>>,
    ledger: Option<Arc<dyn ReplayLedger>>,
    sessions: Option<Arc<dyn SessionStore>>,
    keys: Option<Keys>,
    admin: Option<Arc<dyn ApiKeyAdmin>>,
    limiter: Option<MakeLimiter>,
    _keep: Option<Box<dyn std::any::Any + Send>>,
}

/// Makes a rate limiter allowing this many requests per key and second.
type MakeLimiter = Box<dyn Fn(u32) -> Arc<dyn RateLimiter> + Send + Sync>;

impl Backend {
    fn users(&self) -> &Arc<dyn UserStore> {
        self.users.as_ref().expect("this backend has no user store")
    }

    fn ledger(&self) -> &Arc<dyn ReplayLedger> {
        self.ledger
            .as_ref()
            .expect("this backend has no replay ledger")
    }

    fn sessions(&self) -> &Arc<dyn SessionStore> {
        self.sessions
            .as_ref()
            .expect("this backend has no session store")
    }

    fn keys(&self) -> &Keys {
        self.keys
            .as_ref()
            .expect("this backend has no key validator")
    }

    fn admin(&self) -> &Arc<dyn ApiKeyAdmin> {
        self.admin.as_ref().expect("this backend has no key admin")
    }

    fn limiter(&self, per_second: u32) -> Arc<dyn RateLimiter> {
        let make = self
            .limiter
            .as_ref()
            .expect("this backend has no rate limiter");
        make(per_second)
    }

    /// The names of the parts this backend has, as the `suite!` invocation lists them.
    fn parts(&self) -> BTreeSet<&'static str> {
        [
            ("users", self.users.is_some()),
            ("ledger", self.ledger.is_some()),
            ("sessions", self.sessions.is_some()),
            ("keys", self.keys.is_some()),
            ("admin", self.admin.is_some()),
            ("limiter", self.limiter.is_some()),
        ]
        .into_iter()
        .filter_map(|(part, has)| has.then_some(part))
        .collect()
    }
}

/// A backend's API keys: the validator under test, and how a test gives an app a key and
/// takes it back.
struct Keys {
    validator: Arc<dyn ApiKeyValidator>,
    issuer: Issuer,
}

/// Where a backend's keys come from.
enum Issuer {
    /// The in-memory validator's own `insert` / `remove` (it has no admin).
    Memory(Arc<MemoryApiKeyValidator>),
    /// The backend's key admin: `add_key` / `revoke_key`.
    Admin(Arc<dyn ApiKeyAdmin>),
}

/// A key given to an app; `id` is the admin's id for it (in-memory keys have none).
struct Issued {
    key: ApiKey,
    id: Option<KeyId>,
}

impl Keys {
    async fn issue(&self, app: &str) -> Issued {
        match &self.issuer {
            Issuer::Memory(keys) => {
                let key = ApiKey::generate();
                keys.insert(app, &key);
                Issued { key, id: None }
            }
            Issuer::Admin(admin) => {
                let (id, key) = admin.add_key(&app.into(), "suite").await.unwrap();
                Issued { key, id: Some(id) }
            }
        }
    }

    async fn revoke(&self, issued: &Issued) {
        let revoked = match &self.issuer {
            Issuer::Memory(keys) => keys.remove(&issued.key),
            Issuer::Admin(admin) => admin
                .revoke_key(issued.id.as_ref().expect("an admin's key has an id"))
                .await
                .unwrap(),
        };
        assert!(revoked, "the key was live");
    }

    async fn validate(&self, key: &ApiKey) -> Option<AppId> {
        self.validator.validate(key).await.unwrap()
    }
}

/// A validator whose store is down.
struct Unavailable;

#[async_trait::async_trait]
impl ApiKeyValidator for Unavailable {
    async fn validate(&self, _key: &ApiKey) -> Result<Option<AppId>, StoreError> {
        Err(StoreError::unavailable("the key store is down"))
    }
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

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Runs `attempt` on a fresh key until one run lies within one wall-clock second and took
/// less than a limiter of `per_second` needs to admit one more request (1/`per_second` s):
/// otherwise a fixed window may have reset, or a token bucket refilled, in the middle of
/// it. Whether to run again depends on the timing only, never on the answers.
async fn in_one_window<T, F, Fut>(per_second: u32, mut attempt: F) -> T
where
    F: FnMut(KeyDigest) -> Fut,
    Fut: Future<Output = T>,
{
    let budget = Duration::from_secs(1) / per_second;
    for _ in 0..10 {
        let start = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let answer = attempt(ApiKey::generate().digest()).await;
        let end = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let took = end.checked_sub(start);
        if start.as_secs() == end.as_secs() && took.is_some_and(|took| took < budget) {
            return answer;
        }
    }
    panic!("no attempt ran within one second and {budget:?}: the machine is too busy")
}

/// `n` checks of `key` in a row.
async fn checks(limiter: &dyn RateLimiter, key: &KeyDigest, n: u32) -> Vec<RateDecision> {
    let mut decisions = Vec::new();
    for _ in 0..n {
        decisions.push(limiter.check(key).await.unwrap());
    }
    decisions
}

/// The retry-after of a refusal; panics on an allowance.
fn retry_after(decision: RateDecision) -> Duration {
    match decision {
        RateDecision::Limited { retry_after } => retry_after,
        RateDecision::Allowed => panic!("allowed over the limit"),
    }
}

mod behaviour {
    use super::*;

    pub(crate) async fn upsert_signs_up_then_in(b: Backend) {
        let app = AppId::from("acme");
        let id = unique("user");
        let first = b
            .users()
            .upsert_external(&app, &profile(&id, "a@x.io"))
            .await
            .unwrap();
        let Upserted::SignedUp(created) = first else {
            panic!("first call signs up")
        };
        assert_eq!(created.app, app);
        assert_eq!(created.external_id, id);
        let again = b
            .users()
            .upsert_external(&app, &profile(&id, "a@x.io"))
            .await
            .unwrap();
        assert_eq!(again, Upserted::SignedIn(created.clone()));
        assert_eq!(b.users().find(&created.id).await.unwrap(), Some(created));
    }

    pub(crate) async fn upsert_updates_a_changed_profile(b: Backend) {
        let app = AppId::from("acme");
        let id = unique("user");
        let created = b
            .users()
            .upsert_external(&app, &profile(&id, "a@x.io"))
            .await
            .unwrap()
            .into_user();
        let changed = b
            .users()
            .upsert_external(&app, &profile(&id, "b@x.io"))
            .await
            .unwrap();
        let Upserted::SignedIn(changed) = changed else {
            panic!("a known user signs in")
        };
        assert_eq!(changed.id, created.id);
        assert_eq!(changed.email, "b@x.io");
        assert_eq!(
            b.users().find(&created.id).await.unwrap().unwrap().email,
            "b@x.io"
        );
    }

    pub(crate) async fn apps_do_not_share_users(b: Backend) {
        let id = unique("user");
        let a = b
            .users()
            .upsert_external(&"a".into(), &profile(&id, "a@x.io"))
            .await
            .unwrap();
        let c = b
            .users()
            .upsert_external(&"c".into(), &profile(&id, "a@x.io"))
            .await
            .unwrap();
        assert!(matches!(c, Upserted::SignedUp(_)));
        assert_ne!(a.user().id, c.user().id);
    }

    pub(crate) async fn unknown_user_is_none(b: Backend) {
        assert_eq!(b.users().find(&UserId::random()).await.unwrap(), None);
    }

    pub(crate) async fn concurrent_first_upserts_make_one_user(b: Backend) {
        let app = AppId::from("acme");
        let id = unique("user");
        let calls: Vec<_> = (0..50)
            .map(|_| {
                let (users, app, p) = (b.users().clone(), app.clone(), profile(&id, "a@x.io"));
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

    /// Many users signing up at once (written in groups on SQLite), some twice, some with a
    /// changed profile, and callers giving up halfway: each user gets one id and keeps the
    /// profile written last; the store keeps answering.
    pub(crate) async fn concurrent_upserts_of_many_users_stay_apart(b: Backend) {
        let app = AppId::from("acme");
        let ids: Vec<String> = (0..60).map(|_| unique("user")).collect();
        let upsert = |id: &str, email: &str| {
            let (users, app, p) = (b.users().clone(), app.clone(), profile(id, email));
            tokio::spawn(async move {
                let up = users.upsert_external(&app, &p).await.unwrap();
                assert_eq!(
                    up.user().external_id,
                    p.external_id,
                    "the answer is the caller's"
                );
                up
            })
        };
        // Callers that give up at once: their rows may or may not be written.
        for id in &ids[..20] {
            upsert(id, "gone@x.io").abort();
        }
        let calls: Vec<_> = ids
            .iter()
            .flat_map(|id| [upsert(id, "a@x.io"), upsert(id, "a@x.io")])
            .collect();
        let mut by_user: HashMap<String, (HashSet<UserId>, usize)> = HashMap::new();
        for call in calls {
            let up = call.await.unwrap();
            let signed_up = matches!(up, Upserted::SignedUp(_)) as usize;
            let user = up.into_user();
            assert_eq!(user.email, "a@x.io");
            let entry = by_user.entry(user.external_id.clone()).or_default();
            entry.0.insert(user.id);
            entry.1 += signed_up;
        }
        assert_eq!(by_user.len(), ids.len());
        for (id, (user_ids, sign_ups)) in &by_user {
            assert_eq!(user_ids.len(), 1, "{id} has one id");
            // Those a caller gave up on may have been signed up by that caller.
            if ids[20..].contains(id) {
                assert_eq!(*sign_ups, 1, "{id} signed up once");
            } else {
                assert!(*sign_ups <= 1, "{id} signed up at most once");
            }
        }
        // A changed profile after the crowd: written, same id.
        let changed = b
            .users()
            .upsert_external(&app, &profile(&ids[0], "b@x.io"))
            .await
            .unwrap();
        assert_eq!(changed.user().email, "b@x.io");
        assert!(by_user[&ids[0]].0.contains(&changed.user().id));
    }

    /// Many sign-ins at once (read in groups on PostgreSQL), beside sign-ups and the same
    /// external ids in another app: each caller gets its own user, in its own app.
    pub(crate) async fn concurrent_sign_ins_of_many_users_each_get_their_own(b: Backend) {
        let (acme, other) = (AppId::from("acme"), AppId::from("other"));
        let known: Vec<String> = (0..40).map(|_| unique("known")).collect();
        let mut stored = HashMap::new();
        for id in &known {
            let user = b
                .users()
                .upsert_external(&acme, &profile(id, "a@x.io"))
                .await
                .unwrap();
            stored.insert(id.clone(), user.into_user().id);
        }
        let call = |app: &AppId, id: &str| {
            let (users, app, p) = (b.users().clone(), app.clone(), profile(id, "a@x.io"));
            tokio::spawn(
                async move { (app.clone(), users.upsert_external(&app, &p).await.unwrap()) },
            )
        };
        let fresh: Vec<String> = (0..20).map(|_| unique("fresh")).collect();
        let calls: Vec<_> = known
            .iter()
            .flat_map(|id| [call(&acme, id), call(&acme, id), call(&other, id)])
            .chain(fresh.iter().map(|id| call(&acme, id)))
            .collect();
        let mut in_other = HashSet::new();
        for call in calls {
            let (app, up) = call.await.unwrap();
            let signed_up = matches!(up, Upserted::SignedUp(_));
            let user = up.into_user();
            assert_eq!(user.app, app, "the answer is in the caller's app");
            match stored.get(&user.external_id) {
                Some(id) if app == acme => {
                    assert!(!signed_up, "{} signs in", user.external_id);
                    assert_eq!(&user.id, id, "{} keeps its id", user.external_id);
                }
                Some(id) => {
                    assert!(signed_up, "{} is new in the other app", user.external_id);
                    assert_ne!(&user.id, id);
                    assert!(in_other.insert(user.id));
                }
                None => {
                    assert!(signed_up, "{} signs up", user.external_id);
                    assert!(fresh.contains(&user.external_id));
                }
            }
        }
        assert_eq!(in_other.len(), known.len());
    }

    pub(crate) async fn ledger_accepts_a_jti_once(b: Backend) {
        let jti = Jti::from(unique("jti"));
        assert_eq!(
            b.ledger().consume(&jti, FAR).await.unwrap(),
            Consumed::First
        );
        assert_eq!(
            b.ledger().consume(&jti, FAR).await.unwrap(),
            Consumed::Replayed
        );
        assert_eq!(
            b.ledger()
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
                let (ledger, jti) = (b.ledger().clone(), jti.clone());
                tokio::spawn(async move { ledger.consume(&jti, FAR).await.unwrap() })
            })
            .collect();
        let mut firsts = 0;
        for call in calls {
            firsts += (call.await.unwrap() == Consumed::First) as usize;
        }
        assert_eq!(firsts, 1);
    }

    /// Many ids consumed at once, each three times (in groups on SQL backends): each id has
    /// exactly one first use.
    pub(crate) async fn ledger_many_concurrent_ids_each_have_one_first(b: Backend) {
        let ids: Vec<Jti> = (0..40).map(|_| Jti::from(unique("jti"))).collect();
        let calls: Vec<_> = ids
            .iter()
            .flat_map(|jti| [jti, jti, jti])
            .map(|jti| {
                let (ledger, jti) = (b.ledger().clone(), jti.clone());
                tokio::spawn(async move { (ledger.consume(&jti, FAR).await.unwrap(), jti) })
            })
            .collect();
        let mut firsts: HashMap<Jti, usize> = HashMap::new();
        for call in calls {
            let (consumed, jti) = call.await.unwrap();
            *firsts.entry(jti).or_default() += (consumed == Consumed::First) as usize;
        }
        assert_eq!(firsts.len(), ids.len());
        assert!(firsts.values().all(|&n| n == 1), "{firsts:?}");
    }

    pub(crate) async fn sessions_rotate_and_detect_reuse(b: Backend) {
        let s = session(FAR);
        let (t1, t2, t3) = (digest("t1"), digest("t2"), digest("t3"));
        b.sessions().create(&s, &t1).await.unwrap();
        assert_eq!(
            b.sessions().rotate(&t1, &t2, 1, 0).await.unwrap(),
            Rotation::Rotated(s.clone())
        );
        assert_eq!(
            b.sessions().rotate(&t2, &t3, 2, 0).await.unwrap(),
            Rotation::Rotated(s.clone())
        );
        // t1 and t2 are rotated: presenting one revokes the family, t3 included.
        assert_eq!(
            b.sessions().rotate(&t1, &digest("x"), 3, 0).await.unwrap(),
            Rotation::Reused(s)
        );
        assert_eq!(
            b.sessions().rotate(&t3, &digest("y"), 4, 0).await.unwrap(),
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
        b.sessions().create(&s, &tokens[0]).await.unwrap();
        for pair in tokens.windows(2) {
            assert_eq!(
                b.sessions().rotate(&pair[0], &pair[1], 1, 0).await.unwrap(),
                Rotation::Rotated(s.clone())
            );
        }
        assert_eq!(
            b.sessions()
                .rotate(&tokens[0], &digest("x"), 2, 0)
                .await
                .unwrap(),
            Rotation::Invalid,
            "a forgotten token is unknown, not reuse"
        );
        let current = tokens.last().unwrap();
        let next = digest("next");
        assert_eq!(
            b.sessions().rotate(current, &next, 3, 0).await.unwrap(),
            Rotation::Rotated(s.clone())
        );
        let recent = &tokens[tokens.len() - 3];
        assert_eq!(
            b.sessions()
                .rotate(recent, &digest("y"), 4, 0)
                .await
                .unwrap(),
            Rotation::Reused(s)
        );
        assert_eq!(
            b.sessions()
                .rotate(&next, &digest("z"), 5, 0)
                .await
                .unwrap(),
            Rotation::Invalid
        );
    }

    /// Within the reuse interval the token rotated last is accepted once more (its lost
    /// successor is rotated away); a second retry, an older token, or a retry after the
    /// interval is reuse.
    pub(crate) async fn the_reuse_interval_accepts_one_retry(b: Backend) {
        let s = session(FAR);
        let (t1, t2, t3, t4) = (digest("t1"), digest("t2"), digest("t3"), digest("t4"));
        b.sessions().create(&s, &t1).await.unwrap();
        assert_eq!(
            b.sessions().rotate(&t1, &t2, 100, 10).await.unwrap(),
            Rotation::Rotated(s.clone())
        );
        // t2's answer was lost: the client retries t1 within 10 s.
        assert_eq!(
            b.sessions().rotate(&t1, &t3, 110, 10).await.unwrap(),
            Rotation::Rotated(s.clone())
        );
        // t3 is current; t1 a second time is reuse.
        assert_eq!(
            b.sessions().rotate(&t1, &t4, 111, 10).await.unwrap(),
            Rotation::Reused(s.clone())
        );

        // After the interval, or with the interval off, a retry is reuse.
        for (when, interval) in [(111, 10), (101, 0)] {
            let s = session(FAR);
            let (t1, t2) = (digest("t1"), digest("t2"));
            b.sessions().create(&s, &t1).await.unwrap();
            b.sessions().rotate(&t1, &t2, 100, interval).await.unwrap();
            assert_eq!(
                b.sessions()
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
        b.sessions().create(&s, &t1).await.unwrap();
        b.sessions().rotate(&t1, &t2, 100, 10).await.unwrap();
        b.sessions().rotate(&t1, &t3, 101, 10).await.unwrap();
        assert_eq!(
            b.sessions()
                .rotate(&t2, &digest("t4"), 102, 10)
                .await
                .unwrap(),
            Rotation::Reused(s)
        );

        // Only the token rotated last: an older one is reuse even within the interval.
        let s = session(FAR);
        let (t1, t2, t3) = (digest("t1"), digest("t2"), digest("t3"));
        b.sessions().create(&s, &t1).await.unwrap();
        b.sessions().rotate(&t1, &t2, 100, 10).await.unwrap();
        b.sessions().rotate(&t2, &t3, 101, 10).await.unwrap();
        assert_eq!(
            b.sessions()
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
            b.sessions().create(s, t).await.unwrap();
        }
        let ids = |sessions: Vec<Session>| -> HashSet<String> {
            sessions.into_iter().map(|s| s.id.to_string()).collect()
        };
        let listed = ids(b.sessions().list_user(&alice, 100).await.unwrap());
        let expected: HashSet<String> = [a1.id.to_string(), a2.id.to_string()].into();
        assert_eq!(
            listed, expected,
            "live sessions only: the expired one is not listed"
        );

        // The two live ones, and the expired one housekeeping has not deleted yet.
        assert_eq!(b.sessions().revoke_user(&alice).await.unwrap(), 3);
        assert_eq!(b.sessions().revoke_user(&alice).await.unwrap(), 0);
        assert!(
            b.sessions()
                .list_user(&alice, 100)
                .await
                .unwrap()
                .is_empty()
        );
        for token in &tokens[..2] {
            assert_eq!(
                b.sessions()
                    .rotate(token, &digest("n"), 100, 0)
                    .await
                    .unwrap(),
                Rotation::Invalid
            );
        }
        assert_eq!(
            b.sessions()
                .rotate(&tokens[3], &digest("n"), 100, 0)
                .await
                .unwrap(),
            Rotation::Rotated(b1.clone())
        );
        assert_eq!(b.sessions().list_user(&bob, 100).await.unwrap(), vec![b1]);
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
        b.sessions().create(&a1, &ta1).await.unwrap();
        b.sessions().create(&a2, &ta2).await.unwrap();
        b.sessions().create(&b1, &tb1).await.unwrap();
        b.sessions()
            .rotate(&ta1, &digest("a1-next"), 1, 0)
            .await
            .unwrap();
        b.sessions().revoke(&a2.id).await.unwrap();
        assert_eq!(b.sessions().delete_user(&alice).await.unwrap(), 2);
        assert_eq!(b.sessions().delete_user(&alice).await.unwrap(), 0);
        assert!(!b.sessions().revoke_by_token(&ta1).await.unwrap());
        assert_eq!(
            b.sessions().rotate(&ta1, &digest("n"), 2, 0).await.unwrap(),
            Rotation::Invalid,
            "a deleted session's rotated token is unknown, not reuse"
        );
        // The id is free again, as after any deletion.
        b.sessions().create(&a1, &digest("again")).await.unwrap();
        assert_eq!(
            b.sessions().rotate(&tb1, &digest("n"), 2, 0).await.unwrap(),
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
                .users()
                .upsert_external(&app, &profile(&format!("{prefix}-{i}"), "e@x.io"))
                .await
                .unwrap();
            users.push(up.into_user());
        }
        for user in users.iter().step_by(3) {
            assert!(b.users().erase(&user.id).await.unwrap());
            assert!(!b.users().erase(&user.id).await.unwrap());
        }
        assert!(!b.users().erase(&UserId::random()).await.unwrap());
        for (i, user) in users.iter().enumerate() {
            let found = b.users().find(&user.id).await.unwrap();
            let again = b
                .users()
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
        b.sessions().create(&a, &ta).await.unwrap();
        b.sessions().create(&c, &tc).await.unwrap();
        assert!(b.sessions().revoke(&a.id).await.unwrap());
        assert!(!b.sessions().revoke(&a.id).await.unwrap(), "revoking twice");
        assert_eq!(
            b.sessions().rotate(&ta, &digest("n"), 1, 0).await.unwrap(),
            Rotation::Invalid
        );
        assert!(matches!(
            b.sessions().rotate(&tc, &digest("m"), 1, 0).await.unwrap(),
            Rotation::Rotated(_)
        ));
    }

    pub(crate) async fn sessions_expire(b: Backend) {
        let s = session(1_000);
        let t = digest("t");
        b.sessions().create(&s, &t).await.unwrap();
        assert_eq!(
            b.sessions()
                .rotate(&t, &digest("n"), 1_001, 0)
                .await
                .unwrap(),
            Rotation::Invalid
        );
    }

    pub(crate) async fn sessions_revoke_by_token(b: Backend) {
        let s = session(FAR);
        let (t1, t2) = (digest("t1"), digest("t2"));
        b.sessions().create(&s, &t1).await.unwrap();
        b.sessions().rotate(&t1, &t2, 1, 0).await.unwrap();
        // By a rotated token too.
        assert!(b.sessions().revoke_by_token(&t1).await.unwrap());
        assert!(
            !b.sessions().revoke_by_token(&t2).await.unwrap(),
            "already revoked"
        );
        assert!(
            !b.sessions()
                .revoke_by_token(&digest("unknown"))
                .await
                .unwrap()
        );
        assert_eq!(
            b.sessions().rotate(&t2, &digest("n"), 2, 0).await.unwrap(),
            Rotation::Invalid
        );
    }

    pub(crate) async fn unknown_refresh_token_is_invalid(b: Backend) {
        assert_eq!(
            b.sessions()
                .rotate(&digest("nope"), &digest("n"), 1, 0)
                .await
                .unwrap(),
            Rotation::Invalid
        );
    }

    pub(crate) async fn a_session_id_in_use_is_refused(b: Backend) {
        let s = session(FAR);
        let (first, second) = (digest("first"), digest("second"));
        b.sessions().create(&s, &first).await.unwrap();
        assert!(b.sessions().create(&s, &second).await.is_err());
        assert_eq!(
            b.sessions()
                .rotate(&second, &digest("n"), 1, 0)
                .await
                .unwrap(),
            Rotation::Invalid,
            "the refused creation left nothing behind"
        );
        assert_eq!(
            b.sessions()
                .rotate(&first, &digest("m"), 1, 0)
                .await
                .unwrap(),
            Rotation::Rotated(s),
            "the first family is untouched"
        );
    }

    /// Many sessions created at once (in groups on PostgreSQL), some with an id already
    /// taken by another creation in flight: each id is created once, a refused creation
    /// leaves nothing behind, and the others' families rotate.
    pub(crate) async fn concurrent_creations_stand_alone(b: Backend) {
        let sessions: Vec<Session> = (0..30).map(|_| session(FAR)).collect();
        let create = |s: &Session, label: &str| {
            let (store, s, t) = (b.sessions().clone(), s.clone(), digest(label));
            tokio::spawn(async move { (store.create(&s, &t).await.is_ok(), s, t) })
        };
        let calls: Vec<_> = sessions
            .iter()
            .map(|s| create(s, "first"))
            .chain(sessions[..5].iter().map(|s| create(s, "again")))
            .collect();
        let mut created: HashMap<SessionId, Vec<KeyDigest>> = HashMap::new();
        let mut refused = Vec::new();
        for call in calls {
            let (ok, s, t) = call.await.unwrap();
            if ok {
                created.entry(s.id.clone()).or_default().push(t);
            } else {
                refused.push(t);
            }
        }
        assert_eq!(created.len(), sessions.len(), "every session was created");
        assert!(
            created.values().all(|tokens| tokens.len() == 1),
            "each id once"
        );
        assert_eq!(refused.len(), 5, "the second creation of an id is refused");
        for t in refused {
            assert_eq!(
                b.sessions().rotate(&t, &digest("n"), 1, 0).await.unwrap(),
                Rotation::Invalid
            );
        }
        for s in &sessions {
            let t = created[&s.id][0];
            assert_eq!(
                b.sessions().rotate(&t, &digest("n"), 1, 0).await.unwrap(),
                Rotation::Rotated(s.clone())
            );
        }
    }

    pub(crate) async fn concurrent_rotations_rotate_once(b: Backend) {
        let s = session(FAR);
        let t = digest("t");
        b.sessions().create(&s, &t).await.unwrap();
        let calls: Vec<_> = (0..20)
            .map(|i| {
                let (sessions, t) = (b.sessions().clone(), t);
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

    /// Many families rotated at once (in groups, where the backend sends rotations in
    /// groups): each token rotates once, into its own successor, twice over; then an old
    /// token is reuse and revokes its own family only.
    pub(crate) async fn concurrent_rotations_of_many_families_stay_apart(b: Backend) {
        let families: Vec<(Session, KeyDigest)> =
            (0..40).map(|_| (session(FAR), digest("t"))).collect();
        for (s, t) in &families {
            b.sessions().create(s, t).await.unwrap();
        }
        let rotate_all = |pairs: Vec<(KeyDigest, KeyDigest)>, now: i64| {
            let calls: Vec<_> = pairs
                .into_iter()
                .map(|(presented, next)| {
                    let sessions = b.sessions().clone();
                    tokio::spawn(async move {
                        sessions.rotate(&presented, &next, now, 0).await.unwrap()
                    })
                })
                .collect();
            async move {
                let mut answers = Vec::new();
                for call in calls {
                    answers.push(call.await.unwrap());
                }
                answers
            }
        };
        let firsts: Vec<KeyDigest> = families.iter().map(|(_, t)| *t).collect();
        let seconds: Vec<KeyDigest> = families.iter().map(|_| digest("n")).collect();
        let thirds: Vec<KeyDigest> = families.iter().map(|_| digest("m")).collect();
        // Each round rotates every family's current token into its successor.
        for (now, (current, next)) in [(1, (&firsts, &seconds)), (2, (&seconds, &thirds))] {
            let pairs = current.iter().copied().zip(next.iter().copied()).collect();
            for ((s, _), answer) in families.iter().zip(rotate_all(pairs, now).await) {
                assert_eq!(answer, Rotation::Rotated(s.clone()), "round {now}");
            }
        }
        assert_eq!(
            b.sessions()
                .rotate(&firsts[0], &digest("x"), 3, 0)
                .await
                .unwrap(),
            Rotation::Reused(families[0].0.clone())
        );
        assert_eq!(
            b.sessions()
                .rotate(&thirds[0], &digest("y"), 4, 0)
                .await
                .unwrap(),
            Rotation::Invalid,
            "the reused family is revoked"
        );
        assert_eq!(
            b.sessions()
                .rotate(&thirds[1], &digest("z"), 4, 0)
                .await
                .unwrap(),
            Rotation::Rotated(families[1].0.clone()),
            "another family is not"
        );
    }

    // ---- UserStore::exists ----

    pub(crate) async fn exists_until_erased(b: Backend) {
        let users = b.users();
        let user = users
            .upsert_external(&"acme".into(), &profile(&unique("user"), "a@x.io"))
            .await
            .unwrap()
            .into_user();
        assert!(users.exists(&user.id).await.unwrap(), "a stored user");
        assert!(
            !users.exists(&UserId::random()).await.unwrap(),
            "an unknown id"
        );
        assert!(!users.exists(&"not-a-uuid".into()).await.unwrap());
        assert!(users.erase(&user.id).await.unwrap());
        assert!(!users.exists(&user.id).await.unwrap(), "an erased user");
    }

    // ---- API key validators ----

    pub(crate) async fn a_key_gives_its_app(b: Backend) {
        let keys = b.keys();
        let (acme, beta) = (keys.issue("acme").await, keys.issue("beta").await);
        assert_eq!(keys.validate(&acme.key).await, Some("acme".into()));
        assert_eq!(keys.validate(&beta.key).await, Some("beta".into()));
    }

    /// Unknown and malformed keys look alike: `None`, never an error.
    pub(crate) async fn an_unknown_key_is_none(b: Backend) {
        let keys = b.keys();
        let known = keys.issue("acme").await;
        let mut near = known.key.expose().to_owned();
        near.pop();
        for key in [
            ApiKey::generate(),
            ApiKey::new(near),
            ApiKey::new(format!("{}x", known.key.expose())),
            ApiKey::new(""),
            ApiKey::new("k\u{e9}y \0 with \u{1f511}"),
            ApiKey::new("x".repeat(10_000)),
        ] {
            assert_eq!(keys.validate(&key).await, None);
        }
    }

    pub(crate) async fn a_revoked_key_is_none(b: Backend) {
        let keys = b.keys();
        let (revoked, kept) = (keys.issue("acme").await, keys.issue("acme").await);
        keys.revoke(&revoked).await;
        assert_eq!(keys.validate(&revoked.key).await, None);
        assert_eq!(keys.validate(&kept.key).await, Some("acme".into()));
    }

    /// Several live keys per app (a rotation in progress): each gives the app.
    pub(crate) async fn keys_of_one_app_are_all_valid(b: Backend) {
        let keys = b.keys();
        let issued = [
            keys.issue("acme").await,
            keys.issue("acme").await,
            keys.issue("acme").await,
        ];
        for one in &issued {
            assert_eq!(keys.validate(&one.key).await, Some("acme".into()));
        }
    }

    /// The cache answers as the backend does, and trusts an acceptance (only) for its TTL:
    /// a key revoked after it was accepted still passes the cache, never the store.
    pub(crate) async fn the_cache_answers_as_the_backend(b: Backend) {
        let keys = b.keys();
        let cached = CachedApiKeyValidator::from_arc(keys.validator.clone());
        let (live, revoked) = (keys.issue("acme").await, keys.issue("beta").await);
        keys.revoke(&revoked).await;
        let acme = Some(AppId::from("acme"));
        assert_eq!(cached.validate(&live.key).await.unwrap(), acme);
        assert_eq!(cached.validate(&revoked.key).await.unwrap(), None);
        assert_eq!(cached.validate(&ApiKey::generate()).await.unwrap(), None);

        keys.revoke(&live).await;
        assert_eq!(keys.validate(&live.key).await, None, "the store refuses it");
        assert_eq!(
            cached.validate(&live.key).await.unwrap(),
            acme,
            "the cache trusts its acceptance for 4 s"
        );
    }

    pub(crate) async fn the_cache_forgets_a_revoked_key_after_its_ttl(b: Backend) {
        let keys = b.keys();
        let ttl = Duration::from_millis(300);
        let cached = CachedApiKeyValidator::from_arc(keys.validator.clone()).with_ttl(ttl);
        let issued = keys.issue("acme").await;
        assert_eq!(
            cached.validate(&issued.key).await.unwrap(),
            Some("acme".into())
        );
        keys.revoke(&issued).await;
        tokio::time::sleep(ttl + Duration::from_millis(100)).await;
        assert_eq!(cached.validate(&issued.key).await.unwrap(), None);
    }

    /// A chain gives the app of whichever validator knows the key, the backend's among
    /// others, and `None` when none does.
    pub(crate) async fn a_chain_asks_the_backend_in_turn(b: Backend) {
        let keys = b.keys();
        let other = ApiKey::generate();
        let chain = ChainedApiKeyValidator::new(vec![
            Arc::new(MemoryApiKeyValidator::new().with_key("other", &other)),
            keys.validator.clone(),
        ]);
        let (live, revoked) = (keys.issue("acme").await, keys.issue("acme").await);
        keys.revoke(&revoked).await;
        assert_eq!(
            chain.validate(&live.key).await.unwrap(),
            Some("acme".into())
        );
        assert_eq!(chain.validate(&other).await.unwrap(), Some("other".into()));
        assert_eq!(chain.validate(&revoked.key).await.unwrap(), None);
        assert_eq!(chain.validate(&ApiKey::generate()).await.unwrap(), None);
    }

    /// A validator that is down does not stop the backend's from accepting its keys; a key
    /// nobody accepts is then the failure (the broken one might have known it), not `None`.
    pub(crate) async fn a_chain_survives_a_validator_that_is_down(b: Backend) {
        let keys = b.keys();
        let chain =
            ChainedApiKeyValidator::new(vec![Arc::new(Unavailable), keys.validator.clone()]);
        let issued = keys.issue("acme").await;
        assert_eq!(
            chain.validate(&issued.key).await.unwrap(),
            Some("acme".into())
        );
        let refused = chain.validate(&ApiKey::generate()).await;
        assert!(
            refused.as_ref().is_err_and(StoreError::is_unavailable),
            "{refused:?}"
        );
    }

    // ---- API key admin ----

    /// Keys are listed oldest first (also within one second), of one app or all, each with
    /// its app, label and creation time, live, and never with the key.
    pub(crate) async fn admin_lists_keys_oldest_first(b: Backend) {
        let admin = b.admin();
        let (acme, beta) = (AppId::from("acme"), AppId::from("beta"));
        let before = unix_now();
        let mut added = Vec::new();
        for (app, label) in [
            (&acme, "one"),
            (&beta, "two"),
            (&acme, "three"),
            (&acme, "four"),
        ] {
            added.push((admin.add_key(app, label).await.unwrap(), app, label));
        }
        let after = unix_now();

        let all = admin.list_keys(None).await.unwrap();
        let ids =
            |keys: &[StoredKey]| -> Vec<KeyId> { keys.iter().map(|k| k.id.clone()).collect() };
        let added_ids: Vec<KeyId> = added.iter().map(|((id, _), _, _)| id.clone()).collect();
        assert_eq!(ids(&all), added_ids, "oldest first");
        for (stored, ((id, key), app, label)) in all.iter().zip(&added) {
            assert_eq!(&stored.id, id);
            assert_eq!(&stored.app, *app);
            assert_eq!(stored.label, *label);
            assert!((before..=after).contains(&stored.created_at), "{stored:?}");
            assert_eq!(stored.revoked_at, None);
            assert!(!format!("{stored:?}").contains(key.expose()));
        }
        let unique: HashSet<&KeyId> = added_ids.iter().collect();
        assert_eq!(unique.len(), added_ids.len(), "ids are unique");

        let of_acme = admin.list_keys(Some(&acme)).await.unwrap();
        let expected: Vec<KeyId> = [0, 2, 3].map(|i| added_ids[i].clone()).into();
        assert_eq!(ids(&of_acme), expected);
        assert_eq!(
            ids(&admin.list_keys(Some(&beta)).await.unwrap()),
            [added_ids[1].clone()]
        );
        assert!(
            admin
                .list_keys(Some(&"nobody".into()))
                .await
                .unwrap()
                .is_empty()
        );
    }

    /// A key is revoked once: then it is refused, listed with its revocation time, and
    /// the app's other keys work on.
    pub(crate) async fn admin_revokes_a_key_once(b: Backend) {
        let (admin, keys) = (b.admin(), b.keys());
        let app = AppId::from("acme");
        let (id, key) = admin.add_key(&app, "old").await.unwrap();
        let (other_id, other) = admin.add_key(&app, "new").await.unwrap();
        let before = unix_now();
        assert!(admin.revoke_key(&id).await.unwrap());
        let after = unix_now();
        assert!(!admin.revoke_key(&id).await.unwrap(), "revoked already");
        assert!(!admin.revoke_key(&"no-such-id".into()).await.unwrap());
        assert_eq!(keys.validate(&key).await, None);
        assert_eq!(keys.validate(&other).await, Some(app.clone()));

        let listed = admin.list_keys(Some(&app)).await.unwrap();
        assert_eq!(listed.len(), 2, "a revoked key is still listed");
        assert_eq!(listed[0].id, id);
        assert!(
            listed[0]
                .revoked_at
                .is_some_and(|at| (before..=after).contains(&at)),
            "{:?}",
            listed[0]
        );
        assert_eq!(listed[1].id, other_id);
        assert_eq!(listed[1].revoked_at, None);
    }

    /// Rotation: a new key for the same app and label beside the old one, both live until
    /// the old is revoked; the unknown and the revoked cannot be rotated.
    pub(crate) async fn admin_rotates_a_key_beside_the_old(b: Backend) {
        let (admin, keys) = (b.admin(), b.keys());
        let beta = AppId::from("beta");
        admin.add_key(&"acme".into(), "acme's").await.unwrap();
        let (id, old) = admin.add_key(&beta, "backend").await.unwrap();
        admin.add_key(&beta, "other").await.unwrap();

        let (new_id, new) = admin.rotate_key(&id).await.unwrap().unwrap();
        assert_ne!(new_id, id);
        assert_ne!(new.expose(), old.expose());
        assert_eq!(keys.validate(&new).await, Some(beta.clone()));
        assert_eq!(
            keys.validate(&old).await,
            Some(beta.clone()),
            "old stays live"
        );
        let listed = admin.list_keys(Some(&beta)).await.unwrap();
        let rotated = listed.last().unwrap();
        assert_eq!(
            (&rotated.id, &rotated.app, rotated.label.as_str()),
            (&new_id, &beta, "backend"),
            "the newest key"
        );
        assert_eq!(listed.len(), 3);

        assert!(admin.revoke_key(&id).await.unwrap());
        assert_eq!(keys.validate(&old).await, None);
        assert_eq!(keys.validate(&new).await, Some(beta.clone()));
        assert!(admin.rotate_key(&id).await.unwrap().is_none(), "revoked");
        assert!(
            admin
                .rotate_key(&"no-such-id".into())
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            admin.list_keys(Some(&beta)).await.unwrap().len(),
            3,
            "refused rotations add nothing"
        );
    }

    // ---- rate limiters ----

    /// `n` requests of a key within a second pass, the next is refused with a retry-after
    /// of at most a second.
    pub(crate) async fn the_limit_passes_then_refuses(b: Backend) {
        let limiter = b.limiter(10);
        let decisions = in_one_window(10, |key| {
            let limiter = limiter.clone();
            async move { checks(&*limiter, &key, 11).await }
        })
        .await;
        assert_eq!(decisions[..10], [RateDecision::Allowed; 10]);
        let wait = retry_after(decisions[10]);
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
    }

    /// A key over its limit leaves another key's whole limit untouched.
    pub(crate) async fn keys_are_limited_apart(b: Backend) {
        let limiter = b.limiter(5);
        let (first, second) = in_one_window(5, |key| {
            let limiter = limiter.clone();
            async move {
                let other = ApiKey::generate().digest();
                let first = checks(&*limiter, &key, 6).await;
                (first, checks(&*limiter, &other, 6).await)
            }
        })
        .await;
        for decisions in [first, second] {
            assert_eq!(decisions[..5], [RateDecision::Allowed; 5]);
            retry_after(decisions[5]);
        }
    }

    /// A refused key passes again once its retry-after has gone by.
    pub(crate) async fn a_refused_key_passes_after_its_retry_after(b: Backend) {
        let limiter = b.limiter(10);
        let (key, decisions) = in_one_window(10, |key| {
            let limiter = limiter.clone();
            async move {
                let decisions = checks(&*limiter, &key, 11).await;
                (key, decisions)
            }
        })
        .await;
        let wait = retry_after(decisions[10]);
        tokio::time::sleep(wait + Duration::from_millis(20)).await;
        assert_eq!(limiter.check(&key).await.unwrap(), RateDecision::Allowed);
    }

    /// Of 50 concurrent requests of one key with a limit of 10, exactly 10 pass.
    pub(crate) async fn concurrent_requests_pass_exactly_the_limit(b: Backend) {
        let limiter = b.limiter(10);
        let decisions = in_one_window(10, |key| {
            let calls: Vec<_> = (0..50)
                .map(|_| {
                    let limiter = limiter.clone();
                    tokio::spawn(async move { limiter.check(&key).await.unwrap() })
                })
                .collect();
            async move {
                let mut decisions = Vec::new();
                for call in calls {
                    decisions.push(call.await.unwrap());
                }
                decisions
            }
        })
        .await;
        let allowed = decisions
            .iter()
            .filter(|d| **d == RateDecision::Allowed)
            .count();
        assert_eq!(allowed, 10, "{decisions:?}");
    }
}

/// The tests of one backend made by `$make` (an async expression giving `Option<Backend>`:
/// `None` when its service is not configured), one per behaviour of each listed part, and
/// one checking that the list names exactly the parts the backend has, so that no part of
/// a backend goes untested.
macro_rules! suite {
    ($backend:ident, $make:expr, [$($part:ident),+ $(,)?]) => {
        mod $backend {
            use super::*;

            $(suite!(@part $part, $make);)+

            #[tokio::test]
            async fn the_suite_runs_every_part() {
                if let Some(backend) = $make.await {
                    let listed: BTreeSet<&str> = [$(stringify!($part)),+].into();
                    assert_eq!(backend.parts(), listed);
                }
            }
        }
    };
    (@part users, $make:expr) => {
        suite!(@tests $make;
            upsert_signs_up_then_in,
            upsert_updates_a_changed_profile,
            apps_do_not_share_users,
            unknown_user_is_none,
            concurrent_first_upserts_make_one_user,
            concurrent_upserts_of_many_users_stay_apart,
            concurrent_sign_ins_of_many_users_each_get_their_own,
            users_are_erased,
            exists_until_erased,
        );
    };
    (@part ledger, $make:expr) => {
        suite!(@tests $make;
            ledger_accepts_a_jti_once,
            ledger_concurrent_consumes_have_one_first,
            ledger_many_concurrent_ids_each_have_one_first,
        );
    };
    (@part sessions, $make:expr) => {
        suite!(@tests $make;
            sessions_rotate_and_detect_reuse,
            rotation_history_is_bounded,
            the_reuse_interval_accepts_one_retry,
            sign_out_everywhere_and_list,
            a_users_sessions_are_deleted,
            sessions_are_independent,
            sessions_expire,
            sessions_revoke_by_token,
            unknown_refresh_token_is_invalid,
            a_session_id_in_use_is_refused,
            concurrent_rotations_rotate_once,
            concurrent_rotations_of_many_families_stay_apart,
            concurrent_creations_stand_alone,
        );
    };
    (@part keys, $make:expr) => {
        suite!(@tests $make;
            a_key_gives_its_app,
            an_unknown_key_is_none,
            a_revoked_key_is_none,
            keys_of_one_app_are_all_valid,
            the_cache_answers_as_the_backend,
            the_cache_forgets_a_revoked_key_after_its_ttl,
            a_chain_asks_the_backend_in_turn,
            a_chain_survives_a_validator_that_is_down,
        );
    };
    (@part admin, $make:expr) => {
        suite!(@tests $make;
            admin_lists_keys_oldest_first,
            admin_revokes_a_key_once,
            admin_rotates_a_key_beside_the_old,
        );
    };
    (@part limiter, $make:expr) => {
        suite!(@tests $make;
            the_limit_passes_then_refuses,
            keys_are_limited_apart,
            a_refused_key_passes_after_its_retry_after,
            concurrent_requests_pass_exactly_the_limit,
        );
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
    use techcentrix_auth::rate_limit::MemoryRateLimiter;
    use techcentrix_auth::{MemoryReplayLedger, MemorySessionStore, MemoryUserStore};
    let keys = Arc::new(MemoryApiKeyValidator::new());
    Some(Backend {
        users: Some(Arc::new(MemoryUserStore::new())),
        ledger: Some(Arc::new(MemoryReplayLedger::new())),
        sessions: Some(Arc::new(MemorySessionStore::new())),
        keys: Some(Keys {
            validator: keys.clone(),
            issuer: Issuer::Memory(keys),
        }),
        limiter: Some(Box::new(|per_second| {
            Arc::new(MemoryRateLimiter::new(per_second))
        })),
        ..Backend::default()
    })
}

#[cfg(feature = "sqlite")]
async fn sqlite() -> Option<Backend> {
    use techcentrix_auth::store::sqlite::{
        self, SqliteApiKeyStore, SqliteReplayLedger, SqliteSessionStore, SqliteUserStore,
    };
    let dir = tempfile::tempdir().unwrap();
    let pool = sqlite::open(dir.path().join("suite.db")).await.unwrap();
    let keys = Arc::new(SqliteApiKeyStore::new(pool.clone()));
    Some(Backend {
        users: Some(Arc::new(SqliteUserStore::new(pool.clone()))),
        ledger: Some(Arc::new(SqliteReplayLedger::new(pool.clone()))),
        sessions: Some(Arc::new(SqliteSessionStore::new(pool))),
        keys: Some(Keys {
            validator: keys.clone(),
            issuer: Issuer::Admin(keys.clone()),
        }),
        admin: Some(keys),
        _keep: Some(Box::new(dir)),
        ..Backend::default()
    })
}

#[cfg(feature = "postgres")]
async fn postgres() -> Option<Backend> {
    use techcentrix_auth::store::postgres::{
        self, PostgresApiKeyStore, PostgresReplayLedger, PostgresSessionStore, PostgresUserStore,
    };
    let schema = common::services::PgSchema::new()?;
    let pool = postgres::connect(&schema.options()).await.unwrap();
    let keys = Arc::new(PostgresApiKeyStore::new(pool.clone()));
    Some(Backend {
        users: Some(Arc::new(PostgresUserStore::new(pool.clone()))),
        ledger: Some(Arc::new(PostgresReplayLedger::new(pool.clone()))),
        sessions: Some(Arc::new(PostgresSessionStore::new(pool))),
        keys: Some(Keys {
            validator: keys.clone(),
            issuer: Issuer::Admin(keys.clone()),
        }),
        admin: Some(keys),
        _keep: Some(Box::new(schema)),
        ..Backend::default()
    })
}

#[cfg(feature = "redis")]
async fn redis() -> Option<Backend> {
    use techcentrix_auth::store::redis::{RedisOptions, RedisRateLimiter, RedisReplayLedger};
    let prefix = common::services::RedisPrefix::new()?;
    let connection = RedisOptions::new(&prefix.url).connect().await.unwrap();
    let (limiter_connection, limiter_prefix) = (connection.clone(), prefix.prefix.clone());
    Some(Backend {
        ledger: Some(Arc::new(RedisReplayLedger::new(
            connection,
            prefix.prefix.clone(),
        ))),
        limiter: Some(Box::new(move |per_second| {
            Arc::new(RedisRateLimiter::new(
                limiter_connection.clone(),
                limiter_prefix.clone(),
                per_second,
            ))
        })),
        _keep: Some(Box::new(prefix)),
        ..Backend::default()
    })
}

suite!(
    memory_backend,
    memory(),
    [users, ledger, sessions, keys, limiter]
);
#[cfg(feature = "sqlite")]
suite!(
    sqlite_backend,
    sqlite(),
    [users, ledger, sessions, keys, admin]
);
#[cfg(feature = "postgres")]
suite!(
    postgres_backend,
    postgres(),
    [users, ledger, sessions, keys, admin]
);
#[cfg(feature = "redis")]
suite!(redis_backend, redis(), [ledger, limiter]);

/// Every instance pointed at one Redis and key prefix shares the limits: two limiters are
/// one count (what the in-memory limiter, one per process, does not promise).
#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_limiters_with_one_prefix_share_the_count() {
    let Some(backend) = redis().await else {
        return;
    };
    let (one, two) = (backend.limiter(6), backend.limiter(6));
    let decisions = in_one_window(6, |key| {
        let (one, two) = (one.clone(), two.clone());
        async move {
            let mut decisions = checks(&*one, &key, 3).await;
            decisions.extend(checks(&*two, &key, 3).await);
            decisions.push(one.check(&key).await.unwrap());
            decisions.push(two.check(&key).await.unwrap());
            decisions
        }
    })
    .await;
    assert_eq!(decisions[..6], [RateDecision::Allowed; 6]);
    retry_after(decisions[6]);
    retry_after(decisions[7]);
}

/// Rotations whose callers give up part-way (a client gone, the store timeout) leave the
/// pool sound: with one connection, a session created right after each is committed, as a
/// store on another connection sees. sqlx 0.8.6 left a PostgreSQL connection inside an open
/// transaction when `begin()` was cancelled (transact-rs/sqlx#4393), and a SQLite one too;
/// the stores begin their transactions on tasks of their own.
async fn cancelled_rotations_leave_the_pool_sound(
    sessions: &dyn SessionStore,
    seen_by_other: &dyn SessionStore,
) {
    for i in 0..80u64 {
        let (s, t) = (session(FAR), digest("t"));
        sessions.create(&s, &t).await.unwrap();
        // Cut off at ever later points of its round trips.
        let n = digest("n");
        let rotation = sessions.rotate(&t, &n, 1, 0);
        let _ = tokio::time::timeout(Duration::from_micros(15 * i), rotation).await;
        let (next, next_token) = (session(FAR), digest("next"));
        sessions.create(&next, &next_token).await.unwrap();
        assert_eq!(
            seen_by_other
                .rotate(&next_token, &digest("m"), 2, 0)
                .await
                .unwrap(),
            Rotation::Rotated(next),
            "the session created after cut-off {i} was committed"
        );
    }
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_cancelled_rotation_leaves_no_open_transaction_behind() {
    use techcentrix_auth::store::postgres::{self, PostgresSessionStore};
    let Some(schema) = common::services::PgSchema::new() else {
        return;
    };
    let one = postgres::connect(&schema.options().max_connections(1))
        .await
        .unwrap();
    let other = postgres::connect(&schema.options().max_connections(1))
        .await
        .unwrap();
    cancelled_rotations_leave_the_pool_sound(
        &PostgresSessionStore::new(one),
        &PostgresSessionStore::new(other),
    )
    .await;
}

/// The same on SQLite, whose pool has one connection: a `BEGIN` begun in place and cut off
/// left it inside the stale transaction as well.
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_cancelled_rotation_leaves_no_open_transaction_behind() {
    use techcentrix_auth::store::sqlite::{self, SqliteSessionStore};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cancel.db");
    let one = sqlite::open(&path).await.unwrap();
    let other = sqlite::open(&path).await.unwrap();
    cancelled_rotations_leave_the_pool_sound(
        &SqliteSessionStore::new(one),
        &SqliteSessionStore::new(other),
    )
    .await;
}

/// A SQLite user store skips the read before a sign-up when it has never seen the user (its
/// filter of stored users). Users another store signed up on the same file since are still
/// signed in, not up: the upsert finds them and the store answers what is stored, with the
/// profile the call brought.
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_users_another_store_signed_up_are_signed_in() {
    use techcentrix_auth::store::UserCount;
    use techcentrix_auth::store::sqlite::{self, SqliteUserStore};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.db");
    let one = SqliteUserStore::new(sqlite::open(&path).await.unwrap());
    let other = SqliteUserStore::new(sqlite::open(&path).await.unwrap());
    let app = AppId::new("acme");
    // `one` has loaded the (empty) file's users well before `other` signs anyone up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut ids = Vec::new();
    for n in 0..40 {
        let p = profile(&format!("shared-{n}"), &format!("shared-{n}@example.com"));
        match other.upsert_external(&app, &p).await.unwrap() {
            Upserted::SignedUp(user) => ids.push(user.id),
            signed_in => panic!("a new user signed in: {signed_in:?}"),
        }
    }
    for (n, id) in ids.iter().enumerate() {
        // Half unchanged, half with a new email.
        let email = match n % 2 {
            0 => format!("shared-{n}@example.com"),
            _ => format!("changed-{n}@example.com"),
        };
        let p = profile(&format!("shared-{n}"), &email);
        match one.upsert_external(&app, &p).await.unwrap() {
            Upserted::SignedIn(user) => {
                assert_eq!(&user.id, id, "user {n}");
                assert_eq!(user.email, email, "user {n}");
            }
            signed_up => panic!("user {n} signed up twice: {signed_up:?}"),
        }
    }
    assert_eq!(one.count_users(Some(&app)).await.unwrap(), 40);
    // And a user new to both is signed up once, whichever store sees it first.
    let fresh = profile("fresh", "fresh@example.com");
    assert!(matches!(
        one.upsert_external(&app, &fresh).await.unwrap(),
        Upserted::SignedUp(_)
    ));
    assert!(matches!(
        other.upsert_external(&app, &fresh).await.unwrap(),
        Upserted::SignedIn(_)
    ));
    assert!(matches!(
        one.upsert_external(&app, &fresh).await.unwrap(),
        Upserted::SignedIn(_)
    ));
}

/// A SQLite sign-up is written on the calling thread, which never waits for SQLite's write
/// lock: while another connection holds it, the sign-ups go to the pool, wait there, and
/// are all written, once each, when the lock is let go.
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sign_ups_while_another_writer_holds_the_lock_are_written_after_it() {
    use techcentrix_auth::store::UserCount;
    use techcentrix_auth::store::sqlite::{self, SqliteUserStore};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.db");
    let users = Arc::new(SqliteUserStore::new(sqlite::open(&path).await.unwrap()));
    let app = AppId::new("acme");
    // One sign-up first: the store's writer is open and has written.
    let first = profile("before", "before@example.com");
    assert!(matches!(
        users.upsert_external(&app, &first).await.unwrap(),
        Upserted::SignedUp(_)
    ));
    let other = sqlite::open(&path).await.unwrap();
    let mut held = other.begin_with("BEGIN IMMEDIATE").await.unwrap();
    sqlx::query("UPDATE tcx_users SET first_name = 'Held' WHERE external_id = 'before'")
        .execute(&mut *held)
        .await
        .unwrap();
    let sign_ups: Vec<_> = (0..20)
        .map(|n| {
            let (users, app) = (users.clone(), app.clone());
            tokio::spawn(async move {
                let p = profile(&format!("locked-{n}"), &format!("locked-{n}@example.com"));
                users.upsert_external(&app, &p).await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        sign_ups.iter().all(|s| !s.is_finished()),
        "a sign-up finished while another connection held the write lock"
    );
    held.commit().await.unwrap();
    for (n, sign_up) in sign_ups.into_iter().enumerate() {
        match sign_up.await.unwrap() {
            Ok(Upserted::SignedUp(user)) => assert_eq!(user.external_id, format!("locked-{n}")),
            other => panic!("sign-up {n}: {other:?}"),
        }
    }
    assert_eq!(users.count_users(Some(&app)).await.unwrap(), 21);
    // The writer takes the lock again once it is free.
    let after = profile("after", "after@example.com");
    assert!(matches!(
        users.upsert_external(&app, &after).await.unwrap(),
        Upserted::SignedUp(_)
    ));
}

/// The grouped calls' lanes keep a connection from one group to the next only while the
/// pool has one to spare, and give it back soon after their jobs stop. On a pool of two
/// connections, under a steady stream of sign-ins (grouped reads, four lanes that always
/// have work), ledger writes and session creations (other lanes) still get connections at
/// once: a read lane that held on while others waited would make them wait until it gave
/// its connection back (after 1,024 groups: 22 s for these 40 calls when the lanes ignored
/// the pool's spare connections). Once the load stops, every connection is back in the pool.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_lanes_keep_no_connection_another_caller_needs() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use techcentrix_auth::store::postgres::{
        self, PostgresReplayLedger, PostgresSessionStore, PostgresUserStore,
    };
    let Some(schema) = common::services::PgSchema::new() else {
        return;
    };
    for max in [2, 16] {
        let pool = postgres::connect(&schema.options().max_connections(max))
            .await
            .unwrap();
        let users: Arc<dyn UserStore> = Arc::new(PostgresUserStore::new(pool.clone()));
        let ledger = PostgresReplayLedger::new(pool.clone());
        let sessions = PostgresSessionStore::new(pool.clone());
        let app = AppId::from("acme");
        let known = profile(&unique("known"), "a@x.io");
        users.upsert_external(&app, &known).await.unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let sign_ins: Vec<_> = (0..32)
            .map(|_| {
                let (users, app, known, stop) =
                    (users.clone(), app.clone(), known.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut n = 0u32;
                    while !stop.load(Ordering::Relaxed) {
                        users.upsert_external(&app, &known).await?;
                        n += 1;
                    }
                    Ok::<_, StoreError>(n)
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let beside = async {
            for _ in 0..20 {
                let jti = Jti::from(unique("jti"));
                assert_eq!(ledger.consume(&jti, FAR).await?, Consumed::First);
                sessions.create(&session(FAR), &digest("t")).await?;
            }
            Ok::<_, StoreError>(())
        };
        let started = std::time::Instant::now();
        let beside = beside.await;
        let took = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        let mut signed_in = 0;
        for sign_in in sign_ins {
            signed_in += sign_in.await.unwrap().unwrap();
        }
        beside.unwrap_or_else(|e| panic!("pool of {max}: a call beside the sign-ins: {e}"));
        assert!(
            took < Duration::from_secs(5),
            "pool of {max}: 40 calls beside the sign-ins took {took:?}"
        );
        assert!(signed_in > 0);
        // The lanes give a kept connection back after 5 ms without a job.
        let mut waited = Duration::ZERO;
        while pool.num_idle() < pool.size() as usize && waited < Duration::from_secs(1) {
            tokio::time::sleep(Duration::from_millis(10)).await;
            waited += Duration::from_millis(10);
        }
        assert_eq!(
            pool.num_idle(),
            pool.size() as usize,
            "pool of {max}: every connection is back"
        );
    }
}
