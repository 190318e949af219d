//! The one client-facing error type ([`Error`], SPEC §3) and the error stores return
//! ([`StoreError`]).
//!
//! [`Error`]'s `Display` is the message a client sees; [`Error::status`] and
//! [`Error::error_code`] give the rest of the SPEC's table. The details of an internal
//! or store failure stay in [`std::error::Error::source`] and go to the log only.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};

use crate::AuthBody;

/// A boxed error, as tower and http-body use them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a client of the auth endpoints sees when a request fails.
///
/// Each variant is one row of the SPEC's error table. [`Error::into_response`] builds the
/// JSON body `{"message": …, "errorCode": …}` with the headers the row requires.
///
/// ```
/// use techcentrix_auth::Error;
/// use http::StatusCode;
///
/// let err = Error::InvalidApiKey;
/// assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(err.error_code(), 4);
/// assert_eq!(err.to_string(), "Invalid access token");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 400/1: the body is not JSON, or a field is missing or invalid. The string is the detail.
    #[error("Malformed request: {0}")]
    Malformed(String),
    /// 415/2: the `Content-Type` is not `application/json`.
    #[error("Unsupported media type")]
    UnsupportedMediaType,
    /// 413/3: the body is over the configured limit.
    #[error("Payload too large")]
    PayloadTooLarge,
    /// 401/4: a missing, malformed or unknown Server.API.Key.
    #[error("Invalid access token")]
    InvalidApiKey,
    /// 401/4: a missing or invalid access token at a guarded route
    /// (`WWW-Authenticate: Bearer error="invalid_token"`).
    #[error("Invalid access token")]
    InvalidAccessToken,
    /// 401/5: a oneTimeToken that cannot be redeemed.
    #[error("Invalid one-time token")]
    InvalidOneTimeToken,
    /// 401/5: a refresh token that cannot be used.
    #[error("Invalid refresh token")]
    InvalidRefreshToken,
    /// 429/6: the per-key rate limit was hit; retry after the given time.
    #[error("Too many requests")]
    TooManyRequests {
        /// When the client may try again.
        retry_after: Duration,
    },
    /// 503/7: a store did not answer, or not in time.
    #[error("Service unavailable")]
    Unavailable(#[source] StoreError),
    /// 405/8: another method on an endpoint's path; `allow` lists the methods it takes.
    #[error("Method not allowed")]
    MethodNotAllowed {
        /// The value of the `Allow` header.
        allow: &'static str,
    },
    /// 500/9: anything else. The source goes to the log, never to the client.
    #[error("Internal error")]
    Internal(#[source] BoxError),
}

impl Error {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Malformed(_) => StatusCode::BAD_REQUEST,
            Error::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::InvalidApiKey
            | Error::InvalidAccessToken
            | Error::InvalidOneTimeToken
            | Error::InvalidRefreshToken => StatusCode::UNAUTHORIZED,
            Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `errorCode` of this error (SPEC §3).
    pub fn error_code(&self) -> u16 {
        match self {
            Error::Malformed(_) => 1,
            Error::UnsupportedMediaType => 2,
            Error::PayloadTooLarge => 3,
            Error::InvalidApiKey | Error::InvalidAccessToken => 4,
            Error::InvalidOneTimeToken | Error::InvalidRefreshToken => 5,
            Error::TooManyRequests { .. } => 6,
            Error::Unavailable(_) => 7,
            Error::MethodNotAllowed { .. } => 8,
            Error::Internal(_) => 9,
        }
    }

    /// A short, stable name for the outcome, as recorded in the request's tracing span.
    pub fn outcome(&self) -> &'static str {
        match self {
            Error::Malformed(_) => "malformed",
            Error::UnsupportedMediaType => "unsupported_media_type",
            Error::PayloadTooLarge => "payload_too_large",
            Error::InvalidApiKey => "invalid_api_key",
            Error::InvalidAccessToken => "invalid_access_token",
            Error::InvalidOneTimeToken => "invalid_one_time_token",
            Error::InvalidRefreshToken => "invalid_refresh_token",
            Error::TooManyRequests { .. } => "rate_limited",
            Error::Unavailable(_) => "unavailable",
            Error::MethodNotAllowed { .. } => "method_not_allowed",
            Error::Internal(_) => "internal_error",
        }
    }

    /// The response a client gets: the JSON body and the headers of the SPEC's table
    /// (`WWW-Authenticate`, `Retry-After`, `Allow`), plus `Cache-Control: no-store`.
    ///
    /// ```
    /// use techcentrix_auth::Error;
    ///
    /// let response = Error::UnsupportedMediaType.into_response();
    /// assert_eq!(response.status(), 415);
    /// assert_eq!(response.headers()["content-type"], "application/json");
    /// ```
    pub fn into_response(self) -> Response<AuthBody> {
        let body = ErrorBody {
            message: &self.to_string(),
            error_code: self.error_code(),
        };
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = Response::new(AuthBody::new(Bytes::from(body)));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match &self {
            Error::InvalidApiKey => {
                headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Error::InvalidAccessToken => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            Error::InvalidOneTimeToken | Error::InvalidRefreshToken => {
                headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Error::TooManyRequests { retry_after } => {
                headers.insert(RETRY_AFTER, retry_after_value(*retry_after));
            }
            Error::Unavailable(_) => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Error::MethodNotAllowed { allow } => {
                headers.insert(ALLOW, HeaderValue::from_static(allow));
            }
            _ => {}
        }
        response
    }
}

/// The error body, fields in the SPEC's order.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    message: &'a str,
    error_code: u16,
}

/// `Retry-After` in whole delta-seconds, rounded up, at least 1.
fn retry_after_value(wait: Duration) -> HeaderValue {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HeaderValue::from(secs.max(1))
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err.kind {
            StoreErrorKind::Unavailable | StoreErrorKind::Timeout => Error::Unavailable(err),
            StoreErrorKind::Other => Error::Internal(Box::new(err)),
        }
    }
}

/// The failure of a store, key validator or ledger call.
///
/// It keeps its source for the log. [`StoreError::unavailable`] and
/// [`StoreError::timeout`] become 503/7 for the client; [`StoreError::other`] becomes 500/9.
///
/// ```
/// use techcentrix_auth::{Error, StoreError};
///
/// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
/// let err: Error = StoreError::unavailable(io).into();
/// assert_eq!(err.error_code(), 7);
/// ```
pub struct StoreError {
    kind: StoreErrorKind,
    source: Option<BoxError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoreErrorKind {
    Unavailable,
    Timeout,
    Other,
}

impl StoreError {
    /// The backing service could not be reached or refused to work (503/7 for the client).
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        StoreError {
            kind: StoreErrorKind::Unavailable,
            source: Some(source.into()),
        }
    }

    /// The call took longer than the configured store timeout (503/7 for the client).
    pub fn timeout() -> Self {
        StoreError {
            kind: StoreErrorKind::Timeout,
            source: None,
        }
    }

    /// Any other failure (500/9 for the client).
    pub fn other(source: impl Into<BoxError>) -> Self {
        StoreError {
            kind: StoreErrorKind::Other,
            source: Some(source.into()),
        }
    }

    /// Whether the client should be told to retry later (503) rather than 500.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self.kind,
            StoreErrorKind::Unavailable | StoreErrorKind::Timeout
        )
    }

    /// Whether the call timed out.
    pub fn is_timeout(&self) -> bool {
        self.kind == StoreErrorKind::Timeout
    }

    /// The same error for another caller: the same kind, the source as its message (one
    /// failed write answers every caller whose row it held).
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) fn for_another(&self) -> StoreError {
        StoreError {
            kind: self.kind,
            source: self.source.as_ref().map(|s| s.to_string().into()),
        }
    }
}

impl fmt::Debug for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreError")
            .field("kind", &self.kind)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            StoreErrorKind::Unavailable => f.write_str("store unavailable")?,
            StoreErrorKind::Timeout => f.write_str("store call timed out")?,
            StoreErrorKind::Other => f.write_str("store error")?,
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_and_is_at_least_one() {
        assert_eq!(retry_after_value(Duration::ZERO), "1");
        assert_eq!(retry_after_value(Duration::from_millis(1500)), "2");
        assert_eq!(retry_after_value(Duration::from_secs(3)), "3");
    }

    #[test]
    fn body_has_exactly_message_and_error_code() {
        let response = Error::Malformed("missing field `id`".into()).into_response();
        let body = response.into_body();
        let bytes = futures_block_on(body);
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let object = value.as_object().unwrap();
        assert_eq!(object.len(), 2);
        assert_eq!(object["message"], "Malformed request: missing field `id`");
        assert_eq!(object["errorCode"], 1);
    }

    fn futures_block_on(body: AuthBody) -> Bytes {
        use http_body_util::BodyExt;
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(body.collect())
            .unwrap()
            .to_bytes()
    }

    #[test]
    fn every_row_has_its_status_and_code() {
        let rows: Vec<(Error, u16, u16)> = vec![
            (Error::Malformed("x".into()), 400, 1),
            (Error::UnsupportedMediaType, 415, 2),
            (Error::PayloadTooLarge, 413, 3),
            (Error::InvalidApiKey, 401, 4),
            (Error::InvalidAccessToken, 401, 4),
            (Error::InvalidOneTimeToken, 401, 5),
            (Error::InvalidRefreshToken, 401, 5),
            (
                Error::TooManyRequests {
                    retry_after: Duration::from_secs(1),
                },
                429,
                6,
            ),
            (Error::Unavailable(StoreError::timeout()), 503, 7),
            (Error::MethodNotAllowed { allow: "POST" }, 405, 8),
            (Error::Internal("boom".into()), 500, 9),
        ];
        for (err, status, code) in rows {
            assert_eq!(err.status().as_u16(), status, "{err:?}");
            assert_eq!(err.error_code(), code, "{err:?}");
        }
    }
}
