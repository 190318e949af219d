//! [`Client`]: the app side's calls, the low-level [`raw`](Client::raw) call, and the
//! settings every call shares.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use http::header::{ACCEPT, AUTHORIZATION};

use crate::error::{ApiError, Error, ErrorCode};
use crate::partner::PartnerClient;
use crate::raw::{RawRequest, RawResponse};
use crate::retry::{RetryPolicy, retry_after};
use crate::secret::{AccessToken, ApiKey, OneTimeToken, RefreshToken};
use crate::session::{Session, SignOutWith};
use crate::transport::{Limits, Transport};

/// The endpoints' paths (SPEC §2–§4); a host may mount them elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// Default `/user/api/auth/external`.
    pub external: String,
    /// Default `/user/api/auth/token`.
    pub token: String,
    /// Default `/user/api/auth/refresh`.
    pub refresh: String,
    /// Default `/user/api/auth/sign-out`.
    pub sign_out: String,
    /// Default `/.well-known/jwks.json`.
    pub jwks: String,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            external: "/user/api/auth/external".into(),
            token: "/user/api/auth/token".into(),
            refresh: "/user/api/auth/refresh".into(),
            sign_out: "/user/api/auth/sign-out".into(),
            jwks: "/.well-known/jwks.json".into(),
        }
    }
}

/// A client of one TechCentrix auth host: cheap to clone (the connection pool is shared).
///
/// The app side's calls are here; the partner backend's call is on [`PartnerClient`]
/// ([`Client::partner`]). Every call but [`raw`](Client::raw) retries `503`/`429` as its
/// [`RetryPolicy`] says. Needs a Tokio runtime with the time driver enabled.
///
/// ```no_run
/// use techcentrix_auth_client::{ApiKey, Client, Profile};
///
/// # async fn demo() -> Result<(), techcentrix_auth_client::Error> {
/// let client = Client::new("http://127.0.0.1:8080")?;
/// // The partner backend:
/// let partner = client.partner(ApiKey::new(std::env::var("ACME_KEY").unwrap()));
/// let one_time = partner
///     .external(&Profile::new("user1-external", "user1@techcentrix.com", "User1Name"))
///     .await?;
/// // The app:
/// let session = client.redeem("acme", &one_time).await?;
/// let me: serde_json::Value = client.get_json("/me", &session.access_token).await?;
/// let session = client.refresh(&session.refresh_token).await?;
/// client.sign_out(&session.access_token).await?;
/// # let _ = me; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    transport: Transport,
    retry: RetryPolicy,
    paths: Arc<Paths>,
}

/// Settings of a [`Client`]: [`Client::builder`].
#[derive(Clone, Debug)]
#[must_use]
pub struct ClientBuilder {
    base_url: String,
    limits: Limits,
    retry: RetryPolicy,
    paths: Paths,
}

impl ClientBuilder {
    /// The most time to set up a connection (TCP, and TLS with `rustls`). Default 5 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.limits.connect_timeout = timeout;
        self
    }

    /// The most time one attempt may take, from sending the request to the end of the
    /// answer's body (the connection included). Default 30 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.limits.request_timeout = timeout;
        self
    }

    /// The largest answer body read; a larger one is a transport error. Default 1 MiB.
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_response_bytes = bytes;
        self
    }

    /// How `503` and `429` are retried. Default [`RetryPolicy::default`].
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The endpoints' paths. Default [`Paths::default`], the SPEC's.
    pub fn paths(mut self, paths: Paths) -> Self {
        self.paths = paths;
        self
    }

    /// The client, or [`Error::InvalidUrl`] for a base URL that is not `http://` (or
    /// `https://` with the `rustls` feature) with a host.
    pub fn build(self) -> Result<Client, Error> {
        Ok(Client {
            transport: Transport::new(&self.base_url, self.limits)?,
            retry: self.retry,
            paths: Arc::new(self.paths),
        })
    }
}

impl Client {
    /// A client of the host at `base_url` (e.g. `http://127.0.0.1:8080`; a path prefix is
    /// kept) with the default settings.
    pub fn new(base_url: &str) -> Result<Client, Error> {
        Client::builder(base_url).build()
    }

    /// Settings for a client of the host at `base_url`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use techcentrix_auth_client::{Client, RetryPolicy};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let client = Client::builder("http://127.0.0.1:8080")
    ///     .connect_timeout(Duration::from_secs(2))
    ///     .request_timeout(Duration::from_secs(10))
    ///     .retry(RetryPolicy::none())
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(client.base_url(), "http://127.0.0.1:8080");
    /// # }
    /// ```
    pub fn builder(base_url: &str) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.to_owned(),
            limits: Limits {
                connect_timeout: Duration::from_secs(5),
                request_timeout: Duration::from_secs(30),
                max_response_bytes: 1 << 20,
            },
            retry: RetryPolicy::default(),
            paths: Paths::default(),
        }
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.transport.base_url()
    }

    /// The endpoints' paths.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The partner backend's side of this host, with its API key.
    pub fn partner(&self, api_key: ApiKey) -> PartnerClient {
        PartnerClient::new(self.clone(), api_key)
    }

    /// Redeems a oneTimeToken for a session, naming the app it was issued to
    /// (`X-TechCentrix-App-Id`). A bad, used, expired or other app's token is
    /// [`ErrorCode::InvalidToken`].
    pub async fn redeem(&self, app: &str, one_time_token: &OneTimeToken) -> Result<Session, Error> {
        let body = serde_json::json!({ "oneTimeToken": one_time_token.expose_secret() });
        let mut request = RawRequest::post(self.paths.token.clone()).json(body.to_string());
        let app = http::HeaderValue::from_str(app)
            .map_err(|_| Error::InvalidUrl("the app id is not a valid header value".into()))?;
        request.headers_mut().insert("x-techcentrix-app-id", app);
        let secrets = [one_time_token.expose_secret()];
        let response = self.send(&request).await?;
        expect_status(&response, StatusCode::OK, &secrets)?;
        Session::from_response(&response)
    }

    /// Rotates a refresh token: a new session (a new refresh token; the one presented stops
    /// working). An unknown, rotated, revoked or expired token is [`ErrorCode::InvalidToken`];
    /// presenting a rotated one again revokes the whole session.
    pub async fn refresh(&self, refresh_token: &RefreshToken) -> Result<Session, Error> {
        let body = serde_json::json!({ "refreshToken": refresh_token.expose_secret() });
        let request = RawRequest::post(self.paths.refresh.clone()).json(body.to_string());
        let secrets = [refresh_token.expose_secret()];
        let response = self.send(&request).await?;
        expect_status(&response, StatusCode::OK, &secrets)?;
        Session::from_response(&response)
    }

    /// Ends the session of an access token or a refresh token (`204`). Idempotent with a
    /// refresh token; an invalid access token is [`ErrorCode::InvalidAccessToken`].
    ///
    /// ```no_run
    /// # async fn demo(client: techcentrix_auth_client::Client, session: techcentrix_auth_client::Session)
    /// # -> Result<(), techcentrix_auth_client::Error> {
    /// client.sign_out(&session.refresh_token).await?; // or &session.access_token
    /// # Ok(()) }
    /// ```
    pub async fn sign_out<'a>(&self, token: impl Into<SignOutWith<'a>>) -> Result<(), Error> {
        let path = self.paths.sign_out.clone();
        let (request, secret) = match token.into() {
            SignOutWith::AccessToken(token) => (
                bearer(RawRequest::post(path), token.expose_secret())?,
                token.expose_secret(),
            ),
            SignOutWith::RefreshToken(token) => {
                let body = serde_json::json!({ "refreshToken": token.expose_secret() });
                (
                    RawRequest::post(path).json(body.to_string()),
                    token.expose_secret(),
                )
            }
        };
        let secrets = [secret];
        let response = self.send(&request).await?;
        expect_status(&response, StatusCode::NO_CONTENT, &secrets)
    }

    /// `GET path` with the access token, answered whatever its status.
    pub async fn get(&self, path: &str, access_token: &AccessToken) -> Result<RawResponse, Error> {
        let request = bearer(RawRequest::get(path), access_token.expose_secret())?
            .header(ACCEPT.as_str(), "application/json");
        self.send(&request).await
    }

    /// `GET path` with the access token, its `2xx` JSON body parsed as `T`; another status is
    /// an error ([`Error::Api`] when the body is a SPEC error).
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        access_token: &AccessToken,
    ) -> Result<T, Error> {
        let response = self.get(path, access_token).await?;
        if !response.status.is_success() {
            return Err(error_from(&response, &[access_token.expose_secret()]));
        }
        response.json().map_err(|err| Error::UnexpectedResponse {
            status: response.status,
            reason: format!("the body does not parse: {err}"),
        })
    }

    /// Sends `request` once, as it is (no retry), and answers whatever the host answered.
    ///
    /// ```no_run
    /// use techcentrix_auth_client::{Client, RawRequest};
    ///
    /// # async fn demo(client: Client) -> Result<(), techcentrix_auth_client::Error> {
    /// let response = client
    ///     .raw(&RawRequest::post("/user/api/auth/external").json("{not json"))
    ///     .await?;
    /// assert_eq!(response.status, 401); // the key is checked before the body
    /// # Ok(()) }
    /// ```
    pub async fn raw(&self, request: &RawRequest) -> Result<RawResponse, Error> {
        self.transport.send(request).await
    }

    /// Sends `request`, retrying `503`/`429` as the policy says.
    pub(crate) async fn send(&self, request: &RawRequest) -> Result<RawResponse, Error> {
        let mut attempts = 0;
        let mut waited = Duration::ZERO;
        loop {
            attempts += 1;
            let response = self.transport.send(request).await?;
            match self
                .retry
                .delay(response.status, &response.headers, attempts, waited)
            {
                Some(delay) => {
                    tokio::time::sleep(delay).await;
                    waited += delay;
                }
                None => return Ok(response),
            }
        }
    }
}

/// Adds `Authorization: Bearer <token>`.
pub(crate) fn bearer(mut request: RawRequest, token: &str) -> Result<RawRequest, Error> {
    let mut value = http::HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| Error::InvalidUrl("a token is not a valid header value".into()))?;
    value.set_sensitive(true);
    request.headers_mut().insert(AUTHORIZATION, value);
    Ok(request)
}

/// `Ok` for `status`, else the error the answer describes.
pub(crate) fn expect_status(
    response: &RawResponse,
    status: StatusCode,
    secrets: &[&str],
) -> Result<(), Error> {
    if response.status == status {
        Ok(())
    } else {
        Err(error_from(response, secrets))
    }
}

/// The error an answer describes: [`Error::Api`] for a SPEC error body (any credential in
/// `secrets` cut out of its message), else [`Error::UnexpectedResponse`].
pub(crate) fn error_from(response: &RawResponse, secrets: &[&str]) -> Error {
    let parsed = response.json::<serde_json::Value>().ok().and_then(|body| {
        let message = body.get("message")?.as_str()?.to_owned();
        let code = ErrorCode::from_code(body.get("errorCode")?.as_u64()?)?;
        Some((message, code))
    });
    match parsed {
        Some((message, code)) if !response.status.is_success() => Error::Api(ApiError {
            status: response.status,
            code,
            message: redact(message, secrets),
            retry_after: retry_after(&response.headers),
        }),
        _ => Error::UnexpectedResponse {
            status: response.status,
            reason: "not a SPEC error answer".into(),
        },
    }
}

/// `text` with every occurrence of a secret replaced by `[redacted]`.
pub(crate) fn redact(mut text: String, secrets: &[&str]) -> String {
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if text.contains(secret) {
            text = text.replace(secret, "[redacted]");
        }
    }
    text
}
