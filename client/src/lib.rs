//! A typed client of a TechCentrix auth host (the `techcentrix-auth` SPEC, §2–§4), for the two
//! parties other than the host:
//!
//! - the **partner backend**, which signs its users in with its API key:
//!   [`PartnerClient::external`] → [`OneTimeToken`];
//! - the **app side** (and test harnesses): [`Client::redeem`] → [`Session`],
//!   [`Client::refresh`], [`Client::sign_out`], and calls to guarded routes with the access
//!   token ([`Client::get`], [`Client::get_json`]).
//!
//! Errors are typed: [`Error::Api`] carries the SPEC's [`ErrorCode`], status and message,
//! apart from [`Error::Transport`] and [`Error::Timeout`]. `503` and `429` are retried as
//! their `Retry-After` says, within a [`RetryPolicy`]; nothing else is. Credentials are
//! newtypes whose `Debug` prints `[redacted]` ([`ApiKey`], [`OneTimeToken`], [`AccessToken`],
//! [`RefreshToken`]). [`Client::raw`] sends any request as it is, for malformed ones.
//!
//! With the feature `conformance`, the [`conformance`] module checks a running host against
//! the SPEC (and `examples/conformance.rs` runs it from the command line). With `rustls`,
//! `https://` URLs work.
//!
//! ```no_run
//! use techcentrix_auth_client::{ApiKey, Client, ErrorCode, Profile};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), techcentrix_auth_client::Error> {
//! let client = Client::new("http://127.0.0.1:8080")?;
//! let partner = client.partner(ApiKey::new("0123456789abcdef0123456789abcdef"));
//! let token = partner
//!     .external(&Profile::new("user1-external", "user1@techcentrix.com", "User1Name"))
//!     .await?;
//!
//! let session = client.redeem("acme", &token).await?;
//! let again = client.redeem("acme", &token).await; // single use
//! assert_eq!(again.unwrap_err().code(), Some(ErrorCode::InvalidToken));
//!
//! let response = client.get("/me", &session.access_token).await?;
//! assert_eq!(response.status, 200);
//! let session = client.refresh(&session.refresh_token).await?;
//! client.sign_out(&session.refresh_token).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Public signatures name types of `http` 1 (`Method`, `StatusCode`, `HeaderMap`), `bytes` 1
//! and `serde`, re-exported here, and no type of hyper.

mod client;
mod error;
mod partner;
mod raw;
mod retry;
mod secret;
mod session;
mod transport;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use bytes;
pub use http;

pub use client::{Client, ClientBuilder, Paths};
pub use error::{ApiError, Error, ErrorCode, Timeout};
pub use partner::{IssuedToken, PartnerClient, Profile};
pub use raw::{RawRequest, RawResponse};
pub use retry::RetryPolicy;
pub use secret::{AccessToken, ApiKey, OneTimeToken, RefreshToken};
pub use session::{Session, SignOutWith};
