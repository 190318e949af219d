//! SQLite backends (feature `sqlite`): [`SqliteUserStore`], [`SqliteApiKeyStore`],
//! [`SqliteReplayLedger`] and [`SqliteSessionStore`] over one pool opened by [`open`].
//!
//! Tables are prefixed `tcx_` so they can live in a host's database; the schema is created
//! by the embedded migrations that [`open`] (or [`migrate`]) applies. The database runs in
//! WAL mode with `synchronous = NORMAL`: every write is committed to the WAL before the call
//! returns, so a crash of the process loses nothing; the WAL reaches the disk at checkpoints,
//! so a power cut or kernel crash can lose the commits since the last one (the file stays
//! consistent). The user store starts a thread that checkpoints every 0.1 s while writes come
//! in, off the write path; the writer checkpoints by itself only past 4,000 pages. The
//! README's "Durability" paragraph says what a loss can undo.
//!
//! Concurrent sign-ups ([`UserStore::upsert_external`](crate::store::UserStore)) are written
//! in groups, one statement and one commit each, by a thread the user store starts on a
//! connection of its own (`tcx-sqlite-sign-ups`; through the pool for an in-memory
//! database); each call returns once its group is committed. A sign-in reads the user
//! first and writes nothing when the profile is unchanged; a sign-up of a user the store has
//! never seen skips that read: the store keeps a Bloom filter of the stored
//! `(app, external id)` pairs (2 MiB for up to about 1.5 million users, more when the file
//! holds more at start; loaded by a thread of its own when the store is made, every sign-up
//! reading first until then). A user another process signed up is still signed in, never
//! twice: the upsert finds the row.
//!
//! Expired ledger entries and sessions are deleted by housekeeping, never inside a request:
//! [`ReplayLedger::purge_expired`](crate::store::ReplayLedger::purge_expired) and
//! [`SessionStore::purge_expired`](crate::store::SessionStore::purge_expired), in bounded
//! batches, run by [`TechCentrixAuth::run_housekeeping`](crate::TechCentrixAuth::run_housekeeping).
//!
//! ```
//! use techcentrix_auth::store::sqlite::{self, SqliteUserStore};
//! use techcentrix_auth::store::{ExternalProfile, UserStore};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let pool = sqlite::open(dir.path().join("auth.db")).await.unwrap();
//! let users = SqliteUserStore::new(pool);
//! let profile = ExternalProfile::new("user1-external", "user1@techcentrix.com", "User1Name");
//! let user = users.upsert_external(&"acme".into(), &profile).await.unwrap().into_user();
//! assert_eq!(users.find(&user.id).await.unwrap(), Some(user));
//! # });
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::grouped::{Grouped, Upserts, grouped_statements};
use super::known_users::KnownUsers;
use super::sql::{apply_migrations, store_error};
use super::sql_stores::{Found, Upsert, UserQuery, UserShortcuts, Written};
use crate::{AppId, StoreError};

mod checkpoints;
mod known;
mod readers;
mod stores;
mod writer;

grouped_statements!(SqlitePool, sqlx::sqlite::SqliteRow: Upserts, Consumes);
grouped_statements!(@SessionInserts SqlitePool, one_statement: false);

pub use stores::{SqliteApiKeyStore, SqliteReplayLedger, SqliteSessionStore, SqliteUserStore};

/// The user store's paths beside the pool: reads on the calling thread, sign-ups written
/// in groups by a thread of its own (through the pool, in groups too, for an in-memory
/// database), the users it has seen (so that a new user's sign-up need not read first);
/// and the file's checkpoints, off the write path, while the store lives.
#[derive(Clone, Debug)]
struct Shortcuts {
    readers: readers::InlineReaders,
    writer: Option<Arc<writer::SignUpWriter>>,
    upserts: Grouped<Upserts<SqlitePool>>,
    pool: SqlitePool,
    known: Option<Arc<KnownUsers>>,
    _checkpoints: Option<Arc<checkpoints::Checkpoints>>,
}

impl Shortcuts {
    fn for_pool(pool: &SqlitePool) -> Self {
        let file = readers::database_file(pool);
        Shortcuts {
            known: file.as_deref().and_then(known::start),
            _checkpoints: file
                .as_deref()
                .and_then(checkpoints::Checkpoints::start)
                .map(Arc::new),
            writer: file
                .as_deref()
                .and_then(writer::SignUpWriter::start)
                .map(Arc::new),
            readers: readers::InlineReaders::for_file(file),
            // One lane: SQLite has one writer.
            upserts: Grouped::new(Upserts(pool.clone()), 1),
            pool: pool.clone(),
        }
    }
}

impl UserShortcuts for Shortcuts {
    fn read(&self, query: UserQuery<'_>) -> Option<Found> {
        self.readers.read(query).map(Found::Now)
    }

    fn may_be_stored(&self, app: &AppId, external_id: &str) -> bool {
        self.known
            .as_ref()
            .is_none_or(|known| known.may_contain(app.as_str(), external_id))
    }

    fn stored(&self, app: &AppId, external_id: &str) {
        if let Some(known) = &self.known {
            known.insert(app.as_str(), external_id);
        }
    }

    fn upsert(&self, upsert: Upsert) -> Result<Written, Upsert> {
        match &self.writer {
            // Once the host has closed the pool, the store writes nothing (the pool's path
            // answers that the database is unavailable).
            Some(writer) if !self.pool.is_closed() => Ok(writer.upsert(upsert)),
            _ => self.upserts.call(upsert),
        }
    }
}

/// The embedded migrations, applied in order; each runs once per database.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../../../migrations/sqlite/0002_sessions.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/sqlite/0003_bounded_rotation.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/sqlite/0004_sessions_by_user.sql"),
    ),
];

/// Opens (creating it if needed) the SQLite database at `path` and applies the migrations.
///
/// The pool has one connection: SQLite has one writer at a time, and several connections
/// competing for it would poll each other's locks (`busy_timeout` sleeps) instead of
/// queueing. User reads do not need the pool (they run inline, see the user store).
pub async fn open(path: impl AsRef<Path>) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true)
        // The user store checkpoints on a thread of its own (see `checkpoints`); the writer
        // does only if that falls behind or does not run.
        .pragma(
            "wal_autocheckpoint",
            checkpoints::FALLBACK_PAGES.to_string(),
        );
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        // No ping before each use: a round trip to the connection's thread on every
        // statement, for a file that cannot go away the way a server connection can.
        .test_before_acquire(false)
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
        apply_migrations!(tx, [(version, sql)]);
        tx.commit().await.map_err(store_error)?;
    }
    Ok(())
}
