//! Run with: cargo run --release --example axum
//!
//! The reference server on axum: the auth endpoints as a layer around an axum router, and
//! `GET /me` behind the access-token guard, its handler taking the verified claims with the
//! crate's extractor (feature `axum`, on by default for the examples' dev build through
//! `required-features`). Reads the SPEC §6 environment: TCX_LISTEN,
//! TCX_API_KEYS, TCX_JWT_SECRET, TCX_SIGNING_KEYS, TCX_DATABASE_URL, TCX_STORE_TIMEOUT,
//! TCX_ONE_TIME_TOKEN_TTL, TCX_ACCESS_TOKEN_TTL, TCX_SESSION_TTL, TCX_TOKEN_LEEWAY,
//! TCX_ISSUER, TCX_RATE_LIMIT, and the serve loop's TCX_HEADER_READ_TIMEOUT,
//! TCX_BODY_READ_TIMEOUT and TCX_MAX_CONNECTIONS (see the README's configuration table).

use std::process::ExitCode;

use axum::extract::State;
use axum::routing::get;
use axum::{Router, response::IntoResponse};
use techcentrix_auth::token::Claims;
use techcentrix_auth::{Error, TechCentrixAuth};
use tower::ServiceBuilder;

mod common;

/// The claims come from the guard in front; without it the extractor would check the
/// token itself (401/4 for a bad one), never a 500.
async fn me(State(auth): State<TechCentrixAuth>, claims: Claims) -> impl IntoResponse {
    common::me(&auth, &claims).await
}

/// Another method on a route answers like the auth endpoints: 405/8, JSON, `Allow`.
async fn get_only() -> impl IntoResponse {
    Error::MethodNotAllowed { allow: "GET, HEAD" }
}

#[tokio::main]
async fn main() -> ExitCode {
    let (auth, listener) = match common::start().await {
        Ok(started) => started,
        Err(code) => return code,
    };
    let app = Router::new()
        .route("/me", get(me).fallback(get_only).route_layer(auth.guard()))
        .route("/healthz", get(|| async { "ok" }).fallback(get_only))
        .route(
            "/openapi.json",
            get(|State(auth): State<TechCentrixAuth>| async move { common::openapi(&auth) })
                .fallback(get_only),
        )
        .with_state(auth.clone());
    // The auth endpoints in front of the router (not `Router::layer`, which wraps each route
    // and the fallback): their requests skip the routing, the rest pass through.
    let app = ServiceBuilder::new().layer(auth.layer()).service(app);
    // Served by the shared loop (hyper with its header-read timeout, the body-read timeout and
    // the connection cap), which `axum::serve` cannot be configured for.
    common::serve(listener, app).await
}
