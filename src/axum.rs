//! axum integration (feature `axum`, on `axum-core` only): [`Claims`] as an extractor,
//! `Option<Claims>`, and [`Error`] as a response.
//!
//! The extractor takes the claims the [guard](crate::guard) verified when it is in front
//! of the route; without the guard it checks the request's access token itself, with the
//! [`TechCentrixAuth`] it finds in the router's state ([`FromRef`]). Either way a missing
//! or invalid token is the SPEC's 401/4, byte for byte the guard's answer: forgetting the
//! guard cannot turn into a 500.
//!
//! ```
//! use axum::{Router, routing::get};
//! use techcentrix_auth::token::Claims;
//! use techcentrix_auth::{JwtSecret, MemoryApiKeyValidator, TechCentrixAuth};
//! use techcentrix_auth::token::SigningKeys;
//!
//! async fn me(claims: Claims) -> String {
//!     claims.sub.to_string()
//! }
//!
//! async fn hello(claims: Option<Claims>) -> String {
//!     match claims {
//!         Some(claims) => format!("hello {}", claims.sub),
//!         None => "hello, stranger".to_owned(),
//!     }
//! }
//!
//! let auth = TechCentrixAuth::builder()
//!     .api_keys(MemoryApiKeyValidator::new())
//!     .signing_keys(SigningKeys::hs512(JwtSecret::generate()))
//!     .build()
//!     .unwrap();
//! let app: Router = Router::new()
//!     .route("/me", get(me))
//!     .route("/hello", get(hello))
//!     .with_state(auth);
//! ```

use axum_core::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use crate::response::log_error;
use crate::token::Claims;
use crate::{Error, TechCentrixAuth};

/// The claims the guard put in the request, or those of the request's own access token.
fn claims<S>(parts: &Parts, state: &S) -> Result<Claims, Error>
where
    TechCentrixAuth: FromRef<S>,
{
    if let Some(claims) = parts.extensions.get::<Claims>() {
        return Ok(claims.clone());
    }
    TechCentrixAuth::from_ref(state)
        .verify_access(&parts.headers)
        .inspect_err(log_error)
}

/// The verified claims of the request's access token: 401/4 when it is missing or
/// invalid.
impl<S> FromRequestParts<S> for Claims
where
    S: Send + Sync,
    TechCentrixAuth: FromRef<S>,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        claims(parts, state)
    }
}

/// `None` when the request carries no `Authorization` header (and the guard put no claims
/// in it); a token that is there must be valid (401/4 otherwise).
impl<S> OptionalFromRequestParts<S> for Claims
where
    S: Send + Sync,
    TechCentrixAuth: FromRef<S>,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, Error> {
        if parts.extensions.get::<Claims>().is_none()
            && !parts.headers.contains_key(http::header::AUTHORIZATION)
        {
            return Ok(None);
        }
        claims(parts, state).map(Some)
    }
}

/// The SPEC's response of the error (see [`Error::into_response`]).
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        Error::into_response(self).map(axum_core::body::Body::new)
    }
}
