//! Calls sent in groups: concurrent calls of one kind queue for a few tasks (lanes), each of
//! which takes what has queued and sends it as one multi-row statement, so one round trip
//! (and, for a write, one commit) serves the whole group.
//!
//! The kinds: user reads by `(app, external id)` and by id, sign-ups (upserts), used-token
//! records (the replay ledger) and new sessions. SQLite writes its sign-ups, ledger entries
//! and sessions this way on one lane each (one writer: each write alone paid the thread
//! hand-offs of sqlx's connection thread and a WAL append of the same few pages); PostgreSQL
//! sends all five kinds this way on a few lanes (each statement alone paid a round trip, and
//! on a small machine the context switches of waking the server and being woken;
//! `BENCHMARKS.md` has both measured). A group is only as large as the queue when a lane
//! comes back for more: under light load it is one row, sent at once; no call waits for a
//! timer. A group whose statement fails is sent again one job at a time, so that an error is
//! only its own job's.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::store::sql::store_error;
#[cfg(feature = "postgres")]
use crate::store::sql_stores::RotatedRow;
use crate::store::sql_stores::{Answer, NewSession, Upsert};
use crate::store::{Consumed, User};
use crate::{AppId, Jti, KeyDigest, StoreError};
#[cfg(feature = "postgres")]
use crate::{UserId, store::sql_stores::user_from_row};

/// The most rows in one statement. Few distinct statement texts also keep sqlx's statement
/// cache (100 entries) from churning.
pub(crate) const MAX_GROUP: usize = 64;

/// A grouped statement's text for each group size, built the first time a group of that size
/// is sent and kept (at most [`MAX_GROUP`] of them): building it for every group cost more of
/// a SQLite sign-up than binding its parameters (`bench/profile.sh`, `BENCHMARKS.md`).
pub(crate) struct Texts<T: 'static> {
    build: fn(usize) -> T,
    made: [OnceLock<T>; MAX_GROUP],
}

impl<T: Clone> Texts<T> {
    /// Texts that `build` makes from a row count.
    pub(crate) const fn new(build: fn(usize) -> T) -> Self {
        Texts {
            build,
            made: [const { OnceLock::new() }; MAX_GROUP],
        }
    }

    /// The text for `rows` rows: kept for 1 ..= [`MAX_GROUP`], built each time otherwise.
    pub(crate) fn get(&self, rows: usize) -> Cow<'_, T> {
        match rows.checked_sub(1).and_then(|at| self.made.get(at)) {
            Some(made) => Cow::Borrowed(made.get_or_init(|| (self.build)(rows))),
            None => Cow::Owned((self.build)(rows)),
        }
    }
}

/// How a pool's database takes a statement's parameters. The texts here number them (`$1`,
/// `$2`, …: PostgreSQL's form, each once and in order); SQLite gets plain `?`s, bound in the
/// same order. For a numbered parameter sqlx asks SQLite for its name, which SQLite finds by
/// walking the statement's list of names: for a 64-row sign-up of 448 parameters, sqlx's
/// binding was 4.0 % of a SQLite sign-up's server CPU, 0.75 % with `?`s (`bench/profile.sh
/// sign-up`, `BENCHMARKS.md`).
pub(crate) trait Dialect {
    /// `sql` (numbered parameters) as this pool's database takes it.
    fn text(sql: String) -> String;
}

impl<DB: sqlx::Database> Dialect for sqlx::Pool<DB> {
    fn text(sql: String) -> String {
        if DB::NAME == "SQLite" {
            positional(&sql)
        } else {
            sql
        }
    }
}

/// `sql` with each numbered parameter as `?`. The numbers must run `$1`, `$2`, … in order,
/// each once (true of every text here: `every_sqlite_text_takes_its_parameters_in_order`);
/// otherwise binding in order would bind the wrong values, so a text that breaks it panics
/// when it is first built.
fn positional(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    let mut next = 1;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let number = after[..digits].parse::<usize>().ok();
        assert_eq!(number, Some(next), "parameters numbered in order: {sql}");
        next += 1;
        out.push('?');
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

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
    /// The pool's database.
    type Db: sqlx::Database;
    /// A name for the error when the lanes are gone.
    const WHAT: &'static str;

    /// Whether two jobs may not share a group (two upserts of one user).
    fn clash(a: &Self::Job, b: &Self::Job) -> bool;

    /// Sends `group` on the lane's connection (`held`) and answers each job.
    fn send(
        &self,
        group: Vec<Queued<Self>>,
        held: &mut Held<Self::Db>,
    ) -> impl Future<Output = ()> + Send;
}

/// The database of a pool (for the batches, which are written for a pool type).
pub(crate) trait Pooled {
    /// `DB` of `Pool<DB>`.
    type Db: sqlx::Database;
}

impl<DB: sqlx::Database> Pooled for sqlx::Pool<DB> {
    type Db = DB;
}

/// How many groups a lane sends on one kept connection before it gives it back: the pool's
/// own upkeep (a connection's maximum lifetime) then still reaches it.
const KEEP_GROUPS: u32 = 1024;

/// How long a lane keeps its connection while no job comes.
const KEEP_IDLE: Duration = Duration::from_millis(5);

/// The connection a lane keeps from one group to the next while jobs keep coming and the
/// pool has connections to spare: one acquisition, and so one of the pings that sqlx 0.8
/// sends on every connection given back to its pool (it cannot be switched off), serves
/// many groups instead of one each. A connection whose statement failed is given back (the
/// pool's ping then finds out whether it still works); so is one kept [`KEEP_IDLE`] without
/// a job, or after [`KEEP_GROUPS`] groups, or when the pool has none to spare (another
/// caller may be waiting for one).
pub(crate) struct Held<DB: sqlx::Database> {
    conn: Option<PoolConnection<DB>>,
    /// Groups sent on the connection since it was taken from the pool.
    groups: u32,
}

impl<DB: sqlx::Database> Default for Held<DB> {
    fn default() -> Self {
        Held {
            conn: None,
            groups: 0,
        }
    }
}

impl<DB: sqlx::Database> Held<DB> {
    /// The connection for the next group: the kept one, or one taken from `pool`.
    pub(crate) async fn connection(
        &mut self,
        pool: &sqlx::Pool<DB>,
    ) -> Result<PoolConnection<DB>, sqlx::Error> {
        match self.conn.take() {
            Some(conn) => Ok(conn),
            None => {
                self.groups = 0;
                pool.acquire().await
            }
        }
    }

    /// Takes `conn` back after a group: kept for the next one if its statement `succeeded`
    /// and `pool` has a connection to spare, given back to `pool` otherwise.
    pub(crate) fn done(
        &mut self,
        pool: &sqlx::Pool<DB>,
        conn: PoolConnection<DB>,
        succeeded: bool,
    ) {
        self.groups += 1;
        let spare = pool.num_idle() > 0 || pool.size() < pool.options().get_max_connections();
        if succeeded && spare && self.groups < KEEP_GROUPS {
            self.conn = Some(conn);
        }
    }

    fn is_kept(&self) -> bool {
        self.conn.is_some()
    }

    /// Gives the kept connection back to its pool.
    fn release(&mut self) {
        self.conn = None;
    }
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
/// waits for this lane's next group), sends it on its connection ([`Held`]), answers; until
/// the store is dropped. One lane at a time waits on the queue; the others send their
/// groups meanwhile.
async fn lane<B: Batch>(batch: Arc<B>, jobs: Arc<Mutex<mpsc::UnboundedReceiver<Queued<B>>>>) {
    let mut waiting: VecDeque<Queued<B>> = VecDeque::new();
    let mut held = Held::<B::Db>::default();
    loop {
        // A lane with jobs of its own left over (clashing ones) does not wait for the queue:
        // the lane that holds it may wait for a job that only their answers would bring.
        if waiting.is_empty() {
            let open = if held.is_kept() {
                match tokio::time::timeout(KEEP_IDLE, wait_for_jobs(&jobs, &mut waiting)).await {
                    Ok(open) => open,
                    Err(_) => {
                        held.release();
                        wait_for_jobs(&jobs, &mut waiting).await
                    }
                }
            } else {
                wait_for_jobs(&jobs, &mut waiting).await
            };
            if !open {
                return;
            }
        } else if let Ok(mut jobs) = jobs.try_lock() {
            take_queued(&mut jobs, &mut waiting);
        }
        let group = next_group::<B>(&mut waiting);
        if !group.is_empty() {
            batch.send(group, &mut held).await;
        }
    }
}

/// Waits for the next job, then takes what else has queued, into `waiting`; false when the
/// store is gone. Cancelled (a kept connection's wait timed out), it has taken nothing.
async fn wait_for_jobs<T>(
    jobs: &Mutex<mpsc::UnboundedReceiver<T>>,
    waiting: &mut VecDeque<T>,
) -> bool {
    let mut jobs = jobs.lock().await;
    match jobs.recv().await {
        Some(job) => {
            waiting.push_back(job);
            take_queued(&mut jobs, waiting);
            true
        }
        None => false,
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
pub(crate) fn next_group<B: Batch>(waiting: &mut VecDeque<Queued<B>>) -> Vec<Queued<B>> {
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
pub(crate) fn answer_all<B: Batch>(group: Vec<Queued<B>>, err: &StoreError) {
    for queued in group {
        let _ = queued.answer.send(Err(err.for_another()));
    }
}

/// The row of `users` that `job` asked for (copied: two reads may ask for one row).
#[cfg(feature = "postgres")]
fn user_for(users: &[User], job: &impl UserKey) -> Option<User> {
    users.iter().find(|u| job.matches(u)).cloned()
}

/// The read of `rows` users by `(app, external id)` in one statement; row `r` binds
/// `$2r+1, $2r+2`.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn read_sql(rows: usize) -> String {
    format!(
        "SELECT {} FROM tcx_users WHERE (app_id, external_id) IN ({})",
        crate::store::sql_stores::USER_COLUMNS,
        tuples(rows, 2, 0)
    )
}

/// `rows` tuples of `width` parameters each, numbered on from `$from+1`:
/// `($1, $2), ($3, $4)` for two rows of two.
fn tuples(rows: usize, width: usize, from: usize) -> String {
    (0..rows)
        .map(|r| {
            let params: Vec<String> = (1..=width)
                .map(|n| format!("${}", from + width * r + n))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
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
        grouped_statements!(@batch $Pool, Upserts, crate::store::sql_stores::Upsert,
            Option<crate::store::User>, "sign-up writer",
            clash: |a, b| a.app == b.app && a.profile.external_id == b.profile.external_id,
            sql: crate::store::sql_stores::upsert_sql,
            bind: |query, group| crate::store::sql_stores::bind_upserts(
                query,
                group.iter().map(|queued| &queued.job),
            ),
            fetch: sqlx::query_scalar => String, answer: crate::store::grouped::answer_upserted);
    };
    (@Consumes $Pool:ty, $Row:ty) => {
        grouped_statements!(@batch $Pool, Consumes, crate::store::grouped::Consume,
            crate::store::Consumed, "replay ledger writer",
            clash: |a, b| a.jti == b.jti,
            sql: crate::store::grouped::consume_sql,
            bind: |query, group| group.iter().fold(query, |query, queued| query
                .bind(queued.job.jti.as_str())
                .bind(queued.job.expires_at)),
            fetch: sqlx::query_scalar => String, answer: crate::store::grouped::answer_consumed);
    };
    (@ReadsById $Pool:ty, $Row:ty) => {
        grouped_statements!(@batch $Pool, ReadsById, crate::UserId,
            Option<crate::store::User>, "user reader", clash: |_a, _b| false,
            sql: crate::store::grouped::read_by_id_sql,
            bind: |query, group| group
                .iter()
                .fold(query, |query, queued| query.bind(queued.job.as_str())),
            fetch: sqlx::query => $Row, answer: crate::store::grouped::answer_rows);
    };
    (@Reads $Pool:ty, $Row:ty) => {
        grouped_statements!(@batch $Pool, Reads, crate::store::grouped::Read,
            Option<crate::store::User>, "user reader", clash: |_a, _b| false,
            sql: crate::store::grouped::read_sql,
            bind: |query, group| group.iter().fold(query, |query, queued| query
                .bind(queued.job.app.as_str())
                .bind(queued.job.external_id.as_str())),
            fetch: sqlx::query => $Row, answer: crate::store::grouped::answer_rows);
    };
    // Sends `group` with `this.run`; if its statement failed, each job alone, so that one
    // row's error is that row's only. `answer` answers the jobs, or gives them back.
    // A job whose caller gave up meanwhile is not sent again.
    (@send $this:expr, $group:ident, $held:ident, $run:ident, $answer:expr) => {
        let done = $this.$run(&$group, $held).await;
        if let Some(group) = $answer($group, done) {
            for queued in group {
                if queued.answer.is_closed() {
                    continue;
                }
                let done = $this.$run(std::slice::from_ref(&queued), $held).await;
                $answer(vec![queued], done);
            }
        }
    };
    (@SessionInserts $Pool:ty, one_statement: $one_statement:literal) => {
        impl crate::store::grouped::SessionInserts<$Pool> {
            /// Creates `group`'s sessions and their first refresh tokens, atomically: one
            /// statement (PostgreSQL: the sessions in a data-modifying `WITH`) or one
            /// transaction of two statements (SQLite, which has no such `WITH`).
            async fn insert(
                &self,
                group: &[crate::store::grouped::Queued<Self>],
                held: &mut crate::store::grouped::Held<<$Pool as crate::store::grouped::Pooled>::Db>,
            ) -> Result<(), sqlx::Error> {
                let mut conn = held.connection(&self.0).await?;
                let done = self.insert_on(group, &mut conn).await;
                held.done(&self.0, conn, done.is_ok());
                done
            }

            async fn insert_on(
                &self,
                group: &[crate::store::grouped::Queued<Self>],
                conn: &mut sqlx::pool::PoolConnection<<$Pool as crate::store::grouped::Pooled>::Db>,
            ) -> Result<(), sqlx::Error> {
                use crate::store::grouped::{Binds, Dialect as _, bind_sessions};
                let rows = group.len();
                if $one_statement {
                    static TEXTS: crate::store::grouped::Texts<String> =
                        crate::store::grouped::Texts::new(|rows| {
                            <$Pool>::text(crate::store::grouped::sessions_with_tokens_sql(rows))
                        });
                    let sql = TEXTS.get(rows);
                    let query = bind_sessions(sqlx::query(&sql), group, Binds::Sessions);
                    let query = bind_sessions(query, group, Binds::Tokens);
                    return query.execute(&mut **conn).await.map(|_| ());
                }
                let mut tx = sqlx::Connection::begin(&mut **conn).await?;
                static PAIRS: crate::store::grouped::Texts<(String, String)> =
                    crate::store::grouped::Texts::new(|rows| {
                        let (sessions, tokens) = crate::store::grouped::sessions_then_tokens_sql(rows);
                        (<$Pool>::text(sessions), <$Pool>::text(tokens))
                    });
                let pair = PAIRS.get(rows);
                let (sessions, tokens) = (&pair.0, &pair.1);
                bind_sessions(sqlx::query(&sessions), group, Binds::Sessions)
                    .execute(&mut *tx)
                    .await?;
                bind_sessions(sqlx::query(&tokens), group, Binds::Tokens)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await
            }
        }

        impl crate::store::grouped::Batch for crate::store::grouped::SessionInserts<$Pool> {
            type Job = crate::store::sql_stores::NewSession;
            type Output = ();
            type Db = <$Pool as crate::store::grouped::Pooled>::Db;
            const WHAT: &'static str = "session writer";

            fn clash(a: &Self::Job, b: &Self::Job) -> bool {
                a.session.id == b.session.id
            }

            async fn send(
                &self,
                group: Vec<crate::store::grouped::Queued<Self>>,
                held: &mut crate::store::grouped::Held<Self::Db>,
            ) {
                grouped_statements!(@send self, group, held, insert,
                    crate::store::grouped::answer_done);
            }
        }
    };
    // A batch of `Job`s, each answered with an `Output`: the group's statement (`sql`, with
    // what `bind` binds) made by `query` (sqlx's `query` for rows, `query_scalar` for one
    // column), its results (`Fetched`) handed to `answer`.
    (@batch $Pool:ty, $Batch:ident, $Job:ty, $Output:ty, $what:literal,
        clash: |$a:ident, $b:ident| $clash:expr,
        sql: $sql:path,
        bind: |$query:ident, $group:ident| $bind:expr,
        fetch: $make:path => $Fetched:ty, answer: $answer:path) => {
        impl crate::store::grouped::$Batch<$Pool> {
            /// What `group`'s statement returned.
            async fn fetch(
                &self,
                group: &[crate::store::grouped::Queued<Self>],
                held: &mut crate::store::grouped::Held<<$Pool as crate::store::grouped::Pooled>::Db>,
            ) -> Result<Vec<$Fetched>, sqlx::Error> {
                use crate::store::grouped::Dialect as _;
                static TEXTS: crate::store::grouped::Texts<String> =
                    crate::store::grouped::Texts::new(|rows| <$Pool>::text($sql(rows)));
                let sql = TEXTS.get(group.len());
                let ($query, $group) = ($make(&sql), group);
                let mut conn = held.connection(&self.0).await?;
                let fetched = $bind.fetch_all(&mut *conn).await;
                held.done(&self.0, conn, fetched.is_ok());
                fetched
            }
        }

        impl crate::store::grouped::Batch for crate::store::grouped::$Batch<$Pool> {
            type Job = $Job;
            type Output = $Output;
            type Db = <$Pool as crate::store::grouped::Pooled>::Db;
            const WHAT: &'static str = $what;

            fn clash($a: &Self::Job, $b: &Self::Job) -> bool {
                $clash
            }

            async fn send(
                &self,
                group: Vec<crate::store::grouped::Queued<Self>>,
                held: &mut crate::store::grouped::Held<Self::Db>,
            ) {
                grouped_statements!(@send self, group, held, fetch, $answer);
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

/// A oneTimeToken id to consume, held until `expires_at`.
#[derive(Debug)]
pub(crate) struct Consume {
    pub(crate) jti: Jti,
    pub(crate) expires_at: i64,
}

/// Grouped ledger writes on a pool: one [`consume_sql`] for the whole group.
pub(crate) struct Consumes<P>(pub(crate) P);

/// Grouped session creations on a pool.
pub(crate) struct SessionInserts<P>(pub(crate) P);

/// The insert of `rows` ledger entries in one statement, answering the ids that were new;
/// row `r` binds `$2r+1, $2r+2`: id, expiry. A row for the id, expired or not, means used.
pub(crate) fn consume_sql(rows: usize) -> String {
    format!(
        "INSERT INTO tcx_replay (jti, expires_at) VALUES {} ON CONFLICT (jti) DO NOTHING RETURNING jti",
        tuples(rows, 2, 0)
    )
}

/// Answers each consume of `group`: first when its id is among those inserted (`new`),
/// replayed otherwise; or each with the error. Gives the group back unanswered when its
/// statement failed and it has more than one job.
pub(crate) fn answer_consumed<B: Batch<Job = Consume, Output = Consumed>>(
    group: Vec<Queued<B>>,
    new: Result<Vec<String>, sqlx::Error>,
) -> Option<Vec<Queued<B>>> {
    answer_by_ids(group, new, |job, new| {
        if new.iter().any(|jti| jti == job.jti.as_str()) {
            Consumed::First
        } else {
            Consumed::Replayed
        }
    })
}

/// Answers each upsert of `group`: the user it inserted when its new id is among those
/// written (`ids`), `None` for a known user (whose row the caller reads); or each with the
/// error. Gives the group back unanswered when its statement failed and it has more than
/// one job.
pub(crate) fn answer_upserted<B: Batch<Job = Upsert, Output = Option<User>>>(
    group: Vec<Queued<B>>,
    ids: Result<Vec<String>, sqlx::Error>,
) -> Option<Vec<Queued<B>>> {
    answer_by_ids(group, ids, |job, ids| job.inserted(ids))
}

/// Answers each job of `group` from the ids its statement returned, or each with the error;
/// gives the group back unanswered when the statement failed and it has more than one job.
fn answer_by_ids<B: Batch>(
    group: Vec<Queued<B>>,
    ids: Result<Vec<String>, sqlx::Error>,
    answer: impl Fn(B::Job, &[String]) -> B::Output,
) -> Option<Vec<Queued<B>>> {
    let (group, ids) = match succeeded(group, ids) {
        Ok(sent) => sent,
        Err(back) => return back,
    };
    for Queued { job, answer: to } in group {
        let _ = to.send(Ok(answer(job, &ids)));
    }
    None
}

/// The creation of `rows` sessions and their first refresh tokens in one statement (the
/// sessions in a data-modifying `WITH`, PostgreSQL only); binds as [`bind_sessions`]: the
/// sessions, then the tokens.
pub(crate) fn sessions_with_tokens_sql(rows: usize) -> String {
    let (sessions, tokens) = session_and_token_values(rows);
    format!(
        "WITH s AS (INSERT INTO tcx_sessions (id, user_id, app_id, created_at, expires_at) \
         VALUES {sessions}) INSERT INTO tcx_refresh_tokens (digest, session_id, created_at) \
         VALUES {tokens}"
    )
}

/// The same as two statements, for one transaction: the sessions, then the tokens (each
/// numbered from `$1`).
pub(crate) fn sessions_then_tokens_sql(rows: usize) -> (String, String) {
    let (sessions, _) = session_and_token_values(rows);
    let (_, tokens) = session_and_token_values_from(rows, 0);
    (
        format!(
            "INSERT INTO tcx_sessions (id, user_id, app_id, created_at, expires_at) VALUES {sessions}"
        ),
        format!("INSERT INTO tcx_refresh_tokens (digest, session_id, created_at) VALUES {tokens}"),
    )
}

/// The `VALUES` lists of `rows` sessions (`$5r+1 ..= $5r+5`) and of their tokens, numbered
/// after the sessions'.
fn session_and_token_values(rows: usize) -> (String, String) {
    session_and_token_values_from(rows, 5 * rows)
}

/// The `VALUES` lists of `rows` sessions (`$5r+1 ..= $5r+5`: id, user, app, now, expiry) and
/// of their tokens (`$tokens_from+3r+1 ..= +3`: digest, session id, now).
fn session_and_token_values_from(rows: usize, tokens_from: usize) -> (String, String) {
    (tuples(rows, 5, 0), tuples(rows, 3, tokens_from))
}

/// What [`bind_sessions`] binds of each new session.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Binds {
    /// Id, user, app, now, expiry.
    Sessions,
    /// The first refresh token's digest, the session id, now.
    Tokens,
}

/// Binds the sessions or the tokens of [`sessions_with_tokens_sql`] and
/// [`sessions_then_tokens_sql`].
pub(crate) fn bind_sessions<'q, DB: sqlx::Database>(
    mut query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    group: &'q [Queued<impl Batch<Job = NewSession>>],
    binds: Binds,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for queued in group {
        let new = &queued.job;
        query = match binds {
            Binds::Sessions => query
                .bind(new.session.id.as_str())
                .bind(new.session.user.as_str())
                .bind(new.session.app.as_str())
                .bind(new.now)
                .bind(new.session.expires_at),
            Binds::Tokens => query
                .bind(&new.refresh.as_bytes()[..])
                .bind(new.session.id.as_str())
                .bind(new.now),
        };
    }
    query
}

/// How a job finds its row among the group's.
#[cfg(feature = "postgres")]
pub(crate) trait UserKey {
    fn matches(&self, user: &User) -> bool;
}

#[cfg(feature = "postgres")]
impl UserKey for Read {
    fn matches(&self, user: &User) -> bool {
        user.app == self.app && user.external_id == self.external_id
    }
}

#[cfg(feature = "postgres")]
impl UserKey for UserId {
    fn matches(&self, user: &User) -> bool {
        user.id == *self
    }
}

/// Answers each job of `group` with its row among `rows`, or each with the error; gives the
/// group back unanswered when its statement failed and it has more than one job.
#[cfg(feature = "postgres")]
pub(crate) fn answer_rows<B, R>(
    group: Vec<Queued<B>>,
    rows: Result<Vec<R>, sqlx::Error>,
) -> Option<Vec<Queued<B>>>
where
    B: Batch<Output = Option<User>>,
    B::Job: UserKey,
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let (group, rows) = match succeeded(group, rows) {
        Ok(sent) => sent,
        Err(back) => return back,
    };
    let users = match rows
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
        let user = user_for(&users, &queued.job);
        let _ = queued.answer.send(Ok(user));
    }
    None
}

/// Answers each job of `group` once its statement is done, or each with the error; gives
/// the group back unanswered when its statement failed and it has more than one job.
pub(crate) fn answer_done<B: Batch<Output = ()>>(
    group: Vec<Queued<B>>,
    done: Result<(), sqlx::Error>,
) -> Option<Vec<Queued<B>>> {
    let (group, ()) = match succeeded(group, done) {
        Ok(sent) => sent,
        Err(back) => return back,
    };
    for queued in group {
        let _ = queued.answer.send(Ok(()));
    }
    None
}

/// A group's statement's outcome: `Ok` with the group to answer; or, when it failed, the
/// group given back to be sent one job at a time (`Err(Some)`, more than one job), or
/// `Err(None)` with its one job answered with the error.
#[allow(clippy::type_complexity)]
fn succeeded<B: Batch, T>(
    group: Vec<Queued<B>>,
    outcome: Result<T, sqlx::Error>,
) -> Result<(Vec<Queued<B>>, T), Option<Vec<Queued<B>>>> {
    match outcome {
        Ok(value) => Ok((group, value)),
        Err(_) if group.len() > 1 => Err(Some(group)),
        Err(err) => {
            answer_all(group, &store_error(err));
            Err(None)
        }
    }
}

/// A current refresh token to rotate away, its successor, and the time of the rotation.
#[derive(Debug)]
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) struct CurrentRotation {
    pub(crate) presented: KeyDigest,
    pub(crate) next: KeyDigest,
    pub(crate) now: i64,
}

/// Grouped rotations of current refresh tokens on a pool: one [`rotate_current_sql`] for the
/// whole group (PostgreSQL).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) struct Rotations<P>(pub(crate) P);

/// A row of [`rotate_current_sql`]: the presented digest, then a [`RotatedRow`]'s columns.
#[cfg(feature = "postgres")]
type RotationRow = (
    Vec<u8>,
    String,
    Option<i64>,
    String,
    String,
    i64,
    Option<i64>,
    bool,
);

/// The rotation of `rows` refresh tokens in one statement (PostgreSQL: data-modifying
/// `WITH`); row `r` binds `$3r+1 ..= $3r+3`: presented digest, successor digest, now.
///
/// For each presented token that exists it answers its family as the statement's snapshot saw
/// it (session, the token's `rotated_at`, user, app, the family's `expires_at` and
/// `revoked_at`) and whether it rotated the token: true when the token was current (not
/// rotated, family live), and then it is rotated away, its successor inserted one generation
/// on, and the token [`ROTATED_TOKENS_KEPT`](crate::store::ROTATED_TOKENS_KEPT) + 1
/// generations back deleted. `locked` takes the rows of the current tokens and their
/// sessions as the transaction's `FOR UPDATE OF t, s` does, in digest order so that two
/// groups holding the same tokens cannot deadlock; a concurrent presentation of the same
/// token waits, then (PostgreSQL re-checks a locked row against its newest version) finds it
/// rotated and is not rotated again. A token that is not current takes no lock and writes
/// nothing.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn rotate_current_sql(rows: usize) -> String {
    let input = (0..rows)
        .map(|r| {
            format!(
                "(${}::bytea, ${}::bytea, ${}::int8)",
                3 * r + 1,
                3 * r + 2,
                3 * r + 3
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let kept = crate::store::ROTATED_TOKENS_KEPT;
    format!(
        "WITH input (digest, next, now) AS (VALUES {input}), \
         family AS (SELECT t.digest, t.session_id, t.rotated_at, s.user_id, s.app_id, \
             s.expires_at, s.revoked_at \
             FROM input i JOIN tcx_refresh_tokens t ON t.digest = i.digest \
             JOIN tcx_sessions s ON s.id = t.session_id), \
         locked AS (SELECT t.digest, t.session_id, t.generation, i.next, i.now \
             FROM input i JOIN tcx_refresh_tokens t ON t.digest = i.digest \
             JOIN tcx_sessions s ON s.id = t.session_id \
             WHERE t.rotated_at IS NULL AND s.revoked_at IS NULL AND s.expires_at >= i.now \
             ORDER BY t.digest FOR UPDATE OF t, s), \
         rotated AS (UPDATE tcx_refresh_tokens t SET rotated_at = l.now, grace_used_at = NULL \
             FROM locked l WHERE t.digest = l.digest \
             RETURNING l.digest, l.session_id, l.generation, l.next, l.now), \
         added AS (INSERT INTO tcx_refresh_tokens (digest, session_id, created_at, generation) \
             SELECT r.next, r.session_id, r.now, r.generation + 1 FROM rotated r), \
         trimmed AS (DELETE FROM tcx_refresh_tokens d USING rotated r \
             WHERE d.session_id = r.session_id AND d.generation = r.generation - {kept}) \
         SELECT f.digest, f.session_id, f.rotated_at, f.user_id, f.app_id, f.expires_at, \
             f.revoked_at, EXISTS (SELECT 1 FROM rotated r WHERE r.digest = f.digest) \
         FROM family f"
    )
}

#[cfg(feature = "postgres")]
impl Rotations<sqlx::PgPool> {
    /// The rows of `group`'s statement.
    async fn fetch(
        &self,
        group: &[Queued<Self>],
        held: &mut Held<sqlx::Postgres>,
    ) -> Result<Vec<RotationRow>, sqlx::Error> {
        static TEXTS: Texts<String> = Texts::new(rotate_current_sql);
        let sql = TEXTS.get(group.len());
        let mut query = sqlx::query_as(&sql);
        for queued in group {
            let job = &queued.job;
            query = query
                .bind(&job.presented.as_bytes()[..])
                .bind(&job.next.as_bytes()[..])
                .bind(job.now);
        }
        let mut conn = held.connection(&self.0).await?;
        let fetched = query.fetch_all(&mut *conn).await;
        held.done(&self.0, conn, fetched.is_ok());
        fetched
    }
}

#[cfg(feature = "postgres")]
impl Batch for Rotations<sqlx::PgPool> {
    type Job = CurrentRotation;
    type Output = Option<RotatedRow>;
    type Db = sqlx::Postgres;
    const WHAT: &'static str = "refresh-token rotator";

    fn clash(a: &Self::Job, b: &Self::Job) -> bool {
        a.presented == b.presented || a.next == b.next
    }

    async fn send(&self, group: Vec<Queued<Self>>, held: &mut Held<Self::Db>) {
        grouped_statements!(@send self, group, held, fetch, answer_rotations);
    }
}

/// Answers each rotation of `group` with its token's row, if the token exists; or each with
/// the error; gives the group back unanswered when its statement failed and it has more
/// than one job.
#[cfg(feature = "postgres")]
fn answer_rotations<B: Batch<Job = CurrentRotation, Output = Option<RotatedRow>>>(
    group: Vec<Queued<B>>,
    rows: Result<Vec<RotationRow>, sqlx::Error>,
) -> Option<Vec<Queued<B>>> {
    let (group, mut rows) = match succeeded(group, rows) {
        Ok(sent) => sent,
        Err(back) => return back,
    };
    for queued in group {
        let presented = queued.job.presented.as_bytes();
        let row = rows
            .iter()
            .position(|row| row.0 == presented)
            .map(|at| rows.swap_remove(at))
            .map(
                |(_, id, rotated_at, user, app, expires_at, revoked_at, rotated)| {
                    (id, rotated_at, user, app, expires_at, revoked_at, rotated)
                },
            );
        let _ = queued.answer.send(Ok(row));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_built_once_per_size_and_equal_to_a_fresh_build() {
        static TEXTS: Texts<String> = Texts::new(consume_sql);
        for rows in [1, 2, 7, MAX_GROUP] {
            let kept = TEXTS.get(rows);
            assert!(matches!(kept, Cow::Borrowed(_)), "{rows} rows are kept");
            assert_eq!(*kept, consume_sql(rows));
            let again = TEXTS.get(rows);
            assert!(
                std::ptr::eq(&*kept, &*again),
                "the same text, not a new one"
            );
        }
        // Past the kept sizes (never a group's), a text is still right, built each time.
        for rows in [0, MAX_GROUP + 1] {
            let built = TEXTS.get(rows);
            assert!(matches!(built, Cow::Owned(_)));
            assert_eq!(*built, consume_sql(rows));
        }
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn every_sqlite_text_takes_its_parameters_in_order() {
        use crate::store::sql_stores::upsert_sql;
        type Sqlite = sqlx::SqlitePool;
        for rows in 1..=MAX_GROUP {
            let (sessions, tokens) = sessions_then_tokens_sql(rows);
            for (numbered, count) in [
                (upsert_sql(rows), 7 * rows),
                (consume_sql(rows), 2 * rows),
                (sessions, 5 * rows),
                (tokens, 3 * rows),
            ] {
                let text = Sqlite::text(numbered.clone());
                assert!(!text.contains('$'), "{text}");
                assert_eq!(text.matches('?').count(), count, "{numbered}");
                // Only the placeholders changed.
                let mut again = String::new();
                let mut pieces = text.split('?');
                again.push_str(pieces.next().unwrap());
                for (n, piece) in (1..).zip(pieces) {
                    again.push_str(&format!("${n}{piece}"));
                }
                assert_eq!(again, numbered);
            }
        }
    }

    #[test]
    #[should_panic(expected = "parameters numbered in order")]
    fn a_text_that_repeats_a_parameter_is_refused() {
        positional("VALUES ($1, $2, $2)");
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_keeps_the_numbered_parameters() {
        assert_eq!(sqlx::PgPool::text(consume_sql(2)), consume_sql(2));
    }
}
