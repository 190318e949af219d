use std::sync::atomic::AtomicI64;

use async_trait::async_trait;
use sqlx::SqlitePool;

use super::ledger::purge_due;
use crate::store::sql::store_error;
use crate::store::{Rotation, Session, SessionStore, unix_now};
use crate::{AppId, KeyDigest, SessionId, StoreError, UserId};

/// Refresh-token families in `tcx_sessions` and `tcx_refresh_tokens` (digests only).
///
/// A rotation is one `BEGIN IMMEDIATE` transaction, so concurrent presentations of one
/// token are serialized: one rotates, the others see reuse.
#[derive(Debug)]
pub struct SqliteSessionStore {
    pool: SqlitePool,
    purged_at: AtomicI64,
}

impl SqliteSessionStore {
    /// The sessions in `pool`'s database (migrated by [`open`](super::open)).
    pub fn new(pool: SqlitePool) -> Self {
        SqliteSessionStore {
            pool,
            purged_at: AtomicI64::new(0),
        }
    }

    /// Deletes the families (and their tokens) that expired before `now`; how many.
    pub async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        sqlx::query(
            "DELETE FROM tcx_refresh_tokens WHERE session_id IN
                 (SELECT id FROM tcx_sessions WHERE expires_at < ?)",
        )
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        let done = sqlx::query("DELETE FROM tcx_sessions WHERE expires_at < ?")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(done.rows_affected())
    }
}

type FamilyRow = (String, Option<i64>, String, String, i64, Option<i64>);

#[async_trait]
impl SessionStore for SqliteSessionStore {
    async fn create(&self, session: &Session, refresh: &KeyDigest) -> Result<(), StoreError> {
        let now = unix_now();
        if purge_due(&self.purged_at, now) {
            self.purge_expired(now).await?;
        }
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        sqlx::query(
            "INSERT INTO tcx_sessions (id, user_id, app_id, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(session.id.as_str())
        .bind(session.user.as_str())
        .bind(session.app.as_str())
        .bind(now)
        .bind(session.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        sqlx::query(
            "INSERT INTO tcx_refresh_tokens (digest, session_id, created_at) VALUES (?, ?, ?)",
        )
        .bind(&refresh.as_bytes()[..])
        .bind(session.id.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)
    }

    async fn rotate(
        &self,
        presented: &KeyDigest,
        next: &KeyDigest,
        now: i64,
    ) -> Result<Rotation, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        let row: Option<FamilyRow> = sqlx::query_as(
            "SELECT t.session_id, t.rotated_at, s.user_id, s.app_id, s.expires_at, s.revoked_at
             FROM tcx_refresh_tokens t JOIN tcx_sessions s ON s.id = t.session_id
             WHERE t.digest = ?",
        )
        .bind(&presented.as_bytes()[..])
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        let Some((id, rotated_at, user, app, expires_at, revoked_at)) = row else {
            return Ok(Rotation::Invalid);
        };
        if revoked_at.is_some() || expires_at < now {
            return Ok(Rotation::Invalid);
        }
        let session = Session {
            id: SessionId::new(id),
            user: UserId::new(user),
            app: AppId::new(app),
            expires_at,
        };
        if rotated_at.is_some() {
            sqlx::query("UPDATE tcx_sessions SET revoked_at = ? WHERE id = ?")
                .bind(now)
                .bind(session.id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            tx.commit().await.map_err(store_error)?;
            return Ok(Rotation::Reused(session));
        }
        sqlx::query("UPDATE tcx_refresh_tokens SET rotated_at = ? WHERE digest = ?")
            .bind(now)
            .bind(&presented.as_bytes()[..])
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        sqlx::query(
            "INSERT INTO tcx_refresh_tokens (digest, session_id, created_at) VALUES (?, ?, ?)",
        )
        .bind(&next.as_bytes()[..])
        .bind(session.id.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(Rotation::Rotated(session))
    }

    async fn revoke(&self, id: &SessionId) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE tcx_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(unix_now())
        .bind(id.as_str())
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_by_token(&self, token: &KeyDigest) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE tcx_sessions SET revoked_at = ?1 WHERE revoked_at IS NULL AND id =
                 (SELECT session_id FROM tcx_refresh_tokens WHERE digest = ?2)",
        )
        .bind(unix_now())
        .bind(&token.as_bytes()[..])
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }
}
