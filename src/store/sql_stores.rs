//! The SQL stores, written once: [`sql_stores!`] instantiates the user store, key store,
//! replay ledger and session store for one sqlx pool type (SQLite, PostgreSQL).
//!
//! The SQL is the common subset of both dialects (`$n` parameters, `ON CONFLICT`,
//! `RETURNING`); what differs is passed in: how a write transaction begins, how the rows of
//! a rotation are locked, and which column orders keys by insertion. A macro rather than
//! generics over `sqlx::Database`, whose executor bounds would fill a page per impl.

use std::future::Future;
use std::pin::Pin;

use crate::store::{ExternalProfile, Session, User};
use crate::{AppId, KeyDigest, StoreError, UserId};

/// The columns of `tcx_users`, in the order the stores read them.
pub(crate) const USER_COLUMNS: &str =
    "id, app_id, external_id, email, first_name, created_at, updated_at";

/// A user look-up by the store's own means, off the pool: `(app, external id)` or id.
#[derive(Clone, Copy, Debug)]
pub(crate) enum UserQuery<'a> {
    External(&'a str, &'a str),
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    Id(&'a str),
}

/// One sign-up or profile change to write: the row an upsert of `rows` rows binds.
#[derive(Debug)]
pub(crate) struct Upsert {
    pub(crate) app: AppId,
    pub(crate) profile: ExternalProfile,
    /// The id the user gets if it is new.
    pub(crate) new_id: UserId,
    pub(crate) now: i64,
}

/// A call on the store's own path beside the pool (a grouped one), owning what it needs.
pub(crate) type Answer<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send>>;

/// A user read or upsert on the store's own path: the user row (`None`: no such user; for
/// an upsert, the stored profile was already this one).
pub(crate) type Written = Answer<Option<User>>;

/// A read on a shortcut: answered at once (SQLite's inline read) or later (a group's).
pub(crate) enum Found {
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    Now(Result<Option<User>, StoreError>),
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Later(Written),
}

/// Faster paths beside the pool (SQLite: reads on the calling thread, sign-ups written in
/// groups; PostgreSQL: reads and sign-ups sent in groups); `None` or `Err` when a backend
/// has none for the call, and the pool answers.
pub(crate) trait UserShortcuts: Clone + std::fmt::Debug + Send + Sync + 'static {
    fn read(&self, query: UserQuery<'_>) -> Option<Found>;
    fn upsert(&self, upsert: Upsert) -> Result<Written, Upsert>;
    /// Whether the user may be stored: `false` lets a sign-up write without reading first
    /// (the upsert is right either way). `true` where the backend keeps no record.
    fn may_be_stored(&self, _app: &AppId, _external_id: &str) -> bool {
        true
    }
    /// Notes a user now stored (for [`may_be_stored`](Self::may_be_stored)).
    fn stored(&self, _app: &AppId, _external_id: &str) {}
}

/// A session to create, with its first refresh token's digest.
#[derive(Debug)]
pub(crate) struct NewSession {
    pub(crate) session: Session,
    pub(crate) refresh: KeyDigest,
    pub(crate) now: i64,
}

/// A token's family as a one-statement rotation read it (session id, the token's
/// `rotated_at`, user, app, the family's `expires_at` and `revoked_at`), and whether that
/// statement rotated the token.
pub(crate) type RotatedRow = (String, Option<i64>, String, String, i64, Option<i64>, bool);

/// A backend's rotation of a current refresh token in one statement, beside the session
/// store's transaction (which every rotation takes where the backend has none).
pub(crate) trait RotationShortcut: std::fmt::Debug + Send + Sync + 'static {
    /// The rotation's answer: `None` inside when the token does not exist. `None` when this
    /// backend has no such statement (or its lanes are gone): take the transaction.
    fn rotate_current(
        &self,
        rotation: crate::store::grouped::CurrentRotation,
    ) -> Option<Answer<Option<RotatedRow>>>;
}

/// No one-statement rotation (SQLite: no data-modifying `WITH`).
impl RotationShortcut for () {
    fn rotate_current(
        &self,
        _rotation: crate::store::grouped::CurrentRotation,
    ) -> Option<Answer<Option<RotatedRow>>> {
        None
    }
}

/// The upsert of `rows` users in one statement: a new `(app_id, external_id)` is inserted,
/// a known one updated when its email or first name changed; the id of every row written
/// comes back. A new user's is the id sent, and the row is what was sent
/// ([`Upsert::inserted`]); the caller of a known one reads the row it changed (rare: only
/// a profile change writes). Returning whole rows cost a SQLite sign-up more than its read
/// (`bench/profile.sh sign-up`, `BENCHMARKS.md`).
///
/// Row `r` binds `$7r+1 ..= $7r+7`: new id, app, external id, email, first name, now (as
/// `created_at`), now (as `updated_at`): each parameter once, in order, so that SQLite's text
/// can take `?` placeholders ([`crate::store::grouped::Dialect`]).
pub(crate) fn upsert_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let p = |n: usize| format!("${}", 7 * r + n);
            format!(
                "({}, {}, {}, {}, {}, {}, {})",
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6),
                p(7)
            )
        })
        .collect();
    format!(
        "INSERT INTO tcx_users ({USER_COLUMNS}) VALUES {}
         ON CONFLICT (app_id, external_id) DO UPDATE SET
             email = excluded.email,
             first_name = excluded.first_name,
             updated_at = excluded.updated_at
         WHERE tcx_users.email <> excluded.email
            OR tcx_users.first_name <> excluded.first_name
         RETURNING id",
        values.join(", ")
    )
}

impl Upsert {
    /// The user this upsert inserts, when its id is among those the statement returned.
    pub(crate) fn inserted(self, ids: &[String]) -> Option<User> {
        ids.iter()
            .any(|id| id == self.new_id.as_str())
            .then(|| User::new(self.new_id, self.app, &self.profile, self.now))
    }
}

/// Binds the rows of [`upsert_sql`].
pub(crate) fn bind_upserts<'q, DB: sqlx::Database>(
    mut query: sqlx::query::QueryScalar<'q, DB, String, <DB as sqlx::Database>::Arguments<'q>>,
    upserts: impl IntoIterator<Item = &'q Upsert>,
) -> sqlx::query::QueryScalar<'q, DB, String, <DB as sqlx::Database>::Arguments<'q>>
where
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for u in upserts {
        query = query
            .bind(u.new_id.as_str())
            .bind(u.app.as_str())
            .bind(u.profile.external_id.as_str())
            .bind(u.profile.email.as_str())
            .bind(u.profile.first_name.as_str())
            .bind(u.now)
            .bind(u.now);
    }
    query
}

/// A `tcx_users` row of [`USER_COLUMNS`], in their order, as a user. (By position: by name,
/// each column is a look-up in the row's table of names.)
pub(crate) fn user_from_row<'r, R: sqlx::Row>(row: &'r R) -> Result<User, StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let read = || -> Result<User, sqlx::Error> {
        Ok(User {
            id: UserId::new(row.try_get::<String, _>(0)?),
            app: AppId::new(row.try_get::<String, _>(1)?),
            external_id: row.try_get(2)?,
            email: row.try_get(3)?,
            first_name: row.try_get(4)?,
            created_at: row.try_get(5)?,
            updated_at: row.try_get(6)?,
        })
    };
    read().map_err(crate::store::sql::store_error)
}

macro_rules! sql_stores {
    (
        backend: $backend:literal,
        pool: $Pool:ty,
        shortcuts: $Shortcuts:ty = $make_shortcuts:expr,
        users: $Users:ident,
        keys: $Keys:ident,
        ledger: $Ledger:ident,
        sessions: $Sessions:ident,
        write_lanes: $write_lanes:expr,
        begin_write: $begin_write:literal,
        lock_rotation: $lock_rotation:literal,
        rotations: $Rotations:ty = $make_rotations:expr,
        key_order: $key_order:literal $(,)?
    ) => {
        use async_trait::async_trait;
        use sqlx::Row as _;

        use crate::store::sql::store_error;
        use crate::store::{
            ApiKeyAdmin, ApiKeyValidator, Consumed, ExternalProfile, ROTATED_TOKENS_KEPT, ReplayLedger, Rotation,
            Session, SessionStore, StoredKey, Upserted, User, UserCount, UserStore, unix_now,
        };
        use crate::{ApiKey, AppId, Jti, KeyDigest, KeyId, SessionId, StoreError, UserId};

        use crate::store::sql_stores::{USER_COLUMNS, UserQuery, UserShortcuts, user_from_row};

        #[doc = concat!("Users in ", $backend, "'s `tcx_users` table; `(app_id, external_id)` is unique.")]
        ///
        /// A sign-in that changes nothing only reads.
        #[derive(Clone, Debug)]
        pub struct $Users {
            pool: $Pool,
            shortcuts: $Shortcuts,
        }

        impl $Users {
            /// Users in `pool`'s database (migrated by [`migrate`](super::migrate)).
            pub fn new(pool: $Pool) -> Self {
                let make_shortcuts: fn(&$Pool) -> $Shortcuts = $make_shortcuts;
                let shortcuts = make_shortcuts(&pool);
                $Users { pool, shortcuts }
            }

            async fn fetch_user(&self, condition: &str, a: &str, b: Option<&str>) -> Result<Option<User>, StoreError> {
                let query = match b {
                    Some(b) => UserQuery::External(a, b),
                    None => UserQuery::Id(a),
                };
                match self.shortcuts.read(query) {
                    Some(crate::store::sql_stores::Found::Now(found)) => return found,
                    Some(crate::store::sql_stores::Found::Later(found)) => return found.await,
                    None => {}
                }
                let sql = format!("SELECT {USER_COLUMNS} FROM tcx_users WHERE {condition}");
                let mut query = sqlx::query(&sql).bind(a);
                if let Some(b) = b {
                    query = query.bind(b);
                }
                query
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_error)?
                    .map(|row| user_from_row(&row))
                    .transpose()
            }

            async fn by_external(&self, app: &AppId, external_id: &str) -> Result<Option<User>, StoreError> {
                self.fetch_user("app_id = $1 AND external_id = $2", app.as_str(), Some(external_id)).await
            }
        }

        #[async_trait]
        impl UserStore for $Users {
            async fn upsert_external(&self, app: &AppId, profile: &ExternalProfile) -> Result<Upserted, StoreError> {
                // Read first (a sign-in of an unchanged profile writes nothing), unless the
                // user was never seen: then the upsert alone decides.
                if self.shortcuts.may_be_stored(app, &profile.external_id)
                    && let Some(user) = self.by_external(app, &profile.external_id).await?
                    && user.has_profile(profile)
                {
                    return Ok(Upserted::SignedIn(user));
                }
                let upsert = crate::store::sql_stores::Upsert {
                    app: app.clone(),
                    profile: profile.clone(),
                    new_id: UserId::random(),
                    now: unix_now(),
                };
                let inserted = match self.shortcuts.upsert(upsert) {
                    Ok(inserted) => inserted.await?,
                    Err(upsert) => {
                        let sql = crate::store::sql_stores::upsert_sql(1);
                        let ids = crate::store::sql_stores::bind_upserts(sqlx::query_scalar(&sql), [&upsert])
                            .fetch_all(&self.pool)
                            .await
                            .map_err(store_error)?;
                        upsert.inserted(&ids)
                    }
                };
                let upserted = match inserted {
                    Some(user) => Upserted::SignedUp(user),
                    // A known user: this call changed the profile, someone else stored the
                    // same one in between, or it was stored before this store saw it. Either
                    // way, what is stored now.
                    None => self
                        .by_external(app, &profile.external_id)
                        .await?
                        .map(Upserted::SignedIn)
                        .ok_or_else(|| StoreError::other("user vanished during upsert"))?,
                };
                self.shortcuts.stored(app, &profile.external_id);
                Ok(upserted)
            }

            async fn find(&self, id: &UserId) -> Result<Option<User>, StoreError> {
                self.fetch_user("id = $1", id.as_str(), None).await
            }

            async fn erase(&self, id: &UserId) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM tcx_users WHERE id = $1")
                    .bind(id.as_str())
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(done.rows_affected() == 1)
            }
        }

        #[async_trait]
        impl UserCount for $Users {
            async fn count_users(&self, app: Option<&AppId>) -> Result<u64, StoreError> {
                let count: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM tcx_users WHERE CAST($1 AS TEXT) IS NULL OR app_id = $1",
                )
                .bind(app.map(AppId::as_str))
                .fetch_one(&self.pool)
                .await
                .map_err(store_error)?;
                Ok(count as u64)
            }
        }

        #[doc = concat!("Server API keys in ", $backend, "'s `tcx_api_keys` table, stored as SHA-256 digests;")]
        /// managed through [`ApiKeyAdmin`].
        #[derive(Clone, Debug)]
        pub struct $Keys {
            pool: $Pool,
        }

        impl $Keys {
            /// Keys in `pool`'s database (migrated by [`migrate`](super::migrate)).
            pub fn new(pool: $Pool) -> Self {
                $Keys { pool }
            }
        }

        #[async_trait]
        impl ApiKeyAdmin for $Keys {
            async fn add_key(&self, app: &AppId, label: &str) -> Result<(KeyId, ApiKey), StoreError> {
                let key = ApiKey::generate();
                let id = KeyId::new(uuid::Uuid::new_v4().simple().to_string());
                sqlx::query(
                    "INSERT INTO tcx_api_keys (id, app_id, label, digest, created_at)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id.as_str())
                .bind(app.as_str())
                .bind(label)
                .bind(&key.digest().as_bytes()[..])
                .bind(unix_now())
                .execute(&self.pool)
                .await
                .map_err(store_error)?;
                Ok((id, key))
            }

            async fn list_keys(&self, app: Option<&AppId>) -> Result<Vec<StoredKey>, StoreError> {
                let sql = concat!(
                    "SELECT id, app_id, label, created_at, revoked_at FROM tcx_api_keys
                     WHERE CAST($1 AS TEXT) IS NULL OR app_id = $1 ORDER BY created_at, ",
                    $key_order
                );
                let rows = sqlx::query(sql)
                    .bind(app.map(AppId::as_str))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_error)?;
                rows.iter()
                    .map(|row| {
                        Ok(StoredKey {
                            id: KeyId::new(row.try_get::<String, _>("id")?),
                            app: AppId::new(row.try_get::<String, _>("app_id")?),
                            label: row.try_get("label")?,
                            created_at: row.try_get("created_at")?,
                            revoked_at: row.try_get("revoked_at")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(store_error)
            }

            async fn revoke_key(&self, id: &KeyId) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE tcx_api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                )
                .bind(unix_now())
                .bind(id.as_str())
                .execute(&self.pool)
                .await
                .map_err(store_error)?;
                Ok(done.rows_affected() == 1)
            }
        }

        #[async_trait]
        impl ApiKeyValidator for $Keys {
            async fn validate(&self, key: &ApiKey) -> Result<Option<AppId>, StoreError> {
                let digest = key.digest();
                let row: Option<(String, Vec<u8>)> = sqlx::query_as(
                    "SELECT app_id, digest FROM tcx_api_keys WHERE digest = $1 AND revoked_at IS NULL",
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

        #[doc = concat!("Used `jti`s in ", $backend, "'s `tcx_replay` table: a used token stays used across")]
        /// restarts and across every process sharing the database.
        #[derive(Debug)]
        pub struct $Ledger {
            pool: $Pool,
            /// Ids consumed in groups, `write_lanes` at a time.
            grouped: crate::store::grouped::Grouped<crate::store::grouped::Consumes<$Pool>>,
        }

        impl $Ledger {
            /// The ledger in `pool`'s database (migrated by [`migrate`](super::migrate)).
            pub fn new(pool: $Pool) -> Self {
                let grouped = crate::store::grouped::Grouped::new(
                    crate::store::grouped::Consumes(pool.clone()),
                    $write_lanes,
                );
                $Ledger { pool, grouped }
            }

        }

        #[async_trait]
        impl ReplayLedger for $Ledger {
            async fn consume(&self, jti: &Jti, expires_at: i64) -> Result<Consumed, StoreError> {
                let consume = crate::store::grouped::Consume { jti: jti.clone(), expires_at };
                // The pool's statement only when the lanes are gone (their runtime shut down).
                if let Ok(consumed) = self.grouped.call(consume) {
                    return consumed.await;
                }
                // A row for the id, expired or not, means used: never new again while held.
                let done = sqlx::query(
                    "INSERT INTO tcx_replay (jti, expires_at) VALUES ($1, $2)
                     ON CONFLICT (jti) DO NOTHING",
                )
                .bind(jti.as_str())
                .bind(expires_at)
                .execute(&self.pool)
                .await
                .map_err(store_error)?;
                Ok(if done.rows_affected() == 1 { Consumed::First } else { Consumed::Replayed })
            }

            async fn purge_expired(&self, now: i64, limit: usize) -> Result<u64, StoreError> {
                let done = sqlx::query(
                    "DELETE FROM tcx_replay WHERE jti IN
                         (SELECT jti FROM tcx_replay WHERE expires_at < $1 LIMIT $2)",
                )
                .bind(now)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .execute(&self.pool)
                .await
                .map_err(store_error)?;
                Ok(done.rows_affected())
            }
        }

        #[doc = concat!("Refresh-token families in ", $backend, "'s `tcx_sessions` and `tcx_refresh_tokens`")]
        /// (digests only). A rotation is one transaction holding the family's rows, so
        /// concurrent presentations of one token are serialized: one rotates, the others see
        /// reuse.
        #[derive(Debug)]
        pub struct $Sessions {
            pool: $Pool,
            /// Sessions created in groups, `write_lanes` at a time.
            grouped: crate::store::grouped::Grouped<crate::store::grouped::SessionInserts<$Pool>>,
            /// Current tokens rotated in one statement, where the backend can.
            rotations: $Rotations,
        }

        /// A token's family: session id, the token's `rotated_at`, user, app, the family's
        /// `expires_at` and `revoked_at`.
        type FamilyRow = (String, Option<i64>, String, String, i64, Option<i64>);

        /// A [`FamilyRow`] with the token's `generation` and `grace_used_at`.
        type LockedRow = (String, Option<i64>, String, String, i64, Option<i64>, i64, Option<i64>);

        const FAMILY_OF_TOKEN: &str =
            "SELECT t.session_id, t.rotated_at, s.user_id, s.app_id, s.expires_at, s.revoked_at
             FROM tcx_refresh_tokens t JOIN tcx_sessions s ON s.id = t.session_id
             WHERE t.digest = $1";

        impl $Sessions {
            /// The sessions in `pool`'s database (migrated by [`migrate`](super::migrate)).
            pub fn new(pool: $Pool) -> Self {
                let grouped = crate::store::grouped::Grouped::new(
                    crate::store::grouped::SessionInserts(pool.clone()),
                    $write_lanes,
                );
                let make_rotations: fn(&$Pool) -> $Rotations = $make_rotations;
                let rotations = make_rotations(&pool);
                $Sessions { pool, grouped, rotations }
            }

        }

        #[async_trait]
        impl SessionStore for $Sessions {
            async fn create(&self, session: &Session, refresh: &KeyDigest) -> Result<(), StoreError> {
                let now = unix_now();
                let new = crate::store::sql_stores::NewSession {
                    session: session.clone(),
                    refresh: *refresh,
                    now,
                };
                // The pool's transaction only when the lanes are gone (their runtime shut down).
                if let Ok(done) = self.grouped.call(new) {
                    return done.await;
                }
                let mut tx = crate::store::sql::begin(&self.pool, None).await?;
                sqlx::query(
                    "INSERT INTO tcx_sessions (id, user_id, app_id, created_at, expires_at)
                     VALUES ($1, $2, $3, $4, $5)",
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
                    "INSERT INTO tcx_refresh_tokens (digest, session_id, created_at) VALUES ($1, $2, $3)",
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
                reuse_interval: u64,
            ) -> Result<Rotation, StoreError> {
                use crate::store::sql_stores::RotationShortcut as _;
                // Look up first, outside any write transaction: an unknown, revoked or
                // expired token (a flood of random ones) takes no write lock. Where the
                // backend rotates a current token in one statement, that statement is the
                // look-up: it locks and writes only when the token is current.
                let rotation = crate::store::grouped::CurrentRotation {
                    presented: *presented,
                    next: *next,
                    now,
                };
                let row: Option<FamilyRow> = match self.rotations.rotate_current(rotation) {
                    Some(answer) => match answer.await? {
                        Some((id, _, user, app, expires_at, _, true)) => {
                            return Ok(Rotation::Rotated(Session {
                                id: SessionId::new(id),
                                user: UserId::new(user),
                                app: AppId::new(app),
                                expires_at,
                            }));
                        }
                        Some((id, rotated_at, user, app, expires_at, revoked_at, false)) => {
                            Some((id, rotated_at, user, app, expires_at, revoked_at))
                        }
                        None => None,
                    },
                    None => sqlx::query_as(FAMILY_OF_TOKEN)
                        .bind(&presented.as_bytes()[..])
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(store_error)?,
                };
                // Not rotated above: rotated already (reuse or grace), revoked, expired, or
                // changed by a concurrent rotation; the transaction below decides.
                if !row.is_some_and(|r| r.5.is_none() && r.4 >= now) {
                    return Ok(Rotation::Invalid);
                }
                // Then again under the write lock, which serializes rotations of the family.
                let mut tx = crate::store::sql::begin(&self.pool, Some($begin_write)).await?;
                let row: Option<LockedRow> = sqlx::query_as(concat!(
                    "SELECT t.session_id, t.rotated_at, s.user_id, s.app_id, s.expires_at, s.revoked_at,
                            t.generation, t.grace_used_at
                     FROM tcx_refresh_tokens t JOIN tcx_sessions s ON s.id = t.session_id
                     WHERE t.digest = $1 ",
                    $lock_rotation
                ))
                .bind(&presented.as_bytes()[..])
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_error)?;
                let Some((id, rotated_at, user, app, expires_at, revoked_at, generation, grace_used_at)) = row else {
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
                // The token rotated away now, and the new token's generation.
                let (away, next_generation, grace) = match rotated_at {
                    None => (presented.as_bytes().to_vec(), generation + 1, None),
                    Some(rotated_at) => {
                        let interval = i64::try_from(reuse_interval).unwrap_or(i64::MAX);
                        let in_grace = interval > 0
                            && grace_used_at.is_none()
                            && now.saturating_sub(rotated_at) <= interval;
                        // The grace covers only the token rotated last: its successor is current.
                        let successor: Option<Vec<u8>> = if in_grace {
                            sqlx::query_scalar(
                                "SELECT digest FROM tcx_refresh_tokens
                                 WHERE session_id = $1 AND generation = $2 AND rotated_at IS NULL",
                            )
                            .bind(session.id.as_str())
                            .bind(generation + 1)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(store_error)?
                        } else {
                            None
                        };
                        let Some(successor) = successor else {
                            sqlx::query("UPDATE tcx_sessions SET revoked_at = $1 WHERE id = $2")
                                .bind(now)
                                .bind(session.id.as_str())
                                .execute(&mut *tx)
                                .await
                                .map_err(store_error)?;
                            tx.commit().await.map_err(store_error)?;
                            return Ok(Rotation::Reused(session));
                        };
                        sqlx::query("UPDATE tcx_refresh_tokens SET grace_used_at = $1 WHERE digest = $2")
                            .bind(now)
                            .bind(&presented.as_bytes()[..])
                            .execute(&mut *tx)
                            .await
                            .map_err(store_error)?;
                        // The lost successor is rotated away too, and gets no grace of its own.
                        (successor, generation + 2, Some(now))
                    }
                };
                sqlx::query(
                    "UPDATE tcx_refresh_tokens SET rotated_at = $1, grace_used_at = $2 WHERE digest = $3",
                )
                    .bind(now)
                    .bind(grace)
                    .bind(&away)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                sqlx::query(
                    "INSERT INTO tcx_refresh_tokens (digest, session_id, created_at, generation)
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&next.as_bytes()[..])
                .bind(session.id.as_str())
                .bind(now)
                .bind(next_generation)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
                // A bounded history: the token ROTATED_TOKENS_KEPT + 1 generations back goes
                // (one exact key of the (session_id, generation) index; a range over the
                // family's earlier rows would walk their dead index entries too).
                let kept = ROTATED_TOKENS_KEPT as i64;
                sqlx::query("DELETE FROM tcx_refresh_tokens WHERE session_id = $1 AND generation = $2")
                    .bind(session.id.as_str())
                    .bind(next_generation - kept - 1)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(Rotation::Rotated(session))
            }

            async fn purge_expired(&self, now: i64, limit: usize) -> Result<u64, StoreError> {
                // The same `limit` oldest expired families in both statements: one
                // transaction, and no family expires into the past meanwhile.
                const EXPIRED: &str =
                    "SELECT id FROM tcx_sessions WHERE expires_at < $1 ORDER BY expires_at, id LIMIT $2";
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let mut tx = crate::store::sql::begin(&self.pool, Some($begin_write)).await?;
                sqlx::query(&format!(
                    "DELETE FROM tcx_refresh_tokens WHERE session_id IN ({EXPIRED})"
                ))
                .bind(now)
                .bind(limit)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
                let done = sqlx::query(&format!("DELETE FROM tcx_sessions WHERE id IN ({EXPIRED})"))
                    .bind(now)
                    .bind(limit)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(done.rows_affected())
            }

            async fn revoke_user(&self, user: &UserId) -> Result<u64, StoreError> {
                let done = sqlx::query(
                    "UPDATE tcx_sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
                )
                .bind(unix_now())
                .bind(user.as_str())
                .execute(&self.pool)
                .await
                .map_err(store_error)?;
                Ok(done.rows_affected())
            }

            async fn list_user(&self, user: &UserId, now: i64) -> Result<Vec<Session>, StoreError> {
                let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
                    "SELECT id, user_id, app_id, expires_at FROM tcx_sessions
                     WHERE user_id = $1 AND revoked_at IS NULL AND expires_at >= $2
                     ORDER BY created_at, id",
                )
                .bind(user.as_str())
                .bind(now)
                .fetch_all(&self.pool)
                .await
                .map_err(store_error)?;
                Ok(rows
                    .into_iter()
                    .map(|(id, user, app, expires_at)| Session {
                        id: SessionId::new(id),
                        user: UserId::new(user),
                        app: AppId::new(app),
                        expires_at,
                    })
                    .collect())
            }

            async fn delete_user(&self, user: &UserId) -> Result<u64, StoreError> {
                let mut tx = crate::store::sql::begin(&self.pool, Some($begin_write)).await?;
                sqlx::query(
                    "DELETE FROM tcx_refresh_tokens WHERE session_id IN
                         (SELECT id FROM tcx_sessions WHERE user_id = $1)",
                )
                .bind(user.as_str())
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
                let done = sqlx::query("DELETE FROM tcx_sessions WHERE user_id = $1")
                    .bind(user.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(done.rows_affected())
            }

            async fn revoke(&self, id: &SessionId) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE tcx_sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                )
                .bind(unix_now())
                .bind(id.as_str())
                .execute(&self.pool)
                .await
                .map_err(store_error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn revoke_by_token(&self, token: &KeyDigest) -> Result<bool, StoreError> {
                // Look up first: an unknown or already revoked token writes nothing.
                let row: Option<FamilyRow> = sqlx::query_as(FAMILY_OF_TOKEN)
                    .bind(&token.as_bytes()[..])
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_error)?;
                match row {
                    Some((id, _, _, _, _, None)) => self.revoke(&SessionId::new(id)).await,
                    _ => Ok(false),
                }
            }
        }
    };
}

pub(crate) use sql_stores;
