use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use super::{AuthBody, ResponseBody};

pub(crate) type AuthFuture = Pin<Box<dyn Future<Output = Response<AuthBody>> + Send>>;

pin_project! {
    /// The response future of [`AuthEndpoints`](crate::endpoints::AuthEndpoints) and
    /// [`AccessGuard`](crate::AccessGuard): the inner service's future untouched, an auth
    /// endpoint's, or an answer known at once (a refusal).
    #[project = FutureProj]
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Inner { #[pin] future: F },
        Auth { future: AuthFuture },
        Ready { response: Option<Response<AuthBody>> },
    }
}

impl<F> ResponseFuture<F> {
    #[inline]
    pub(crate) fn inner(future: F) -> Self {
        ResponseFuture {
            kind: Kind::Inner { future },
        }
    }

    pub(crate) fn auth(future: AuthFuture) -> Self {
        ResponseFuture {
            kind: Kind::Auth { future },
        }
    }

    pub(crate) fn ready(response: Response<AuthBody>) -> Self {
        ResponseFuture {
            kind: Kind::Ready {
                response: Some(response),
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future
                .poll(cx)
                .map(|result| result.map(|res| res.map(ResponseBody::inner))),
            KindProj::Auth { future } => future
                .as_mut()
                .poll(cx)
                .map(|res| Ok(res.map(ResponseBody::auth))),
            KindProj::Ready { response } => {
                let response = response
                    .take()
                    .expect("ResponseFuture polled after completion");
                Poll::Ready(Ok(response.map(ResponseBody::auth)))
            }
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Inner { .. } => "Inner",
            Kind::Auth { .. } => "Auth",
            Kind::Ready { .. } => "Ready",
        };
        f.debug_struct("ResponseFuture")
            .field("kind", &kind)
            .finish()
    }
}
