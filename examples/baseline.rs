//! Run with: cargo run --release --example baseline
//!
//! The load benchmark's ceiling: an axum handler that reads the same JSON body as
//! `POST /user/api/auth/external` and answers a constant. Listens on TCX_LISTEN (default
//! 127.0.0.1:8080) and prints `listening on http://ADDR` like the reference servers.

use axum::Router;
use axum::extract::Json;
use axum::routing::post;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct Profile {
    id: String,
    email: String,
    first_name: String,
}

async fn constant(Json(_profile): Json<Profile>) -> &'static str {
    "eyJhbGciOiJIUzUxMiJ9.e30.c2lnbmF0dXJl"
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::var("TCX_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let app = Router::new().route("/user/api/auth/external", post(constant));
    axum::serve(listener, app).await
}
