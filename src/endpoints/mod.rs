//! The tower side: [`AuthEndpoints`] serves the auth endpoints on their paths and passes
//! every other request to the service it wraps; [`AuthEndpointsLayer`] applies it;
//! [`AuthService`] is the same with nothing inside, for routers that mount by path.
//!
//! | path (configurable) | method | what |
//! |---|---|---|
//! | `/user/api/auth/external` | POST | sign up or in, answer a oneTimeToken (API key) |
//! | `/user/api/auth/token` | POST | redeem a oneTimeToken for a session (`X-TechCentrix-App-Id`) |
//! | `/user/api/auth/refresh` | POST | rotate a refresh token |
//! | `/user/api/auth/sign-out` | POST | end a session (access token or refresh token) |
//! | `/.well-known/jwks.json` | GET | the public keys of asymmetric signing keys |
//!
//! Requests that are not ours pass through without a box or an allocation: the response
//! future is an enum of the inner future and ours, the response body an enum of the inner
//! body and ours.
//!
//! ```
//! use http::{Request, StatusCode};
//! use http_body_util::Full;
//! use bytes::Bytes;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use techcentrix_auth::{ApiKey, JwtSecret, MemoryApiKeyValidator, TechCentrixAuth};
//! use techcentrix_auth::token::SigningKeys;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let key = ApiKey::new("0123456789abcdef0123456789abcdef");
//! let auth = TechCentrixAuth::builder()
//!     .api_keys(MemoryApiKeyValidator::new().with_key("acme", &key))
//!     .signing_keys(SigningKeys::hs512(JwtSecret::generate()))
//!     .build()?;
//! let app = ServiceBuilder::new().layer(auth.layer()).service(service_fn(|_req| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from("hello"))))
//! }));
//!
//! let request = Request::post("/user/api/auth/external")
//!     .header("authorization", "Bearer 0123456789abcdef0123456789abcdef")
//!     .header("content-type", "application/json")
//!     .body(Full::new(Bytes::from(
//!         r#"{"id":"user1-external","email":"user1@techcentrix.com","firstName":"User1Name"}"#,
//!     )))?;
//! let response = app.clone().oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
//!
//! let other = app.oneshot(Request::get("/hello").body(Full::new(Bytes::new()))?).await?;
//! assert_eq!(other.status(), StatusCode::OK);
//! # Ok(())
//! # }
//! ```

mod external;
mod jwks;
mod respond;
mod service;
mod session;

pub use crate::body::AuthBody;
pub use crate::response::{ResponseBody, ResponseFuture};
pub use service::{AuthEndpoints, AuthEndpointsLayer, AuthService, NotFound};
pub(crate) use service::{handles, serve_buffered};
