use async_trait::async_trait;
use sqlx::{Row, SqlitePool};

use crate::store::sql::store_error;
use crate::store::{ApiKeyValidator, unix_now};
use crate::{ApiKey, AppId, KeyDigest, StoreError};

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
    /// Keys in `pool`'s database (migrated by [`open`](super::open) or [`migrate`](super::migrate)).
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
