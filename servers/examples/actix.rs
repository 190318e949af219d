//! Run with: cargo run --release --example actix  (from the repository root: the launcher
//! `examples/actix.rs` runs this; directly: cargo run --release -p techcentrix-auth-servers
//! --example actix_server)
//!
//! The reference server on actix-web, which is not a tower stack and speaks `http` 0.2: a
//! short adapter turns its request into an `http` 1 request with the body read (up to one
//! byte past the limit, so that a larger body is the library's 413 and not actix's own
//! payload error) and hands it to `TechCentrixAuth::serve`, which answers as the tower layer
//! does; `GET /me` checks the token with `TechCentrixAuth::verify_access`. Other methods on
//! `/me` and `/healthz` are 405/8 JSON with `Allow: GET, HEAD`, other paths an empty 404,
//! as on the axum server. `TCX_HEADER_READ_TIMEOUT` is actix's client request timeout and
//! `TCX_MAX_CONNECTIONS` its connection cap (per worker).
//!
//! Reads the same environment as the axum server (SPEC §6, see the README) through the
//! shared `examples/common`.

use std::process::ExitCode;

use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use techcentrix_auth::{AuthBody, Error, TechCentrixAuth};

#[allow(dead_code)] // the hyper serve loop there is for the axum and hyper servers
#[path = "../../examples/common/mod.rs"]
mod common;

type Auth = web::Data<TechCentrixAuth>;

/// The request's headers as `http` 1 headers.
fn headers(request: &HttpRequest) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for (name, value) in request.headers() {
        let name = http::HeaderName::from_bytes(name.as_str().as_bytes());
        let value = http::HeaderValue::from_bytes(value.as_bytes());
        if let (Ok(name), Ok(value)) = (name, value) {
            headers.append(name, value);
        }
    }
    headers
}

/// The library's answer as actix's.
fn answer(response: http::Response<AuthBody>) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let status = StatusCode::from_u16(parts.status.as_u16()).expect("a valid status");
    let mut answer = HttpResponse::build(status);
    for (name, value) in &parts.headers {
        answer.append_header((name.as_str(), value.as_bytes()));
    }
    answer.body(body.into_bytes())
}

/// The body, read up to one byte past `limit`: enough for the library to answer 413.
async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Bytes, PayloadError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        body.extend_from_slice(&chunk?);
        if body.len() > limit {
            body.truncate(limit + 1);
            break;
        }
    }
    Ok(body.freeze())
}

/// The five auth endpoints: the request in `http` 1 types to `TechCentrixAuth::serve`.
async fn endpoint(auth: Auth, request: HttpRequest, payload: web::Payload) -> HttpResponse {
    let Ok(body) = read_body(payload, auth.config().body_limit()).await else {
        return HttpResponse::BadRequest().finish();
    };
    let mut converted = http::Request::new(body);
    *converted.method_mut() = request.method().as_str().parse().expect("a valid method");
    *converted.uri_mut() = request.uri().to_string().parse().unwrap_or_default();
    *converted.headers_mut() = headers(&request);
    answer(auth.serve(converted).await)
}

/// `GET /me`, behind the access-token check.
async fn me(auth: Auth, request: HttpRequest) -> HttpResponse {
    match auth.verify_access(&headers(&request)) {
        Ok(claims) => answer(common::me(&auth, &claims).await),
        Err(error) => answer(error.into_response()),
    }
}

/// Another method on a route answers like the auth endpoints: 405/8, JSON, `Allow` (the
/// body read first, as in [`not_found`]).
async fn get_only(auth: Auth, payload: web::Payload) -> HttpResponse {
    let _ = read_body(payload, auth.config().body_limit()).await;
    answer(Error::MethodNotAllowed { allow: "GET, HEAD" }.into_response())
}

/// Any other path: 404, with the body read first (up to the limit) as hyper does, so that
/// actix keeps the connection open instead of answering `Connection: close`.
async fn not_found(auth: Auth, payload: web::Payload) -> HttpResponse {
    let _ = read_body(payload, auth.config().body_limit()).await;
    HttpResponse::NotFound().finish()
}

async fn openapi(auth: Auth) -> HttpResponse {
    answer(common::openapi(&auth))
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok")
}

/// `GET` and `HEAD` of `path` answered by `handler`, other methods 405.
fn get_route<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args> + Clone,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
        .default_service(web::to(get_only))
}

async fn run() -> ExitCode {
    let (auth, listener) = match common::start().await {
        Ok(started) => started,
        Err(code) => return code,
    };
    let (tcp, limits) = listener.into_parts();
    common::warn_unapplied("actix-web", &["TCX_BODY_READ_TIMEOUT"]);
    let auth = web::Data::new(auth);
    let app = move || {
        let config = auth.config();
        let mut app = App::new().app_data(auth.clone());
        for path in [
            config.external_path(),
            config.token_path(),
            config.refresh_path(),
            config.sign_out_path(),
            config.jwks_path(),
        ] {
            app = app.service(web::resource(path).to(endpoint));
        }
        app.service(get_route("/me", me))
            .service(get_route("/healthz", healthz))
            .service(get_route("/openapi.json", openapi))
            .default_service(web::to(not_found))
    };
    let server = HttpServer::new(app)
        .client_request_timeout(limits.header_read_timeout)
        .max_connections(limits.max_connections)
        .shutdown_timeout(9);
    let server = match tcp.into_std().and_then(|tcp| server.listen(tcp)) {
        Ok(server) => server,
        Err(err) => {
            eprintln!("error: TCX_LISTEN: {err}");
            return ExitCode::FAILURE;
        }
    };
    let served = server.run().await;
    common::flush_logs();
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "server error");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    actix_web::rt::System::new().block_on(run())
}
