//! The limit of the PostgreSQL and Redis backends: for one HTTP path at a time, a bare loop
//! on sqlx and redis-rs that sends exactly the statements and commands the crate's stores
//! send for one request of that path, over the same pool and with the same concurrency as
//! the load run of the reference server (`bash bench/backends.sh` puts the two side by side).
//! Nothing else happens per call: no HTTP, no JSON, no token to sign or verify.
//!
//! | `BARE_PATH` | one call = what one request of the reference server sends |
//! |---|---|
//! | `signin` | `POST /user/api/auth/external`, existing user, same profile: the user `SELECT` by `(app, external id)` |
//! | `signup` | the same for a new user: the `SELECT` (a miss), then the `INSERT … ON CONFLICT … RETURNING` |
//! | `redeem` | `POST /user/api/auth/token`: the user `SELECT` by id, Redis `SET NX EXAT`, then `BEGIN`, two `INSERT`s, `COMMIT` |
//! | `refresh` | `POST /user/api/auth/refresh` of a current token: one statement (data-modifying CTEs: lock, rotate away, insert the successor, delete the oldest kept) |
//!
//! The data follow the load run's too: sign-ups name `u-<tag>-<n>` with one counter for all
//! tasks (bench/external.lua's `USERS=distinct`) on a table that holds only the signed-in
//! user when timing starts, and refreshes take the tokens of `2 × BARE_CONCURRENCY` families
//! from one queue, each answer's token going to its back (bench/refresh.lua).
//!
//! Environment: `BARE_PATH` (unset: print this usage and exit 0, so that a plain `cargo bench`
//! skips it), `BARE_SECONDS` (10), `BARE_CONCURRENCY` (tasks, 32), `BARE_WARMUP_SECONDS` (1,
//! always at 32 tasks or more, so that every pooled connection has prepared its statements;
//! sign-up warms up with sign-ins),
//! `TCX_TEST_POSTGRES_URL`, `TCX_TEST_REDIS_URL` (redeem only), `BARE_SCHEMA` (default a fresh
//! `tcx_bare_<random>`; its tables are made by the crate's own migrations; dropped at the end
//! unless `BARE_KEEP_SCHEMA=1`), `BARE_REDIS_PREFIX` (default a fresh one; its keys are deleted
//! at the end), `BARE_POOL`:
//! - `crate` (default): the pool of `store::postgres::connect`, i.e. the reference server's
//!   (16 connections; no ping before use, as the crate sets it): sqlx 0.8 still pings a
//!   connection (a `Sync` round trip) when it is given back, which cannot be switched off;
//! - `lean`: 16 connections handed out without that ping, one round trip per statement.
//!
//! Output: one line on stdout,
//! `RESULT path=… pool=… calls=… duration_us=… concurrency=… statements_per_call=…
//! redis_commands_per_call=… round_trips_per_call=… latency_round_trips_per_call=… p50_us=…
//! p99_us=… cpu_us_per_call=… db_cpu_us_per_call=…`, where `round_trips_per_call` counts every
//! round trip on the wire (statements, Redis commands and the pool's pings) and
//! `latency_round_trips_per_call` those the caller waits for (the ping on release is not);
//! `db_cpu_us_per_call` is the CPU of the local `postgres` and `redis-server` processes (0 when
//! they are not visible in /proc). With `BARE_COUNT_FILE` (written by the proxy below) it adds
//! `wire_pg_round_trips_per_call` and `wire_redis_round_trips_per_call`, counted on the wire.
//! A human line goes to stderr.
//!
//! `BARE_PATH=proxy` is the round-trip counter instead: a TCP proxy on two loopback ports in
//! front of PostgreSQL and Redis (`BARE_PROXY_PG`, `BARE_PROXY_REDIS`: `host:port`, default
//! those of the two URLs) that counts round trips (each time a client starts sending again
//! after the server spoke) and writes `pg=N redis=M` to `BARE_COUNT_FILE` every 10 ms. It
//! prints `proxy pg=ADDR redis=ADDR` and runs until killed.
//!
//! `cargo bench --features full --bench bare_clients` builds and runs it (with `BARE_PATH`).

use std::collections::HashMap;
use std::error::Error;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::aio::ConnectionManager;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgRow};
use sqlx::{Connection, Row};
use techcentrix_auth::store::postgres::{self, PostgresOptions};
use techcentrix_auth::store::redis::RedisOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, SemaphorePermit};

type BoxError = Box<dyn Error + Send + Sync>;
type Result<T, E = BoxError> = std::result::Result<T, E>;

/// Set by SIGINT, SIGTERM or SIGHUP: the loops stop, the schema and keys are removed.
static STOP: AtomicBool = AtomicBool::new(false);

/// The reference server's pool size (`PostgresOptions::new`).
const POOL_SIZE: u32 = 16;
/// The app of the seeded user (the load run's `TCX_API_KEYS` app).
const APP: &str = "bench";
/// The seeded user's profile: the guide's request.
const EXTERNAL_ID: &str = "user1-external";
const EMAIL: &str = "user1@techcentrix.com";
const FIRST_NAME: &str = "User1Name";
// The crate's `ROTATED_TOKENS_KEPT`, written into ROTATE_CURRENT below as the store writes it.
const _: () = assert!(techcentrix_auth::store::ROTATED_TOKENS_KEPT == 8);

// The statements, as the crate's SQL stores write them (src/store/sql_stores.rs).
const USER_COLUMNS: &str = "id, app_id, external_id, email, first_name, created_at, updated_at";
/// The PostgreSQL session store's rotation of a current token, in one statement, as it is
/// sent for a token alone (`rotate_current_sql(1)` in src/store/grouped.rs; under load the
/// store sends several tokens' rows in one such statement).
const ROTATE_CURRENT: &str = "WITH input (digest, next, now) AS (VALUES ($1::bytea, $2::bytea, $3::int8)), \
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
         WHERE d.session_id = r.session_id AND d.generation = r.generation - 8) \
     SELECT f.digest, f.session_id, f.rotated_at, f.user_id, f.app_id, f.expires_at, \
         f.revoked_at, EXISTS (SELECT 1 FROM rotated r WHERE r.digest = f.digest) \
     FROM family f";
const INSERT_SESSION: &str =
    "INSERT INTO tcx_sessions (id, user_id, app_id, created_at, expires_at)
                     VALUES ($1, $2, $3, $4, $5)";
const INSERT_TOKEN: &str =
    "INSERT INTO tcx_refresh_tokens (digest, session_id, created_at) VALUES ($1, $2, $3)";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BarePath {
    SignIn,
    SignUp,
    Redeem,
    Refresh,
}

impl BarePath {
    fn name(self) -> &'static str {
        match self {
            BarePath::SignIn => "signin",
            BarePath::SignUp => "signup",
            BarePath::Redeem => "redeem",
            BarePath::Refresh => "refresh",
        }
    }

    /// Per call: pool acquisitions, PostgreSQL statements (`BEGIN` and `COMMIT` included),
    /// Redis commands.
    fn shape(self) -> (u32, u32, u32) {
        match self {
            BarePath::SignIn => (1, 1, 0),
            BarePath::SignUp => (2, 2, 0),
            BarePath::Redeem => (2, 5, 1),
            BarePath::Refresh => (1, 1, 0),
        }
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn number<T: FromStr>(name: &str, default: T) -> Result<T> {
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("{name}: not a number: {v}").into()),
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64
}

fn random_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

fn random_digest() -> Vec<u8> {
    rand::random::<[u8; 32]>().to_vec()
}

fn main() -> ExitCode {
    let Some(path) = var("BARE_PATH") else {
        eprintln!(
            "bare_clients: set BARE_PATH=signin|signup|redeem|refresh (or proxy) and \
             TCX_TEST_POSTGRES_URL (+ TCX_TEST_REDIS_URL); see the top of benches/bare_clients.rs"
        );
        return ExitCode::SUCCESS;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let outcome = if path == "proxy" {
        runtime.block_on(proxy())
    } else {
        runtime.block_on(bench(&path))
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bare_clients: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------
// The pools.

/// Where a call's statements go: the crate's pool, or connections without the pool's pings.
enum Db {
    Crate(PgPool),
    Lean(LeanPool),
}

/// `POOL_SIZE` connections, taken and given back as they are.
struct LeanPool {
    idle: Mutex<Vec<PgConnection>>,
    permits: Semaphore,
}

/// A connection of either pool; given back when dropped.
enum Conn<'a> {
    Crate(sqlx::pool::PoolConnection<sqlx::Postgres>),
    Lean {
        pool: &'a LeanPool,
        conn: Option<PgConnection>,
        _permit: SemaphorePermit<'a>,
    },
}

impl Db {
    async fn conn(&self) -> Result<Conn<'_>> {
        Ok(match self {
            Db::Crate(pool) => Conn::Crate(pool.acquire().await?),
            Db::Lean(pool) => {
                let permit = pool.permits.acquire().await?;
                let conn = pool.idle.lock().unwrap().pop().ok_or("lean pool empty")?;
                Conn::Lean {
                    pool,
                    conn: Some(conn),
                    _permit: permit,
                }
            }
        })
    }

    async fn close(&self) {
        match self {
            Db::Crate(pool) => pool.close().await,
            Db::Lean(pool) => {
                let conns = std::mem::take(&mut *pool.idle.lock().unwrap());
                for conn in conns {
                    let _ = conn.close().await;
                }
            }
        }
    }
}

impl std::ops::Deref for Conn<'_> {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        match self {
            Conn::Crate(c) => c,
            Conn::Lean { conn, .. } => conn.as_ref().expect("connection"),
        }
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match self {
            Conn::Crate(c) => c,
            Conn::Lean { conn, .. } => conn.as_mut().expect("connection"),
        }
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Conn::Lean { pool, conn, .. } = self
            && let Some(conn) = conn.take()
        {
            pool.idle.lock().unwrap().push(conn);
        }
    }
}

// ---------------------------------------------------------------------------------------
// One call of each path.

/// What every task shares.
struct Shared {
    path: BarePath,
    db: Db,
    redis: Option<ConnectionManager>,
    redis_prefix: String,
    select_by_external: String,
    select_by_id: String,
    upsert: String,
    /// The seeded user's id.
    user_id: std::sync::OnceLock<String>,
    /// Distinguishes this run's sign-ups from any other's.
    run_tag: String,
    /// The sign-ups so far: the n-th signs up `u-<run tag>-<n>`, as bench/external.lua's
    /// USERS=distinct names its users (one counter for all connections).
    signups: AtomicU64,
    /// The current refresh tokens of the families being refreshed, each taken by one call
    /// and replaced by its successor, as bench/refresh.lua queues them.
    refresh_tokens: Mutex<std::collections::VecDeque<Vec<u8>>>,
}

struct User {
    id: String,
    email: String,
    first_name: String,
}

fn user_from_row(row: &PgRow) -> Result<User> {
    // As the crate's `user_from_row`: every column, by name.
    let _: String = row.try_get("app_id")?;
    let _: String = row.try_get("external_id")?;
    let _: i64 = row.try_get("created_at")?;
    let _: i64 = row.try_get("updated_at")?;
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        first_name: row.try_get("first_name")?,
    })
}

impl Shared {
    fn user_id(&self) -> &str {
        self.user_id.get().map_or("", String::as_str)
    }

    /// The user store's look-up by `(app, external id)` (`by_external`).
    async fn by_external(&self, external_id: &str) -> Result<Option<User>> {
        let mut conn = self.db.conn().await?;
        let row = sqlx::query(&self.select_by_external)
            .bind(APP)
            .bind(external_id)
            .fetch_optional(&mut *conn)
            .await?;
        drop(conn);
        row.map(|row| user_from_row(&row)).transpose()
    }

    /// `upsert_external`: the look-up, and the upsert when the user is new or changed.
    async fn upsert(&self, external_id: &str) -> Result<(User, bool)> {
        if let Some(user) = self.by_external(external_id).await?
            && user.email == EMAIL
            && user.first_name == FIRST_NAME
        {
            return Ok((user, false));
        }
        let new_id = random_id();
        let now = unix_now();
        let mut conn = self.db.conn().await?;
        let id: Option<String> = sqlx::query_scalar(&self.upsert)
            .bind(&new_id)
            .bind(APP)
            .bind(external_id)
            .bind(EMAIL)
            .bind(FIRST_NAME)
            .bind(now)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?;
        drop(conn);
        // The statement returns the id written: a new user's is the one sent (its row is
        // what was sent); a known user's row is read again, as the store does.
        if id.as_deref() != Some(new_id.as_str()) {
            let user = self.by_external(external_id).await?;
            return Ok((user.ok_or("the upserted user is gone")?, false));
        }
        let user = User {
            id: new_id,
            email: EMAIL.to_owned(),
            first_name: FIRST_NAME.to_owned(),
        };
        Ok((user, true))
    }

    /// `exists` (the trait's default: `find`).
    async fn exists(&self, id: &str) -> Result<bool> {
        let mut conn = self.db.conn().await?;
        let row = sqlx::query(&self.select_by_id)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        drop(conn);
        Ok(row.map(|row| user_from_row(&row)).transpose()?.is_some())
    }

    /// The Redis ledger's `consume`.
    async fn consume(&self, jti: &str, expires_at: i64) -> Result<bool> {
        let mut redis = self.redis.clone().ok_or("no Redis")?;
        let expires_at = expires_at.max(unix_now() + 1);
        let set: Option<String> = redis::cmd("SET")
            .arg(format!("{}jti:{jti}", self.redis_prefix))
            .arg(1)
            .arg("NX")
            .arg("EXAT")
            .arg(expires_at)
            .query_async(&mut redis)
            .await?;
        Ok(set.is_some())
    }

    /// The session store's `create`.
    async fn create_session(&self, id: &str, user: &str, digest: &[u8]) -> Result<()> {
        let now = unix_now();
        let mut conn = self.db.conn().await?;
        let mut tx = conn.begin_with("BEGIN").await?;
        sqlx::query(INSERT_SESSION)
            .bind(id)
            .bind(user)
            .bind(APP)
            .bind(now)
            .bind(now + 30 * 86_400)
            .execute(&mut *tx)
            .await?;
        sqlx::query(INSERT_TOKEN)
            .bind(digest)
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The session store's `rotate` of a current token (reuse interval 0, the default): on
    /// PostgreSQL one statement, which rotates a current token and returns its family.
    async fn rotate(&self, presented: &[u8], next: &[u8]) -> Result<()> {
        let mut conn = self.db.conn().await?;
        let row = sqlx::query(ROTATE_CURRENT)
            .bind(presented)
            .bind(next)
            .bind(unix_now())
            .fetch_optional(&mut *conn)
            .await?;
        match row.map(|row| row.try_get::<bool, _>(7)).transpose()? {
            Some(true) => Ok(()),
            _ => Err("refresh token not current".into()),
        }
    }

    /// Before a refresh run: `families` new sessions (as bench/backends.sh mints two a
    /// connection by redemptions), whose tokens replace those queued.
    async fn seed_families(&self, families: usize) -> Result<()> {
        if self.path != BarePath::Refresh {
            return Ok(());
        }
        let mut tokens = std::collections::VecDeque::new();
        for _ in 0..families {
            let token = random_digest();
            self.create_session(&random_id(), self.user_id(), &token)
                .await?;
            tokens.push_back(token);
        }
        *self.refresh_tokens.lock().unwrap() = tokens;
        Ok(())
    }

    /// One call: what one request of `path` sends.
    async fn call(&self, path: BarePath) -> Result<()> {
        match path {
            BarePath::SignIn => {
                let (_, created) = self.upsert(EXTERNAL_ID).await?;
                if created {
                    return Err("sign-in created a user".into());
                }
            }
            BarePath::SignUp => {
                let n = self.signups.fetch_add(1, Ordering::Relaxed) + 1;
                let external = format!("u-{}-{n}", self.run_tag);
                let (_, created) = self.upsert(&external).await?;
                if !created {
                    return Err("sign-up found a user".into());
                }
            }
            BarePath::Redeem => {
                if !self.exists(self.user_id()).await? {
                    return Err("the seeded user is missing".into());
                }
                // As a oneTimeToken of the load run: exp an hour ahead (+ leeway and skew).
                if !self.consume(&random_id(), unix_now() + 3_600 + 10).await? {
                    return Err("a fresh jti was replayed".into());
                }
                self.create_session(&random_id(), self.user_id(), &random_digest())
                    .await?;
            }
            BarePath::Refresh => {
                let presented = self
                    .refresh_tokens
                    .lock()
                    .unwrap()
                    .pop_front()
                    .ok_or("no refresh token left")?;
                let next = random_digest();
                self.rotate(&presented, &next).await?;
                self.refresh_tokens.lock().unwrap().push_back(next);
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// The timed loop.

/// Runs `concurrency` tasks for `seconds`; each call's latency in µs, and the wall time.
async fn drive(
    shared: &Arc<Shared>,
    path: BarePath,
    concurrency: usize,
    seconds: f64,
) -> Result<(Vec<u32>, Duration)> {
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let mut handles = Vec::new();
    for _ in 0..concurrency {
        let shared = shared.clone();
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(1 << 14);
            while Instant::now() < until && !STOP.load(Ordering::Relaxed) {
                let t = Instant::now();
                shared.call(path).await?;
                latencies.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
            }
            Ok::<_, BoxError>(latencies)
        }));
    }
    let mut all = Vec::new();
    let mut failure = None;
    for handle in handles {
        match handle.await? {
            Ok(latencies) => all.extend(latencies),
            Err(e) => failure = Some(e),
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok((all, started.elapsed())),
    }
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// CPU ticks (user + system) of a process from its `/proc/PID/stat`, with its name.
fn proc_stat(path: &std::path::Path) -> Option<(String, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text[open + 1..close].to_owned();
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `fields[0]` is field 3.
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((name, ticks))
}

/// This process's CPU ticks.
fn own_cpu_ticks() -> u64 {
    proc_stat(std::path::Path::new("/proc/self/stat")).map_or(0, |(_, t)| t)
}

/// The CPU ticks of each local `postgres` and `redis-server` process, by pid.
fn db_cpu_ticks() -> HashMap<u32, u64> {
    let mut ticks = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return ticks;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some((name, t)) = proc_stat(&entry.path().join("stat"))
            && (name == "postgres" || name == "redis-server")
        {
            ticks.insert(pid, t);
        }
    }
    ticks
}

/// Ticks spent between two snapshots (a process new in `after` counts from zero).
fn ticks_between(before: &HashMap<u32, u64>, after: &HashMap<u32, u64>) -> u64 {
    after
        .iter()
        .map(|(pid, t)| t.saturating_sub(before.get(pid).copied().unwrap_or(0)))
        .sum()
}

/// The proxy's counts (`pg=N redis=M`).
fn read_counts(file: &str) -> Result<(u64, u64)> {
    let text = std::fs::read_to_string(file)?;
    let mut counts = (0, 0);
    for field in text.split_whitespace() {
        match field.split_once('=') {
            Some(("pg", n)) => counts.0 = n.parse()?,
            Some(("redis", n)) => counts.1 = n.parse()?,
            _ => {}
        }
    }
    Ok(counts)
}

async fn bench(path: &str) -> Result<()> {
    let path = match path {
        "signin" => BarePath::SignIn,
        "signup" => BarePath::SignUp,
        "redeem" => BarePath::Redeem,
        "refresh" => BarePath::Refresh,
        other => return Err(format!("BARE_PATH: unknown path `{other}`").into()),
    };
    let Some(pg_url) = var("TCX_TEST_POSTGRES_URL") else {
        eprintln!("bare_clients: skipped: TCX_TEST_POSTGRES_URL is unset");
        return Ok(());
    };
    let seconds: f64 = number("BARE_SECONDS", 10.0)?;
    let warmup: f64 = number("BARE_WARMUP_SECONDS", 1.0)?;
    let concurrency: usize = number("BARE_CONCURRENCY", 32)?;
    let lean = match var("BARE_POOL").as_deref() {
        None | Some("crate") => false,
        Some("lean") => true,
        Some(other) => return Err(format!("BARE_POOL: `{other}` is not crate or lean").into()),
    };
    let tag = format!("{}{:08x}", std::process::id(), rand::random::<u32>());
    let schema = var("BARE_SCHEMA").unwrap_or_else(|| format!("tcx_bare_{tag}"));
    let keep_schema = var("BARE_KEEP_SCHEMA").is_some_and(|v| v == "1");
    let redis_prefix = var("BARE_REDIS_PREFIX").unwrap_or_else(|| format!("tcx_bare_{tag}:"));

    // From here on a signal stops the run and the schema and keys are removed.
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let mut hup = signal(SignalKind::hangup())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
            STOP.store(true, Ordering::Relaxed);
        });
    }
    // The crate's pool, migrated by the crate (as the reference server opens it).
    let pool = postgres::connect(&PostgresOptions::new(&pg_url).schema(&schema)).await?;
    let db = if lean {
        let options = PgConnectOptions::from_str(&pg_url)?.options([("search_path", &*schema)]);
        let mut idle = Vec::new();
        for _ in 0..POOL_SIZE {
            idle.push(PgConnection::connect_with(&options).await?);
        }
        pool.close().await;
        Db::Lean(LeanPool {
            idle: Mutex::new(idle),
            permits: Semaphore::new(POOL_SIZE as usize),
        })
    } else {
        Db::Crate(pool)
    };
    let redis = match (path, var("TCX_TEST_REDIS_URL")) {
        (BarePath::Redeem, Some(url)) => Some(RedisOptions::new(url).connect().await?),
        (BarePath::Redeem, None) => return Err("redeem needs TCX_TEST_REDIS_URL".into()),
        _ => None,
    };
    let shared = Arc::new(Shared {
        path,
        db,
        redis,
        redis_prefix,
        select_by_external: format!(
            "SELECT {USER_COLUMNS} FROM tcx_users WHERE app_id = $1 AND external_id = $2"
        ),
        select_by_id: format!("SELECT {USER_COLUMNS} FROM tcx_users WHERE id = $1"),
        upsert: format!(
            "INSERT INTO tcx_users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (app_id, external_id) DO UPDATE SET
                         email = excluded.email,
                         first_name = excluded.first_name,
                         updated_at = excluded.updated_at
                     WHERE tcx_users.email <> excluded.email
                        OR tcx_users.first_name <> excluded.first_name
                     RETURNING id"
        ),
        user_id: std::sync::OnceLock::new(),
        run_tag: tag.clone(),
        signups: AtomicU64::new(0),
        refresh_tokens: Mutex::new(std::collections::VecDeque::new()),
    });
    let outcome = measure(&shared, seconds, warmup, concurrency, lean).await;

    // Clean up whatever happened.
    if let Some(mut redis) = shared.redis.clone() {
        delete_keys(&mut redis, &shared.redis_prefix).await?;
    }
    shared.db.close().await;
    if !keep_schema {
        let mut conn = PgConnection::connect(&pg_url).await?;
        sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
    }
    outcome
}

async fn measure(
    shared: &Arc<Shared>,
    seconds: f64,
    warmup: f64,
    concurrency: usize,
    lean: bool,
) -> Result<()> {
    let path = shared.path;
    // The existing user of sign-in, and the user of the redemptions and sessions.
    let (user, _) = shared.upsert(EXTERNAL_ID).await?;
    shared.user_id.set(user.id).map_err(|_| "seeded twice")?;

    // Warm up with every pooled connection busy, so that each has prepared its statements;
    // sign-up with sign-ins, as bench/backends.sh warms the server up (its sign-ups start on
    // a table of one user).
    if warmup > 0.0 {
        shared.seed_families(2 * concurrency.max(32)).await?;
        let warm = if path == BarePath::SignUp {
            BarePath::SignIn
        } else {
            path
        };
        drive(shared, warm, concurrency.max(32), warmup).await?;
    }
    shared.seed_families(2 * concurrency).await?;
    let count_file = var("BARE_COUNT_FILE");
    // Let the last pings on release land, and the proxy write its counts.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let counts_before = count_file.as_deref().map(read_counts).transpose()?;
    let cpu_before = own_cpu_ticks();
    let db_before = db_cpu_ticks();
    let (mut latencies, elapsed) = drive(shared, path, concurrency, seconds).await?;
    let cpu_after = own_cpu_ticks();
    let db_after = db_cpu_ticks();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let counts_after = count_file.as_deref().map(read_counts).transpose()?;
    if STOP.load(Ordering::Relaxed) {
        return Err("interrupted".into());
    }

    latencies.sort_unstable();
    let calls = latencies.len() as u64;
    let per_call = |ticks: u64| ticks as f64 * 10_000.0 / calls.max(1) as f64; // USER_HZ = 100
    let (acquisitions, statements, redis_commands) = path.shape();
    // The pool pings a connection when it is given back (off the caller's path).
    let pings = if lean { 0 } else { acquisitions };
    let round_trips = statements + pings + redis_commands;
    let latency_round_trips = statements + redis_commands;
    let mut line = format!(
        "RESULT path={} pool={} calls={calls} duration_us={} concurrency={concurrency} \
         statements_per_call={statements} redis_commands_per_call={redis_commands} \
         round_trips_per_call={round_trips} latency_round_trips_per_call={latency_round_trips} \
         p50_us={} p99_us={} cpu_us_per_call={:.1} db_cpu_us_per_call={:.1}",
        path.name(),
        if lean { "lean" } else { "crate" },
        elapsed.as_micros(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        per_call(cpu_after.saturating_sub(cpu_before)),
        per_call(ticks_between(&db_before, &db_after)),
    );
    if let (Some(before), Some(after)) = (counts_before, counts_after) {
        line.push_str(&format!(
            " wire_pg_round_trips_per_call={:.2} wire_redis_round_trips_per_call={:.2}",
            (after.0 - before.0) as f64 / calls.max(1) as f64,
            (after.1 - before.1) as f64 / calls.max(1) as f64,
        ));
    }
    println!("{line}");
    eprintln!(
        "bare {} ({} pool, {concurrency} tasks): {:.0} calls/s, p50 {:.3} ms, p99 {:.3} ms, \
         {round_trips} round trips a call ({statements} statements, {redis_commands} Redis, \
         {} pings)",
        path.name(),
        if lean { "lean" } else { "crate" },
        calls as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 50.0) as f64 / 1000.0,
        percentile(&latencies, 99.0) as f64 / 1000.0,
        pings,
    );
    Ok(())
}

/// Deletes the keys under `prefix`.
async fn delete_keys(redis: &mut ConnectionManager, prefix: &str) -> Result<()> {
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(10_000)
            .query_async(redis)
            .await?;
        if !keys.is_empty() {
            let _: u64 = redis::cmd("UNLINK").arg(&keys).query_async(redis).await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

// ---------------------------------------------------------------------------------------
// The round-trip counter.

/// `host:port` of a `scheme://[user@]host:port/…` URL.
fn host_port(url: &str, default_port: u16) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    Some(if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:{default_port}")
    })
}

async fn proxy() -> Result<()> {
    let pg = var("BARE_PROXY_PG")
        .or_else(|| host_port(&var("TCX_TEST_POSTGRES_URL")?, 5432))
        .ok_or("BARE_PROXY_PG or TCX_TEST_POSTGRES_URL")?;
    let redis = var("BARE_PROXY_REDIS")
        .or_else(|| host_port(&var("TCX_TEST_REDIS_URL")?, 6379))
        .ok_or("BARE_PROXY_REDIS or TCX_TEST_REDIS_URL")?;
    let file = var("BARE_COUNT_FILE").ok_or("BARE_COUNT_FILE")?;
    let pg_count = Arc::new(AtomicU64::new(0));
    let redis_count = Arc::new(AtomicU64::new(0));
    let pg_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let redis_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!(
        "proxy pg={} redis={}",
        pg_listener.local_addr()?,
        redis_listener.local_addr()?
    );
    tokio::spawn(listen(pg_listener, pg, pg_count.clone()));
    tokio::spawn(listen(redis_listener, redis, redis_count.clone()));
    let temp = format!("{file}.tmp");
    loop {
        let text = format!(
            "pg={} redis={}\n",
            pg_count.load(Ordering::SeqCst),
            redis_count.load(Ordering::SeqCst)
        );
        std::fs::write(&temp, text)?;
        std::fs::rename(&temp, &file)?;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn listen(listener: tokio::net::TcpListener, upstream: String, count: Arc<AtomicU64>) {
    while let Ok((client, _)) = listener.accept().await {
        let upstream = upstream.clone();
        let count = count.clone();
        tokio::spawn(async move {
            if let Err(e) = relay(client, &upstream, count).await {
                eprintln!("proxy: {e}");
            }
        });
    }
}

/// Relays one connection; a round trip is counted each time the client sends after the
/// server has spoken (or first), however the bytes are cut into reads.
async fn relay(client: tokio::net::TcpStream, upstream: &str, count: Arc<AtomicU64>) -> Result<()> {
    const CLIENT: u8 = 1;
    const SERVER: u8 = 2;
    let server = tokio::net::TcpStream::connect(upstream).await?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let last = Arc::new(AtomicU8::new(0));
    let last_up = last.clone();
    let up = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = client_read.read(&mut buf).await?;
            if n == 0 {
                server_write.shutdown().await?;
                return Ok::<_, std::io::Error>(());
            }
            if last_up.swap(CLIENT, Ordering::SeqCst) != CLIENT {
                count.fetch_add(1, Ordering::SeqCst);
            }
            server_write.write_all(&buf[..n]).await?;
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = server_read.read(&mut buf).await?;
            if n == 0 {
                client_write.shutdown().await?;
                return Ok::<_, std::io::Error>(());
            }
            last.store(SERVER, Ordering::SeqCst);
            client_write.write_all(&buf[..n]).await?;
        }
    };
    let (a, b) = tokio::join!(up, down);
    a?;
    b?;
    Ok(())
}
