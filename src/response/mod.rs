//! What the endpoints and the guard both answer with: the response body and future that
//! either pass the inner service's through untouched or carry an auth answer, and the one
//! place an error is logged.

mod body;
mod future;

pub(crate) use crate::body::AuthBody;
pub use body::ResponseBody;
pub(crate) use future::AuthFuture;
pub use future::ResponseFuture;

use crate::Error;

/// Logs a refusal at the level it deserves: internal errors at `error`, unavailable stores at
/// `warn`, client mistakes at `debug`.
pub(crate) fn log_error(err: &Error) {
    match err {
        Error::Internal(source) => tracing::error!(error = %source, "internal error"),
        Error::Unavailable(source) => tracing::warn!(error = %source, "store unavailable"),
        other => tracing::debug!(error = %other, "request refused"),
    }
}
