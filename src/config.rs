//! What a host can tune: paths, limits, lifetimes and the issuer ([`AuthConfig`]), and the
//! error of a bad setting ([`ConfigError`]).

use std::fmt;
use std::time::Duration;

/// Paths, limits and lifetimes of the auth endpoints. `Default` is the SPEC's defaults.
///
/// ```
/// use std::time::Duration;
/// use techcentrix_auth::AuthConfig;
///
/// let config = AuthConfig::default()
///     .with_issuer("auth.example.com")
///     .with_one_time_token_ttl(Duration::from_secs(30));
/// assert!(config.validate().is_ok());
/// assert!(AuthConfig::default()
///     .with_one_time_token_ttl(Duration::from_secs(3601))
///     .validate()
///     .is_err());
/// assert!(AuthConfig::default()
///     .with_store_timeout(AuthConfig::MAX_STORE_TIMEOUT + Duration::from_millis(1))
///     .validate()
///     .is_err());
/// ```
#[derive(Clone, Debug)]
pub struct AuthConfig {
    pub(crate) external_path: String,
    pub(crate) token_path: String,
    pub(crate) refresh_path: String,
    pub(crate) sign_out_path: String,
    pub(crate) jwks_path: String,
    pub(crate) body_limit: usize,
    pub(crate) one_time_token_ttl: Duration,
    pub(crate) access_token_ttl: Duration,
    pub(crate) session_ttl: Duration,
    pub(crate) leeway: Duration,
    pub(crate) issuer: String,
    pub(crate) store_timeout: Duration,
    pub(crate) refresh_reuse_interval: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            external_path: "/user/api/auth/external".to_owned(),
            token_path: "/user/api/auth/token".to_owned(),
            refresh_path: "/user/api/auth/refresh".to_owned(),
            sign_out_path: "/user/api/auth/sign-out".to_owned(),
            jwks_path: "/.well-known/jwks.json".to_owned(),
            body_limit: 16 * 1024,
            one_time_token_ttl: Duration::from_secs(60),
            access_token_ttl: Duration::from_secs(15 * 60),
            session_ttl: Duration::from_secs(30 * 86_400),
            leeway: Duration::from_secs(5),
            issuer: "techcentrix-auth".to_owned(),
            store_timeout: Duration::from_secs(3),
            refresh_reuse_interval: Duration::ZERO,
        }
    }
}

impl AuthConfig {
    /// The longest oneTimeToken lifetime allowed.
    pub const MAX_ONE_TIME_TOKEN_TTL: Duration = Duration::from_secs(3600);
    /// The longest access token lifetime allowed.
    pub const MAX_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(86_400);
    /// The longest session lifetime allowed.
    pub const MAX_SESSION_TTL: Duration = Duration::from_secs(365 * 86_400);
    /// The largest leeway allowed.
    pub const MAX_LEEWAY: Duration = Duration::from_secs(300);
    /// The longest rotation grace period allowed.
    pub const MAX_REFRESH_REUSE_INTERVAL: Duration = Duration::from_secs(3600);
    /// The longest store timeout allowed.
    pub const MAX_STORE_TIMEOUT: Duration = Duration::from_secs(3600);
    /// The clock difference tolerated between the hosts that verify tokens and the host
    /// that keeps the replay ledger (Redis or the database): a used `jti` is kept that much
    /// longer than its token verifies, plus one second for verification's whole seconds.
    pub const LEDGER_CLOCK_SKEW: Duration = Duration::from_secs(5);

    /// Path of the external sign-up-or-in endpoint. Default `/user/api/auth/external`.
    pub fn external_path(&self) -> &str {
        &self.external_path
    }

    /// Sets [`AuthConfig::external_path`].
    pub fn with_external_path(mut self, external_path: impl Into<String>) -> Self {
        self.external_path = external_path.into();
        self
    }

    /// Path of the redemption endpoint. Default `/user/api/auth/token`.
    pub fn token_path(&self) -> &str {
        &self.token_path
    }

    /// Sets [`AuthConfig::token_path`].
    pub fn with_token_path(mut self, token_path: impl Into<String>) -> Self {
        self.token_path = token_path.into();
        self
    }

    /// Path of the refresh endpoint. Default `/user/api/auth/refresh`.
    pub fn refresh_path(&self) -> &str {
        &self.refresh_path
    }

    /// Sets [`AuthConfig::refresh_path`].
    pub fn with_refresh_path(mut self, refresh_path: impl Into<String>) -> Self {
        self.refresh_path = refresh_path.into();
        self
    }

    /// Path of the sign-out endpoint. Default `/user/api/auth/sign-out`.
    pub fn sign_out_path(&self) -> &str {
        &self.sign_out_path
    }

    /// Sets [`AuthConfig::sign_out_path`].
    pub fn with_sign_out_path(mut self, sign_out_path: impl Into<String>) -> Self {
        self.sign_out_path = sign_out_path.into();
        self
    }

    /// Path of the JWK set. Default `/.well-known/jwks.json`.
    pub fn jwks_path(&self) -> &str {
        &self.jwks_path
    }

    /// Sets [`AuthConfig::jwks_path`].
    pub fn with_jwks_path(mut self, jwks_path: impl Into<String>) -> Self {
        self.jwks_path = jwks_path.into();
        self
    }

    /// Largest request body accepted, in bytes. Default 16,384.
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// Sets [`AuthConfig::body_limit`].
    pub fn with_body_limit(mut self, body_limit: usize) -> Self {
        self.body_limit = body_limit;
        self
    }

    /// Lifetime of a oneTimeToken, 1 s to 1 h. Default 60 s.
    pub fn one_time_token_ttl(&self) -> Duration {
        self.one_time_token_ttl
    }

    /// Sets [`AuthConfig::one_time_token_ttl`].
    pub fn with_one_time_token_ttl(mut self, one_time_token_ttl: Duration) -> Self {
        self.one_time_token_ttl = one_time_token_ttl;
        self
    }

    /// Lifetime of an access token, 1 s to 24 h. Default 15 min.
    pub fn access_token_ttl(&self) -> Duration {
        self.access_token_ttl
    }

    /// Sets [`AuthConfig::access_token_ttl`].
    pub fn with_access_token_ttl(mut self, access_token_ttl: Duration) -> Self {
        self.access_token_ttl = access_token_ttl;
        self
    }

    /// How long a session (refresh-token family) lives, 1 s to 365 days. Default 30 days.
    pub fn session_ttl(&self) -> Duration {
        self.session_ttl
    }

    /// Sets [`AuthConfig::session_ttl`].
    pub fn with_session_ttl(mut self, session_ttl: Duration) -> Self {
        self.session_ttl = session_ttl;
        self
    }

    /// Clock skew allowed past a token's `exp`, at most 5 minutes. Default 5 s.
    pub fn leeway(&self) -> Duration {
        self.leeway
    }

    /// Sets [`AuthConfig::leeway`].
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The `iss` claim. Default `techcentrix-auth`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Sets [`AuthConfig::issuer`].
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// How long a store call may take before the request answers 503/7. Default 3 s.
    pub fn store_timeout(&self) -> Duration {
        self.store_timeout
    }

    /// Sets [`AuthConfig::store_timeout`].
    pub fn with_store_timeout(mut self, store_timeout: Duration) -> Self {
        self.store_timeout = store_timeout;
        self
    }

    /// The rotation grace period, whole seconds up to 1 hour. Default 0 (off): a rotated
    /// refresh token presented again is reuse, and its session is revoked. With a grace
    /// period, the token rotated last is accepted once more within that time of its
    /// rotation, so a client whose refresh answer was lost (a timeout, a dropped connection)
    /// can retry; the price is that a stolen token replayed within the period is not
    /// detected as reuse until the rightful client refreshes again.
    pub fn refresh_reuse_interval(&self) -> Duration {
        self.refresh_reuse_interval
    }

    /// Sets [`AuthConfig::refresh_reuse_interval`].
    pub fn with_refresh_reuse_interval(mut self, refresh_reuse_interval: Duration) -> Self {
        self.refresh_reuse_interval = refresh_reuse_interval;
        self
    }

    /// Checks every setting against its bounds.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let paths = [
            ("external_path", &self.external_path),
            ("token_path", &self.token_path),
            ("refresh_path", &self.refresh_path),
            ("sign_out_path", &self.sign_out_path),
            ("jwks_path", &self.jwks_path),
        ];
        for (i, (name, path)) in paths.iter().enumerate() {
            if !path.starts_with('/') {
                return Err(ConfigError::new(*name, "must start with `/`"));
            }
            if paths[..i].iter().any(|(_, other)| other == path) {
                return Err(ConfigError::new(*name, format!("`{path}` is used twice")));
            }
        }
        if self.body_limit == 0 {
            return Err(ConfigError::new("body_limit", "must be at least 1 byte"));
        }
        check_ttl(
            "one_time_token_ttl",
            self.one_time_token_ttl,
            Self::MAX_ONE_TIME_TOKEN_TTL,
        )?;
        check_ttl(
            "access_token_ttl",
            self.access_token_ttl,
            Self::MAX_ACCESS_TOKEN_TTL,
        )?;
        check_ttl("session_ttl", self.session_ttl, Self::MAX_SESSION_TTL)?;
        if self.leeway > Self::MAX_LEEWAY || self.leeway.subsec_nanos() != 0 {
            return Err(ConfigError::new(
                "leeway",
                "must be whole seconds from 0 to 300",
            ));
        }
        if self.issuer.is_empty() {
            return Err(ConfigError::new("issuer", "must not be empty"));
        }
        if self.store_timeout.is_zero() || self.store_timeout > Self::MAX_STORE_TIMEOUT {
            return Err(ConfigError::new(
                "store_timeout",
                "must be more than zero and at most 3600 s",
            ));
        }
        if self.refresh_reuse_interval > Self::MAX_REFRESH_REUSE_INTERVAL
            || self.refresh_reuse_interval.subsec_nanos() != 0
        {
            return Err(ConfigError::new(
                "refresh_reuse_interval",
                "must be whole seconds from 0 to 3600",
            ));
        }
        Ok(())
    }
}

fn check_ttl(name: &'static str, ttl: Duration, max: Duration) -> Result<(), ConfigError> {
    if ttl < Duration::from_secs(1) || ttl > max || ttl.subsec_nanos() != 0 {
        return Err(ConfigError::new(
            name,
            format!("must be whole seconds from 1 to {}", max.as_secs()),
        ));
    }
    Ok(())
}

/// A setting that cannot be used: names the setting (or environment variable) and why.
///
/// ```
/// use techcentrix_auth::ConfigError;
///
/// let err = ConfigError::new("TCX_LISTEN", "not an address");
/// assert_eq!(err.to_string(), "TCX_LISTEN: not an address");
/// assert_eq!(err.setting(), "TCX_LISTEN");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    setting: String,
    reason: String,
}

impl ConfigError {
    /// A problem with `setting`.
    pub fn new(setting: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            setting: setting.into(),
            reason: reason.into(),
        }
    }

    /// The setting or variable at fault.
    pub fn setting(&self) -> &str {
        &self.setting
    }

    /// The same problem, reported under another name (e.g. the environment variable
    /// that carried the setting).
    pub fn renamed(mut self, setting: impl Into<String>) -> Self {
        self.setting = setting.into();
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.setting, self.reason)
    }
}

impl std::error::Error for ConfigError {}
