//! In-process costs: a whole external-auth request through the tower service next to a bare
//! jsonwebtoken HS512 encode of the same claims, token issue and verify, redemption,
//! refresh, sign-out and the JWKS through the service, the layer's pass-through cost, key look-up
//! with 1 and 100,000 keys, and user upserts with 1,000 and 1,000,000 users.
//!
//! Run with: cargo bench --bench endpoints

#![allow(missing_docs)] // criterion_group! makes an undocumented pub fn

use std::hint::black_box;

use bytes::Bytes;
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::Full;
use techcentrix_auth::store::UserStore;
use techcentrix_auth::token::{Claims, Expected, SigningKeys, TokenKind};
use techcentrix_auth::{ApiKey, ApiKeyValidator, AppId, JwtSecret};
use tower::{Layer, Service, ServiceExt};

mod common;
use common::{BareEncode, KEY, auth, keys, other_request, request, runtime};

fn external_request_vs_encode(c: &mut Criterion) {
    let rt = runtime();
    let auth = auth();
    let mut group = c.benchmark_group("external");
    let bare = BareEncode::new(&auth);
    group.bench_function("jsonwebtoken_hs512_encode", |b| b.iter(|| bare.encode()));
    // Sign the user up once; every measured request is then a sign-in.
    rt.block_on(auth.service().oneshot(request())).unwrap();
    // The request is built outside the measurement: what is timed is the service's work.
    let service = auth.service();
    group.bench_function("whole_request_existing_user", |b| {
        b.to_async(&rt).iter_batched(
            request,
            |request| {
                let service = service.clone();
                async move { service.oneshot(request).await.unwrap() }
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn tokens(c: &mut Criterion) {
    let keys = SigningKeys::hs512(JwtSecret::new(vec![7u8; 64]).unwrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = Claims::new(
        TokenKind::OneTime,
        "e774b7e4-3817-4c92-8402-ae41c4113a78".into(),
        "acme".into(),
        "techcentrix-auth",
        now,
        3600,
    );
    let jwt = keys.sign(&claims).unwrap();
    let expected = Expected::new(TokenKind::OneTime, "techcentrix-auth")
        .audience("acme")
        .leeway(5);
    let mut group = c.benchmark_group("token");
    group.bench_function("issue_hs512", |b| {
        b.iter(|| keys.sign(black_box(&claims)).unwrap())
    });
    group.bench_function("verify_hs512", |b| {
        b.iter(|| keys.verify(black_box(&jwt), &expected).unwrap())
    });
    group.finish();
}

/// Redemption, refresh and sign-out through the service; each request gets a fresh
/// oneTimeToken, refresh token or access token (its own session), made before the measured
/// loop. And the JWKS, which needs nothing.
fn session_endpoints(c: &mut Criterion) {
    let rt = runtime();
    let service = auth().service();
    let mut group = c.benchmark_group("sessions");
    for endpoint in ["redeem", "refresh", "sign_out"] {
        let service = service.clone();
        group.bench_function(endpoint, |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let service = service.clone();
                async move {
                    let mut requests = Vec::with_capacity(iters as usize);
                    for _ in 0..iters {
                        let redeem = redeem_request(one_time_token(&service).await);
                        if endpoint == "redeem" {
                            requests.push((redeem, 200));
                            continue;
                        }
                        let session = json_of(service.clone().oneshot(redeem).await.unwrap()).await;
                        let token = |name: &str| session[name].as_str().unwrap().to_owned();
                        requests.push(if endpoint == "refresh" {
                            let body = format!(r#"{{"refreshToken":"{}"}}"#, token("refreshToken"));
                            (json_post("/user/api/auth/refresh", body), 200)
                        } else {
                            let request = Request::post("/user/api/auth/sign-out")
                                .header("authorization", format!("Bearer {}", token("accessToken")))
                                .body(Full::new(Bytes::new()))
                                .unwrap();
                            (request, 204)
                        });
                    }
                    let start = std::time::Instant::now();
                    for (request, status) in requests {
                        let response = service.clone().oneshot(request).await.unwrap();
                        assert_eq!(response.status(), status);
                    }
                    start.elapsed()
                }
            })
        });
    }
    group.bench_function("jwks", |b| {
        b.to_async(&rt).iter(|| {
            let request = Request::get("/.well-known/jwks.json")
                .body(Full::new(Bytes::new()))
                .unwrap();
            let service = service.clone();
            async move {
                let response = service.oneshot(request).await.unwrap();
                assert_eq!(response.status(), 200);
            }
        })
    });
    group.finish();
}

fn json_post(path: &str, body: String) -> Request<Full<Bytes>> {
    Request::post(path)
        .header("content-type", "application/json")
        .header("x-techcentrix-app-id", "acme")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn redeem_request(token: String) -> Request<Full<Bytes>> {
    json_post(
        "/user/api/auth/token",
        format!(r#"{{"oneTimeToken":"{token}"}}"#),
    )
}

async fn body_of<B: http_body::Body<Data = Bytes>>(response: Response<B>) -> Bytes
where
    B::Error: std::fmt::Debug,
{
    http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes()
}

async fn json_of<B: http_body::Body<Data = Bytes>>(response: Response<B>) -> serde_json::Value
where
    B::Error: std::fmt::Debug,
{
    serde_json::from_slice(&body_of(response).await).unwrap()
}

async fn one_time_token(service: &techcentrix_auth::AuthService) -> String {
    let response = service.clone().oneshot(request()).await.unwrap();
    String::from_utf8(body_of(response).await.to_vec()).unwrap()
}

fn pass_through(c: &mut Criterion) {
    let rt = runtime();
    let inner = common::inner();
    let layered = auth().layer().layer(inner);
    let mut group = c.benchmark_group("pass_through");
    group.bench_function("inner_alone", |b| {
        let mut svc = inner;
        b.to_async(&rt).iter(|| {
            let fut = svc.call(other_request());
            async { fut.await.unwrap() }
        })
    });
    group.bench_function("through_layer", |b| {
        let mut svc = layered.clone();
        b.to_async(&rt).iter(|| {
            let fut = svc.call(other_request());
            async { fut.await.unwrap() }
        })
    });
    group.finish();
}

fn key_lookup(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("key_lookup");
    for n in [1usize, 100_000] {
        let validator = keys(n);
        let key = ApiKey::new(KEY);
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.to_async(&rt)
                .iter(|| async { validator.validate(black_box(&key)).await.unwrap() })
        });
    }
    group.finish();
}

fn user_upsert(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("user_upsert_existing");
    let app = AppId::from("acme");
    for n in [1_000usize, 1_000_000] {
        let store = common::users(&rt, n);
        let profile = common::profile(n / 2);
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.to_async(&rt).iter(|| async {
                store
                    .upsert_external(&app, black_box(&profile))
                    .await
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    external_request_vs_encode,
    tokens,
    session_endpoints,
    pass_through,
    key_lookup,
    user_upsert
);
criterion_main!(benches);
