//! Reads on the calling thread: a few rusqlite connections to the same file, beside the
//! sqlx pool.
//!
//! sqlx runs each SQLite connection on a thread of its own, so a query costs two thread
//! hand-offs (measured: most of the server's CPU in a sign-in went to the kernel's context
//! switches). A read of one user by a unique index takes a few microseconds in SQLite and,
//! in WAL mode, never waits for a writer, so the user store runs those reads inline. Writes
//! stay on the pool (they may wait for the single writer).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use sqlx::SqlitePool;

use crate::store::User;
use crate::store::sql_stores::UserQuery;
use crate::util::sync::lock;
use crate::{AppId, StoreError, UserId};

/// Idle connections kept for reuse.
const IDLE: usize = 4;

/// Inline readers for a file database; none for an in-memory one (another connection
/// would see another database).
#[derive(Clone, Debug)]
pub(crate) struct InlineReaders(Option<Arc<Readers>>);

#[derive(Debug)]
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl InlineReaders {
    /// Readers of the database `file` (see [`database_file`]); none without one.
    pub(crate) fn for_file(file: Option<PathBuf>) -> Self {
        InlineReaders(file.map(|path| {
            Arc::new(Readers {
                path,
                idle: Mutex::default(),
            })
        }))
    }
}

/// The file of `pool`'s database; `None` for an in-memory one (another connection would
/// see another database).
pub(crate) fn database_file(pool: &SqlitePool) -> Option<PathBuf> {
    let options = pool.connect_options();
    let path = options.get_filename();
    let in_memory = path.as_os_str().is_empty()
        || path
            .to_str()
            .is_some_and(|p| p.starts_with(":memory:") || p.contains("mode=memory"));
    (!in_memory).then(|| path.to_path_buf())
}

impl Readers {
    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.pragma_update(None, "query_only", true)?;
        conn.busy_timeout(std::time::Duration::from_millis(100))?;
        Ok(conn)
    }

    fn with<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let idle = lock(&self.idle).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open().map_err(rusqlite_error)?,
        };
        let result = read(&conn).map_err(rusqlite_error);
        let mut idle = lock(&self.idle);
        if idle.len() < IDLE {
            idle.push(conn);
        }
        result
    }
}

/// The same outcomes as the pool's errors (`sql::store_error`): BUSY, LOCKED, IOERR, FULL
/// and CANTOPEN are "unavailable".
pub(super) fn rusqlite_error(err: rusqlite::Error) -> StoreError {
    match &err {
        rusqlite::Error::SqliteFailure(failure, _)
            if crate::store::sql::sqlite_is_transient(failure.extended_code) =>
        {
            StoreError::unavailable(err)
        }
        _ => StoreError::other(err),
    }
}

const BY_EXTERNAL: &str =
    "SELECT id, app_id, external_id, email, first_name, created_at, updated_at
     FROM tcx_users WHERE app_id = ?1 AND external_id = ?2";
const BY_ID: &str = "SELECT id, app_id, external_id, email, first_name, created_at, updated_at
     FROM tcx_users WHERE id = ?1";

fn user(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId::new(row.get_ref(0)?.as_str()?),
        app: AppId::new(row.get_ref(1)?.as_str()?),
        external_id: row.get(2)?,
        email: row.get(3)?,
        first_name: row.get(4)?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
    })
}

impl InlineReaders {
    /// The user `query` names, read on the calling thread; `None` for an in-memory database.
    pub(crate) fn read(&self, query: UserQuery<'_>) -> Option<Result<Option<User>, StoreError>> {
        let readers = self.0.as_ref()?;
        Some(readers.with(|conn| {
            match query {
                UserQuery::External(app, external_id) => conn
                    .prepare_cached(BY_EXTERNAL)?
                    .query_row((app, external_id), user)
                    .optional(),
                UserQuery::Id(id) => conn.prepare_cached(BY_ID)?.query_row([id], user).optional(),
            }
        }))
    }
}
