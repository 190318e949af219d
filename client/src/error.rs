//! The client's one error type: the host's SPEC §3 answers ([`ApiError`] with its
//! [`ErrorCode`]) apart from transport failures and timeouts.

use std::fmt;
use std::time::Duration;

use http::StatusCode;

/// The `errorCode` of a SPEC §3 error body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 1 — `400`, `Malformed request: <detail>`: body not JSON, missing or invalid field.
    MalformedRequest,
    /// 2 — `415`, `Unsupported media type`.
    UnsupportedMediaType,
    /// 3 — `413`, `Payload too large`.
    PayloadTooLarge,
    /// 4 — `401`, `Invalid access token`: missing or unknown API key, or an invalid access
    /// token at a guarded route or at sign-out.
    InvalidAccessToken,
    /// 5 — `401`, `Invalid one-time token` / `Invalid refresh token`.
    InvalidToken,
    /// 6 — `429`, `Too many requests` (with `Retry-After`).
    TooManyRequests,
    /// 7 — `503`, `Service unavailable` (with `Retry-After`).
    ServiceUnavailable,
    /// 8 — `405`, `Method not allowed` (with `Allow`).
    MethodNotAllowed,
    /// 9 — `500`, `Internal error`.
    InternalError,
}

impl ErrorCode {
    /// Every code, in the SPEC's order.
    pub const ALL: [ErrorCode; 9] = [
        ErrorCode::MalformedRequest,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::PayloadTooLarge,
        ErrorCode::InvalidAccessToken,
        ErrorCode::InvalidToken,
        ErrorCode::TooManyRequests,
        ErrorCode::ServiceUnavailable,
        ErrorCode::MethodNotAllowed,
        ErrorCode::InternalError,
    ];

    /// The number on the wire.
    ///
    /// ```
    /// use techcentrix_auth_client::ErrorCode;
    /// assert_eq!(ErrorCode::InvalidToken.code(), 5);
    /// assert_eq!(ErrorCode::from_code(5), Some(ErrorCode::InvalidToken));
    /// ```
    pub fn code(self) -> u8 {
        match self {
            ErrorCode::MalformedRequest => 1,
            ErrorCode::UnsupportedMediaType => 2,
            ErrorCode::PayloadTooLarge => 3,
            ErrorCode::InvalidAccessToken => 4,
            ErrorCode::InvalidToken => 5,
            ErrorCode::TooManyRequests => 6,
            ErrorCode::ServiceUnavailable => 7,
            ErrorCode::MethodNotAllowed => 8,
            ErrorCode::InternalError => 9,
        }
    }

    /// The code for a number, if the SPEC defines it.
    pub fn from_code(code: u64) -> Option<ErrorCode> {
        ErrorCode::ALL
            .into_iter()
            .find(|c| u64::from(c.code()) == code)
    }

    /// The HTTP status the SPEC pairs with this code.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::MalformedRequest => StatusCode::BAD_REQUEST,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::InvalidAccessToken | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
            ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A SPEC §3 error answered by the host: `{"message": "...", "errorCode": N}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The response's status (normally `code.status()`).
    pub status: StatusCode,
    /// The `errorCode`.
    pub code: ErrorCode,
    /// The `message`, with any credential this client sent replaced by `[redacted]`.
    pub message: String,
    /// `Retry-After` in seconds, when the answer carried one (429 and 503).
    pub retry_after: Option<Duration>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (errorCode {}, HTTP {})",
            self.message,
            self.code.code(),
            self.status.as_u16()
        )
    }
}

/// Which deadline ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// The TCP (and TLS) connection was not made within the connect timeout.
    Connect,
    /// The whole request (sending it, the answer's headers and body) took longer than the
    /// request timeout.
    Request,
}

/// Everything a call can fail with.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The host answered a SPEC §3 error.
    Api(ApiError),
    /// The host answered something the SPEC does not describe for this call (another
    /// status, a body that does not parse). The body is not kept: it may hold anything.
    UnexpectedResponse {
        /// The response's status.
        status: StatusCode,
        /// What was wrong with it.
        reason: String,
    },
    /// A deadline ran out.
    Timeout(Timeout),
    /// The request could not be sent or its answer not read (connection refused or reset,
    /// TLS failure, an answer over the size limit, …).
    Transport(Box<dyn std::error::Error + Send + Sync>),
    /// The base URL or a path is not usable.
    InvalidUrl(String),
}

impl Error {
    /// The SPEC error, if the host answered one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(api) => Some(api),
            _ => None,
        }
    }

    /// The SPEC `errorCode`, if the host answered one.
    ///
    /// ```
    /// use techcentrix_auth_client::{ApiError, Error, ErrorCode};
    /// let error = Error::Api(ApiError {
    ///     status: http::StatusCode::UNAUTHORIZED,
    ///     code: ErrorCode::InvalidToken,
    ///     message: "Invalid one-time token".into(),
    ///     retry_after: None,
    /// });
    /// assert_eq!(error.code(), Some(ErrorCode::InvalidToken));
    /// ```
    pub fn code(&self) -> Option<ErrorCode> {
        self.api().map(|api| api.code)
    }

    /// Whether a deadline ran out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Api(api) => write!(f, "the host answered an error: {api}"),
            Error::UnexpectedResponse { status, reason } => {
                write!(f, "unexpected answer (HTTP {}): {reason}", status.as_u16())
            }
            Error::Timeout(Timeout::Connect) => f.write_str("timed out connecting to the host"),
            Error::Timeout(Timeout::Request) => f.write_str("the request timed out"),
            Error::Transport(err) => {
                write!(f, "transport error: {err}")?;
                let mut source = err.source();
                while let Some(err) = source {
                    write!(f, ": {err}")?;
                    source = err.source();
                }
                Ok(())
            }
            Error::InvalidUrl(why) => write!(f, "invalid URL: {why}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Transport(err) => Some(&**err),
            _ => None,
        }
    }
}
