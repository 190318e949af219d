//! Run with: cargo run --release --example tonic  (from the repository root: the launcher
//! `examples/tonic.rs` runs this; directly: cargo run --release -p techcentrix-auth-servers
//! --example tonic_server)
//!
//! The reference server on tonic: one port for gRPC (HTTP/2) and, with `accept_http1`, the
//! auth endpoints, `GET /me` and `GET /healthz` over HTTP/1 (or HTTP/2). The auth endpoints
//! are the tower layer in front of tonic's router; `GET /me` is behind the guard layer, as
//! on the axum server (tonic's router is an axum router). The gRPC method
//! `techcentrix.demo.Profile/Me` answers the same profile behind an interceptor built on
//! `TechCentrixAuth::verify_access`: a missing or bad access token in the `authorization`
//! metadata is `UNAUTHENTICATED`. The messages are hand-written prost structs and the
//! method a `tonic::server::Grpc` call, so there is no `.proto` file and no protoc.
//!
//! Reads the same environment as the axum server (SPEC §6, see the README) through the
//! shared `examples/common`.

use std::convert::Infallible;
use std::process::ExitCode;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use techcentrix_auth::token::Claims;
use techcentrix_auth::{Error, TechCentrixAuth};
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

#[allow(dead_code)] // the hyper serve loop there is for the axum and hyper servers
#[path = "../../examples/common/mod.rs"]
mod common;

mod grpc;

use grpc::{MeReply, MeRequest, PROFILE_ME};

/// The interceptor: the access token is checked as the guard checks it, and the claims go
/// to the method in the request's extensions.
fn check_access(auth: &TechCentrixAuth, mut request: Request<()>) -> Result<Request<()>, Status> {
    let headers = request.metadata().clone().into_headers();
    let claims = auth.verify_access(&headers).map_err(status)?;
    request.extensions_mut().insert(claims);
    Ok(request)
}

/// The gRPC status for an error of the SPEC's table, with its message.
fn status(error: Error) -> Status {
    match error.status().as_u16() {
        401 => Status::unauthenticated(error.to_string()),
        503 => Status::unavailable(error.to_string()),
        _ => Status::internal(error.to_string()),
    }
}

/// `techcentrix.demo.Profile/Me`, behind the interceptor.
async fn profile(
    auth: TechCentrixAuth,
    request: Request<MeRequest>,
) -> Result<Response<MeReply>, Status> {
    let claims = request.extensions().get::<Claims>();
    let claims = claims.expect("the interceptor puts the claims in the extensions");
    let user = match auth.user_store().find(&claims.sub).await {
        Ok(Some(user)) => user,
        Ok(None) => return Err(status(Error::InvalidAccessToken)),
        Err(err) => return Err(status(Error::from(err))),
    };
    Ok(Response::new(MeReply {
        user_id: user.id.to_string(),
        email: user.email,
        first_name: user.first_name,
        app: user.app.to_string(),
    }))
}

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
    let profile_me = {
        let auth = auth.clone();
        tower::service_fn(move |request: http::Request<axum::body::Body>| {
            let auth = auth.clone();
            let method = tower::service_fn(move |request| profile(auth.clone(), request));
            let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
            async move { Ok::<_, Infallible>(grpc.unary(method, request).await) }
        })
    };
    let interceptor = {
        let auth = auth.clone();
        move |request| check_access(&auth, request)
    };
    let app = axum::Router::new()
        .route("/me", get(me).fallback(get_only).route_layer(auth.guard()))
        .route("/healthz", get(|| async { "ok" }).fallback(get_only))
        .route(
            "/openapi.json",
            get(|State(auth): State<TechCentrixAuth>| async move { common::openapi(&auth) })
                .fallback(get_only),
        )
        .route_service(PROFILE_ME, InterceptedService::new(profile_me, interceptor))
        .with_state(auth.clone());
    let (tcp, _limits) = listener.into_parts();
    common::warn_unapplied("tonic", &common::SERVE_LOOP_SETTINGS);
    let served = Server::builder()
        .accept_http1(true)
        .layer(auth.layer())
        .add_routes(Routes::from(app))
        .serve_with_incoming_shutdown(TcpIncoming::from(tcp), common::shutdown_signal())
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
