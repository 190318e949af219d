//! The SQLite backends against real database files.
#![cfg(feature = "sqlite")]

mod common;

use std::sync::Arc;

use common::*;
use techcentrix_auth::store::sqlite::{
    self, SqliteApiKeyStore, SqliteSessionStore, SqliteUserStore,
};
use techcentrix_auth::store::{ApiKeyAdmin, ExternalProfile, Upserted, UserCount, UserStore};
use techcentrix_auth::token::SigningKeys;
use techcentrix_auth::{
    ApiKey, ApiKeyValidator, AppId, AuthConfig, JwtSecret, TechCentrixAuth, UserId,
};

fn profile(id: &str, email: &str, first_name: &str) -> ExternalProfile {
    ExternalProfile::new(id, email, first_name)
}

#[tokio::test]
async fn users_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.db");
    let app = AppId::from("acme");
    let created = {
        let pool = sqlite::open(&path).await.unwrap();
        let users = SqliteUserStore::new(pool.clone());
        let up = users
            .upsert_external(&app, &profile("u1", "u1@x.io", "U"))
            .await
            .unwrap();
        assert!(matches!(up, Upserted::SignedUp(_)));
        pool.close().await;
        up.into_user()
    };
    let pool = sqlite::open(&path).await.unwrap();
    let users = SqliteUserStore::new(pool);
    assert_eq!(
        users.find(&created.id).await.unwrap(),
        Some(created.clone())
    );
    let again = users
        .upsert_external(&app, &profile("u1", "u1@x.io", "U"))
        .await
        .unwrap();
    assert_eq!(again, Upserted::SignedIn(created));
}

#[tokio::test]
async fn profile_changes_are_stored_and_unchanged_sign_ins_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let users = SqliteUserStore::new(sqlite::open(dir.path().join("a.db")).await.unwrap());
    let app = AppId::from("acme");
    let first = users
        .upsert_external(&app, &profile("u1", "u1@x.io", "U"))
        .await
        .unwrap()
        .into_user();
    let changed = users
        .upsert_external(&app, &profile("u1", "new@x.io", "New"))
        .await
        .unwrap();
    let Upserted::SignedIn(changed) = changed else {
        panic!("a known user signs in")
    };
    assert_eq!(changed.id, first.id);
    assert_eq!(changed.email, "new@x.io");
    assert_eq!(changed.first_name, "New");
    assert_eq!(
        users.find(&first.id).await.unwrap().unwrap().email,
        "new@x.io"
    );
    assert_eq!(users.count_users(None).await.unwrap(), 1);
}

#[tokio::test]
async fn unknown_user_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let users = SqliteUserStore::new(sqlite::open(dir.path().join("a.db")).await.unwrap());
    assert_eq!(users.find(&UserId::random()).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_first_sign_ins_make_one_row() {
    let dir = tempfile::tempdir().unwrap();
    let pool = sqlite::open(dir.path().join("auth.db")).await.unwrap();
    let users = Arc::new(SqliteUserStore::new(pool.clone()));
    let auth = auth_with(keys(), users.clone(), AuthConfig::default());
    let subs = concurrent_first_calls(&auth, 100).await;
    assert_eq!(subs.len(), 1);
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tcx_users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn migrations_are_idempotent_and_tables_are_prefixed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("host.db");
    let pool = sqlite::open(&path).await.unwrap();
    sqlite::migrate(&pool).await.unwrap();
    let pool = sqlite::open(&path).await.unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(!tables.is_empty());
    assert!(tables.iter().all(|t| t.starts_with("tcx_")), "{tables:?}");
    let versions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tcx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    let files = std::fs::read_dir("migrations/sqlite").unwrap().count();
    assert_eq!(versions as usize, files);
}

#[tokio::test]
async fn unique_constraint_on_app_and_external_id() {
    let dir = tempfile::tempdir().unwrap();
    let pool = sqlite::open(dir.path().join("a.db")).await.unwrap();
    let insert = |id: &'static str| {
        sqlx::query(
            "INSERT INTO tcx_users (id, app_id, external_id, email, first_name, created_at, updated_at)
             VALUES (?, 'acme', 'same', 'a@b', '', 0, 0)",
        )
        .bind(id)
        .execute(&pool)
    };
    insert("one").await.unwrap();
    assert!(insert("two").await.is_err());
}

#[tokio::test]
async fn stored_keys_validate_until_revoked_and_only_digests_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let pool = sqlite::open(dir.path().join("k.db")).await.unwrap();
    let keys = SqliteApiKeyStore::new(pool.clone());
    let app = AppId::from("acme");
    let (id, key) = keys.add_key(&app, "first").await.unwrap();
    let (_, second) = keys.add_key(&app, "second").await.unwrap();
    assert_eq!(keys.validate(&key).await.unwrap(), Some(app.clone()));
    assert_eq!(keys.validate(&second).await.unwrap(), Some(app.clone()));
    assert_eq!(keys.validate(&ApiKey::generate()).await.unwrap(), None);

    let listed = keys.list_keys(Some(&app)).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].label, "first");
    assert!(listed.iter().all(|k| k.revoked_at.is_none()));

    // The database holds no key, only digests.
    let dump: Vec<(String, String, Vec<u8>)> =
        sqlx::query_as("SELECT id, label, digest FROM tcx_api_keys")
            .fetch_all(&pool)
            .await
            .unwrap();
    for (_, _, digest) in &dump {
        assert_eq!(digest.len(), 32);
        assert!(
            !digest
                .windows(8)
                .any(|w| key.expose().as_bytes().windows(8).any(|k| k == w))
        );
    }

    // Rotation: a new key beside the old one, same app and label; both live.
    let (rotated_id, rotated) = keys.rotate_key(&id).await.unwrap().unwrap();
    assert_ne!(rotated_id, id);
    assert_eq!(keys.validate(&rotated).await.unwrap(), Some(app.clone()));
    assert_eq!(keys.validate(&key).await.unwrap(), Some(app.clone()));
    let listed = keys.list_keys(Some(&app)).await.unwrap();
    assert_eq!(listed.last().unwrap().label, "first");
    assert!(
        keys.rotate_key(&"no-such-id".into())
            .await
            .unwrap()
            .is_none()
    );

    assert!(keys.revoke_key(&id).await.unwrap());
    assert!(!keys.revoke_key(&id).await.unwrap());
    assert_eq!(keys.validate(&key).await.unwrap(), None);
    assert_eq!(keys.validate(&second).await.unwrap(), Some(app));
    assert!(keys.list_keys(None).await.unwrap()[0].revoked_at.is_some());
}

#[tokio::test]
async fn closed_pool_is_unavailable_not_internal() {
    let dir = tempfile::tempdir().unwrap();
    let pool = sqlite::open(dir.path().join("a.db")).await.unwrap();
    let users = SqliteUserStore::new(pool.clone());
    pool.close().await;
    let auth = auth_with(keys(), users, AuthConfig::default());
    call(&auth, guide_request(KEY, GUIDE_BODY))
        .await
        .assert_error(503, 7);
}

/// The users and sessions of `pool` behind the test keys, with `timeout` per store call.
fn sqlite_auth(pool: &sqlx::SqlitePool, timeout: std::time::Duration) -> TechCentrixAuth {
    TechCentrixAuth::builder()
        .api_keys(keys())
        .user_store(SqliteUserStore::new(pool.clone()))
        .session_store(SqliteSessionStore::new(pool.clone()))
        .signing_keys(SigningKeys::hs512(JwtSecret::new(SECRET.to_vec()).unwrap()))
        .config(AuthConfig::default().with_store_timeout(timeout))
        .build()
        .unwrap()
}

/// Another connection (as another process would) holding the database's write lock until
/// it commits or is dropped.
fn hold_write_lock(path: &std::path::Path) -> rusqlite::Connection {
    let holder = rusqlite::Connection::open(path).unwrap();
    holder
        .execute_batch("BEGIN IMMEDIATE; UPDATE tcx_users SET first_name = first_name;")
        .unwrap();
    holder
}

/// A database whose write lock another process holds: a sign-up (a write) answers 503/7
/// with `Retry-After` once the store timeout is up, not after SQLite's 5 s busy wait, while a
/// sign-in that changes nothing (an inline read; WAL readers never wait for the writer)
/// still answers 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_write_lock_answers_503_within_the_store_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.db");
    let pool = sqlite::open(&path).await.unwrap();
    let timeout = std::time::Duration::from_secs(1);
    let auth = sqlite_auth(&pool, timeout);
    assert_eq!(
        call(&auth, guide_request(KEY, GUIDE_BODY)).await.status,
        200
    );

    let holder = hold_write_lock(&path);

    let started = std::time::Instant::now();
    let new_user = r#"{"id":"new-user","email":"n@x.io","firstName":"N"}"#;
    let answer = call(&auth, guide_request(KEY, new_user)).await;
    let took = started.elapsed();
    answer.assert_error(503, 7);
    assert!(answer.headers.contains_key("retry-after"));
    assert!(
        took < timeout + std::time::Duration::from_millis(500),
        "{took:?}"
    );

    let read_only = call(&auth, guide_request(KEY, GUIDE_BODY)).await;
    assert_eq!(read_only.status, 200, "{}", read_only.text());

    holder.execute_batch("COMMIT").unwrap();
    drop(holder);
    assert_eq!(call(&auth, guide_request(KEY, new_user)).await.status, 200);
}

/// Requests without valid credentials take no write lock: while another process holds the
/// database's write lock, a refresh and a sign-out with unknown refresh tokens and a call
/// with an unknown API key answer at once (401, 204, 401), never waiting for the lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tokens_and_keys_take_no_write_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flood.db");
    let pool = sqlite::open(&path).await.unwrap();
    let timeout = std::time::Duration::from_secs(2);
    let auth = sqlite_auth(&pool, timeout);
    let session = start_session(&auth, "acme", KEY).await;
    let refresh_token = session["refreshToken"].as_str().unwrap().to_owned();

    let holder = hold_write_lock(&path);
    let random = || {
        format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        )
    };
    let started = std::time::Instant::now();
    for _ in 0..20 {
        call(&auth, refresh_request(&random()))
            .await
            .assert_error(401, 5);
        let body = serde_json::json!({ "refreshToken": random() }).to_string();
        let out = call(&auth, json_post("/user/api/auth/sign-out", &[], &body)).await;
        assert_eq!(out.status, 204, "{}", out.text());
        call(&auth, guide_request(&random(), GUIDE_BODY))
            .await
            .assert_error(401, 4);
    }
    let took = started.elapsed();
    assert!(took < timeout, "60 refused requests took {took:?}");

    // A real refresh does need the lock: it waits, and answers 503 at the store timeout.
    call(&auth, refresh_request(&refresh_token))
        .await
        .assert_error(503, 7);
    holder.execute_batch("COMMIT").unwrap();
    drop(holder);
    let rotated = call(&auth, refresh_request(&refresh_token)).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text());
}

/// The admin command's user operations on a SQLite file another process filled: a user's
/// live sessions listed, signed out everywhere, then erased with its sessions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_lists_signs_out_and_erases_a_user() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin.db");
    let pool = sqlite::open(&path).await.unwrap();
    let auth = sqlite_auth(&pool, AuthConfig::default().store_timeout());
    let first = start_session(&auth, "acme", KEY).await;
    let second = start_session(&auth, "acme", KEY).await;
    let user = first["userId"].as_str().unwrap().to_owned();
    let other = call(
        &auth,
        guide_request(
            KEY,
            r#"{"id":"someone-else","email":"s@x.io","firstName":"S"}"#,
        ),
    )
    .await
    .claims()["sub"]
        .as_str()
        .unwrap()
        .to_owned();

    let url = format!("sqlite://{}", path.display());
    let admin = |args: &[&str]| {
        std::process::Command::new(example_binary("admin"))
            .args(args)
            .env("TCX_DATABASE_URL", &url)
            .output()
            .unwrap()
    };
    let stdout = |output: std::process::Output| {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };

    let listed = stdout(admin(&["users", "sessions", &user]));
    let lines: Vec<Vec<&str>> = listed.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(lines.iter().all(|l| l[1] == "acme" && l[2].ends_with('Z')));
    assert_eq!(stdout(admin(&["users", "sign-out", &user])), "revoked: 2\n");
    assert_eq!(stdout(admin(&["users", "sessions", &user])), "");
    for session in [&first, &second] {
        let refresh = session["refreshToken"].as_str().unwrap();
        call(&auth, refresh_request(refresh))
            .await
            .assert_error(401, 5);
    }

    assert_eq!(stdout(admin(&["users", "count"])).trim(), "2");
    assert_eq!(
        stdout(admin(&["users", "erase", &user])),
        format!("erased: {user}\n")
    );
    assert_eq!(stdout(admin(&["users", "count"])).trim(), "1");
    let again = admin(&["users", "erase", &user]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no user"));
    let sessions_left: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM tcx_sessions WHERE user_id = $1")
            .bind(&user)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(sessions_left, 0);
    // The other user is untouched.
    assert!(
        SqliteUserStore::new(pool)
            .find(&other.as_str().into())
            .await
            .unwrap()
            .is_some()
    );
}
