//! One session refreshed many times: the cost of a refresh at the start of the family's life
//! and after `ROTATIONS` refreshes, on each session store. A bounded rotation history keeps
//! the two alike; an unbounded one makes late refreshes slower (the memory store copied its
//! whole history on every refresh before it was bounded).
//!
//! `cargo bench --bench rotation` (all features for SQLite and PostgreSQL; PostgreSQL when
//! `TCX_TEST_POSTGRES_URL` is set). `ROTATIONS` (default 1,000,000) sets the count for the
//! memory and SQLite stores; PostgreSQL, a network round trip per statement, does
//! `PG_ROTATIONS` (default 100,000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use techcentrix_auth::store::{Rotation, Session, SessionStore};
use techcentrix_auth::{KeyDigest, MemorySessionStore, SessionId};

/// Refreshes timed in each window.
const WINDOW: usize = 2_000;

fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn token(n: usize) -> KeyDigest {
    KeyDigest::of(&n.to_le_bytes())
}

/// Refreshes one session `rotations` times; the mean time of a refresh in eleven windows of
/// `WINDOW` refreshes spread evenly over the run, the first at its start and the last at its
/// end.
async fn run(store: Arc<dyn SessionStore>, rotations: usize) -> Vec<Duration> {
    let rotations = rotations.max(WINDOW);
    let session = Session::new(
        SessionId::random(),
        "bench-user".into(),
        "acme".into(),
        i64::MAX,
    );
    store.create(&session, &token(0)).await.unwrap();
    let starts: Vec<usize> = (0..=10).map(|i| (rotations - WINDOW) * i / 10).collect();
    let mut windows = vec![Duration::ZERO; starts.len()];
    for n in 0..rotations {
        let started = Instant::now();
        let rotation = store.rotate(&token(n), &token(n + 1), 0, 0).await.unwrap();
        let took = started.elapsed();
        assert!(matches!(rotation, Rotation::Rotated(_)), "refresh {n}");
        for (window, start) in windows.iter_mut().zip(&starts) {
            if (*start..start + WINDOW).contains(&n) {
                *window += took;
            }
        }
    }
    windows.iter().map(|w| *w / WINDOW as u32).collect()
}

fn report(name: &str, rotations: usize, windows: Vec<Duration>) {
    let rotations = rotations.max(WINDOW);
    let micros: Vec<f64> = windows.iter().map(|w| w.as_secs_f64() * 1e6).collect();
    let (first, last) = (micros[0], micros[micros.len() - 1]);
    println!(
        "{name:<10} {rotations:>9} refreshes: first {WINDOW} {first:>8.2} µs each, last {WINDOW} {last:>8.2} µs each ({:.2}x)",
        last / first
    );
    let each: Vec<String> = micros.iter().map(|m| format!("{m:.1}")).collect();
    println!(
        "{:<10} µs per refresh at 0%, 10%, … 100% of the run: {}",
        "",
        each.join(" ")
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run briefly.
    let quick = !std::env::args().any(|a| a == "--bench");
    let rotations = if quick {
        WINDOW * 2
    } else {
        count("ROTATIONS", 1_000_000)
    };
    #[cfg(feature = "postgres")]
    let pg_rotations = if quick {
        WINDOW * 2
    } else {
        count("PG_ROTATIONS", 100_000)
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let memory = run(Arc::new(MemorySessionStore::new()), rotations).await;
        report("memory", rotations, memory);

        #[cfg(feature = "sqlite")]
        {
            use techcentrix_auth::store::sqlite::{self, SqliteSessionStore};
            let dir = tempfile::tempdir().unwrap();
            let pool = sqlite::open(dir.path().join("rotation.db")).await.unwrap();
            let sqlite = run(Arc::new(SqliteSessionStore::new(pool)), rotations).await;
            report("sqlite", rotations, sqlite);
        }

        #[cfg(feature = "postgres")]
        if let Ok(url) = std::env::var("TCX_TEST_POSTGRES_URL") {
            use techcentrix_auth::store::postgres::{self, PostgresOptions, PostgresSessionStore};
            let schema = format!(
                "tcx_bench_{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            );
            let pool = postgres::connect(&PostgresOptions::new(&url).schema(&schema))
                .await
                .unwrap();
            let pg = run(
                Arc::new(PostgresSessionStore::new(pool.clone())),
                pg_rotations,
            )
            .await;
            report("postgres", pg_rotations, pg);
            sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&pool)
                .await
                .unwrap();
        }
    });
}
