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
//! Then, with the feature `fuzzing` (which reaches the crate's private functions), the
//! hand-written code where a library would do (issue 15 §5): `util/json.rs` against
//! `serde_json`. (The body reader and the uniform hasher were measured here too, against
//! `http_body_util::Limited` and `foldhash`; they saved about 1 % and 0.1 % and were
//! replaced by those libraries: figures in BENCHMARKS.md.) Each round
//! times a batch of the hand-written piece, of the library doing the same job on the same
//! input, and of the whole request the piece is on (in an order that turns from round to
//! round); printed are the medians and the median of each round's saving as a share of the
//! whole request, (library − hand-written) / whole. A piece stays at 5 % or more.
//!
//! Run with: cargo bench --bench ratios
//! (the hand-written pairs too: cargo bench --bench ratios --features fuzzing)
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
fn time_service<S, B>(
    rt: &Runtime,
    service: &S,
    make: fn() -> Request<Full<Bytes>>,
    batch: usize,
) -> Duration
where
    S: Service<Request<Full<Bytes>>, Response = http::Response<B>> + Clone,
    S::Error: std::fmt::Debug,
{
    time_requests(rt, service, (0..batch).map(|_| make()).collect())
}

/// Runs a service on each of `requests`, made before the clock starts; the answers are
/// checked (200) and dropped after it stops. Returns the time per call.
fn time_requests<S, B>(rt: &Runtime, service: &S, requests: Vec<Request<Full<Bytes>>>) -> Duration
where
    S: Service<Request<Full<Bytes>>, Response = http::Response<B>> + Clone,
    S::Error: std::fmt::Debug,
{
    let calls = requests.len() as u32;
    let mut answers = Vec::with_capacity(requests.len());
    let elapsed = rt.block_on(async {
        let start = Instant::now();
        for request in requests {
            answers.push(service.clone().oneshot(request).await.unwrap());
        }
        start.elapsed()
    });
    assert!(answers.iter().all(|answer| answer.status() == 200));
    drop(answers);
    elapsed / calls
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

    #[cfg(feature = "fuzzing")]
    hand_written::compare(&rt, &auth, rounds, batch);
    #[cfg(not(feature = "fuzzing"))]
    println!("hand-written code against libraries (issue 15 §5): run with --features fuzzing");
}

/// The hand-written code where a library would do, each beside the library doing the same
/// job on the same input and the whole request it is on.
#[cfg(feature = "fuzzing")]
mod hand_written {
    use std::hint::black_box;
    use std::time::{Duration, Instant};

    use bytes::Bytes;
    use http::header::ACCEPT;
    use http::{HeaderValue, Request};
    use http_body::Body;
    use http_body_util::{BodyExt, Full};
    use serde::Serialize;
    use tokio::runtime::Runtime;
    use tower::ServiceExt;

    use super::common::request;
    use super::{quartiles, time_service};
    use techcentrix_auth::TechCentrixAuth;
    use techcentrix_auth::fuzzing;
    use techcentrix_auth::token::{Claims, TokenKind};

    /// The claims as a `serde` struct would write them: the fields of `Claims`, borrowed.
    #[derive(Serialize)]
    struct SerdeClaims<'a> {
        jti: &'a str,
        sub: &'a str,
        auth: &'a [&'a str],
        #[serde(rename = "type")]
        kind: TokenKind,
        iss: &'a str,
        aud: &'a str,
        iat: u64,
        exp: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        sid: Option<&'a str>,
    }

    impl<'a> SerdeClaims<'a> {
        fn of(claims: &'a Claims, auth: &'a [&'a str]) -> Self {
            SerdeClaims {
                jti: claims.jti.as_str(),
                sub: claims.sub.as_str(),
                auth,
                kind: claims.kind,
                iss: &claims.iss,
                aud: claims.aud.as_str(),
                iat: claims.iat,
                exp: claims.exp,
                sid: claims.sid.as_ref().map(|sid| sid.as_str()),
            }
        }
    }

    /// The external endpoint's JSON answer as a `serde` struct would write it.
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct SerdeAnswer<'a> {
        one_time_token: &'a str,
        expires_in: u64,
    }

    /// The roles of every token.
    const ROLES: &[&str] = &["ROLE_USER"];

    pub(super) fn compare(rt: &Runtime, auth: &TechCentrixAuth, rounds: usize, batch: usize) {
        println!("hand-written code against libraries (issue 15 §5; {batch} operations a batch;");
        println!("saving = (library - hand-written) / whole request, kept at >= 5 %):");
        let service = auth.service();
        let sign_in = || time_service(rt, &service, request, batch);
        let sign_in_json = || time_service(rt, &service, json_request, batch);

        // A real oneTimeToken and its claims: the hand-written claims and serde's are the
        // payload the endpoint signed, byte for byte.
        let token = rt.block_on(body_text(service.clone().oneshot(request())));
        let payload = token.split('.').nth(1).unwrap();
        let payload = fuzzing::base64url_decode(payload).unwrap();
        let claims: Claims = serde_json::from_slice(&payload).unwrap();
        let mut out = Vec::new();
        fuzzing::claims_json(&claims, ROLES, &mut out);
        assert_eq!(out, payload);
        assert_eq!(
            serde_json::to_vec(&SerdeClaims::of(&claims, ROLES)).unwrap(),
            payload
        );
        let mut out = Vec::with_capacity(1024);
        let mut hand_claims = || {
            let start = Instant::now();
            for _ in 0..batch {
                out.clear();
                fuzzing::claims_json(black_box(&claims), black_box(ROLES), &mut out);
                black_box(&out);
            }
            start.elapsed() / batch as u32
        };
        let mut out = Vec::with_capacity(1024);
        let mut serde_claims = || {
            let start = Instant::now();
            for _ in 0..batch {
                out.clear();
                let claims = SerdeClaims::of(black_box(&claims), black_box(ROLES));
                serde_json::to_writer(&mut out, &claims).unwrap();
                black_box(&out);
            }
            start.elapsed() / batch as u32
        };
        report(
            "util::json: the claims (text answer)",
            "serde_json: the claims",
            "whole external-auth request (sign-in)",
            &interleave(
                rounds,
                &mut [&mut hand_claims, &mut serde_claims, &mut { sign_in }],
            ),
        );

        // The JSON form answers `{"oneTimeToken":…,"expiresIn":…}`: both written as the
        // endpoint wrote a real answer.
        let answer = rt.block_on(body_text(service.clone().oneshot(json_request())));
        let parsed: serde_json::Value = serde_json::from_str(&answer).unwrap();
        let (token, expires_in) = (
            parsed["oneTimeToken"].as_str().unwrap(),
            parsed["expiresIn"].as_u64().unwrap(),
        );
        let mut out = Vec::new();
        fuzzing::one_time_answer_json(token, expires_in, &mut out);
        assert_eq!(out, answer.as_bytes());
        let serde_answer = SerdeAnswer {
            one_time_token: token,
            expires_in,
        };
        assert_eq!(
            serde_json::to_vec(&serde_answer).unwrap(),
            answer.as_bytes()
        );
        let mut out = Vec::with_capacity(1024);
        let mut hand_both = || {
            let start = Instant::now();
            for _ in 0..batch {
                out.clear();
                fuzzing::claims_json(black_box(&claims), black_box(ROLES), &mut out);
                black_box(&out);
                out.clear();
                fuzzing::one_time_answer_json(black_box(token), black_box(expires_in), &mut out);
                black_box(&out);
            }
            start.elapsed() / batch as u32
        };
        let mut out = Vec::with_capacity(1024);
        let mut serde_both = || {
            let start = Instant::now();
            for _ in 0..batch {
                out.clear();
                let claims = SerdeClaims::of(black_box(&claims), black_box(ROLES));
                serde_json::to_writer(&mut out, &claims).unwrap();
                black_box(&out);
                out.clear();
                serde_json::to_writer(&mut out, black_box(&serde_answer)).unwrap();
                black_box(&out);
            }
            start.elapsed() / batch as u32
        };
        report(
            "util::json: claims and answer (JSON answer)",
            "serde_json: claims and answer",
            "whole request with Accept: application/json",
            &interleave(
                rounds,
                &mut [&mut hand_both, &mut serde_both, &mut { sign_in_json }],
            ),
        );
    }

    /// The guide's request asking for the JSON answer.
    fn json_request() -> Request<Full<Bytes>> {
        let mut request = request();
        request
            .headers_mut()
            .insert(ACCEPT, HeaderValue::from_static("application/json"));
        request
    }

    /// The body of a 200 answer, as text.
    async fn body_text<B, E>(answer: impl Future<Output = Result<http::Response<B>, E>>) -> String
    where
        B: Body<Error: std::fmt::Debug>,
        E: std::fmt::Debug,
    {
        let answer = answer.await.unwrap();
        assert_eq!(answer.status(), 200);
        let body = answer.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }

    /// Per round: the time per operation of each timer. The order turns from round to round
    /// and then reverses, so that each timer comes first, and before each other one, as
    /// often as the others. Twenty rounds of warm-up come first and are not kept.
    fn interleave<const N: usize>(
        rounds: usize,
        timers: &mut [&mut dyn FnMut() -> Duration; N],
    ) -> Vec<[f64; N]> {
        const WARM_UP: usize = 20;
        (0..WARM_UP + rounds)
            .map(|round| {
                let mut times = [0.0; N];
                for k in 0..N {
                    let k = if (round / N).is_multiple_of(2) {
                        k
                    } else {
                        N - 1 - k
                    };
                    let i = (round + k) % N;
                    times[i] = timers[i]().as_secs_f64() * 1e9;
                }
                times
            })
            .skip(WARM_UP)
            .collect()
    }

    /// Prints the medians (ns per operation) of the hand-written piece, of the library
    /// doing its job and of the whole request; then the median over the rounds of the
    /// library's extra time and of that as a share of the whole request, with the middle
    /// half of the rounds, and the verdict: keep at 5 % or more.
    fn report(hand: &str, library: &str, whole: &str, rounds: &[[f64; 3]]) {
        let median = |i: usize| quartiles(rounds.iter().map(|r| r[i]).collect()).1;
        println!("  {hand:<44} {:9.1} ns", median(0));
        println!("  {library:<44} {:9.1} ns", median(1));
        println!("  {whole:<44} {:9.1} ns", median(2));
        let (low, mid, high) = quartiles(rounds.iter().map(|r| r[1] - r[0]).collect());
        println!(
            "  {:<44} {mid:+9.1} ns  (middle half {low:+.1} to {high:+.1})",
            "library - hand-written"
        );
        let (low, mid, high) = quartiles(
            rounds
                .iter()
                .map(|r| 100.0 * (r[1] - r[0]) / r[2])
                .collect(),
        );
        let verdict = if mid >= 5.0 { "keep" } else { "library" };
        println!(
            "  {:<44} {mid:+9.2} %   (middle half {low:+.2} to {high:+.2}): {verdict}",
            "saving, share of the whole request"
        );
    }
}
