//! In-process costs: a whole external-auth request through the tower service next to a bare
//! jsonwebtoken HS512 encode of the same claims, the layer's pass-through cost, key look-up
//! with 1 and 100,000 keys, and user upserts with 1,000 and 1,000,000 users.
//!
//! Run with: cargo bench --bench endpoints

#![allow(missing_docs)] // criterion_group! makes an undocumented pub fn

use std::convert::Infallible;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::Full;
use techcentrix_auth::store::{ExternalProfile, UserStore};
use techcentrix_auth::token::{Claims, SigningKeys, TokenKind};
use techcentrix_auth::{
    ApiKey, ApiKeyValidator, AppId, JwtSecret, MemoryApiKeyValidator, MemoryUserStore,
    TechCentrixAuth,
};
use tower::{Layer, Service, ServiceExt};

const KEY: &str = "bench-key-0123456789abcdef0123456789";
const BODY: &str =
    r#"{"id":"user1-external","email":"user1@techcentrix.com","firstName":"User1Name"}"#;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn auth() -> TechCentrixAuth {
    TechCentrixAuth::builder()
        .api_keys(MemoryApiKeyValidator::new().with_key("acme", &ApiKey::new(KEY)))
        .user_store(MemoryUserStore::new())
        .signing_keys(SigningKeys::hs512(JwtSecret::new(vec![7u8; 64]).unwrap()))
        .build()
        .unwrap()
}

fn request() -> Request<Full<Bytes>> {
    Request::post("/user/api/auth/external")
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(BODY.as_bytes())))
        .unwrap()
}

fn external_request_vs_encode(c: &mut Criterion) {
    let rt = runtime();
    let auth = auth();
    let mut group = c.benchmark_group("external");
    let secret = vec![7u8; 64];
    let encoding = jsonwebtoken::EncodingKey::from_secret(&secret);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512);
    header.kid = Some(auth.signing_keys().kid().to_owned());
    let claims = Claims::new(
        TokenKind::OneTime,
        "e774b7e4-3817-4c92-8402-ae41c4113a78".into(),
        "acme".into(),
        "techcentrix-auth",
        1_795_624_987,
        60,
    );
    group.bench_function("jsonwebtoken_hs512_encode", |b| {
        b.iter(|| jsonwebtoken::encode(black_box(&header), black_box(&claims), &encoding).unwrap())
    });
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

fn pass_through(c: &mut Criterion) {
    let rt = runtime();
    let inner = tower::service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"hi"))))
    });
    let layered = auth().layer().layer(inner);
    let other = || {
        Request::get("/api/things")
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let mut group = c.benchmark_group("pass_through");
    group.bench_function("inner_alone", |b| {
        let mut svc = inner;
        b.to_async(&rt).iter(|| {
            let fut = svc.call(other());
            async { fut.await.unwrap() }
        })
    });
    group.bench_function("through_layer", |b| {
        let mut svc = layered.clone();
        b.to_async(&rt).iter(|| {
            let fut = svc.call(other());
            async { fut.await.unwrap() }
        })
    });
    group.finish();
}

fn key_lookup(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("key_lookup");
    for n in [1usize, 100_000] {
        let validator = MemoryApiKeyValidator::new();
        for i in 0..n - 1 {
            validator.insert(format!("app{i}"), &ApiKey::new(format!("{KEY}-{i}")));
        }
        validator.insert("acme", &ApiKey::new(KEY));
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
        let store = MemoryUserStore::new();
        rt.block_on(async {
            for i in 0..n {
                let profile = ExternalProfile {
                    external_id: format!("user{i}"),
                    email: format!("user{i}@techcentrix.com"),
                    first_name: "Name".into(),
                };
                store.upsert_external(&app, &profile).await.unwrap();
            }
        });
        let profile = ExternalProfile {
            external_id: format!("user{}", n / 2),
            email: format!("user{}@techcentrix.com", n / 2),
            first_name: "Name".into(),
        };
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
    pass_through,
    key_lookup,
    user_upsert
);
criterion_main!(benches);
