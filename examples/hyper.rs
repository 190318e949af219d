//! Run with: cargo run --release --example hyper
//!
//! The reference server on plain hyper 1 and tower: the auth service, no framework.
//! Reads the same environment as the axum server (see the README's configuration table).

use std::process::ExitCode;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

mod common;

#[tokio::main]
async fn main() -> ExitCode {
    let (auth, listener) = match common::start().await {
        Ok(started) => started,
        Err(code) => return code,
    };
    // The auth endpoints alone; any other path is 404.
    let service = TowerToHyperService::new(auth.service());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(common::shutdown_signal());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        tracing::warn!(error = %err, "accept failed");
                        continue;
                    }
                };
                let connection = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service.clone());
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(err) = connection.await {
                        tracing::debug!(%peer, error = %err, "connection error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
    ExitCode::SUCCESS
}
