use std::convert::Infallible;
use std::fmt;
use std::future::{Future, Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::Full;
use tower_layer::Layer;
use tower_service::Service;

use super::respond::{InSpan, Reply};
use super::{ResponseBody, ResponseFuture, external, jwks, session};
use crate::response::{AuthBody, AuthFuture};
use crate::state::Shared;
use crate::{AuthConfig, BoxError, Error};

/// The endpoints, by the path they answer.
#[derive(Clone, Copy, Debug)]
enum Endpoint {
    External,
    Token,
    Refresh,
    SignOut,
    Jwks,
}

impl Endpoint {
    fn of(config: &AuthConfig, path: &str) -> Option<Endpoint> {
        if path == config.external_path {
            Some(Endpoint::External)
        } else if path == config.token_path {
            Some(Endpoint::Token)
        } else if path == config.refresh_path {
            Some(Endpoint::Refresh)
        } else if path == config.sign_out_path {
            Some(Endpoint::SignOut)
        } else if path == config.jwks_path {
            Some(Endpoint::Jwks)
        } else {
            None
        }
    }

    /// The name recorded in the request's span.
    fn name(self) -> &'static str {
        match self {
            Endpoint::External => "external",
            Endpoint::Token => "token",
            Endpoint::Refresh => "refresh",
            Endpoint::SignOut => "sign_out",
            Endpoint::Jwks => "jwks",
        }
    }

    /// The methods it takes, as the `Allow` header lists them.
    fn allow(self) -> &'static str {
        match self {
            Endpoint::Jwks => "GET, HEAD",
            _ => "POST",
        }
    }

    fn allows(self, method: &Method) -> bool {
        match self {
            Endpoint::Jwks => method == Method::GET || method == Method::HEAD,
            _ => method == Method::POST,
        }
    }
}

/// Whether `path` is one of the endpoints' paths.
pub(crate) fn handles(config: &AuthConfig, path: &str) -> bool {
    Endpoint::of(config, path).is_some()
}

/// Serves a request whose body is already read: an endpoint's answer, or `404` with an
/// empty body for any other path.
pub(crate) async fn serve_buffered(
    shared: Arc<Shared>,
    request: Request<Bytes>,
) -> Response<AuthBody> {
    match Endpoint::of(&shared.config, request.uri().path()) {
        Some(endpoint) => serve(shared, endpoint, request.map(Full::new)).await,
        None => not_found(),
    }
}

/// `404 Not Found` with an empty body.
fn not_found() -> Response<AuthBody> {
    let mut response = Response::new(AuthBody::empty());
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// Serves one request to one of our endpoints: 405/8 for another method, else its handler.
///
/// Each endpoint's future is boxed on its own, so a request's allocation is the size of its
/// own handler's future, not of the largest. Never inlined into `call`: the pass-through
/// path must not carry its frame.
#[inline(never)]
fn serve<B>(shared: Arc<Shared>, endpoint: Endpoint, request: Request<B>) -> AuthFuture
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let (parts, body) = request.into_parts();
    let name = endpoint.name();
    fn boxed(
        name: &'static str,
        handler: impl Future<Output = Reply> + Send + 'static,
    ) -> AuthFuture {
        Box::pin(InSpan::new(name, handler))
    }
    if !endpoint.allows(&parts.method) {
        let allow = endpoint.allow();
        return boxed(name, ready(Err(Error::MethodNotAllowed { allow })));
    }
    let headers = parts.headers;
    match endpoint {
        Endpoint::External => boxed(name, external::handle(shared, headers, body)),
        Endpoint::Token => boxed(name, session::redeem(shared, headers, body)),
        Endpoint::Refresh => boxed(name, session::refresh(shared, headers, body)),
        Endpoint::SignOut => boxed(name, session::sign_out(shared, headers, body)),
        Endpoint::Jwks => boxed(name, ready(jwks::handle(&shared))),
    }
}

/// Serves the auth endpoints on their configured paths and passes every other request to
/// `S` untouched.
///
/// Generic over the request body: any [`http_body::Body`] whose errors convert into a
/// [`BoxError`]. See the [module docs](super) for an example.
#[derive(Clone)]
pub struct AuthEndpoints<S> {
    shared: Arc<Shared>,
    inner: S,
}

impl<S> AuthEndpoints<S> {
    /// Wraps `inner`.
    pub(crate) fn new(shared: Arc<Shared>, inner: S) -> Self {
        AuthEndpoints { shared, inner }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: fmt::Debug> fmt::Debug for AuthEndpoints<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthEndpoints")
            .field("auth", &self.shared)
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

    // `#[inline]` here, on `ResponseFuture::poll` and on the `inner` constructors, with
    // `serve` kept out of line: the pass-through path then costs 15-24 ns over the inner
    // service alone, 46-65 ns without (`cargo bench --bench endpoints -- pass_through`).
    #[inline]
    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let shared = &self.shared;
        match Endpoint::of(&shared.config, request.uri().path()) {
            Some(endpoint) => ResponseFuture::auth(serve(shared.clone(), endpoint, request)),
            None => ResponseFuture::inner(self.inner.call(request)),
        }
    }
}

/// Applies [`AuthEndpoints`] to a service.
#[derive(Clone, Debug)]
pub struct AuthEndpointsLayer {
    shared: Arc<Shared>,
}

impl AuthEndpointsLayer {
    /// A layer serving the endpoints of one state
    /// ([`TechCentrixAuth::layer`](crate::TechCentrixAuth::layer)).
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        AuthEndpointsLayer { shared }
    }
}

impl<S> Layer<S> for AuthEndpointsLayer {
    type Service = AuthEndpoints<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthEndpoints::new(self.shared.clone(), inner)
    }
}

/// Answers `404 Not Found` with an empty body: what [`AuthService`] falls through to.
#[derive(Clone, Copy, Debug, Default)]
pub struct NotFound;

impl<B> Service<Request<B>> for NotFound {
    type Response = Response<AuthBody>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<B>) -> Self::Future {
        ready(Ok(not_found()))
    }
}

/// The auth endpoints alone, for routers that mount a service by path: any other path
/// gets `404`.
pub type AuthService = AuthEndpoints<NotFound>;

impl AuthService {
    pub(crate) fn standalone(shared: Arc<Shared>) -> Self {
        AuthEndpoints::new(shared, NotFound)
    }
}
