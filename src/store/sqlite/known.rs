//! The user store's [`KnownUsers`] filter for a database file: sized from the users stored
//! when the store starts and loaded by a thread of its own, in chunks of [`CHUNK`] rows (one
//! short read transaction each, so the checkpoints are never held up for long).

use std::path::Path;
use std::sync::{Arc, Weak};

use rusqlite::{Connection, OpenFlags};

use crate::store::known_users::KnownUsers;

/// Rows read per transaction while loading.
const CHUNK: i64 = 8_192;

/// A filter for the users of the database at `path`, loading in the background; `None` when
/// the file cannot be read for it (every sign-up then reads first).
pub(super) fn start(path: &Path) -> Option<Arc<KnownUsers>> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ok()?;
    // The largest rowid: the users ever stored, at most a few more than are (an estimate
    // for the size, read without a scan).
    let users: i64 = conn
        .query_row("SELECT COALESCE(MAX(rowid), 0) FROM tcx_users", [], |row| {
            row.get(0)
        })
        .ok()?;
    let known = Arc::new(KnownUsers::for_users(users.max(0) as u64));
    let loading = Arc::downgrade(&known);
    std::thread::Builder::new()
        .name("tcx-sqlite-known-users".into())
        .spawn(move || {
            if load(&conn, &loading).is_err() {
                // Left unloaded: every sign-up reads first, as without a filter.
                tracing::warn!("could not load the stored users; sign-ups read before writing");
            }
        })
        .ok()?;
    Some(known)
}

/// Inserts every stored user into the filter, then marks it loaded; stops early (`Ok`) when
/// the store is dropped.
fn load(conn: &Connection, known: &Weak<KnownUsers>) -> rusqlite::Result<()> {
    let mut statement = conn.prepare(
        "SELECT rowid, app_id, external_id FROM tcx_users WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
    )?;
    let mut after = 0_i64;
    loop {
        let Some(known) = known.upgrade() else {
            return Ok(());
        };
        let mut rows = statement.query((after, CHUNK))?;
        let mut read = 0;
        while let Some(row) = rows.next()? {
            after = row.get(0)?;
            known.insert(row.get_ref(1)?.as_str()?, row.get_ref(2)?.as_str()?);
            read += 1;
        }
        if read < CHUNK {
            known.loaded();
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_loads_every_stored_user_in_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "CREATE TABLE tcx_users (app_id TEXT NOT NULL, external_id TEXT NOT NULL)",
            )
            .unwrap();
        let stored = 3 * CHUNK + 5;
        let tx = writer.unchecked_transaction().unwrap();
        for n in 0..stored {
            tx.execute(
                "INSERT INTO tcx_users VALUES ('acme', ?1)",
                [format!("user-{n}")],
            )
            .unwrap();
        }
        tx.commit().unwrap();
        let known = start(&path).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !known.is_loaded() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(known.is_loaded(), "not loaded within 20 s");
        let missing = (0..stored)
            .filter(|n| !known.may_contain("acme", &format!("user-{n}")))
            .count();
        assert_eq!(missing, 0, "stored users the filter calls new");
        assert!(!known.may_contain("acme", "never-stored"));
    }

    #[test]
    fn no_filter_without_the_users_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.db");
        Connection::open(&path).unwrap();
        assert!(start(&path).is_none());
    }
}
