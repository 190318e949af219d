//! User reads and sign-ups sent in groups: concurrent calls queue for a few tasks (lanes),
//! each of which takes what has queued and sends it as one multi-row statement, so one round
//! trip (and, for a write, one commit) serves the whole group.
//!
//! SQLite writes its sign-ups this way on one lane (one writer: each sign-up alone paid the
//! thread hand-offs of sqlx's connection thread and a WAL append of the same few pages);
//! PostgreSQL reads and writes users this way on a few lanes (each statement alone paid a
//! round trip, and on a small machine the context switches of waking the server and being
//! woken; `BENCHMARKS.md` has both measured). A group is only as large as the queue when a
//! lane comes back for more: under light load it is one row, sent at once; no call waits
//! for a timer.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use tokio::sync::{Mutex, mpsc, oneshot};

use crate::store::User;
use crate::store::sql::store_error;
use crate::store::sql_stores::{Upsert, user_from_row};
use crate::{AppId, StoreError, UserId};

/// The most rows in one statement. Few distinct statement texts also keep sqlx's statement
/// cache (100 entries) from churning.
pub(crate) const MAX_GROUP: usize = 64;

/// A boxed future that answers a grouped call.
pub(crate) type Answer<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send>>;

/// A read of one user by `(app, external id)`.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
#[derive(Debug)]
pub(crate) struct Read {
    pub(crate) app: AppId,
    pub(crate) external_id: String,
}

/// One kind of grouped call on one pool: what a job is, and how a group of them is sent.
pub(crate) trait Batch: Send + Sync + 'static {
    /// The call's input.
    type Job: Send + 'static;
    /// The call's answer.
    type Output: Send + 'static;
    /// A name for the error when the lanes are gone.
    const WHAT: &'static str;

    /// Whether two jobs may not share a group (two upserts of one user).
    fn clash(a: &Self::Job, b: &Self::Job) -> bool;

    /// Sends `group` and answers each job.
    fn send(&self, group: Vec<Queued<Self>>) -> impl Future<Output = ()> + Send;
}

/// A job and where its answer goes.
pub(crate) struct Queued<B: Batch + ?Sized> {
    pub(crate) job: B::Job,
    pub(crate) answer: oneshot::Sender<Result<B::Output, StoreError>>,
}

/// The queue to the lanes, started with the first call (on the runtime that makes it);
/// shared by the store's clones.
pub(crate) struct Grouped<B: Batch> {
    batch: Arc<B>,
    lanes: usize,
    queue: Arc<OnceLock<mpsc::UnboundedSender<Queued<B>>>>,
}

impl<B: Batch> Clone for Grouped<B> {
    fn clone(&self) -> Self {
        Grouped {
            batch: Arc::clone(&self.batch),
            lanes: self.lanes,
            queue: Arc::clone(&self.queue),
        }
    }
}

impl<B: Batch> std::fmt::Debug for Grouped<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grouped")
            .field("calls", &B::WHAT)
            .field("lanes", &self.lanes)
            .finish_non_exhaustive()
    }
}

impl<B: Batch> Grouped<B> {
    /// Calls of `batch` sent by `lanes` tasks (at least one).
    pub(crate) fn new(batch: B, lanes: usize) -> Self {
        Grouped {
            batch: Arc::new(batch),
            lanes: lanes.max(1),
            queue: Arc::default(),
        }
    }

    /// Queues `job`; the future answers once its group is sent. `Err` gives it back when the
    /// lanes are gone (the runtime that started them has shut down): the caller then sends
    /// it alone.
    pub(crate) fn call(&self, job: B::Job) -> Result<Answer<B::Output>, B::Job> {
        let queue = self.queue.get_or_init(|| {
            let (queue, jobs) = mpsc::unbounded_channel();
            let jobs = Arc::new(Mutex::new(jobs));
            for _ in 0..self.lanes {
                tokio::spawn(lane(Arc::clone(&self.batch), Arc::clone(&jobs)));
            }
            queue
        });
        let (answer, answered) = oneshot::channel();
        match queue.send(Queued { job, answer }) {
            Ok(()) => Ok(Box::pin(async move {
                answered
                    .await
                    .map_err(|_| StoreError::unavailable(format!("the {} stopped", B::WHAT)))?
            })),
            Err(mpsc::error::SendError(queued)) => Err(queued.job),
        }
    }
}

/// One lane: takes what has queued (at most [`MAX_GROUP`], no two clashing jobs: the second
/// waits for this lane's next group), sends it, answers; until the store is dropped. One
/// lane at a time waits on the queue; the others send their groups meanwhile.
async fn lane<B: Batch>(batch: Arc<B>, jobs: Arc<Mutex<mpsc::UnboundedReceiver<Queued<B>>>>) {
    let mut waiting: VecDeque<Queued<B>> = VecDeque::new();
    loop {
        // A lane with jobs of its own left over (clashing ones) does not wait for the queue:
        // the lane that holds it may wait for a job that only their answers would bring.
        if waiting.is_empty() {
            let mut jobs = jobs.lock().await;
            match jobs.recv().await {
                Some(job) => waiting.push_back(job),
                None => return,
            }
            take_queued(&mut jobs, &mut waiting);
        } else if let Ok(mut jobs) = jobs.try_lock() {
            take_queued(&mut jobs, &mut waiting);
        }
        let group = next_group::<B>(&mut waiting);
        if !group.is_empty() {
            batch.send(group).await;
        }
    }
}

/// Moves what has queued to `waiting`, up to two groups' worth.
fn take_queued<T>(jobs: &mut mpsc::UnboundedReceiver<T>, waiting: &mut VecDeque<T>) {
    while waiting.len() < MAX_GROUP * 2 {
        match jobs.try_recv() {
            Ok(job) => waiting.push_back(job),
            Err(_) => break,
        }
    }
}

/// Takes from `waiting` the next group: in queue order, at most [`MAX_GROUP`], no clashing
/// pair; jobs whose caller gave up (timed out, disconnected) are dropped unsent.
fn next_group<B: Batch>(waiting: &mut VecDeque<Queued<B>>) -> Vec<Queued<B>> {
    let mut group: Vec<Queued<B>> = Vec::new();
    let mut later = VecDeque::new();
    while let Some(queued) = waiting.pop_front() {
        if queued.answer.is_closed() {
            continue;
        }
        // At most 64 in a group: a scan costs less than hashing owned keys.
        if group.len() == MAX_GROUP || group.iter().any(|g| B::clash(&g.job, &queued.job)) {
            later.push_back(queued);
        } else {
            group.push(queued);
        }
    }
    *waiting = later;
    group
}

/// Answers every job of `group` with `err`.
fn answer_all<B: Batch>(group: Vec<Queued<B>>, err: &StoreError) {
    for queued in group {
        let _ = queued.answer.send(Err(err.for_another()));
    }
}

/// The row of `users` that `job` asked for, taken out (`take`) or copied.
fn user_for(users: &mut Vec<User>, job: &impl UserKey, take: bool) -> Option<User> {
    let at = users.iter().position(|u| job.matches(u))?;
    Some(if take {
        users.swap_remove(at)
    } else {
        users[at].clone()
    })
}

/// The read of `rows` users by `(app, external id)` in one statement; row `r` binds
/// `$2r+1, $2r+2`.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn read_sql(rows: usize) -> String {
    let keys: Vec<String> = (0..rows)
        .map(|r| format!("(${}, ${})", 2 * r + 1, 2 * r + 2))
        .collect();
    format!(
        "SELECT {} FROM tcx_users WHERE (app_id, external_id) IN ({})",
        crate::store::sql_stores::USER_COLUMNS,
        keys.join(", ")
    )
}

/// The read of `rows` users by id in one statement; row `r` binds `$r+1`.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn read_by_id_sql(rows: usize) -> String {
    let ids: Vec<String> = (1..=rows).map(|n| format!("${n}")).collect();
    format!(
        "SELECT {} FROM tcx_users WHERE id IN ({})",
        crate::store::sql_stores::USER_COLUMNS,
        ids.join(", ")
    )
}

/// The statements of a group on one kind of pool: [`Upserts`] and [`Reads`] run them.
macro_rules! grouped_statements {
    ($Pool:ty, $Row:ty: $($Batch:ident),+) => {
        $(grouped_statements!(@$Batch $Pool, $Row);)+
    };
    (@Upserts $Pool:ty, $Row:ty) => {
        grouped_statements!(@batch $Pool, $Row, Upserts, crate::store::sql_stores::Upsert,
            "sign-up writer", clash: |a, b| a.app == b.app
                && a.profile.external_id == b.profile.external_id,
            take: true,
            sql: crate::store::sql_stores::upsert_sql,
            bind: |query, queued| query
                .bind(queued.job.new_id.as_str())
                .bind(queued.job.app.as_str())
                .bind(queued.job.profile.external_id.as_str())
                .bind(queued.job.profile.email.as_str())
                .bind(queued.job.profile.first_name.as_str())
                .bind(queued.job.now));
    };
    (@ReadsById $Pool:ty, $Row:ty) => {
        grouped_statements!(@batch $Pool, $Row, ReadsById, crate::UserId,
            "user reader", clash: |_a, _b| false,
            take: false,
            sql: crate::store::grouped::read_by_id_sql,
            bind: |query, queued| query.bind(queued.job.as_str()));
    };
    (@Reads $Pool:ty, $Row:ty) => {
        grouped_statements!(@batch $Pool, $Row, Reads, crate::store::grouped::Read,
            "user reader", clash: |_a, _b| false,
            take: false,
            sql: crate::store::grouped::read_sql,
            bind: |query, queued| query
                .bind(queued.job.app.as_str())
                .bind(queued.job.external_id.as_str()));
    };
    (@batch $Pool:ty, $Row:ty, $Batch:ident, $Job:ty, $what:literal,
        clash: |$a:ident, $b:ident| $clash:expr,
        take: $take:literal,
        sql: $sql:path,
        bind: |$query:ident, $queued:ident| $bind:expr) => {
        impl crate::store::grouped::$Batch<$Pool> {
            /// The rows of `group`'s statement.
            async fn fetch(
                &self,
                group: &[crate::store::grouped::Queued<Self>],
            ) -> Result<Vec<$Row>, sqlx::Error> {
                let sql = $sql(group.len());
                let mut $query = sqlx::query(&sql);
                for $queued in group {
                    $query = $bind;
                }
                $query.fetch_all(&self.0).await
            }
        }

        impl crate::store::grouped::Batch for crate::store::grouped::$Batch<$Pool> {
            type Job = $Job;
            type Output = Option<crate::store::User>;
            const WHAT: &'static str = $what;

            fn clash($a: &Self::Job, $b: &Self::Job) -> bool {
                $clash
            }

            async fn send(&self, group: Vec<crate::store::grouped::Queued<Self>>) {
                let rows = self.fetch(&group).await;
                // A group whose statement failed: each job alone, so that one row's error
                // is that row's only.
                if let Some(group) = crate::store::grouped::answer_rows(group, rows, $take) {
                    for queued in group {
                        let rows = self.fetch(std::slice::from_ref(&queued)).await;
                        crate::store::grouped::answer_rows(vec![queued], rows, $take);
                    }
                }
            }
        }
    };
}
pub(crate) use grouped_statements;

/// Grouped sign-ups on a pool: one [`upsert_sql`](crate::store::sql_stores::upsert_sql) for
/// the whole group.
pub(crate) struct Upserts<P>(pub(crate) P);

/// Grouped reads by `(app, external id)` on a pool: [`read_sql`] for the whole group.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) struct Reads<P>(pub(crate) P);

/// Grouped reads by id on a pool: [`read_by_id_sql`] for the whole group.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) struct ReadsById<P>(pub(crate) P);

/// How a job finds its row among the group's.
pub(crate) trait UserKey {
    fn matches(&self, user: &User) -> bool;
}

impl UserKey for Upsert {
    fn matches(&self, user: &User) -> bool {
        user.app == self.app && user.external_id == self.profile.external_id
    }
}

impl UserKey for Read {
    fn matches(&self, user: &User) -> bool {
        user.app == self.app && user.external_id == self.external_id
    }
}

impl UserKey for UserId {
    fn matches(&self, user: &User) -> bool {
        user.id == *self
    }
}

/// Answers each job of `group` with its row among `rows` (taken, when no two jobs share a
/// row, or copied), or each with the error; gives the group back unanswered when its
/// statement failed and it has more than one job.
pub(crate) fn answer_rows<B, R>(
    group: Vec<Queued<B>>,
    rows: Result<Vec<R>, sqlx::Error>,
    take: bool,
) -> Option<Vec<Queued<B>>>
where
    B: Batch<Output = Option<User>>,
    B::Job: UserKey,
    R: sqlx::Row,
    &'static str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let rows = match rows {
        Ok(rows) => rows,
        Err(_) if group.len() > 1 => return Some(group),
        Err(err) => {
            answer_all(group, &store_error(err));
            return None;
        }
    };
    let mut users = match rows
        .iter()
        .map(user_from_row)
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(users) => users,
        Err(err) => {
            answer_all(group, &err);
            return None;
        }
    };
    for queued in group {
        let user = user_for(&mut users, &queued.job, take);
        let _ = queued.answer.send(Ok(user));
    }
    None
}

/// Answers each job of `group` once its statement is done, or each with the error; gives
/// the group back unanswered when its statement failed and it has more than one job.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn answer_done<B: Batch<Output = ()>>(
    group: Vec<Queued<B>>,
    done: Result<(), sqlx::Error>,
) -> Option<Vec<Queued<B>>> {
    match done {
        Ok(()) => {
            for queued in group {
                let _ = queued.answer.send(Ok(()));
            }
            None
        }
        Err(_) if group.len() > 1 => Some(group),
        Err(err) => {
            answer_all(group, &store_error(err));
            None
        }
    }
}
