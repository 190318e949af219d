//! Run with: cargo run --release --example hyper
//!
//! The reference server on plain hyper 1 and tower, no framework: the auth endpoints as a
//! layer around a small service that answers `GET /me` behind the access-token guard and
//! 404 elsewhere. Reads the same environment as the axum server and is served by the same
//! loop, with its timeouts and connection cap (see the README).

use std::convert::Infallible;
use std::process::ExitCode;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use techcentrix_auth::token::Claims;
use techcentrix_auth::{Error, TechCentrixAuth};
use tower::{Layer, ServiceExt, service_fn};

mod common;

use common::TimedBody;

/// Everything that is not an auth endpoint: `GET /me` behind the guard, else 404.
async fn app(
    auth: TechCentrixAuth,
    request: Request<TimedBody>,
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
    let me = service_fn(|request: Request<TimedBody>| {
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
    let service = auth.layer().layer(inner);
    common::serve(listener, service).await
}
