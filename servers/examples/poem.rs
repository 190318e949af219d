//! Run with: cargo run --release --example poem  (from the repository root: the launcher
//! `examples/poem.rs` runs this; directly: cargo run --release -p techcentrix-auth-servers
//! --example poem_server)
//!
//! The reference server on poem: the auth endpoints are the crate's tower service
//! (`TechCentrixAuth::service`) mounted on their paths through poem's `tower-compat`
//! feature, and `GET /me` is behind a poem middleware built on
//! `TechCentrixAuth::verify_access`. poem's own 404 and 405 answers are replaced by the
//! axum server's: an empty 404, and 405/8 JSON with `Allow: GET, HEAD`.
//!
//! Reads the same environment as the axum server (SPEC §6, see the README) through the
//! shared `examples/common`.

use std::process::ExitCode;
use std::time::Duration;

use http::StatusCode;
use poem::endpoint::{TowerCompatExt, make};
use poem::error::{MethodNotAllowedError, NotFoundError};
use poem::listener::TcpAcceptor;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Route, Server, get};
use techcentrix_auth::token::Claims;
use techcentrix_auth::{AuthBody, Error, TechCentrixAuth};

#[allow(dead_code)] // the hyper serve loop there is for the axum and hyper servers
#[path = "../../examples/common/mod.rs"]
mod common;

/// The library's answer as poem's.
fn answer(response: http::Response<AuthBody>) -> poem::Response {
    let (parts, body) = response.into_parts();
    let mut answer = poem::Response::builder()
        .status(parts.status)
        .body(body.into_bytes());
    *answer.headers_mut() = parts.headers;
    answer
}

/// The guard as a poem middleware: a valid access token puts its claims in the request's
/// extensions, anything else is the SPEC's 401/4.
fn guarded<E: Endpoint + 'static>(auth: TechCentrixAuth, endpoint: E) -> impl Endpoint {
    endpoint.around(move |endpoint, mut request: Request| {
        let checked = auth.verify_access(request.headers());
        async move {
            match checked {
                Ok(claims) => {
                    request.extensions_mut().insert(claims);
                    Ok(endpoint.call(request).await?.into_response())
                }
                Err(error) => Ok(answer(error.into_response())),
            }
        }
    })
}

/// poem's tower compatibility boxes the service's answers and so loses their length (they
/// would go out chunked, where the axum server sends `Content-Length`): read such a body
/// back into one piece. The endpoints' answers are small and already whole in memory.
fn whole_body(endpoint: impl Endpoint + 'static) -> impl Endpoint {
    endpoint.around(|endpoint, request| async move {
        let mut response = endpoint.call(request).await?.into_response();
        let body = response.take_body().into_bytes().await?;
        response.set_body(body);
        Ok(response)
    })
}

/// Another method on a route answers like the auth endpoints: 405/8, JSON, `Allow`.
fn get_only(endpoint: impl Endpoint + 'static) -> impl Endpoint {
    endpoint.catch_error(|_: MethodNotAllowedError| async {
        answer(Error::MethodNotAllowed { allow: "GET, HEAD" }.into_response())
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let (auth, listener) = match common::start().await {
        Ok(started) => started,
        Err(code) => return code,
    };
    // `HEAD` served by the same endpoint: poem's fallback from `HEAD` to `GET` would drop
    // the `Content-Length` that the axum server sends.
    let me = || {
        let state = auth.clone();
        let me = make(move |request: Request| {
            let auth = state.clone();
            async move {
                let claims = request.extensions().get::<Claims>();
                let claims = claims.expect("the guard puts the claims in the extensions");
                answer(common::me(&auth, claims).await)
            }
        });
        guarded(auth.clone(), me)
    };
    let healthz = || make(|_| async { "ok" });
    let openapi = || {
        let auth = auth.clone();
        make(move |_| {
            let auth = auth.clone();
            async move { answer(common::openapi(&auth)) }
        })
    };
    let config = auth.config();
    let mut app = Route::new()
        .at("/me", get_only(get(me()).head(me())))
        .at("/healthz", get_only(get(healthz()).head(healthz())))
        .at("/openapi.json", get_only(get(openapi()).head(openapi())));
    for path in [
        config.external_path(),
        config.token_path(),
        config.refresh_path(),
        config.sign_out_path(),
        config.jwks_path(),
    ] {
        app = app.at(path, whole_body(auth.service().compat()));
    }
    let app = app.catch_error(|_: NotFoundError| async { StatusCode::NOT_FOUND });
    let (tcp, _limits) = listener.into_parts();
    common::warn_unapplied("poem", &common::SERVE_LOOP_SETTINGS);
    let acceptor = match TcpAcceptor::from_tokio(tcp) {
        Ok(acceptor) => acceptor,
        Err(err) => {
            eprintln!("error: TCX_LISTEN: {err}");
            return ExitCode::FAILURE;
        }
    };
    let grace = Some(Duration::from_secs(9));
    let served = Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(app, common::shutdown_signal(), grace)
        .await;
    common::flush_logs();
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "server error");
            ExitCode::FAILURE
        }
    }
}
