//! Run with: cargo run --release --example hyper
//!
//! The reference server on plain hyper 1 and tower, no framework: the auth endpoints as a
//! layer around a small service that answers `GET /me` behind the access-token guard and
//! 404 elsewhere. Reads the same environment as the axum server (see the README).

use std::convert::Infallible;
use std::process::ExitCode;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use techcentrix_auth::token::Claims;
use techcentrix_auth::{Error, TechCentrixAuth};
use tower::{Layer, ServiceExt, service_fn};

mod common;

/// Everything that is not an auth endpoint: `GET /me` behind the guard, else 404.
async fn app(
    auth: TechCentrixAuth,
    request: Request<Incoming>,
) -> Result<Response<BoxBody<Bytes, Infallible>>, Infallible> {
    if request.uri().path() != "/me" {
        let mut response = Response::new(Full::new(Bytes::new()).boxed());
        *response.status_mut() = StatusCode::NOT_FOUND;
        return Ok(response);
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let error = Error::MethodNotAllowed { allow: "GET" };
        return Ok(error.into_response().map(BodyExt::boxed));
    }
    let me = service_fn(|request: Request<Incoming>| {
        let auth = auth.clone();
        async move {
            let claims = request.extensions().get::<Claims>().cloned();
            let claims = claims.expect("the guard puts the claims in the extensions");
            Ok::<_, Infallible>(common::me(&auth, &claims).await)
        }
    });
    let response = auth.guard().layer(me).oneshot(request).await?;
    Ok(response.map(BodyExt::boxed))
}

#[tokio::main]
async fn main() -> ExitCode {
    let (auth, listener) = match common::start().await {
        Ok(started) => started,
        Err(code) => return code,
    };
    let inner = {
        let auth = auth.clone();
        service_fn(move |request| app(auth.clone(), request))
    };
    let service = TowerToHyperService::new(auth.layer().layer(inner));
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
