//! Several reference-server processes sharing one PostgreSQL schema and one Redis, and
//! what happens when those services go away. Needs `TCX_TEST_POSTGRES_URL` and
//! `TCX_TEST_REDIS_URL` (skips with a printed reason without them).
#![cfg(all(feature = "postgres", feature = "redis"))]

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::proxy::{Mode, Proxy};
use common::services::{PgSchema, RedisPrefix};
use common::*;

/// The environment of an instance of the shared deployment.
fn shared_env(schema: &PgSchema, redis: &RedisPrefix) -> Vec<(String, String)> {
    vec![
        ("TCX_API_KEYS".into(), format!("acme:{KEY}")),
        (
            "TCX_JWT_SECRET".into(),
            String::from_utf8(SECRET.to_vec()).unwrap(),
        ),
        ("TCX_DATABASE_URL".into(), schema.url.clone()),
        ("TCX_DATABASE_SCHEMA".into(), schema.name.clone()),
        ("TCX_REDIS_URL".into(), redis.url.clone()),
        ("TCX_REDIS_PREFIX".into(), redis.prefix.clone()),
    ]
}

fn start(name: &str, env: &[(String, String)], dir: &std::path::Path) -> Server {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::start(name, &env, dir)
}

/// Three instances (axum, hyper, axum) started at the same moment: their migrations race
/// on the same fresh schema.
fn three_instances(env: &[(String, String)], dir: &std::path::Path) -> Vec<Server> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = ["axum", "hyper", "axum"]
            .into_iter()
            .map(|name| scope.spawn(move || start(name, env, dir)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn admin(env: &[(String, String)], args: &[&str]) -> String {
    let output = std::process::Command::new(example_binary("admin"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "admin {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_users_tokens_and_keys() {
    let (Some(schema), Some(redis)) = (PgSchema::new(), RedisPrefix::new()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let env = shared_env(&schema, &redis);
    let servers = three_instances(&env, dir.path());
    let [a, b, c] = [servers[0].addr, servers[1].addr, servers[2].addr];

    // Signed up through 1, signed in through 2: the same user.
    let up = http_external(a, KEY, GUIDE_BODY).await.claims();
    let ott = http_external(b, KEY, GUIDE_BODY).await;
    assert_eq!(ott.claims()["sub"], up["sub"]);

    // A oneTimeToken from instance 2, redeemed once through 1, refused by 3.
    let first = http_redeem(a, ott.text()).await;
    assert_eq!(first.status, 200, "{}", first.text());
    http_redeem(c, ott.text()).await.assert_error(401, 5);

    // 200 concurrent first sign-ins of one new user over the three instances: one row.
    let body = r#"{"id":"crowd-user","email":"crowd@techcentrix.com","firstName":"Crowd"}"#;
    let calls: Vec<_> = (0..200)
        .map(|i| {
            let addr = [a, b, c][i % 3];
            tokio::spawn(async move { http_external(addr, KEY, body).await })
        })
        .collect();
    let mut subs = HashSet::new();
    for call in calls {
        subs.insert(
            call.await.unwrap().claims()["sub"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(subs.len(), 1);
    assert_eq!(admin(&env, &["users", "count"]).trim(), "2");
    assert_eq!(
        admin(&env, &["users", "count", "--app", "acme"]).trim(),
        "2"
    );

    // A key added with the admin command works everywhere; revoked, it stops everywhere
    // within the documented 5 seconds.
    let added = admin(
        &env,
        &["keys", "add", "--app", "acme", "--label", "rotation"],
    );
    let id = added
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap()
        .to_owned();
    let key = added
        .lines()
        .find_map(|l| l.strip_prefix("key: "))
        .unwrap()
        .to_owned();
    let listed = admin(&env, &["keys", "list"]);
    let row: Vec<&str> = listed.lines().next().unwrap().split('\t').collect();
    assert_eq!(row[0], id);
    assert_eq!(&row[1..3], ["acme", "rotation"]);
    assert!(
        row[3].ends_with('Z') && row[3].len() == 20,
        "RFC 3339: {}",
        row[3]
    );
    assert_eq!(row[4], "active");
    assert!(!listed.contains(&key), "the key is never listed");
    for addr in [a, b, c] {
        assert_eq!(http_external(addr, &key, GUIDE_BODY).await.status, 200);
    }
    assert_eq!(
        admin(&env, &["keys", "revoke", &id]).trim(),
        format!("revoked: {id}")
    );
    let revoked_at = Instant::now();
    let mut stopped = [false; 3];
    while !stopped.iter().all(|s| *s) {
        assert!(
            revoked_at.elapsed() < Duration::from_secs(5),
            "revoked key still accepted 5 s after `keys revoke` returned: {stopped:?}"
        );
        for (i, addr) in [a, b, c].into_iter().enumerate() {
            let answer = http_external(addr, &key, GUIDE_BODY).await;
            stopped[i] |= answer.status == 401;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(admin(&env, &["keys", "list"]).contains("\trevoked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_gives_503_and_recovers() {
    let (Some(schema), Some(redis)) = (PgSchema::new(), RedisPrefix::new()) else {
        return;
    };
    let upstream: SocketAddr = pg_addr(&schema.url);
    let proxy = Proxy::start(upstream).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = shared_env(&schema, &redis);
    // Point the database URL at the proxy.
    env[2].1 = with_address(&schema.url, proxy.addr);
    env.push(("TCX_STORE_TIMEOUT".into(), "1".into()));
    let server = start("axum", &env, dir.path());
    let addr = server.addr;
    assert_eq!(http_external(addr, KEY, GUIDE_BODY).await.status, 200);
    // A key only the database knows, never used yet (so not cached).
    let added = admin(&env, &["keys", "add", "--app", "acme"]);
    let db_key = added
        .lines()
        .find_map(|l| l.strip_prefix("key: "))
        .unwrap()
        .to_owned();

    for mode in [Mode::Cut, Mode::Stall] {
        proxy.set(mode);
        // While the database is away, a key only it knows is 503/7, not 401.
        http_external(addr, &db_key, GUIDE_BODY)
            .await
            .assert_error(503, 7);
        let outage_answers = load(Duration::from_secs(2), move |i| async move {
            // New users each time: every request must reach the database.
            let body = format!(
                r#"{{"id":"load-{i}-{}","email":"l@x.io","firstName":"L"}}"#,
                uuid::Uuid::new_v4()
            );
            http_external(addr, KEY, &body).await
        })
        .await;
        check_answers(&outage_answers, mode);
        assert!(
            outage_answers.iter().any(|(a, _)| a.status == 503),
            "{mode:?}: the outage was seen"
        );
        proxy.set(Mode::Open);
        wait_for_200(|| async { http_external(addr, KEY, GUIDE_BODY).await }).await;
    }
    assert!(
        server.terminate().success(),
        "the server stayed up and exits cleanly"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_fails_redemption_closed_and_recovers() {
    let (Some(schema), Some(redis)) = (PgSchema::new(), RedisPrefix::new()) else {
        return;
    };
    let upstream: SocketAddr = redis_addr(&redis.url);
    let proxy = Proxy::start(upstream).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = shared_env(&schema, &redis);
    env[4].1 = format!("redis://{}", proxy.addr);
    env.push(("TCX_STORE_TIMEOUT".into(), "1".into()));
    let server = start("hyper", &env, dir.path());
    let addr = server.addr;

    for mode in [Mode::Cut, Mode::Stall] {
        // Tokens issued before the outage (issuance needs no Redis).
        let mut tokens = Vec::new();
        for _ in 0..10 {
            tokens.push(http_external(addr, KEY, GUIDE_BODY).await.text().to_owned());
        }
        proxy.set(mode);
        let mut answers = Vec::new();
        for token in &tokens {
            let started = Instant::now();
            answers.push((http_redeem(addr, token).await, started.elapsed()));
        }
        check_answers(&answers, mode);
        assert!(
            answers.iter().all(|(a, _)| a.status == 503),
            "{mode:?}: fails closed"
        );
        proxy.set(Mode::Open);
        // Back: redemption works again (a fresh token)...
        wait_for_200(|| async move {
            let token = http_external(addr, KEY, GUIDE_BODY).await.text().to_owned();
            http_redeem(addr, &token).await
        })
        .await;
        // ...and no token is ever accepted twice. After a cut each is accepted once; after a
        // stall, a `SET` that was held and delivered late may have used a token up, so each
        // is accepted at most once.
        for token in &tokens {
            let first = http_redeem(addr, token).await;
            match (mode, first.status.as_u16()) {
                (_, 200) => {}
                (Mode::Stall, _) => first.assert_error(401, 5),
                (_, other) => panic!("{mode:?}: a token unused during the outage got {other}"),
            }
            http_redeem(addr, token).await.assert_error(401, 5);
        }
    }
    assert!(server.terminate().success());
}

/// Runs `request` from 8 concurrent clients for `duration`; each answer with its latency.
async fn load<F, Fut>(duration: Duration, request: F) -> Vec<(Answer, Duration)>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Answer> + Send,
{
    let deadline = Instant::now() + duration;
    let clients: Vec<_> = (0..8)
        .map(|client| {
            let request = request.clone();
            tokio::spawn(async move {
                let mut answers = Vec::new();
                let mut i = client * 1_000_000;
                while Instant::now() < deadline {
                    let started = Instant::now();
                    let answer = request(i).await;
                    answers.push((answer, started.elapsed()));
                    i += 1;
                }
                answers
            })
        })
        .collect();
    let mut all = Vec::new();
    for client in clients {
        all.extend(client.await.unwrap());
    }
    all
}

/// Every answer 200 or 503/7 with `Retry-After`, none slower than the 1 s store timeout
/// plus slack for the pool's own acquire timeout.
fn check_answers(answers: &[(Answer, Duration)], mode: Mode) {
    assert!(!answers.is_empty());
    for (answer, took) in answers {
        match answer.status.as_u16() {
            200 => {}
            503 => {
                answer.assert_error(503, 7);
                assert!(answer.headers.contains_key("retry-after"));
            }
            other => panic!("{mode:?}: unexpected {other}: {}", answer.text()),
        }
        assert!(
            *took < Duration::from_millis(2_500),
            "{mode:?}: a request took {took:?}"
        );
    }
}

async fn wait_for_200<F, Fut>(request: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Answer>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let answer = request().await;
        if answer.status == 200 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no 200 within 15 s of the service's return: {}",
            answer.text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn host_port(url: &str, default_port: u16) -> SocketAddr {
    let rest = url.split("://").nth(1).unwrap();
    let rest = rest.rsplit('@').next().unwrap();
    let host_port = rest.split(['/', '?']).next().unwrap();
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().unwrap()),
        None => (host_port, default_port),
    };
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{port}").parse().unwrap()
}

/// `url` with its host and port replaced by `addr`.
fn with_address(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (auth, rest) = match rest.rsplit_once('@') {
        Some((auth, rest)) => (format!("{auth}@"), rest),
        None => (String::new(), rest),
    };
    let tail = rest.find(['/', '?']).map_or("", |i| &rest[i..]);
    format!("{scheme}://{auth}{addr}{tail}")
}

fn pg_addr(url: &str) -> SocketAddr {
    host_port(url, 5432)
}

fn redis_addr(url: &str) -> SocketAddr {
    host_port(url, 6379)
}

/// `TCX_RATE_LIMIT` with Redis: the budget of a key is shared by every instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_is_shared_through_redis() {
    let (Some(schema), Some(redis)) = (PgSchema::new(), RedisPrefix::new()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut env = shared_env(&schema, &redis);
    env.push(("TCX_RATE_LIMIT".into(), "5".into()));
    let a = start("axum", &env, dir.path());
    let b = start("hyper", &env, dir.path());
    // Start just after a second begins, so that the requests below share one window.
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        if now.subsec_millis() < 50 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for _ in 0..5 {
        assert_eq!(http_external(a.addr, KEY, GUIDE_BODY).await.status, 200);
    }
    // Instance 2 has served nothing yet, but the key's budget for this second is spent.
    let limited = http_external(b.addr, KEY, GUIDE_BODY).await;
    limited.assert_error(429, 6);
    assert_eq!(limited.message(), "Too many requests");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    // The next second has a new budget.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(http_external(b.addr, KEY, GUIDE_BODY).await.status, 200);
}
