//! The reference servers' environment (SPEC §6): [`EnvConfig::from_lookup`] reads and checks
//! every variable, [`EnvConfig::build`] opens the stores and returns a ready
//! [`TechCentrixAuth`].
//!
//! This is server wiring, not library API: every reference server and the admin command
//! include it (`examples/common`), the tests include it by path. A host embedding the
//! library configures [`AuthConfig`] and the stores in code, or copies this module.
//!
//! Every error names the variable at fault and never repeats a secret.

// Each including target uses a part of this module.
#![allow(dead_code)]

mod stores;

use std::net::SocketAddr;
use std::time::Duration;

use techcentrix_auth::token::SigningKeys;
use techcentrix_auth::{ApiKey, AppId, AuthConfig, ConfigError, JwtSecret, TechCentrixAuth};

/// Where users, stored keys, sessions and the ledger live, from `TCX_DATABASE_URL`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum DatabaseUrl {
    /// `memory:`: nothing survives a restart.
    Memory,
    /// `sqlite://PATH`: the path as given (relative to the working directory unless it
    /// starts with `/`).
    Sqlite(String),
    /// `postgres://…` (or `postgresql://…`), as given; may hold a password, so its `Debug`
    /// shows only the scheme.
    Postgres(String),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Memory => f.write_str("Memory"),
            DatabaseUrl::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            DatabaseUrl::Postgres(_) => f.write_str("Postgres([redacted])"),
        }
    }
}

/// The Redis settings, from `TCX_REDIS_URL` and `TCX_REDIS_PREFIX`.
#[derive(Clone)]
pub(crate) struct RedisUrl {
    /// The URL (may hold a password; not shown by `Debug`).
    pub(crate) url: String,
    /// The prefix of every key (default `tcx:`).
    pub(crate) prefix: String,
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisUrl")
            .field("url", &"[redacted]")
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// The reference servers' settings, read from the environment.
#[derive(Clone, Debug)]
pub(crate) struct EnvConfig {
    /// `TCX_LISTEN`: the address to bind. Default `127.0.0.1:8080`.
    pub(crate) listen: SocketAddr,
    /// `TCX_API_KEYS`: `app:key` entries. Empty means one generated key for app `demo`.
    pub(crate) api_keys: Vec<(AppId, ApiKey)>,
    /// `TCX_JWT_SECRET`: the HS512 secret; `None` means a random one per process.
    pub(crate) jwt_secret: Option<JwtSecret>,
    /// `TCX_SIGNING_KEYS`: asymmetric keys loaded from `kid:path.pem` entries (the first
    /// signs, all verify and are published); `None` means HS512.
    pub(crate) signing_keys: Option<SigningKeys>,
    /// `TCX_DATABASE_URL`. Default `sqlite://techcentrix-auth.db`.
    pub(crate) database: DatabaseUrl,
    /// `TCX_DATABASE_SCHEMA`: the PostgreSQL schema of the tables (default `public`).
    pub(crate) database_schema: Option<String>,
    /// `TCX_REDIS_URL` (and `TCX_REDIS_PREFIX`): when set, Redis is the only replay ledger
    /// and holds the rate limits.
    pub(crate) redis: Option<RedisUrl>,
    /// `TCX_RATE_LIMIT`: requests per second per key, 0 = off.
    pub(crate) rate_limit: u32,
    /// The library settings: `TCX_STORE_TIMEOUT`, `TCX_ONE_TIME_TOKEN_TTL`,
    /// `TCX_ACCESS_TOKEN_TTL`, `TCX_SESSION_TTL`, `TCX_TOKEN_LEEWAY`,
    /// `TCX_REFRESH_REUSE_INTERVAL`, `TCX_ISSUER`.
    pub(crate) auth: AuthConfig,
}

/// What [`EnvConfig::build`] made: the auth state and what the server should tell its
/// operator at start.
#[derive(Debug)]
pub(crate) struct EnvServer {
    /// The ready state.
    pub(crate) auth: TechCentrixAuth,
    /// The key generated for app `demo` when `TCX_API_KEYS` was unset: print it once.
    pub(crate) demo_key: Option<ApiKey>,
    /// Warnings for the operator (e.g. a random signing secret).
    pub(crate) warnings: Vec<String>,
}

impl EnvConfig {
    /// Reads the process environment.
    pub(crate) fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup` (a variable set to the empty string counts as
    /// unset).
    pub(crate) fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let listen = match var("TCX_LISTEN") {
            Some(v) => v.trim().parse().map_err(|_| {
                ConfigError::new(
                    "TCX_LISTEN",
                    format!("`{v}` is not an address like 127.0.0.1:8080"),
                )
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };
        let api_keys = match var("TCX_API_KEYS") {
            Some(v) => parse_api_keys(&v)?,
            None => Vec::new(),
        };
        let jwt_secret = var("TCX_JWT_SECRET")
            .map(|v| JwtSecret::new(v.into_bytes()).map_err(|e| e.renamed("TCX_JWT_SECRET")))
            .transpose()?;
        let database = match var("TCX_DATABASE_URL") {
            Some(v) => parse_database_url(&v)?,
            None => DatabaseUrl::Sqlite("techcentrix-auth.db".to_owned()),
        };
        let database_schema = var("TCX_DATABASE_SCHEMA");
        if let Some(schema) = &database_schema {
            let DatabaseUrl::Postgres(_) = database else {
                return Err(ConfigError::new(
                    "TCX_DATABASE_SCHEMA",
                    "only applies to a postgres:// TCX_DATABASE_URL",
                ));
            };
            // A postgres:// URL was refused above unless the backend is compiled in.
            #[cfg(feature = "postgres")]
            if !techcentrix_auth::store::postgres::valid_schema(schema) {
                return Err(ConfigError::new(
                    "TCX_DATABASE_SCHEMA",
                    "must be letters, digits and `_`, starting with a letter or `_`, at most 63 bytes",
                ));
            }
            #[cfg(not(feature = "postgres"))]
            let _ = schema;
        }
        let redis = match var("TCX_REDIS_URL") {
            None => None,
            Some(url) => {
                if !cfg!(feature = "redis") {
                    return Err(ConfigError::new(
                        "TCX_REDIS_URL",
                        "the Redis backend is not compiled in; rebuild with `--features redis` (or `full`)",
                    ));
                }
                if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                    return Err(ConfigError::new(
                        "TCX_REDIS_URL",
                        "expected redis://HOST[:PORT][/DB]",
                    ));
                }
                let prefix = var("TCX_REDIS_PREFIX").unwrap_or_else(|| "tcx:".to_owned());
                Some(RedisUrl { url, prefix })
            }
        };
        let signing_keys = var("TCX_SIGNING_KEYS")
            .map(|v| parse_signing_keys(&v))
            .transpose()?;
        if signing_keys.is_some() && jwt_secret.is_some() {
            return Err(ConfigError::new(
                "TCX_SIGNING_KEYS",
                "set either TCX_SIGNING_KEYS or TCX_JWT_SECRET, not both",
            ));
        }
        let mut auth = AuthConfig::default();
        // The bounds are AuthConfig's, the one place that holds them.
        if let Some(v) = var("TCX_STORE_TIMEOUT") {
            let max = AuthConfig::MAX_STORE_TIMEOUT.as_secs_f64();
            let secs: f64 = v
                .trim()
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s <= max)
                .ok_or_else(|| {
                    ConfigError::new(
                        "TCX_STORE_TIMEOUT",
                        format!("`{v}` is not a number of seconds from 0 (excluded) to {max}"),
                    )
                })?;
            auth = auth.with_store_timeout(Duration::from_secs_f64(secs));
        }
        if let Some(v) = var("TCX_ONE_TIME_TOKEN_TTL") {
            auth = auth.with_one_time_token_ttl(seconds(
                "TCX_ONE_TIME_TOKEN_TTL",
                &v,
                1,
                AuthConfig::MAX_ONE_TIME_TOKEN_TTL,
            )?);
        }
        if let Some(v) = var("TCX_ACCESS_TOKEN_TTL") {
            auth = auth.with_access_token_ttl(seconds(
                "TCX_ACCESS_TOKEN_TTL",
                &v,
                1,
                AuthConfig::MAX_ACCESS_TOKEN_TTL,
            )?);
        }
        if let Some(v) = var("TCX_SESSION_TTL") {
            auth = auth.with_session_ttl(seconds(
                "TCX_SESSION_TTL",
                &v,
                1,
                AuthConfig::MAX_SESSION_TTL,
            )?);
        }
        if let Some(v) = var("TCX_TOKEN_LEEWAY") {
            auth = auth.with_leeway(seconds("TCX_TOKEN_LEEWAY", &v, 0, AuthConfig::MAX_LEEWAY)?);
        }
        if let Some(v) = var("TCX_REFRESH_REUSE_INTERVAL") {
            auth = auth.with_refresh_reuse_interval(seconds(
                "TCX_REFRESH_REUSE_INTERVAL",
                &v,
                0,
                AuthConfig::MAX_REFRESH_REUSE_INTERVAL,
            )?);
        }
        if let Some(v) = lookup("TCX_ISSUER") {
            if v.trim().is_empty() || v.chars().any(char::is_control) {
                return Err(ConfigError::new(
                    "TCX_ISSUER",
                    "must be a non-empty string without control characters",
                ));
            }
            auth = auth.with_issuer(v);
        }
        let rate_limit = match var("TCX_RATE_LIMIT") {
            Some(v) => v.trim().parse().map_err(|_| {
                ConfigError::new(
                    "TCX_RATE_LIMIT",
                    format!("`{v}` is not a whole number of requests per second"),
                )
            })?,
            None => 0,
        };
        auth.validate()?;
        Ok(EnvConfig {
            listen,
            api_keys,
            jwt_secret,
            signing_keys,
            database,
            database_schema,
            redis,
            rate_limit,
            auth,
        })
    }
}

/// `kid:path.pem` entries: the first signs, all verify.
fn parse_signing_keys(value: &str) -> Result<SigningKeys, ConfigError> {
    let mut keys: Option<SigningKeys> = None;
    for (n, entry) in value.split(',').enumerate() {
        let entry = entry.trim();
        let fail =
            |why: String| ConfigError::new("TCX_SIGNING_KEYS", format!("entry {}: {why}", n + 1));
        let Some((kid, path)) = entry.split_once(':') else {
            return Err(fail("expected kid:path.pem".into()));
        };
        let pem = std::fs::read(path).map_err(|e| fail(format!("cannot read `{path}`: {e}")))?;
        keys = Some(
            match keys {
                None => SigningKeys::from_pem(kid, &pem),
                Some(keys) => SigningKeys::from_pem(kid, &pem).and_then(|k| keys.with_previous(k)),
            }
            .map_err(|e| fail(e.to_string()))?,
        );
    }
    keys.ok_or_else(|| ConfigError::new("TCX_SIGNING_KEYS", "no entry"))
}

/// A whole number of seconds from `min` to `max`.
fn seconds(name: &str, value: &str, min: u64, max: Duration) -> Result<Duration, ConfigError> {
    let max = max.as_secs();
    match value.trim().parse::<u64>() {
        Ok(secs) if (min..=max).contains(&secs) => Ok(Duration::from_secs(secs)),
        _ => Err(ConfigError::new(
            name,
            format!("`{value}` is not a whole number of seconds from {min} to {max}"),
        )),
    }
}

/// `app:key` entries. No message quotes an entry: with its colon in the wrong place, any
/// part of it may be the key.
fn parse_api_keys(value: &str) -> Result<Vec<(AppId, ApiKey)>, ConfigError> {
    let mut keys: Vec<(AppId, ApiKey)> = Vec::new();
    // Each key's digest, computed once, to find a key given twice.
    let mut digests = Vec::new();
    for (n, entry) in value.split(',').enumerate() {
        let entry = entry.trim();
        let fail = |why: &str| ConfigError::new("TCX_API_KEYS", format!("entry {}: {why}", n + 1));
        if entry.is_empty() {
            return Err(fail("is empty (expected app:key)"));
        }
        let Some((app, key)) = entry.split_once(':') else {
            return Err(fail("has no `:` (expected app:key)"));
        };
        if app.is_empty() || app.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(fail("the app id must be non-empty, without spaces"));
        }
        if key.chars().count() < 32 {
            return Err(fail(
                "the key is shorter than 32 characters (expected app:key)",
            ));
        }
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(fail("the key must be printable ASCII without spaces"));
        }
        let key = ApiKey::new(key);
        let digest = key.digest();
        if let Some(first) = digests.iter().position(|d| *d == digest) {
            return Err(fail(&format!(
                "the same key as entry {}: a key belongs to one app",
                first + 1
            )));
        }
        digests.push(digest);
        keys.push((AppId::from(app), key));
    }
    Ok(keys)
}

fn parse_database_url(value: &str) -> Result<DatabaseUrl, ConfigError> {
    let value = value.trim();
    if value == "memory:" {
        return Ok(DatabaseUrl::Memory);
    }
    if let Some(path) = value.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(ConfigError::new(
                "TCX_DATABASE_URL",
                "sqlite:// needs a path, e.g. sqlite://techcentrix-auth.db",
            ));
        }
        return Ok(DatabaseUrl::Sqlite(path.to_owned()));
    }
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        if !cfg!(feature = "postgres") {
            return Err(ConfigError::new(
                "TCX_DATABASE_URL",
                "the PostgreSQL backend is not compiled in; rebuild with `--features postgres` (or `full`)",
            ));
        }
        return Ok(DatabaseUrl::Postgres(value.to_owned()));
    }
    Err(ConfigError::new(
        "TCX_DATABASE_URL",
        "expected sqlite://PATH, postgres://… or memory:",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<EnvConfig, ConfigError> {
        EnvConfig::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(
            c.database,
            DatabaseUrl::Sqlite("techcentrix-auth.db".into())
        );
        assert_eq!(c.auth.one_time_token_ttl(), Duration::from_secs(60));
        assert_eq!(c.auth.issuer(), "techcentrix-auth");
        assert_eq!(c.rate_limit, 0);
    }

    #[test]
    fn short_api_key_is_refused_without_echoing_it() {
        let err = config(&[("TCX_API_KEYS", "acme:tooshort-secret")]).unwrap_err();
        assert_eq!(err.setting(), "TCX_API_KEYS");
        assert!(!err.to_string().contains("tooshort-secret"));
    }

    #[test]
    fn several_keys_per_app() {
        let a = "a".repeat(32);
        let b = "b".repeat(40);
        let c = "c".repeat(32);
        let keys = config(&[("TCX_API_KEYS", &format!("acme:{a}, acme:{b},other:{c}"))]).unwrap();
        assert_eq!(keys.api_keys.len(), 3);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("TCX_LISTEN", "nowhere"),
            ("TCX_JWT_SECRET", "short"),
            ("TCX_DATABASE_URL", "mysql://x"),
            ("TCX_STORE_TIMEOUT", "-1"),
            ("TCX_ONE_TIME_TOKEN_TTL", "3601"),
            ("TCX_ACCESS_TOKEN_TTL", "0"),
            ("TCX_RATE_LIMIT", "fast"),
            ("TCX_REDIS_URL", "http://127.0.0.1"),
            ("TCX_DATABASE_SCHEMA", "bad-schema"),
        ] {
            let err = config(&[(name, value)]).unwrap_err();
            assert_eq!(err.setting(), name, "{err}");
        }
    }

    #[test]
    fn jwt_secret_is_not_echoed() {
        let err = config(&[("TCX_JWT_SECRET", "hunter2")]).unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
    }
}
