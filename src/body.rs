//! [`AuthBody`]: the body of every answer the crate makes, its own type so that no body
//! crate's type appears in a public signature.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// The body of an answer this crate makes (an endpoint's answer, a refusal, the `404` of
/// [`NotFound`](crate::endpoints::NotFound)): its bytes, whole, in one frame.
///
/// A host that is not a tower stack takes the bytes as they are with
/// [`AuthBody::into_bytes`]; any other host reads it as an [`http_body::Body`].
///
/// ```
/// use techcentrix_auth::Error;
///
/// let response = Error::UnsupportedMediaType.into_response();
/// let body = response.into_body().into_bytes();
/// assert!(body.starts_with(b"{\"message\":"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct AuthBody {
    // `None` once the frame is taken, or from the start for an empty body (which then
    // reports its end at once, as `http_body_util::Full` does).
    data: Option<Bytes>,
}

impl AuthBody {
    /// A body of `bytes`.
    pub fn new(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        AuthBody {
            data: (!bytes.is_empty()).then_some(bytes),
        }
    }

    /// An empty body.
    pub fn empty() -> Self {
        AuthBody { data: None }
    }

    /// The bytes not yet read (all of them, before the body is polled).
    pub fn as_bytes(&self) -> &[u8] {
        self.data.as_deref().unwrap_or_default()
    }

    /// Takes the bytes not yet read.
    pub fn into_bytes(self) -> Bytes {
        self.data.unwrap_or_default()
    }
}

impl Body for AuthBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().data.take().map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.as_bytes().len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn one_frame_then_the_end() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let body = AuthBody::new("hello");
        assert_eq!(body.size_hint().exact(), Some(5));
        assert!(!body.is_end_stream());
        let collected = rt.block_on(body.collect()).unwrap().to_bytes();
        assert_eq!(collected, "hello");

        let empty = AuthBody::new(Bytes::new());
        assert!(empty.is_end_stream());
        assert_eq!(empty.size_hint().exact(), Some(0));
        assert!(rt.block_on(empty.collect()).unwrap().to_bytes().is_empty());
    }
}
