use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::Full;
use tower_layer::Layer;
use tower_service::Service;

use super::{ResponseBody, ResponseFuture, external};
use crate::{BoxError, TechCentrixAuth};

/// Serves the auth endpoints on their configured paths and passes every other request to
/// `S` untouched.
///
/// Generic over the request body: any [`http_body::Body`] whose errors convert into a
/// [`BoxError`]. See the [module docs](super) for an example.
#[derive(Clone)]
pub struct AuthEndpoints<S> {
    auth: TechCentrixAuth,
    inner: S,
}

impl<S> AuthEndpoints<S> {
    /// Wraps `inner`.
    pub fn new(auth: TechCentrixAuth, inner: S) -> Self {
        AuthEndpoints { auth, inner }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: fmt::Debug> fmt::Debug for AuthEndpoints<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthEndpoints")
            .field("auth", &self.auth)
            .field("inner", &self.inner)
            .finish()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AuthEndpoints<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ReqBody: Body + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let shared = &self.auth.shared;
        if request.uri().path() == shared.config.external_path {
            ResponseFuture::auth(Box::pin(external::serve(shared.clone(), request)))
        } else {
            ResponseFuture::inner(self.inner.call(request))
        }
    }
}

/// Applies [`AuthEndpoints`] to a service.
#[derive(Clone, Debug)]
pub struct AuthEndpointsLayer {
    auth: TechCentrixAuth,
}

impl AuthEndpointsLayer {
    /// A layer serving `auth`'s endpoints.
    pub fn new(auth: TechCentrixAuth) -> Self {
        AuthEndpointsLayer { auth }
    }
}

impl<S> Layer<S> for AuthEndpointsLayer {
    type Service = AuthEndpoints<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthEndpoints::new(self.auth.clone(), inner)
    }
}

/// Answers `404 Not Found` with an empty body: what [`AuthService`] falls through to.
#[derive(Clone, Copy, Debug, Default)]
pub struct NotFound;

impl<B> Service<Request<B>> for NotFound {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<B>) -> Self::Future {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NOT_FOUND;
        ready(Ok(response))
    }
}

/// The auth endpoints alone, for routers that mount a service by path: any other path
/// gets `404`.
pub type AuthService = AuthEndpoints<NotFound>;

impl AuthService {
    pub(crate) fn standalone(auth: TechCentrixAuth) -> Self {
        AuthEndpoints::new(auth, NotFound)
    }
}
