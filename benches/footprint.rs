//! Memory per user of the in-memory user store: resident memory before and after signing
//! up 1,000,000 users (realistic sizes: ~14-byte ids, ~25-byte emails, ~8-byte names).
//!
//! Run with: cargo bench --bench footprint

use techcentrix_auth::store::{ExternalProfile, UserStore};
use techcentrix_auth::{AppId, MemoryUserStore};

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    // `cargo bench` passes `--bench`; accept and ignore it.
    let users: usize = std::env::var("USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
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
    println!(
        "memory store: {users} users, {:.1} MB resident more, {:.0} bytes per user",
        (after - before) as f64 / 1e6,
        (after - before) as f64 / users as f64
    );
}
