//! Host the TechCentrix external sign-in flow in any Rust server.
//!
//! A partner's backend calls `POST /user/api/auth/external` with its secret Server.API.Key
//! and a user's profile; this crate signs that user up or in and answers a short-lived,
//! single-use JWT (the oneTimeToken). The partner's mobile SDK redeems it, once, for a
//! session (an access token and a rotating refresh token), refreshes it and signs out; a
//! guard layer protects any route with the access token. It comes as tower
//! [`Layer`](tower_layer::Layer)s and [`Service`](tower_service::Service)s with pluggable
//! async stores (in memory, SQLite, PostgreSQL, Redis), so axum, hyper, tonic or any tower
//! stack can host it, on one machine or many.
//!
//! ```
//! use bytes::Bytes;
//! use http::Request;
//! use http_body_util::{BodyExt, Full};
//! use tower::ServiceExt;
//! use techcentrix_auth::{ApiKey, JwtSecret, MemoryApiKeyValidator, MemoryUserStore, TechCentrixAuth};
//! use techcentrix_auth::token::SigningKeys;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let key = ApiKey::new("0123456789abcdef0123456789abcdef");
//! let auth = TechCentrixAuth::builder()
//!     .api_keys(MemoryApiKeyValidator::new().with_key("acme", &key))
//!     .user_store(MemoryUserStore::new())
//!     .signing_keys(SigningKeys::hs512(JwtSecret::generate()))
//!     .build()?;
//!
//! let request = Request::post("/user/api/auth/external")
//!     .header("Authorization", "Bearer 0123456789abcdef0123456789abcdef")
//!     .header("Content-Type", "application/json")
//!     .body(Full::new(Bytes::from(
//!         r#"{"id":"user1-external","email":"user1@techcentrix.com","firstName":"User1Name"}"#,
//!     )))?;
//! let response = auth.service().oneshot(request).await?;
//! assert_eq!(response.status(), 200);
//! let token = response.into_body().collect().await?.to_bytes();
//! assert_eq!(token.split(|b| *b == b'.').count(), 3);
//! # Ok(())
//! # }
//! ```
//!
//! The pieces: [`TechCentrixAuth`] holds the state; [`endpoints`] has the tower layer and
//! services; [`guard`] the access-token guard; [`store`] the extension traits and their
//! backends; [`token`] the claims and keys; [`rate_limit`] the per-key limiter; [`events`]
//! the audit hook.

// The flow, in order: the state and its builder, the endpoints and the guard that serve it,
// the stores they call, the tokens they sign, the errors they answer, the events they
// report; then what those share.
mod auth;
pub mod endpoints;
pub mod guard;
pub mod store;
pub mod token;
mod error;
pub mod events;
pub mod rate_limit;
#[cfg(feature = "axum")]
pub mod axum;

// Shared by the above: the state the layers hold, the HTTP reading and the bodies' fields,
// the answers' body and future, the configuration, the secrets, small helpers.
mod bodies;
mod body;
mod config;
mod openapi;
mod request;
mod response;
mod secret;
mod state;
mod util;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

pub use auth::{AuthBuilder, HOUSEKEEPING_BATCH, TechCentrixAuth};
pub use body::AuthBody;
pub use config::{AuthConfig, ConfigError};
pub use endpoints::{AuthEndpoints, AuthEndpointsLayer, AuthService};
pub use error::{BoxError, Error, StoreError};
pub use guard::{AccessGuard, AccessGuardLayer};
pub use secret::{ApiKey, JwtSecret, KeyDigest};
pub use store::{
    ApiKeyValidator, ChainedApiKeyValidator, MemoryApiKeyValidator, MemoryReplayLedger,
    MemorySessionStore, MemoryUserStore, ReplayLedger, SessionStore, UserStore,
};
pub use util::ids::{AppId, Jti, KeyId, SessionId, UserId};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
