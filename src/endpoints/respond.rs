//! What every endpoint shares: the request span, errors turned into responses, and the
//! shapes of successful answers.

use std::future::Future;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use tracing::Instrument;

use crate::Error;

/// Runs an endpoint inside a span that records the endpoint, the app and the outcome, and
/// turns a failure into its SPEC §3 response.
///
/// Not an `async fn`, so that the handler's future is held once, inside the span's.
pub(super) fn in_span(
    endpoint: &'static str,
    handler: impl Future<Output = Reply>,
) -> impl Future<Output = Response<Full<Bytes>>> {
    let span = tracing::info_span!(
        "tcx.request",
        endpoint,
        app = tracing::field::Empty,
        outcome = tracing::field::Empty,
    );
    async move {
        let response = match handler.await {
            Ok(response) => {
                tracing::Span::current().record("outcome", "ok");
                response
            }
            Err(err) => {
                tracing::Span::current().record("outcome", err.outcome());
                log_error(&err);
                err.into_response()
            }
        };
        tracing::debug!(status = response.status().as_u16(), "request finished");
        response
    }
    .instrument(span)
}

/// Records the request's app in the current span.
pub(super) fn record_app(app: &str) {
    tracing::Span::current().record("app", app);
}

pub(crate) fn log_error(err: &Error) {
    match err {
        Error::Internal(source) => tracing::error!(error = %source, "internal error"),
        Error::Unavailable(source) => tracing::warn!(error = %source, "store unavailable"),
        other => tracing::debug!(error = %other, "request refused"),
    }
}

/// What a handler answers: its response, or the error the client gets instead.
pub(super) type Reply = Result<Response<Full<Bytes>>, Error>;

/// A `200` with `body` of `content_type` and `Cache-Control: no-store`.
pub(super) fn ok(body: impl Into<Bytes>, content_type: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A `204 No Content` with `Cache-Control: no-store`.
pub(super) fn no_content() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(crate) use crate::sync::unix_seconds;
