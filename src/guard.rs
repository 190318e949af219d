//! The access-token guard: [`AccessGuardLayer`] protects any service with the access
//! tokens of the session endpoints.
//!
//! A missing, malformed, expired, wrongly signed, `alg: none`, other-issuer or
//! non-`access` token (a oneTimeToken included), or one of an app not on the list, gets
//! 401/4 with `WWW-Authenticate: Bearer error="invalid_token"` and never reaches the inner
//! service. A valid one's [`Claims`](crate::token::Claims) are put in the request extensions. Verification is
//! synchronous: no box, no store call.
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::Full;
//! use tower::{Layer, ServiceExt, service_fn};
//! use techcentrix_auth::token::{Claims, SigningKeys};
//! use techcentrix_auth::{ApiKey, JwtSecret, MemoryApiKeyValidator, TechCentrixAuth};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let auth = TechCentrixAuth::builder()
//!     .api_keys(MemoryApiKeyValidator::new())
//!     .signing_keys(SigningKeys::hs512(JwtSecret::generate()))
//!     .build()
//!     .unwrap();
//! let me = service_fn(|request: Request<Full<Bytes>>| async move {
//!     let claims = request.extensions().get::<Claims>().unwrap();
//!     Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(claims.sub.to_string()))))
//! });
//! let guarded = auth.guard().layer(me);
//! let response = guarded
//!     .oneshot(Request::get("/me").body(Full::new(Bytes::new())).unwrap())
//!     .await
//!     .unwrap();
//! assert_eq!(response.status(), 401);
//! assert_eq!(response.headers()["www-authenticate"], "Bearer error=\"invalid_token\"");
//! # }
//! ```

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::response::{ResponseBody, ResponseFuture, log_error};
use crate::state::Shared;
use crate::{AppId, Error};

/// Applies [`AccessGuard`]. Accepts any app's access token unless given a list.
#[derive(Clone)]
pub struct AccessGuardLayer {
    shared: Arc<Shared>,
    apps: Option<Arc<HashSet<AppId>>>,
}

impl AccessGuardLayer {
    /// A guard accepting the access tokens of every app
    /// ([`TechCentrixAuth::guard`](crate::TechCentrixAuth::guard)).
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        AccessGuardLayer { shared, apps: None }
    }

    /// Accepts only the access tokens of these apps.
    pub fn allow_apps(mut self, apps: impl IntoIterator<Item = impl Into<AppId>>) -> Self {
        self.apps = Some(Arc::new(apps.into_iter().map(Into::into).collect()));
        self
    }
}

impl fmt::Debug for AccessGuardLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessGuardLayer")
            .field("apps", &self.apps)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for AccessGuardLayer {
    type Service = AccessGuard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessGuard {
            layer: self.clone(),
            inner,
        }
    }
}

/// Lets through only requests with a valid access token; see the [module docs](self).
#[derive(Clone)]
pub struct AccessGuard<S> {
    layer: AccessGuardLayer,
    inner: S,
}

impl<S: fmt::Debug> fmt::Debug for AccessGuard<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessGuard")
            .field("layer", &self.layer)
            .field("inner", &self.inner)
            .finish()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AccessGuard<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let shared = &self.layer.shared;
        let verified =
            shared
                .verify_access(request.headers())
                .and_then(|claims| match &self.layer.apps {
                    Some(apps) if !apps.contains(&claims.aud) => Err(Error::InvalidAccessToken),
                    _ => Ok(claims),
                });
        match verified {
            Ok(claims) => {
                request.extensions_mut().insert(claims);
                ResponseFuture::inner(self.inner.call(request))
            }
            Err(err) => {
                log_error(&err);
                ResponseFuture::ready(err.into_response())
            }
        }
    }
}
