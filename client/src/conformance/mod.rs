//! The conformance kit: checks a running host against SPEC §2–§4 over HTTP (feature
//! `conformance`).
//!
//! Each check has a stable name (`external: guide request`, `400/1: bad JSON`, `single use:
//! concurrent redemptions`, …) and ends [`Outcome::Pass`], [`Outcome::Fail`] with the reason,
//! or [`Outcome::Skip`] when it needs an option that was not given (`--protected`,
//! `--jwt-secret`). Every run uses fresh random external ids, so it can run again and again
//! against one host. Where the SPEC is silent, nothing is checked.
//!
//! ```no_run
//! use techcentrix_auth_client::ApiKey;
//! use techcentrix_auth_client::conformance::{self, Config};
//!
//! # #[tokio::main] async fn main() {
//! let mut config = Config::new("http://127.0.0.1:8080", "acme", ApiKey::new("…"));
//! config.protected = Some("/me".into());
//! let report = conformance::run_with(&config, |result| println!("{result}")).await;
//! println!("{}", report.summary());
//! assert!(report.is_success());
//! # }
//! ```

mod errors;
mod external;
mod guard;
mod jwks;
mod jwt;
mod kit;
mod sessions;

use std::fmt;

use crate::ApiKey;

/// What to check and how to reach it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// The host's base URL.
    pub url: String,
    /// The app id the API key belongs to.
    pub app: String,
    /// The app's API key.
    pub api_key: ApiKey,
    /// The HS512 secret: verifies signatures and forges expired, other-issuer and
    /// unknown-user tokens. Redacted in `Debug`.
    pub jwt_secret: Option<ApiKey>,
    /// A path behind the access-token guard (`GET`), e.g. `/me`.
    pub protected: Option<String>,
    /// The oneTimeToken lifetime to expect (`exp - iat`, `expiresIn`). Default 60 (SPEC).
    pub one_time_ttl: u64,
    /// The access-token lifetime to expect. Default 900 (SPEC: 15 minutes).
    pub access_ttl: u64,
    /// The issuer to expect; `None` checks only that `iss` is present.
    pub issuer: Option<String>,
    /// The body limit in bytes. Default 16,384 (SPEC).
    pub body_limit: usize,
    /// Concurrent redemptions of one token. Default 10.
    pub concurrency: usize,
}

impl Config {
    /// The SPEC's defaults for `url`, `app` and its `api_key`.
    pub fn new(url: impl Into<String>, app: impl Into<String>, api_key: ApiKey) -> Self {
        Config {
            url: url.into(),
            app: app.into(),
            api_key,
            jwt_secret: None,
            protected: None,
            one_time_ttl: 60,
            access_ttl: 900,
            issuer: None,
            body_limit: 16_384,
            concurrency: 10,
        }
    }

    /// The command-line usage of [`Config::from_args`].
    pub const USAGE: &'static str = "usage: conformance --url URL --app APP --key API_KEY \
[--jwt-secret SECRET] [--protected PATH] [--one-time-ttl SECS] [--access-ttl SECS] \
[--issuer ISS] [--body-limit BYTES] [--concurrency N]
  (--key and --jwt-secret may also come from TCX_CONFORMANCE_KEY / TCX_CONFORMANCE_JWT_SECRET)";

    /// Reads the options of [`Config::USAGE`] (without the program name).
    ///
    /// ```
    /// use techcentrix_auth_client::conformance::Config;
    /// let config = Config::from_args(
    ///     ["--url", "http://127.0.0.1:8080", "--app", "acme", "--key", "k", "--protected", "/me"]
    ///         .map(String::from),
    /// )
    /// .unwrap();
    /// assert_eq!(config.protected.as_deref(), Some("/me"));
    /// assert_eq!(config.one_time_ttl, 60);
    /// ```
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Config, String> {
        let mut args = args.into_iter();
        let mut config = Config::new("", "", ApiKey::new(""));
        let mut key = std::env::var("TCX_CONFORMANCE_KEY").ok();
        config.jwt_secret = std::env::var("TCX_CONFORMANCE_JWT_SECRET")
            .ok()
            .map(ApiKey::new);
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            let number = |v: String| {
                v.parse::<u64>()
                    .map_err(|_| format!("{flag}: not a number"))
            };
            match flag.as_str() {
                "--url" => config.url = value()?,
                "--app" => config.app = value()?,
                "--key" => key = Some(value()?),
                "--jwt-secret" => config.jwt_secret = Some(ApiKey::new(value()?)),
                "--protected" => config.protected = Some(value()?),
                "--one-time-ttl" => config.one_time_ttl = number(value()?)?,
                "--access-ttl" => config.access_ttl = number(value()?)?,
                "--issuer" => config.issuer = Some(value()?),
                "--body-limit" => config.body_limit = number(value()?)? as usize,
                "--concurrency" => config.concurrency = number(value()?)?.max(2) as usize,
                "-h" | "--help" => return Err(Config::USAGE.into()),
                other => return Err(format!("unknown option {other}\n{}", Config::USAGE)),
            }
        }
        if config.url.is_empty() || config.app.is_empty() {
            return Err(format!("--url and --app are required\n{}", Config::USAGE));
        }
        config.api_key =
            ApiKey::new(key.ok_or_else(|| format!("--key is required\n{}", Config::USAGE))?);
        Ok(config)
    }
}

/// How a check ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The host did what the SPEC says.
    Pass,
    /// It did not: why.
    Fail(String),
    /// Not checked: why (an option it needs was not given).
    Skip(String),
}

/// One check's name and outcome; `Display` is the line the kit prints
/// (`PASS name`, `FAIL name: why`, `SKIP name: why`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    /// The check's stable name.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
}

impl fmt::Display for CheckResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Outcome::Pass => write!(f, "PASS {}", self.name),
            Outcome::Fail(why) => write!(f, "FAIL {}: {why}", self.name),
            Outcome::Skip(why) => write!(f, "SKIP {}: {why}", self.name),
        }
    }
}

/// Every check's result, in the order they ran.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The results.
    pub results: Vec<CheckResult>,
}

impl Report {
    /// How many passed.
    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Pass))
    }

    /// How many failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Fail(_)))
    }

    /// How many were skipped.
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skip(_)))
    }

    fn count(&self, which: impl Fn(&Outcome) -> bool) -> usize {
        self.results.iter().filter(|r| which(&r.outcome)).count()
    }

    /// Whether no check failed.
    pub fn is_success(&self) -> bool {
        self.failed() == 0
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &CheckResult> {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Fail(_)))
    }

    /// The outcome of the check named `name`, if it ran.
    pub fn outcome(&self, name: &str) -> Option<&Outcome> {
        self.results
            .iter()
            .find(|r| r.name == name)
            .map(|r| &r.outcome)
    }

    /// `N passed, M failed` (and `, K skipped` when some were).
    pub fn summary(&self) -> String {
        let mut line = format!("{} passed, {} failed", self.passed(), self.failed());
        if self.skipped() > 0 {
            line.push_str(&format!(", {} skipped", self.skipped()));
        }
        line
    }
}

/// The command line of `examples/conformance.rs` (both this crate's and the host crate's):
/// reads `args` (see [`Config::from_args`]), prints one line per check and the summary, and
/// answers the exit code: 0 when every check passed, 1 on a failure, 2 on a usage error.
pub fn command_line(args: impl IntoIterator<Item = String>) -> std::process::ExitCode {
    let config = match Config::from_args(args) {
        Ok(config) => config,
        Err(why) => {
            eprintln!("{why}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let report = runtime.block_on(run_with(&config, |result| println!("{result}")));
    println!("{}", report.summary());
    if report.is_success() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// Runs every check against the host `config` names.
pub async fn run(config: &Config) -> Report {
    run_with(config, |_| {}).await
}

/// Runs every check, handing each result to `on_result` as it ends (to print it).
pub async fn run_with(config: &Config, on_result: impl FnMut(&CheckResult)) -> Report {
    let mut report = kit::Recorder::new(on_result);
    let kit = match kit::Kit::new(config) {
        Ok(kit) => kit,
        Err(why) => {
            report.record("client setup", Err(kit::Not::Fail(why)));
            return report.finish();
        }
    };
    external::run(&kit, &mut report).await;
    errors::run(&kit, &mut report).await;
    sessions::run(&kit, &mut report).await;
    guard::run(&kit, &mut report).await;
    jwks::run(&kit, &mut report).await;
    let leaks = kit.leaks();
    report.record(
        "secrets: never in a response",
        if leaks.is_empty() {
            Ok(())
        } else {
            Err(kit::Not::Fail(leaks.join("; ")))
        },
    );
    report.finish()
}
