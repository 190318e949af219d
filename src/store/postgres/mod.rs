//! PostgreSQL backends (feature `postgres`): [`PostgresUserStore`],
//! [`PostgresApiKeyStore`], [`PostgresReplayLedger`] and [`PostgresSessionStore`] over one
//! pool opened by [`connect`], shared by every instance of a deployment.
//!
//! Tables are prefixed `tcx_` and live in the schema of [`PostgresOptions::schema`] (default
//! `public`). [`connect`] applies the embedded migrations under a transaction-scoped
//! advisory lock, so instances that start at once migrate one after the other, and a
//! migration that was applied is skipped. Expired ledger entries and sessions are deleted by
//! housekeeping in bounded batches, never inside a request
//! ([`TechCentrixAuth::run_housekeeping`](crate::TechCentrixAuth::run_housekeeping)).
//!
//! ```no_run
//! use techcentrix_auth::store::postgres::{self, PostgresOptions, PostgresUserStore};
//!
//! # async fn run() -> Result<(), techcentrix_auth::StoreError> {
//! let options = PostgresOptions::new("postgres://postgres@127.0.0.1/test").schema("auth");
//! let pool = postgres::connect(&options).await?;
//! let users = PostgresUserStore::new(pool);
//! # Ok(()) }
//! ```

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::grouped::{
    CurrentRotation, Grouped, Read, Reads, ReadsById, Rotations as RotationBatch, Upserts,
    grouped_statements,
};
use super::sql::{apply_migrations, store_error};
use super::sql_stores::{
    Answer, Found, RotatedRow, RotationShortcut, Upsert, UserQuery, UserShortcuts, Written,
};
use crate::{AppId, StoreError, UserId};

mod stores;

grouped_statements!(PgPool, sqlx::postgres::PgRow: Upserts, Reads, ReadsById, Consumes);
grouped_statements!(@SessionInserts PgPool, one_statement: true);

/// Lanes of each grouped call: statements of groups in flight at once (of the pool's
/// connections). Fewer lanes make larger groups; more, shorter waits under light load.
const LANES: usize = 4;

/// The user store's paths beside the pool: reads (by `(app, external id)`, by id) and
/// sign-ups sent in groups.
#[derive(Clone, Debug)]
struct Shortcuts {
    reads: Grouped<Reads<PgPool>>,
    reads_by_id: Grouped<ReadsById<PgPool>>,
    upserts: Grouped<Upserts<PgPool>>,
}

impl Shortcuts {
    fn for_pool(pool: &PgPool) -> Self {
        Shortcuts {
            reads: Grouped::new(Reads(pool.clone()), LANES),
            reads_by_id: Grouped::new(ReadsById(pool.clone()), LANES),
            upserts: Grouped::new(Upserts(pool.clone()), LANES),
        }
    }
}

/// The session store's rotations of current tokens, sent in groups
/// ([`rotate_current_sql`](super::grouped::rotate_current_sql)).
#[derive(Clone, Debug)]
struct Rotations(Grouped<RotationBatch<PgPool>>);

impl Rotations {
    fn for_pool(pool: &PgPool) -> Self {
        Rotations(Grouped::new(RotationBatch(pool.clone()), LANES))
    }
}

impl RotationShortcut for Rotations {
    fn rotate_current(&self, rotation: CurrentRotation) -> Option<Answer<Option<RotatedRow>>> {
        self.0.call(rotation).ok()
    }
}

impl UserShortcuts for Shortcuts {
    fn read(&self, query: UserQuery<'_>) -> Option<Found> {
        let found = match query {
            UserQuery::External(app, external_id) => self
                .reads
                .call(Read {
                    app: AppId::from(app),
                    external_id: external_id.to_owned(),
                })
                .ok(),
            UserQuery::Id(id) => self.reads_by_id.call(UserId::from(id)).ok(),
        };
        found.map(Found::Later)
    }

    fn upsert(&self, upsert: Upsert) -> Result<Written, Upsert> {
        self.upserts.call(upsert)
    }
}

pub use stores::{
    PostgresApiKeyStore, PostgresReplayLedger, PostgresSessionStore, PostgresUserStore,
};

/// The embedded migrations, applied in order; each runs once per schema.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        include_str!("../../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        include_str!("../../../migrations/postgres/0002_sessions.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/postgres/0003_bounded_rotation.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/postgres/0004_sessions_by_user.sql"),
    ),
];

/// The first key of the advisory lock that serializes migrations (the second is the
/// schema's hash): "TCX" in ASCII.
const MIGRATION_LOCK: i32 = 0x54_43_58;

/// How to reach PostgreSQL. Its `Debug` hides the URL's password.
#[derive(Clone)]
pub struct PostgresOptions {
    url: String,
    schema: Option<String>,
    max_connections: u32,
    acquire_timeout: Duration,
}

impl std::fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("url", &crate::secret::redacted_url(&self.url))
            .field("schema", &self.schema)
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish()
    }
}

impl PostgresOptions {
    /// A `postgres://` URL; 16 connections at most, 3 s to get one.
    pub fn new(url: impl Into<String>) -> Self {
        PostgresOptions {
            url: url.into(),
            schema: None,
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
        }
    }

    /// Puts the tables in this schema (created if missing): letters, digits and `_`,
    /// starting with a letter or `_`, at most 63 bytes.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// The pool's size.
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long a call may wait for a connection before it fails (503/7 for the client).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }
}

/// Whether `schema` is a plain SQL identifier that needs no quoting: letters, digits and
/// `_`, starting with a letter or `_`, at most 63 bytes (PostgreSQL's limit).
///
/// ```
/// use techcentrix_auth::store::postgres::valid_schema;
///
/// assert!(valid_schema("tenant_7"));
/// assert!(!valid_schema("bad-schema"));
/// ```
pub fn valid_schema(schema: &str) -> bool {
    let mut bytes = schema.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && schema.len() <= 63
}

/// Opens a pool and applies the migrations.
pub async fn connect(options: &PostgresOptions) -> Result<PgPool, StoreError> {
    let mut connect = PgConnectOptions::from_str(&options.url).map_err(StoreError::other)?;
    if let Some(schema) = &options.schema {
        if !valid_schema(schema) {
            return Err(StoreError::other(format!("invalid schema name `{schema}`")));
        }
        connect = connect.options([("search_path", schema.as_str())]);
    }
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        // No ping before each use: it is a round trip the request waits for, on every
        // statement. A connection that died meanwhile fails its statement (503/7 for that
        // request) and is replaced.
        .test_before_acquire(false)
        .connect_with(connect)
        .await
        .map_err(store_error)?;
    migrate(&pool, options.schema.as_deref().unwrap_or("public")).await?;
    Ok(pool)
}

/// Applies the migrations that `schema` has not seen yet, in one transaction holding an
/// advisory lock for that schema.
pub async fn migrate(pool: &PgPool, schema: &str) -> Result<(), StoreError> {
    if !valid_schema(schema) {
        return Err(StoreError::other(format!("invalid schema name `{schema}`")));
    }
    let mut tx = pool.begin().await.map_err(store_error)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(MIGRATION_LOCK)
        .bind(schema)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    // Validated above: a plain identifier.
    let create_schema = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
    sqlx::raw_sql(&create_schema)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    let create_table = format!(
        "CREATE TABLE IF NOT EXISTS {schema}.tcx_migrations (
            version BIGINT PRIMARY KEY,
            applied_at BIGINT NOT NULL
        )"
    );
    sqlx::raw_sql(&create_table)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    let set_path = format!("SET LOCAL search_path TO {schema}");
    sqlx::raw_sql(&set_path)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    apply_migrations!(tx, MIGRATIONS);
    tx.commit().await.map_err(store_error)
}
