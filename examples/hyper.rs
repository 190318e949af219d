//! Run with: cargo run --release --example hyper
//!
//! The reference server on plain hyper 1 and tower, no framework: the auth endpoints as a
//! layer around a small service that answers `GET /me` behind the access-token guard and
//! 404 elsewhere. Reads the same environment as the axum server and is served by the same
//! loop, with its timeouts and connection cap (see the README).

use std::convert::Infallible;
use std::process::ExitCode;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use techcentrix_auth::token::Claims;
use techcentrix_auth::{Error, TechCentrixAuth};
use tower::{Layer, ServiceExt, service_fn};

mod common;

use common::TimedBody;

/// Everything that is not an auth endpoint: `GET /me` behind the guard, `GET /healthz`,
/// `GET /openapi.json`; another method on those is 405/8 as on the endpoints; else 404.
async fn app(
    auth: TechCentrixAuth,
    request: Request<TimedBody>,
) -> Result<Response<BoxBody<Bytes, Infallible>>, Infallible> {
    let path = request.uri().path();
    if !matches!(path, "/me" | "/healthz" | "/openapi.json") {
        let mut response = Response::new(Full::new(Bytes::new()).boxed());
        *response.status_mut() = StatusCode::NOT_FOUND;
        return Ok(response);
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let error = Error::MethodNotAllowed { allow: "GET, HEAD" };
        return Ok(error.into_response().map(BodyExt::boxed));
    }
    match path {
        "/healthz" => {
            let mut response = Response::new(Full::new(Bytes::from_static(b"ok")).boxed());
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            return Ok(response);
        }
        "/openapi.json" => return Ok(common::openapi(&auth).map(BodyExt::boxed)),
        _ => {}
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
