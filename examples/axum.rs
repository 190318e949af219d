//! Run with: cargo run --release --example axum
//!
//! The reference server on axum: the auth endpoints as a layer around an axum router.
//! Reads the SPEC §6 environment: TCX_LISTEN, TCX_API_KEYS, TCX_JWT_SECRET,
//! TCX_DATABASE_URL, TCX_STORE_TIMEOUT, TCX_ONE_TIME_TOKEN_TTL, TCX_ACCESS_TOKEN_TTL,
//! TCX_ISSUER, TCX_RATE_LIMIT (see the README's configuration table).

use std::process::ExitCode;

use axum::Router;
use axum::routing::get;

mod common;

#[tokio::main]
async fn main() -> ExitCode {
    let (auth, listener) = match common::start().await {
        Ok(started) => started,
        Err(code) => return code,
    };
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .layer(auth.layer());
    match axum::serve(listener, app)
        .with_graceful_shutdown(common::shutdown_signal())
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: server failed: {err}");
            ExitCode::FAILURE
        }
    }
}
