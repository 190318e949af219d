use async_trait::async_trait;
use sqlx::{Row, SqlitePool};

use crate::store::sql::store_error;
use crate::store::{ExternalProfile, Upserted, User, UserStore, unix_now};
use crate::{AppId, StoreError, UserId};

/// Users in the `tcx_users` table; `(app_id, external_id)` is unique.
///
/// A sign-in that changes nothing only reads.
#[derive(Clone, Debug)]
pub struct SqliteUserStore {
    pool: SqlitePool,
}

impl SqliteUserStore {
    /// Users in `pool`'s database (migrated by [`open`](super::open) or [`migrate`](super::migrate)).
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
