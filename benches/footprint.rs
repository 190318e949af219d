//! Memory per entry of the in-memory stores: resident memory before and after signing up
//! 1,000,000 users (realistic sizes: ~14-byte ids, ~25-byte emails, ~8-byte names), starting
//! 1,000,000 sessions (as a redemption does: a random session id, a UUID user, one refresh
//! token; then the same after one refresh each, the rotated token kept for reuse
//! detection), and consuming 1,000,000 `jti`s in the replay ledger.
//!
//! Run with: cargo bench --bench footprint
//! Knobs: USERS, SESSIONS, JTIS (1,000,000 each).

use techcentrix_auth::store::{
    ExternalProfile, MemoryReplayLedger, MemorySessionStore, ReplayLedger, Session, SessionStore,
    UserStore,
};
use techcentrix_auth::{AppId, Jti, KeyDigest, MemoryUserStore, SessionId, UserId};

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

/// Prints the resident memory `grow` added, in all and per entry.
fn report(what: &str, entries: usize, before: u64, after: u64) {
    println!(
        "{what}: {entries} entries, {:.1} MB resident more, {:.0} bytes per entry",
        after.saturating_sub(before) as f64 / 1e6,
        after.saturating_sub(before) as f64 / entries as f64
    );
}

fn main() {
    // `cargo bench` passes `--bench`; accept and ignore it.
    let users = count("USERS");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = MemoryUserStore::new();
    let apps = [AppId::from("acme"), AppId::from("globex")];
    let before = resident_bytes();
    runtime.block_on(async {
        for i in 0..users {
            let profile = ExternalProfile::new(
                format!("user-{i:08}"),
                format!("user{i}@techcentrix.com"),
                "Username",
            );
            store.upsert_external(&apps[i % 2], &profile).await.unwrap();
        }
    });
    let after = resident_bytes();
    assert_eq!(store.len(), users);
    report("user store (a user)", users, before, after);

    // Sessions as redemptions make them; the digests of random 32-byte tokens.
    let sessions = count("SESSIONS");
    let store = MemorySessionStore::new();
    let app = AppId::from("acme");
    let token =
        |i: usize, generation: u8| KeyDigest::of(&[&i.to_le_bytes()[..], &[generation]].concat());
    let before = resident_bytes();
    runtime.block_on(async {
        for i in 0..sessions {
            let session =
                Session::new(SessionId::random(), UserId::random(), app.clone(), i64::MAX);
            store.create(&session, &token(i, 0)).await.unwrap();
        }
    });
    let created = resident_bytes();
    report("session store (a live session)", sessions, before, created);
    runtime.block_on(async {
        for i in 0..sessions {
            let rotated = store
                .rotate(&token(i, 0), &token(i, 1), 0, 0)
                .await
                .unwrap();
            assert!(matches!(
                rotated,
                techcentrix_auth::store::Rotation::Rotated(_)
            ));
        }
    });
    report(
        "session store (after one refresh each: 2 tokens)",
        sessions,
        before,
        resident_bytes(),
    );

    let jtis = count("JTIS");
    let ledger = MemoryReplayLedger::new();
    let before = resident_bytes();
    runtime.block_on(async {
        for _ in 0..jtis {
            ledger.consume(&Jti::random(), i64::MAX).await.unwrap();
        }
    });
    assert_eq!(ledger.len(), jtis);
    report("replay ledger (a used jti)", jtis, before, resident_bytes());
}
