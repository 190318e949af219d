//! Sign-ups written in groups: concurrent upserts of users queue for one task, which writes
//! each group as one multi-row statement, so one hand-off to the connection's thread and one
//! commit (one WAL append of the pages the group touched) serve the whole group.
//!
//! Without it each sign-up is its own statement and its own commit on the pool's single
//! connection: the sign-ups queue for that connection one at a time, each paying the thread
//! hand-offs and a WAL append of the same few pages (`BENCHMARKS.md` has both measured). A
//! group is only as large as the queue when the task comes back for more: under light load
//! it is one row, written at once.

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use crate::StoreError;
use crate::store::sql::store_error;
use crate::store::sql_stores::{
    Upsert, UpsertResult, Written, bind_upserts, upsert_sql, user_from_row,
};

/// The most rows in one statement (6 parameters each). Few distinct statement texts also
/// keep sqlx's statement cache (100 entries) from churning.
const MAX_GROUP: usize = 64;

/// An upsert and where its answer goes.
struct Job {
    upsert: Upsert,
    answer: oneshot::Sender<UpsertResult>,
}

impl Job {
    fn key(&self) -> (&str, &str) {
        (self.upsert.app.as_str(), &self.upsert.profile.external_id)
    }
}

/// The queue to the writing task, started with the first upsert (on the runtime that makes
/// it); shared by the store's clones.
#[derive(Clone, Debug)]
pub(crate) struct GroupedUpserts {
    pool: SqlitePool,
    queue: Arc<OnceLock<mpsc::UnboundedSender<Job>>>,
}

impl GroupedUpserts {
    pub(crate) fn new(pool: SqlitePool) -> Self {
        GroupedUpserts {
            pool,
            queue: Arc::default(),
        }
    }

    /// Queues `upsert`; the future answers once its group is committed. `Err` gives it back
    /// when the writing task is gone (the runtime that started it has shut down): the caller
    /// then writes it alone.
    pub(crate) fn upsert(&self, upsert: Upsert) -> Result<Written, Upsert> {
        let queue = self.queue.get_or_init(|| {
            let (queue, jobs) = mpsc::unbounded_channel();
            tokio::spawn(write_groups(self.pool.clone(), jobs));
            queue
        });
        let (answer, answered) = oneshot::channel();
        match queue.send(Job { upsert, answer }) {
            Ok(()) => Ok(Box::pin(async move {
                answered
                    .await
                    .map_err(|_| StoreError::unavailable("the SQLite sign-up writer stopped"))?
            })),
            Err(mpsc::error::SendError(job)) => Err(job.upsert),
        }
    }
}

/// The writing task: takes what has queued (at most [`MAX_GROUP`], one job per user: a
/// second upsert of the same user waits for the next group), writes it, answers; until the
/// store is dropped.
async fn write_groups(pool: SqlitePool, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let mut waiting: VecDeque<Job> = VecDeque::new();
    loop {
        if waiting.is_empty() {
            match jobs.recv().await {
                Some(job) => waiting.push_back(job),
                None => return,
            }
        }
        while waiting.len() < MAX_GROUP * 2 {
            match jobs.try_recv() {
                Ok(job) => waiting.push_back(job),
                Err(_) => break,
            }
        }
        let group = next_group(&mut waiting);
        if !group.is_empty() {
            write(&pool, group).await;
        }
    }
}

/// Takes from `waiting` the next group: in queue order, at most [`MAX_GROUP`], no user
/// twice; jobs whose caller gave up (timed out, disconnected) are dropped unwritten.
fn next_group(waiting: &mut VecDeque<Job>) -> Vec<Job> {
    let mut group: Vec<Job> = Vec::new();
    let mut later = VecDeque::new();
    while let Some(job) = waiting.pop_front() {
        if job.answer.is_closed() {
            continue;
        }
        // At most 64 in a group: a scan costs less than hashing owned keys.
        if group.len() == MAX_GROUP || group.iter().any(|g| g.key() == job.key()) {
            later.push_back(job);
        } else {
            group.push(job);
        }
    }
    *waiting = later;
    group
}

/// Writes `group` as one statement and answers each job with its row. If the statement
/// fails, each job is written alone, so that one row's error is that row's only.
async fn write(pool: &SqlitePool, group: Vec<Job>) {
    let sql = upsert_sql(group.len());
    let written = bind_upserts(sqlx::query(&sql), group.iter().map(|job| &job.upsert))
        .fetch_all(pool)
        .await;
    match written {
        Ok(rows) => {
            let mut users = match rows
                .iter()
                .map(user_from_row)
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(users) => users,
                Err(err) => return answer_all(group, &err),
            };
            for job in group {
                let (app, external_id) = job.key();
                let user = users
                    .iter()
                    .position(|u| u.app.as_str() == app && u.external_id == external_id)
                    .map(|at| users.swap_remove(at));
                let _ = job.answer.send(Ok(user));
            }
        }
        Err(err) if group.len() == 1 => {
            if let Some(job) = group.into_iter().next() {
                let _ = job.answer.send(Err(store_error(err)));
            }
        }
        Err(_) => {
            for job in group {
                let sql = upsert_sql(1);
                let alone = bind_upserts(sqlx::query(&sql), [&job.upsert])
                    .fetch_optional(pool)
                    .await
                    .map_err(store_error)
                    .and_then(|row| row.as_ref().map(user_from_row).transpose());
                let _ = job.answer.send(alone);
            }
        }
    }
}

/// Answers every job of `group` with `err`.
fn answer_all(group: Vec<Job>, err: &StoreError) {
    for job in group {
        let _ = job.answer.send(Err(err.for_another()));
    }
}
