//! The in-process goals as ratios measured side by side: a whole external-auth request
//! through the service against a bare jsonwebtoken HS512 encode of the same claims; a
//! request that is not ours through the layer against the inner service alone; and whole
//! requests with 1,000,000 users stored against 1,000, and with 100,000 API keys against 1.
//!
//! Criterion (`benches/endpoints.rs`) measures one benchmark after another, seconds apart; on
//! a shared machine whose speed drifts, a ratio of two such figures moves with the moment.
//! Here each round times a batch of one and then a batch of the other (alternating which goes
//! first), and the figures printed are the medians over the rounds of each round's ratio or
//! difference, with their spread. Batches are small (200 operations, well under a
//! millisecond) and rounds many: a burst of a neighbour's load then spoils a few rounds, which
//! the median ignores, and the requests made just before a batch are still in the cache, as
//! a request that hyper has just parsed is (with batches of 2,000 the whole request measured
//! 0.5–0.8 µs slower, its prepared requests fetched from memory).
//!
//! Run with: cargo bench --bench ratios
//! Knobs: ROUNDS (401), BATCH (operations per batch, 200).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use tokio::runtime::Runtime;
use tower::{Layer, Service, ServiceExt};

mod common;
use common::{BareEncode, keys, other_request, request};
use techcentrix_auth::TechCentrixAuth;

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// Runs `batch` calls of a service on requests made before the clock starts; the answers
/// are dropped after it stops. Returns the time per call.
fn time_service<S>(
    rt: &Runtime,
    service: &S,
    make: fn() -> Request<Full<Bytes>>,
    batch: usize,
) -> Duration
where
    S: Service<Request<Full<Bytes>>> + Clone,
    S::Error: std::fmt::Debug,
{
    let requests: Vec<_> = (0..batch).map(|_| make()).collect();
    let mut answers = Vec::with_capacity(batch);
    let elapsed = rt.block_on(async {
        let start = Instant::now();
        for request in requests {
            answers.push(service.clone().oneshot(request).await.unwrap());
        }
        start.elapsed()
    });
    drop(answers);
    elapsed / batch as u32
}

/// Per round: the time per operation of `a`, then of `b` (or `b` first in odd rounds).
/// Twenty rounds of warm-up come first and are not kept.
fn interleave(
    rounds: usize,
    mut a: impl FnMut() -> Duration,
    mut b: impl FnMut() -> Duration,
) -> Vec<(f64, f64)> {
    const WARM_UP: usize = 20;
    (0..WARM_UP + rounds)
        .map(|round| {
            let (ta, tb) = if round % 2 == 0 {
                let ta = a();
                (ta, b())
            } else {
                let tb = b();
                (a(), tb)
            };
            (ta.as_secs_f64() * 1e9, tb.as_secs_f64() * 1e9)
        })
        .skip(WARM_UP)
        .collect()
}

/// The first quartile, the median and the third quartile.
fn quartiles(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |quarter: usize| values[(values.len() - 1) * quarter / 4];
    (at(1), at(2), at(3))
}

/// Prints the medians of `a` and `b` (ns per operation) and of their per-round ratio, or
/// difference when `difference` is set, with the middle half of the rounds.
fn report(a: &str, b: &str, rounds: &[(f64, f64)], difference: bool, goal: &str) {
    let (_, a_ns, _) = quartiles(rounds.iter().map(|r| r.0).collect());
    let (_, b_ns, _) = quartiles(rounds.iter().map(|r| r.1).collect());
    println!("  {a:<44} {a_ns:9.1} ns");
    println!("  {b:<44} {b_ns:9.1} ns");
    if difference {
        let (low, mid, high) = quartiles(rounds.iter().map(|r| r.1 - r.0).collect());
        println!(
            "  {:<44} {mid:+9.1} ns  (middle half {low:+.1} to {high:+.1}; goal {goal})",
            "difference"
        );
    } else {
        let (low, mid, high) = quartiles(rounds.iter().map(|r| r.1 / r.0).collect());
        println!(
            "  {:<44} {mid:9.2}x   (middle half {low:.2}-{high:.2}; goal {goal})",
            "ratio"
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to parse.
    let rounds = knob("ROUNDS", 401);
    let batch = knob("BATCH", 200);
    let rt = common::runtime();
    println!(
        "{rounds} rounds, each a batch of one then of the other (alternately first); medians over the rounds"
    );

    let auth = common::auth_with(keys(1), common::users(&rt, 1_000));
    // Every measured request is a sign-in of an existing user: sign it up first.
    let sign_in = |auth: &TechCentrixAuth| {
        let service = auth.service();
        let first = rt.block_on(service.clone().oneshot(request())).unwrap();
        assert_eq!(first.status(), 200);
        service
    };
    let service = sign_in(&auth);
    let whole = || time_service(&rt, &service, request, batch);

    // The claims of the token the endpoint issues, encoded by jsonwebtoken alone.
    let bare = BareEncode::new(&auth);
    let encode = || {
        let start = Instant::now();
        for _ in 0..batch {
            black_box(bare.encode());
        }
        start.elapsed() / batch as u32
    };
    println!("whole request against a bare encode ({batch} operations a batch):");
    report(
        "bare jsonwebtoken HS512 encode",
        "whole external-auth request (sign-in)",
        &interleave(rounds, encode, whole),
        false,
        "<= 1.5",
    );

    let inner = common::inner();
    let layered = auth.layer().layer(inner);
    // A pass-through is ~100 ns: ten times the batch keeps a batch well above the clock's
    // resolution (its requests, bodiless GETs, are small enough to stay in the cache).
    let alone = || time_service(&rt, &inner, other_request, 10 * batch);
    let through = || time_service(&rt, &layered, other_request, 10 * batch);
    println!(
        "a request that is not ours ({} operations a batch):",
        10 * batch
    );
    report(
        "inner service alone",
        "through the layer",
        &interleave(rounds, alone, through),
        true,
        "<= +50 ns",
    );

    // Whole requests with more stored, against `whole` (1 key, 1,000 users).
    let scale = |title: &str, small: &str, large: &str, auth: TechCentrixAuth| {
        let service = sign_in(&auth);
        let larger = || time_service(&rt, &service, request, batch);
        println!("whole requests by {title}:");
        report(
            small,
            large,
            &interleave(rounds, whole, larger),
            false,
            "within 10%",
        );
    };
    scale(
        "users stored",
        "1,000 users",
        "1,000,000 users",
        common::auth_with(keys(1), common::users(&rt, 1_000_000)),
    );
    scale(
        "API keys configured",
        "1 key",
        "100,000 keys",
        common::auth_with(keys(100_000), common::users(&rt, 1_000)),
    );
}
