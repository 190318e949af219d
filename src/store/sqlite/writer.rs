//! Sign-ups written in groups by a thread of the store's own: one rusqlite connection,
//! beside the sqlx pool.
//!
//! Through sqlx, each group of sign-ups also paid for a task that built and bound the
//! group's statement, sqlx's channel to its connection thread (a message per returned row)
//! and that thread's executor: a SQLite sign-up took 47–54 µs of server CPU in
//! `bench/load.sh`, 38–42 µs this way (`BENCHMARKS.md`). The calls queue their upserts;
//! the thread, woken when the queue was empty, writes what has queued as one statement of
//! up to [`MAX_GROUP`] rows (its own transaction: one commit for the group) and answers
//! each call. Calls that queue while it writes make its next group; no call waits for a
//! timer.
//!
//! A group whose statement fails is written again one upsert at a time, so that an error
//! is only its own upsert's. When another connection holds SQLite's write lock (the pool
//! writing ledger entries or sessions), the thread waits for it in short steps (see
//! [`busy`]; SQLite's own waits sleep 1, 2, 5 … 100 ms), up to the pool's five seconds.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use sqlx::SqlitePool;
use tokio::sync::oneshot;

use super::checkpoints::FALLBACK_PAGES;
use super::readers::rusqlite_error;
use crate::StoreError;
use crate::store::grouped::{MAX_GROUP, Queued, Texts, Upserts, answer_all, next_group};
use crate::store::sql_stores::{Upsert, Written, upsert_sql};
use crate::util::sync::lock;

/// A sign-up and where its answer goes.
type Job = Queued<Upserts<SqlitePool>>;

/// What the calls and the thread share.
#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// The thread waits for a job (a call that queues one wakes it).
    idle: bool,
    /// The store is gone: the thread writes what is queued and stops.
    closed: bool,
}

/// The sign-up writer of one database file; its thread stops when this is dropped.
pub(super) struct SignUpWriter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SignUpWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignUpWriter").finish_non_exhaustive()
    }
}

/// How long the thread waits, in all, for another connection's write.
const BUSY_WAIT: Duration = Duration::from_secs(5);
/// The step of that wait.
const BUSY_STEP: Duration = Duration::from_micros(100);

/// The thread's busy handler: waits a step, up to [`BUSY_WAIT`].
fn busy(steps: i32) -> bool {
    let within = u128::try_from(steps)
        .is_ok_and(|steps| steps * BUSY_STEP.as_micros() < BUSY_WAIT.as_micros());
    if within {
        std::thread::sleep(BUSY_STEP);
    }
    within
}

impl SignUpWriter {
    /// Starts the writer of the database at `path` (WAL mode, migrated); `None` when the
    /// file cannot be opened for it or the thread cannot start.
    pub(super) fn start(path: &Path) -> Option<SignUpWriter> {
        let open = || -> rusqlite::Result<Connection> {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.pragma_update(None, "foreign_keys", true)?;
            conn.pragma_update(None, "wal_autocheckpoint", FALLBACK_PAGES)?;
            conn.busy_handler(Some(busy))?;
            // A statement for each group size.
            conn.set_prepared_statement_cache_capacity(MAX_GROUP + 8);
            Ok(conn)
        };
        let conn = open().ok()?;
        let shared = Arc::new(Shared::default());
        let theirs = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("tcx-sqlite-sign-ups".into())
            .spawn(move || run(&conn, &theirs))
            .ok()?;
        Some(SignUpWriter { shared })
    }

    /// Queues `upsert`; the answer comes once its group is committed.
    pub(super) fn upsert(&self, upsert: Upsert) -> Written {
        let (answer, answered) = oneshot::channel();
        let wake = {
            let mut queue = lock(&self.shared.queue);
            queue.jobs.push_back(Queued {
                job: upsert,
                answer,
            });
            std::mem::take(&mut queue.idle)
        };
        if wake {
            self.shared.wake.notify_one();
        }
        Box::pin(async move {
            answered
                .await
                .map_err(|_| StoreError::unavailable("the sign-up writer stopped"))?
        })
    }
}

impl Drop for SignUpWriter {
    fn drop(&mut self) {
        lock(&self.shared.queue).closed = true;
        self.shared.wake.notify_one();
    }
}

/// The thread: waits for jobs, writes them in groups, until the writer is dropped.
fn run(conn: &Connection, shared: &Shared) {
    loop {
        let group: Vec<Job> = {
            let mut queue = lock(&shared.queue);
            while queue.jobs.is_empty() {
                if queue.closed {
                    return;
                }
                queue.idle = true;
                queue = shared
                    .wake
                    .wait(queue)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            queue.idle = false;
            next_group(&mut queue.jobs)
        };
        write(conn, group);
    }
}

/// Writes `group` in one statement and answers it; if that fails, each job alone.
fn write(conn: &Connection, group: Vec<Job>) {
    match write_all(conn, group.iter().map(|queued| &queued.job)) {
        Ok(ids) => {
            for Queued { job, answer } in group {
                let _ = answer.send(Ok(job.inserted(&ids)));
            }
        }
        Err(_) if group.len() > 1 => {
            for queued in group {
                // A caller that gave up meanwhile is not written for.
                if !queued.answer.is_closed() {
                    write(conn, vec![queued]);
                }
            }
        }
        Err(err) => answer_all(group, &rusqlite_error(err)),
    }
}

/// `upserts` in one statement ([`upsert_sql`]: its own transaction, so SQLite keeps no
/// statement journal), which no two upserts of one user share: for each, whether the
/// statement returned its new id (it inserted the user).
fn write_all<'a>(
    conn: &Connection,
    upserts: impl ExactSizeIterator<Item = &'a Upsert>,
) -> rusqlite::Result<Vec<String>> {
    let rows = upserts.len();
    let mut statement = conn.prepare_cached(&TEXTS.get(rows))?;
    let mut at = 1;
    for u in upserts {
        for text in [
            u.new_id.as_str(),
            u.app.as_str(),
            u.profile.external_id.as_str(),
            u.profile.email.as_str(),
            u.profile.first_name.as_str(),
        ] {
            statement.raw_bind_parameter(at, text)?;
            at += 1;
        }
        statement.raw_bind_parameter(at, u.now)?;
        statement.raw_bind_parameter(at + 1, u.now)?;
        at += 2;
    }
    let mut ids = Vec::new();
    let mut returned = statement.raw_query();
    while let Some(row) = returned.next()? {
        ids.push(row.get(0)?);
    }
    Ok(ids)
}

/// [`upsert_sql`] in SQLite's placeholders, for each group size.
static TEXTS: Texts<String> =
    Texts::new(|rows| <SqlitePool as crate::store::grouped::Dialect>::text(upsert_sql(rows)));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ExternalProfile, User};
    use crate::{AppId, UserId};

    fn job(
        external_id: &str,
        email: &str,
    ) -> (Job, oneshot::Receiver<Result<Option<User>, StoreError>>) {
        let (answer, answered) = oneshot::channel();
        let upsert = Upsert {
            app: AppId::new("acme"),
            profile: ExternalProfile::new(external_id, email, "Name"),
            new_id: UserId::random(),
            now: 1_700_000_000,
        };
        (
            Queued {
                job: upsert,
                answer,
            },
            answered,
        )
    }

    /// A group with one upsert the database refuses: the others are written and answered
    /// with their users, the refused one gets its error, and nothing else is lost.
    #[test]
    fn a_refused_upsert_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("w.db")).unwrap();
        conn.execute_batch(
            "CREATE TABLE tcx_users (
                id TEXT PRIMARY KEY, app_id TEXT NOT NULL, external_id TEXT NOT NULL,
                email TEXT NOT NULL CHECK (email <> 'refused@example.com'),
                first_name TEXT NOT NULL, created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL, UNIQUE (app_id, external_id))",
        )
        .unwrap();
        let (one, one_answer) = job("one", "one@example.com");
        let (refused, refused_answer) = job("two", "refused@example.com");
        let (three, three_answer) = job("three", "three@example.com");
        write(&conn, vec![one, refused, three]);
        for (mut answered, external_id) in [(one_answer, "one"), (three_answer, "three")] {
            let user = answered.try_recv().unwrap().unwrap().unwrap();
            assert_eq!(user.external_id, external_id);
        }
        let mut refused_answer = refused_answer;
        assert!(refused_answer.try_recv().unwrap().is_err());
        let stored: Vec<String> = conn
            .prepare("SELECT external_id FROM tcx_users ORDER BY external_id")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(stored, ["one", "three"]);
    }
}
