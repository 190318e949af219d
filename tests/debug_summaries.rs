//! `Debug` of a store, a limiter or connection settings is a summary (counts, settings),
//! never the contents: no `jti`, token digest, user profile, key or password.

use techcentrix_auth::rate_limit::{MemoryRateLimiter, RateLimiter};
use techcentrix_auth::store::{ExternalProfile, ReplayLedger, Session, SessionStore, UserStore};
use techcentrix_auth::{
    ApiKey, AppId, KeyDigest, MemoryApiKeyValidator, MemoryReplayLedger, MemorySessionStore,
    MemoryUserStore, SessionId, UserId,
};

/// The bytes of `digest` as lowercase hex, as a derived `Debug` might show them.
fn hex(digest: &KeyDigest) -> String {
    digest
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn memory_stores_print_counts_only() {
    let ledger = MemoryReplayLedger::new();
    ledger
        .consume(&"jti-secret-0001".into(), i64::MAX)
        .await
        .unwrap();
    let printed = format!("{ledger:?}");
    assert!(!printed.contains("jti-secret"), "{printed}");
    assert!(printed.contains("entries: 1"), "{printed}");

    let sessions = MemorySessionStore::new();
    let refresh = KeyDigest::of(b"refresh-token-secret");
    let session = Session::new(
        SessionId::random(),
        UserId::from("user-secret-id"),
        AppId::from("acme"),
        i64::MAX,
    );
    sessions.create(&session, &refresh).await.unwrap();
    let printed = format!("{sessions:?}");
    for hidden in [
        session.id.as_str(),
        "user-secret-id",
        &hex(&refresh),
        &format!("{:?}", &refresh.as_bytes()[..4]),
    ] {
        assert!(!printed.contains(hidden), "{hidden} in {printed}");
    }
    assert!(printed.contains("sessions: 1"), "{printed}");

    let users = MemoryUserStore::new();
    let profile = ExternalProfile::new("external-secret", "private@example.com", "Private");
    users
        .upsert_external(&AppId::from("acme"), &profile)
        .await
        .unwrap();
    let printed = format!("{users:?}");
    for hidden in ["external-secret", "private@example.com", "Private"] {
        assert!(!printed.contains(hidden), "{hidden} in {printed}");
    }

    let key = ApiKey::new("api-key-secret-0123456789abcdef0123");
    let keys = MemoryApiKeyValidator::new().with_key("acme", &key);
    let printed = format!("{keys:?}");
    assert!(!printed.contains("api-key-secret"), "{printed}");
    assert!(!printed.contains(&hex(&key.digest())), "{printed}");

    let limiter = MemoryRateLimiter::new(10);
    limiter.check(&key.digest()).await.unwrap();
    let printed = format!("{limiter:?}");
    assert!(!printed.contains(&hex(&key.digest())), "{printed}");
    assert!(!printed.contains("Bucket"), "{printed}");
    assert!(printed.contains("keys: 1"), "{printed}");
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_options_hide_the_password() {
    let options = techcentrix_auth::store::postgres::PostgresOptions::new(
        "postgres://app:pg-password-secret@db:5432/auth",
    );
    let printed = format!("{options:?}");
    assert!(!printed.contains("pg-password-secret"), "{printed}");
    assert!(
        printed.contains("postgres://app:***@db:5432/auth"),
        "{printed}"
    );
}

#[cfg(feature = "redis")]
#[test]
fn redis_options_hide_the_password() {
    let options =
        techcentrix_auth::store::redis::RedisOptions::new("redis://:redis-password-secret@h:6379");
    let printed = format!("{options:?}");
    assert!(!printed.contains("redis-password-secret"), "{printed}");
}
