//! The low-level call: any method, path, headers and body, answered with the status, headers
//! and body bytes, whatever the status. The conformance kit and test harnesses use it for
//! malformed requests.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_body::{Body, Frame, SizeHint};

/// A request as it goes on the wire, relative to the client's base URL.
///
/// Nothing is added but `Host` and the body's framing (`Content-Length`, or
/// `Transfer-Encoding: chunked` for [`RawRequest::chunked`]).
///
/// ```
/// use techcentrix_auth_client::RawRequest;
/// use http::Method;
///
/// let request = RawRequest::new(Method::POST, "/user/api/auth/external")
///     .header("authorization", "Bearer wrong")
///     .header("content-type", "application/json")
///     .body("{not json");
/// assert_eq!(request.path(), "/user/api/auth/external");
/// ```
#[derive(Clone, Debug)]
pub struct RawRequest {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) chunks: Vec<Bytes>,
    pub(crate) chunked: bool,
}

impl RawRequest {
    /// A request with no headers and an empty body.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        RawRequest {
            method,
            path: path.into(),
            headers: HeaderMap::new(),
            chunks: Vec::new(),
            chunked: false,
        }
    }

    /// A `GET`.
    pub fn get(path: impl Into<String>) -> Self {
        RawRequest::new(Method::GET, path)
    }

    /// A `POST`.
    pub fn post(path: impl Into<String>) -> Self {
        RawRequest::new(Method::POST, path)
    }

    /// Appends a header (a second one of the same name is kept too).
    ///
    /// # Panics
    /// If `name` or `value` is not a valid header name or value; use
    /// [`RawRequest::headers_mut`] for values built at run time.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("a valid header name");
        let value = HeaderValue::from_str(value).expect("a valid header value");
        self.headers.append(name, value);
        self
    }

    /// `Content-Type: application/json` and `body`.
    pub fn json(self, body: impl Into<Bytes>) -> Self {
        self.header(CONTENT_TYPE.as_str(), "application/json")
            .body(body)
    }

    /// Sets the body, sent with a `Content-Length`.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.chunks = vec![body.into()];
        self
    }

    /// Sends the body in `chunks` with `Transfer-Encoding: chunked` (no `Content-Length`).
    pub fn chunked(mut self, chunks: impl IntoIterator<Item = Bytes>) -> Self {
        self.chunks = chunks.into_iter().collect();
        self.chunked = true;
        self
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The path (and query), relative to the base URL.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The headers, to change.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// The body's bytes, all chunks together.
    pub fn body_bytes(&self) -> Vec<u8> {
        self.chunks.concat()
    }

    pub(crate) fn to_body(&self) -> RequestBody {
        RequestBody {
            chunks: self
                .chunks
                .iter()
                .filter(|c| !c.is_empty())
                .cloned()
                .collect(),
            exact: (!self.chunked).then(|| self.chunks.iter().map(|c| c.len() as u64).sum()),
        }
    }
}

/// An answer: status, headers and the whole body.
#[derive(Clone, Debug)]
pub struct RawResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl RawResponse {
    /// The value of header `name` as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as UTF-8 text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// The request body: its chunks, and its exact length unless it is sent chunked.
#[derive(Debug)]
pub(crate) struct RequestBody {
    chunks: VecDeque<Bytes>,
    exact: Option<u64>,
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.chunks.pop_front().map(|chunk| Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.exact.is_some() && self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        match self.exact {
            Some(len) => SizeHint::with_exact(len),
            None => SizeHint::default(),
        }
    }
}
