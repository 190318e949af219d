//! Checkpoints off the write path: a thread of its own copies the WAL into the database
//! file, so that commits do not wait for it.
//!
//! SQLite's default is to checkpoint inside the commit that takes the WAL past 1,000 pages:
//! that commit copies 4 MB and syncs two files while every other write queues behind it
//! (measured: a fifth of the sign-ups a second, and the p99). Here a thread runs a
//! `PASSIVE` checkpoint (which never waits for the writer or readers, nor makes them wait)
//! every [`INTERVAL`] while there is something to copy, and less often when there is not.
//! The pool keeps an automatic checkpoint at [`FALLBACK_PAGES`] in case this thread falls
//! behind or is not running.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How often the WAL is checkpointed while writes come in.
const INTERVAL: Duration = Duration::from_millis(100);

/// How often an idle WAL is looked at.
const IDLE_INTERVAL: Duration = Duration::from_secs(1);

/// The WAL size, in pages, at which the writer checkpoints by itself: 16 MB.
pub(super) const FALLBACK_PAGES: u32 = 4_000;

/// The checkpointing thread of one database file; it stops when this is dropped.
#[derive(Debug)]
pub(super) struct Checkpoints {
    _stop: Sender<()>,
}

impl Checkpoints {
    /// Starts checkpointing the WAL of the database at `path`; `None` when the file cannot
    /// be opened for it (the writer's own checkpoints then keep the WAL in bounds).
    pub(super) fn start(path: &Path) -> Option<Checkpoints> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ok()?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("tcx-sqlite-checkpoints".into())
            .spawn(move || {
                let mut wait = INTERVAL;
                // Until the owner is dropped (the channel disconnects).
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(wait) {
                    wait = match checkpoint(&conn) {
                        Ok(0) => IDLE_INTERVAL,
                        _ => INTERVAL,
                    };
                }
            })
            .ok()?;
        Some(Checkpoints { _stop: stop })
    }
}

/// A `PASSIVE` checkpoint; the number of frames the WAL held.
fn checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_copies_the_wal_into_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .unwrap();
        writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        writer
            .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2), (3);")
            .unwrap();
        let size = || std::fs::metadata(&path).unwrap().len();
        let before = size();
        let _checkpoints = Checkpoints::start(&path).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while size() == before && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            size() > before,
            "the database file stayed at {before} bytes"
        );
    }
}
