//! What every endpoint shares: the request span, errors turned into responses, and the
//! shapes of successful answers.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};
use pin_project_lite::pin_project;

use crate::Error;
use crate::response::{AuthBody, log_error};

pin_project! {
    /// An endpoint's handler run inside a span that records the endpoint, the app and the
    /// outcome; a failure becomes its SPEC §3 response.
    ///
    /// A combinator, not an `async` block: a block that awaits a future it captured holds
    /// that future twice (once captured, once being awaited), and a request's boxed future
    /// would be twice the size of its handler's.
    pub(super) struct InSpan<F> {
        span: tracing::Span,
        #[pin]
        handler: F,
    }
}

impl<F: Future<Output = Reply>> InSpan<F> {
    /// Runs `handler` for `endpoint` (the name recorded in the span).
    ///
    /// The span is at `DEBUG`, as tower-http's trace layer makes its request spans: at the
    /// default `info` it is disabled and costs a callsite check, where an enabled span cost
    /// the sign-in a tenth of its server CPU (issue 17). The audit events a host's operator
    /// wants (sign-ups, sign-outs, reuse detected, rejected keys) are events of their own,
    /// at `info` and `warn`, and need no span.
    pub(super) fn new(endpoint: &'static str, handler: F) -> Self {
        let span = tracing::debug_span!(
            "tcx.request",
            endpoint,
            app = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        InSpan { span, handler }
    }
}

impl<F: Future<Output = Reply>> Future for InSpan<F> {
    type Output = Response<AuthBody>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let response = match ready!(this.handler.poll(cx)) {
            Ok(response) => {
                this.span.record("outcome", "ok");
                response
            }
            Err(err) => {
                this.span.record("outcome", err.outcome());
                log_error(&err);
                err.into_response()
            }
        };
        tracing::debug!(status = response.status().as_u16(), "request finished");
        Poll::Ready(response)
    }
}

/// Records the request's app in the current span.
///
/// The request span is at `DEBUG`: when no subscriber takes `DEBUG` (the default `info`), the
/// span was never made and the look-up of the current span (a clone and a drop of the
/// host's span, if any) is skipped.
pub(super) fn record_app(app: &str) {
    if tracing::level_enabled!(tracing::Level::DEBUG) {
        tracing::Span::current().record("app", app);
    }
}

/// What a handler answers: its response, or the error the client gets instead.
pub(super) type Reply = Result<Response<AuthBody>, Error>;

/// A `200` with `body` of `content_type` and `Cache-Control: no-store`.
pub(super) fn ok(body: impl Into<Bytes>, content_type: &'static str) -> Response<AuthBody> {
    let mut response = Response::new(AuthBody::new(body.into()));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A `204 No Content` with `Cache-Control: no-store`.
pub(super) fn no_content() -> Response<AuthBody> {
    let mut response = Response::new(AuthBody::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
