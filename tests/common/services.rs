//! The real PostgreSQL and Redis of this machine, for the tests that need them:
//! `TCX_TEST_POSTGRES_URL` and `TCX_TEST_REDIS_URL`. Without them a test skips with a printed
//! reason; with `TCX_REQUIRE_SERVICES=1` a skip is a failure. Each test gets its own schema
//! or key prefix, removed when it ends.

#[allow(unused_imports)]
use std::time::Duration;

#[allow(dead_code)]
fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let required = std::env::var("TCX_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "{var} is unset but TCX_REQUIRE_SERVICES=1: cannot skip"
            );
            eprintln!("skipped: {var} is unset (set it to run this test against the real service)");
            None
        }
    }
}

#[cfg(feature = "postgres")]
/// A fresh PostgreSQL schema, dropped (with its tables) when this is dropped.
pub struct PgSchema {
    pub url: String,
    pub name: String,
}

#[cfg(feature = "postgres")]
impl PgSchema {
    pub fn new() -> Option<PgSchema> {
        let url = service_url("TCX_TEST_POSTGRES_URL")?;
        let name = format!(
            "tcx_test_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..16]
        );
        Some(PgSchema { url, name })
    }

    pub fn options(&self) -> techcentrix_auth::store::postgres::PostgresOptions {
        techcentrix_auth::store::postgres::PostgresOptions::new(&self.url)
            .schema(&self.name)
            .acquire_timeout(Duration::from_secs(10))
    }
}

#[cfg(feature = "postgres")]
impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Drop may run inside a runtime: do the async clean-up on a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                    let _ = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

#[cfg(feature = "redis")]
/// A fresh Redis key prefix, whose keys are deleted when this is dropped.
pub struct RedisPrefix {
    pub url: String,
    pub prefix: String,
}

#[cfg(feature = "redis")]
impl RedisPrefix {
    pub fn new() -> Option<RedisPrefix> {
        let url = service_url("TCX_TEST_REDIS_URL")?;
        let prefix = format!("tcx-test:{}:", uuid::Uuid::new_v4().simple());
        Some(RedisPrefix { url, prefix })
    }
}

#[cfg(feature = "redis")]
impl Drop for RedisPrefix {
    fn drop(&mut self) {
        let (url, prefix) = (self.url.clone(), self.prefix.clone());
        let _ = std::thread::spawn(move || {
            let Ok(client) = redis::Client::open(url.as_str()) else {
                return;
            };
            let Ok(mut conn) = client.get_connection() else {
                return;
            };
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{prefix}*"))
                .query(&mut conn)
                .unwrap_or_default();
            for key in keys {
                let _: redis::RedisResult<()> = redis::cmd("DEL").arg(key).query(&mut conn);
            }
        })
        .join();
    }
}
