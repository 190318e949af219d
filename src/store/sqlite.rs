//! SQLite backends (feature `sqlite`): [`SqliteUserStore`] and [`SqliteApiKeyStore`] over
//! one pool opened by [`open`].
//!
//! Tables are prefixed `tcx_` so they can live in a host's database; the schema is created
//! by the embedded migrations that [`open`] (or [`migrate`]) applies. The database runs in
//! WAL mode with `synchronous = NORMAL`.
//!
//! ```
//! use techcentrix_auth::store::sqlite::{self, SqliteUserStore};
//! use techcentrix_auth::store::{ExternalProfile, UserStore};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let pool = sqlite::open(dir.path().join("auth.db")).await.unwrap();
//! let users = SqliteUserStore::new(pool);
//! let profile = ExternalProfile {
//!     external_id: "user1-external".into(),
//!     email: "user1@techcentrix.com".into(),
//!     first_name: "User1Name".into(),
//! };
//! let user = users.upsert_external(&"acme".into(), &profile).await.unwrap().into_user();
//! assert_eq!(users.find(&user.id).await.unwrap(), Some(user));
//! # });
//! ```

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::sql::store_error;
use super::{ApiKeyValidator, ExternalProfile, Upserted, User, UserStore, unix_now};
use crate::{ApiKey, AppId, KeyDigest, StoreError, UserId};

/// The embedded migrations, applied in order; each runs once per database.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../../migrations/sqlite/0001_init.sql"))];

/// Opens (creating it if needed) the SQLite database at `path` and applies the migrations.
pub async fn open(path: impl AsRef<Path>) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(store_error)?;
    migrate(&pool).await?;
    Ok(pool)
}

/// Opens the database of a `sqlite://PATH` URL: `sqlite://rel.db` is relative to the working
/// directory, `sqlite:///abs/x.db` absolute.
pub async fn open_url(url: &str) -> Result<SqlitePool, StoreError> {
    let path = url
        .strip_prefix("sqlite://")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| StoreError::other(format!("not a sqlite://PATH url: {url}")))?;
    open(path).await
}

/// Applies the embedded migrations that `pool`'s database has not seen yet, one
/// `BEGIN IMMEDIATE` transaction each, so concurrent starters do not race.
pub async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS tcx_migrations (
            version INTEGER PRIMARY KEY,
            applied_at INTEGER NOT NULL
        )",
    )
    .execute(pool)
    .await
    .map_err(store_error)?;
    for (version, sql) in MIGRATIONS {
        let mut tx = pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT version FROM tcx_migrations WHERE version = ?")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_error)?;
        if applied.is_none() {
            sqlx::raw_sql(sql)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            sqlx::query("INSERT INTO tcx_migrations (version, applied_at) VALUES (?, ?)")
                .bind(version)
                .bind(unix_now())
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)?;
    }
    Ok(())
}

/// Users in the `tcx_users` table; `(app_id, external_id)` is unique.
///
/// A sign-in that changes nothing only reads.
#[derive(Clone, Debug)]
pub struct SqliteUserStore {
    pool: SqlitePool,
}

impl SqliteUserStore {
    /// Users in `pool`'s database (migrated by [`open`] or [`migrate`]).
    pub fn new(pool: SqlitePool) -> Self {
        SqliteUserStore { pool }
    }

    /// How many users there are, in one app or in all.
    pub async fn count(&self, app: Option<&AppId>) -> Result<u64, StoreError> {
        let count: i64 = match app {
            Some(app) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM tcx_users WHERE app_id = ?")
                    .bind(app.as_str())
                    .fetch_one(&self.pool)
                    .await
            }
            None => {
                sqlx::query_scalar("SELECT COUNT(*) FROM tcx_users")
                    .fetch_one(&self.pool)
                    .await
            }
        }
        .map_err(store_error)?;
        Ok(count as u64)
    }

    async fn by_external(
        &self,
        app: &AppId,
        external_id: &str,
    ) -> Result<Option<User>, StoreError> {
        sqlx::query(
            "SELECT id, app_id, external_id, email, first_name, created_at, updated_at
             FROM tcx_users WHERE app_id = ? AND external_id = ?",
        )
        .bind(app.as_str())
        .bind(external_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?
        .map(|row| user_from_row(&row))
        .transpose()
    }
}

fn user_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<User, StoreError> {
    let get = |e: sqlx::Error| store_error(e);
    Ok(User {
        id: UserId::new(row.try_get::<String, _>("id").map_err(get)?),
        app: AppId::new(row.try_get::<String, _>("app_id").map_err(get)?),
        external_id: row.try_get("external_id").map_err(get)?,
        email: row.try_get("email").map_err(get)?,
        first_name: row.try_get("first_name").map_err(get)?,
        created_at: row.try_get("created_at").map_err(get)?,
        updated_at: row.try_get("updated_at").map_err(get)?,
    })
}

#[async_trait]
impl UserStore for SqliteUserStore {
    async fn upsert_external(
        &self,
        app: &AppId,
        profile: &ExternalProfile,
    ) -> Result<Upserted, StoreError> {
        if let Some(user) = self.by_external(app, &profile.external_id).await?
            && user.has_profile(profile)
        {
            return Ok(Upserted::SignedIn(user));
        }
        let new_id = UserId::random();
        let row = sqlx::query(
            "INSERT INTO tcx_users (id, app_id, external_id, email, first_name, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
             ON CONFLICT (app_id, external_id) DO UPDATE SET
                 email = excluded.email,
                 first_name = excluded.first_name,
                 updated_at = excluded.updated_at
             WHERE tcx_users.email <> excluded.email OR tcx_users.first_name <> excluded.first_name
             RETURNING id, app_id, external_id, email, first_name, created_at, updated_at",
        )
        .bind(new_id.as_str())
        .bind(app.as_str())
        .bind(&profile.external_id)
        .bind(&profile.email)
        .bind(&profile.first_name)
        .bind(unix_now())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        match row {
            Some(row) => {
                let user = user_from_row(&row)?;
                Ok(if user.id == new_id {
                    Upserted::SignedUp(user)
                } else {
                    Upserted::SignedIn(user)
                })
            }
            // Someone else stored the same profile in between: nothing to change.
            None => self
                .by_external(app, &profile.external_id)
                .await?
                .map(Upserted::SignedIn)
                .ok_or_else(|| StoreError::other("user vanished during upsert")),
        }
    }

    async fn find(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        sqlx::query(
            "SELECT id, app_id, external_id, email, first_name, created_at, updated_at
             FROM tcx_users WHERE id = ?",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?
        .map(|row| user_from_row(&row))
        .transpose()
    }
}

/// A stored API key as listed: never the key itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredKey {
    /// The key's id (for revocation).
    pub id: String,
    /// The app it belongs to.
    pub app: AppId,
    /// A free-form label.
    pub label: String,
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// Revocation time, unix seconds, if revoked.
    pub revoked_at: Option<i64>,
}

/// Server API keys in the `tcx_api_keys` table, stored as SHA-256 digests.
#[derive(Clone, Debug)]
pub struct SqliteApiKeyStore {
    pool: SqlitePool,
}

impl SqliteApiKeyStore {
    /// Keys in `pool`'s database (migrated by [`open`] or [`migrate`]).
    pub fn new(pool: SqlitePool) -> Self {
        SqliteApiKeyStore { pool }
    }

    /// Creates a new random key for `app`; returns its id and the key, which is shown only
    /// here: the store keeps its digest.
    pub async fn add(&self, app: &AppId, label: &str) -> Result<(String, ApiKey), StoreError> {
        let key = ApiKey::generate();
        let id = uuid::Uuid::new_v4().simple().to_string();
        sqlx::query(
            "INSERT INTO tcx_api_keys (id, app_id, label, digest, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(app.as_str())
        .bind(label)
        .bind(&key.digest().as_bytes()[..])
        .bind(unix_now())
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok((id, key))
    }

    /// The keys, oldest first, of one app or all.
    pub async fn list(&self, app: Option<&AppId>) -> Result<Vec<StoredKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, app_id, label, created_at, revoked_at FROM tcx_api_keys
             WHERE ?1 IS NULL OR app_id = ?1 ORDER BY created_at, rowid",
        )
        .bind(app.map(AppId::as_str))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                Ok(StoredKey {
                    id: row.try_get("id")?,
                    app: AppId::new(row.try_get::<String, _>("app_id")?),
                    label: row.try_get("label")?,
                    created_at: row.try_get("created_at")?,
                    revoked_at: row.try_get("revoked_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(store_error)
    }

    /// Revokes a key; `Ok(false)` when no live key has this id.
    pub async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE tcx_api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(unix_now())
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl ApiKeyValidator for SqliteApiKeyStore {
    async fn validate(&self, key: &ApiKey) -> Result<Option<AppId>, StoreError> {
        let digest = key.digest();
        let row: Option<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT app_id, digest FROM tcx_api_keys WHERE digest = ? AND revoked_at IS NULL",
        )
        .bind(&digest.as_bytes()[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(row.and_then(|(app, stored)| {
            let stored = KeyDigest::from_bytes(stored.try_into().ok()?);
            (stored == digest).then(|| AppId::new(app))
        }))
    }
}
