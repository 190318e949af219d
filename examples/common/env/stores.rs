//! Opening what [`EnvConfig`] names: the database's stores, Redis, the admin handle.

use std::sync::Arc;

use super::{DatabaseUrl, EnvConfig, EnvServer};
use techcentrix_auth::events::AuthEvents;
use techcentrix_auth::store::{
    ApiKeyValidator, MemoryReplayLedger, MemorySessionStore, MemoryUserStore, ReplayLedger,
    SessionStore, UserStore,
};
use techcentrix_auth::token::SigningKeys;
use techcentrix_auth::{ApiKey, ConfigError, JwtSecret, MemoryApiKeyValidator, TechCentrixAuth};

impl EnvConfig {
    /// Opens the stores and builds the state. An unreachable or unusable store is an error
    /// naming its variable (`TCX_DATABASE_URL`, `TCX_REDIS_URL`).
    pub(crate) async fn build(&self, events: impl AuthEvents) -> Result<EnvServer, ConfigError> {
        let mut warnings = Vec::new();
        let env_keys = MemoryApiKeyValidator::new();
        let mut demo_key = None;
        if self.api_keys.is_empty() {
            let key = ApiKey::generate();
            env_keys.insert("demo", &key);
            demo_key = Some(key);
        }
        for (app, key) in &self.api_keys {
            env_keys.insert(app.clone(), key);
        }
        let env_keys: Arc<dyn ApiKeyValidator> = Arc::new(env_keys);
        let keys = match (&self.signing_keys, &self.jwt_secret) {
            (Some(keys), _) => keys.clone(),
            (None, Some(secret)) => SigningKeys::hs512(secret.clone()),
            (None, None) => {
                warnings.push(
                    "TCX_JWT_SECRET is unset: tokens are signed with a random secret that dies with this process".to_owned(),
                );
                SigningKeys::hs512(JwtSecret::generate())
            }
        };
        let stores = self.open_stores(env_keys).await?;
        let (ledger, rate_limiter) = self.redis_parts(stores.ledger).await?;
        let auth = TechCentrixAuth::builder()
            .config(self.auth.clone())
            .signing_keys(keys)
            .api_keys(stores.api_keys)
            .user_store(stores.users)
            .replay_ledger(ledger)
            .session_store(stores.sessions)
            .events(events);
        let auth = match rate_limiter {
            Some(limiter) => auth.rate_limiter(limiter),
            None if self.rate_limit > 0 => auth.rate_limiter(
                techcentrix_auth::rate_limit::MemoryRateLimiter::new(self.rate_limit),
            ),
            None => auth,
        }
        .build()?;
        Ok(EnvServer {
            auth,
            demo_key,
            warnings,
        })
    }
}

/// What the admin command manages: the stored keys, the users and the sessions of
/// `TCX_DATABASE_URL`.
pub(crate) struct Admin {
    /// Server API keys.
    pub(crate) keys: Arc<dyn techcentrix_auth::store::ApiKeyAdmin>,
    /// User counts.
    pub(crate) users: Arc<dyn techcentrix_auth::store::UserCount>,
    /// The users themselves (to erase one).
    pub(crate) user_store: Arc<dyn UserStore>,
    /// Sessions (to list a user's, sign a user out everywhere).
    pub(crate) sessions: Arc<dyn SessionStore>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin").finish_non_exhaustive()
    }
}

/// The stores of a SQL database, each as the traits it serves.
struct SqlStores {
    keys: Arc<dyn ApiKeyValidator>,
    key_admin: Arc<dyn techcentrix_auth::store::ApiKeyAdmin>,
    users: Arc<dyn UserStore>,
    user_count: Arc<dyn techcentrix_auth::store::UserCount>,
    ledger: Arc<dyn ReplayLedger>,
    sessions: Arc<dyn SessionStore>,
}

impl SqlStores {
    /// The four stores of one backend's module, over one pool.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    fn over<K, U>(
        keys: K,
        users: U,
        ledger: impl ReplayLedger,
        sessions: impl SessionStore,
    ) -> SqlStores
    where
        K: ApiKeyValidator + techcentrix_auth::store::ApiKeyAdmin,
        U: UserStore + techcentrix_auth::store::UserCount,
    {
        let keys = Arc::new(keys);
        let users = Arc::new(users);
        SqlStores {
            keys: keys.clone(),
            key_admin: keys,
            users: users.clone(),
            user_count: users,
            ledger: Arc::new(ledger),
            sessions: Arc::new(sessions),
        }
    }
}

impl EnvConfig {
    /// Opens the database of `TCX_DATABASE_URL` (applying migrations) for key management
    /// and counts. `memory:` has nothing to manage.
    pub(crate) async fn open_admin(&self) -> Result<Admin, ConfigError> {
        match self.open_sql().await? {
            Some(sql) => Ok(Admin {
                keys: sql.key_admin,
                users: sql.user_count,
                user_store: sql.users,
                sessions: sql.sessions,
            }),
            None => Err(ConfigError::new(
                "TCX_DATABASE_URL",
                "memory: keeps nothing to manage; use sqlite:// or postgres://",
            )),
        }
    }

    /// Opens the SQL database of `TCX_DATABASE_URL`, applying its migrations; `None` for
    /// `memory:`. An unusable database is an error naming the variable.
    async fn open_sql(&self) -> Result<Option<SqlStores>, ConfigError> {
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        let unusable = |e: techcentrix_auth::StoreError| {
            ConfigError::new("TCX_DATABASE_URL", format!("cannot use the database: {e}"))
        };
        match &self.database {
            DatabaseUrl::Memory => Ok(None),
            #[cfg(feature = "sqlite")]
            DatabaseUrl::Sqlite(path) => {
                use techcentrix_auth::store::sqlite;
                let pool = sqlite::open(path).await.map_err(unusable)?;
                Ok(Some(SqlStores::over(
                    sqlite::SqliteApiKeyStore::new(pool.clone()),
                    sqlite::SqliteUserStore::new(pool.clone()),
                    sqlite::SqliteReplayLedger::new(pool.clone()),
                    sqlite::SqliteSessionStore::new(pool),
                )))
            }
            #[cfg(feature = "postgres")]
            DatabaseUrl::Postgres(url) => {
                use techcentrix_auth::store::postgres;
                let pool = postgres::connect(&self.postgres_options(url))
                    .await
                    .map_err(unusable)?;
                Ok(Some(SqlStores::over(
                    postgres::PostgresApiKeyStore::new(pool.clone()),
                    postgres::PostgresUserStore::new(pool.clone()),
                    postgres::PostgresReplayLedger::new(pool.clone()),
                    postgres::PostgresSessionStore::new(pool),
                )))
            }
            #[allow(unreachable_patterns)]
            _ => Err(ConfigError::new(
                "TCX_DATABASE_URL",
                "this backend is not compiled in; rebuild with `--features full`",
            )),
        }
    }

    /// Opens the database's stores. Keys stored in a database are looked up after those
    /// of `TCX_API_KEYS`, and a look-up is trusted for 5 s.
    async fn open_stores(&self, env_keys: Arc<dyn ApiKeyValidator>) -> Result<Stores, ConfigError> {
        Ok(match self.open_sql().await? {
            None => Stores {
                api_keys: env_keys,
                users: Arc::new(MemoryUserStore::new()),
                ledger: Arc::new(MemoryReplayLedger::new()),
                sessions: Arc::new(MemorySessionStore::new()),
            },
            Some(sql) => {
                let stored = Arc::new(techcentrix_auth::store::CachedApiKeyValidator::from_arc(
                    sql.keys,
                ));
                Stores {
                    api_keys: Arc::new(techcentrix_auth::ChainedApiKeyValidator::new(vec![
                        env_keys, stored,
                    ])),
                    users: sql.users,
                    ledger: sql.ledger,
                    sessions: sql.sessions,
                }
            }
        })
    }

    #[cfg(feature = "postgres")]
    fn postgres_options(&self, url: &str) -> techcentrix_auth::store::postgres::PostgresOptions {
        let options = techcentrix_auth::store::postgres::PostgresOptions::new(url)
            .acquire_timeout(self.auth.store_timeout());
        match &self.database_schema {
            Some(schema) => options.schema(schema.clone()),
            None => options,
        }
    }

    /// With `TCX_REDIS_URL`, Redis is the ledger (replacing the database's) and, with a
    /// rate limit, the limiter.
    #[allow(clippy::type_complexity)]
    async fn redis_parts(
        &self,
        ledger: Arc<dyn ReplayLedger>,
    ) -> Result<
        (
            Arc<dyn ReplayLedger>,
            Option<Arc<dyn techcentrix_auth::rate_limit::RateLimiter>>,
        ),
        ConfigError,
    > {
        let Some(redis) = &self.redis else {
            return Ok((ledger, None));
        };
        #[cfg(feature = "redis")]
        {
            use techcentrix_auth::store::redis::{
                RedisOptions, RedisRateLimiter, RedisReplayLedger,
            };
            let connection = RedisOptions::new(redis.url.clone())
                .timeout(self.auth.store_timeout())
                .connect()
                .await
                .map_err(|e| {
                    ConfigError::new("TCX_REDIS_URL", format!("cannot reach Redis: {e}"))
                })?;
            let limiter = (self.rate_limit > 0).then(|| {
                Arc::new(RedisRateLimiter::new(
                    connection.clone(),
                    redis.prefix.clone(),
                    self.rate_limit,
                )) as Arc<dyn techcentrix_auth::rate_limit::RateLimiter>
            });
            Ok((
                Arc::new(RedisReplayLedger::new(connection, redis.prefix.clone())),
                limiter,
            ))
        }
        #[cfg(not(feature = "redis"))]
        {
            let _ = (redis, ledger);
            Err(ConfigError::new(
                "TCX_REDIS_URL",
                "the Redis backend is not compiled in",
            ))
        }
    }
}

struct Stores {
    api_keys: Arc<dyn ApiKeyValidator>,
    users: Arc<dyn UserStore>,
    ledger: Arc<dyn ReplayLedger>,
    sessions: Arc<dyn SessionStore>,
}
