//! Memory per entry of the in-memory stores: resident memory before and after signing up
//! 1,000,000 users (realistic sizes: ~14-byte ids, ~25-byte emails, ~8-byte names), starting
//! 1,000,000 sessions (as a redemption does: a random session id, a UUID user, one refresh
//! token; then the same after one refresh each, the rotated token kept for reuse
//! detection), and consuming 1,000,000 `jti`s in the replay ledger.
//!
//! Run with: cargo bench --bench footprint
//! Knobs: USERS, SESSIONS, JTIS (1,000,000 each).

use std::alloc::System;

use cap::Cap;

use techcentrix_auth::store::{
    ExternalProfile, MemoryReplayLedger, MemorySessionStore, ReplayLedger, Session, SessionStore,
    UserStore,
};
use techcentrix_auth::{AppId, Jti, KeyDigest, MemoryUserStore, SessionId, UserId};

/// Counts the bytes allocated and not yet freed: a store's own bytes, exactly, whatever the
/// allocator does with freed memory (which the resident figure includes).
#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn count(name: &str) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// Grows a store by `entries` calls of `add(i)`, reading the bytes it holds (allocated and
/// not freed) and the process's resident memory at ten checkpoints: a store's tables grow in
/// steps (a hash table doubles, a vector grows by a quarter), so the bytes per entry move
/// with the count. Prints each checkpoint and the largest figures.
fn grow(what: &str, entries: usize, mut add: impl FnMut(usize)) {
    let (live_before, resident_before) = (ALLOCATOR.allocated(), resident_bytes());
    let step = entries.div_ceil(10).max(1);
    let mut figures = Vec::new();
    for i in 0..entries {
        add(i);
        if (i + 1) % step == 0 || i + 1 == entries {
            let per = |bytes: f64| bytes / (i + 1) as f64;
            let live = per(ALLOCATOR.allocated().saturating_sub(live_before) as f64);
            let resident = per(resident_bytes().saturating_sub(resident_before) as f64);
            figures.push((i + 1, live, resident));
        }
    }
    let (last, live, resident) = figures[figures.len() - 1];
    let most = |pick: fn(&(usize, f64, f64)) -> f64| figures.iter().map(pick).fold(0.0, f64::max);
    let tenths = |pick: fn(&(usize, f64, f64)) -> f64| {
        figures
            .iter()
            .map(|f| format!("{:.0}", pick(f)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "{what}, at {last} entries: {live:.0} bytes held per entry (at most {:.0}; at each tenth: {}), \
         {resident:.0} resident (at most {:.0}; {})",
        most(|f| f.1),
        tenths(|f| f.1),
        most(|f| f.2),
        tenths(|f| f.2),
    );
}

/// Each store in a process of its own (this program again, `FOOTPRINT_PART` set), so that
/// no store's resident figure counts memory another one freed.
fn main() {
    // `cargo bench` passes `--bench`; accept and ignore it.
    let Ok(part) = std::env::var("FOOTPRINT_PART") else {
        for part in ["users", "sessions", "ledger"] {
            let status = std::process::Command::new(std::env::current_exe().unwrap())
                .env("FOOTPRINT_PART", part)
                .status()
                .unwrap();
            assert!(status.success(), "{part}: {status}");
        }
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    match part.as_str() {
        "users" => users(&runtime),
        "sessions" => sessions(&runtime),
        _ => ledger(&runtime),
    }
}

fn users(runtime: &tokio::runtime::Runtime) {
    let store = MemoryUserStore::new();
    let apps = [AppId::from("acme"), AppId::from("globex")];
    let users = count("USERS");
    grow("user store (a user)", users, |i| {
        let profile = ExternalProfile::new(
            format!("user-{i:08}"),
            format!("user{i}@techcentrix.com"),
            "Username",
        );
        runtime
            .block_on(store.upsert_external(&apps[i % 2], &profile))
            .unwrap();
    });
    assert_eq!(store.len(), users);
}

/// Sessions as redemptions make them, then one refresh each.
fn sessions(runtime: &tokio::runtime::Runtime) {
    // Sessions as redemptions make them; the digests of random 32-byte tokens.
    let sessions = count("SESSIONS");
    let store = MemorySessionStore::new();
    let app = AppId::from("acme");
    let token =
        |i: usize, generation: u8| KeyDigest::of(&[&i.to_le_bytes()[..], &[generation]].concat());
    grow("session store (a live session)", sessions, |i| {
        let session = Session::new(SessionId::random(), UserId::random(), app.clone(), i64::MAX);
        runtime
            .block_on(store.create(&session, &token(i, 0)))
            .unwrap();
    });
    grow(
        "session store (one refresh each: 2 tokens; bytes added per session)",
        sessions,
        |i| {
            let rotated = runtime
                .block_on(store.rotate(&token(i, 0), &token(i, 1), 0, 0))
                .unwrap();
            assert!(matches!(
                rotated,
                techcentrix_auth::store::Rotation::Rotated(_)
            ));
        },
    );
}

fn ledger(runtime: &tokio::runtime::Runtime) {
    let jtis = count("JTIS");
    let ledger = MemoryReplayLedger::new();
    grow("replay ledger (a used jti)", jtis, |_| {
        runtime
            .block_on(ledger.consume(&Jti::random(), i64::MAX))
            .unwrap();
    });
    assert_eq!(ledger.len(), jtis);
}
