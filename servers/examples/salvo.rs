//! Run with: cargo run --release --example salvo  (from the repository root: the launcher
//! `examples/salvo.rs` runs this; directly: cargo run --release -p techcentrix-auth-servers
//! --example salvo_server)
//!
//! The reference server on salvo: the auth endpoints are the crate's tower layer, a
//! service-wide hoop through salvo's `tower-compat` feature (`TowerLayerCompat`), so their
//! requests skip the routing; `GET /me` is behind a hoop built on
//! `TechCentrixAuth::verify_access`. The 404 for other paths is empty (salvo's catcher would
//! write an error page) and other methods on `/me` and `/healthz` are 405/8 JSON with
//! `Allow: GET, HEAD`, as on the axum server.
//!
//! Reads the same environment as the axum server (SPEC §6, see the README) through the
//! shared `examples/common`.

use std::process::ExitCode;
use std::time::Duration;

use http_body_util::BodyExt;
use salvo::catcher::Catcher;
use salvo::conn::tcp::TcpAcceptor;
use salvo::http::{Method, ResBody, StatusCode};
use salvo::prelude::TowerLayerCompat;
use salvo::routing::PathState;
use salvo::{Depot, FlowCtrl, Request, Response, Router, Server, Service, handler};
use techcentrix_auth::token::Claims;
use techcentrix_auth::{AuthBody, Error, TechCentrixAuth};

#[allow(dead_code)] // the hyper serve loop there is for the axum and hyper servers
#[path = "../../examples/common/mod.rs"]
mod common;

/// Writes the library's answer into salvo's response.
fn answer(res: &mut Response, response: http::Response<AuthBody>) {
    res.merge_hyper(response.map(|body| ResBody::from(body.into_bytes())));
}

/// The guard as a salvo hoop: a valid access token puts its claims in the request's
/// extensions, anything else is the SPEC's 401/4 and ends the request.
struct Guard(TechCentrixAuth);

#[handler]
impl Guard {
    async fn handle(&self, req: &mut Request, res: &mut Response, ctrl: &mut FlowCtrl) {
        match self.0.verify_access(req.headers()) {
            Ok(claims) => {
                req.extensions_mut().insert(claims);
            }
            Err(error) => {
                answer(res, error.into_response());
                ctrl.skip_rest();
            }
        }
    }
}

/// `GET /me`, behind the guard.
struct Me(TechCentrixAuth);

#[handler]
impl Me {
    async fn handle(&self, req: &mut Request, res: &mut Response) {
        let claims = req.extensions().get::<Claims>();
        let claims = claims.expect("the guard puts the claims in the extensions");
        answer(res, common::me(&self.0, claims).await);
    }
}

/// `GET /openapi.json`: the document of what this server serves.
struct OpenApi(TechCentrixAuth);

#[handler]
impl OpenApi {
    async fn handle(&self, res: &mut Response) {
        answer(res, common::openapi(&self.0));
    }
}

#[handler]
async fn healthz(res: &mut Response) {
    res.render("ok");
}

/// Another method on a route answers like the auth endpoints: 405/8, JSON, `Allow`.
#[handler]
async fn get_only(res: &mut Response) {
    answer(
        res,
        Error::MethodNotAllowed { allow: "GET, HEAD" }.into_response(),
    );
}

/// salvo's tower compatibility boxes the layer's answers and so loses their length (they
/// would go out chunked, where the axum server sends `Content-Length`): this hoop, in front
/// of the layer, reads such a body back into one piece. The answers here are small and
/// already whole in memory.
#[handler]
async fn whole_body(req: &mut Request, depot: &mut Depot, res: &mut Response, ctrl: &mut FlowCtrl) {
    ctrl.call_next(req, depot, res).await;
    if let ResBody::Boxed(_) = res.body {
        match res.take_body().collect().await {
            // An empty body stays none, for the catcher to see.
            Ok(body) => {
                let body = body.to_bytes();
                if !body.is_empty() {
                    res.body(body);
                }
            }
            Err(err) => tracing::debug!(error = %err, "response body failed"),
        }
    }
}

/// The catcher: errors keep the body they have (salvo's default writes a page into an
/// empty one), and salvo's own 405 (a path that ends in a router without a goal, such as
/// `/`) is the axum server's empty 404: our routes answer 405 themselves.
#[handler]
async fn not_found(res: &mut Response) {
    if res.status_code == Some(StatusCode::METHOD_NOT_ALLOWED) {
        res.status_code(StatusCode::NOT_FOUND);
    }
}

/// `GET` and `HEAD` of exactly `/{name}` (salvo would match `/{name}/` too) to `router`,
/// other methods 405.
fn get_route(name: &'static str, router: Router) -> Router {
    let get_or_head =
        |req: &mut Request, _: &mut PathState| matches!(*req.method(), Method::GET | Method::HEAD);
    Router::with_path(name)
        .filter_fn(move |req, _| req.uri().path().strip_prefix('/') == Some(name))
        .push(router.filter_fn(get_or_head))
        .push(Router::new().goal(get_only))
}

#[tokio::main]
async fn main() -> ExitCode {
    let (auth, listener) = match common::start().await {
        Ok(started) => started,
        Err(code) => return code,
    };
    let me = Router::new()
        .hoop(Guard(auth.clone()))
        .goal(Me(auth.clone()));
    let router = Router::new()
        .push(get_route("me", me))
        .push(get_route("healthz", Router::new().goal(healthz)))
        .push(get_route(
            "openapi.json",
            Router::new().goal(OpenApi(auth.clone())),
        ));
    let service = Service::new(router)
        .hoop(whole_body)
        .hoop(auth.layer().compat())
        .catcher(Catcher::new(not_found));
    let (tcp, _limits) = listener.into_parts();
    common::warn_unapplied("salvo", &common::SERVE_LOOP_SETTINGS);
    let acceptor = match TcpAcceptor::try_from(tcp) {
        Ok(acceptor) => acceptor,
        Err(err) => {
            eprintln!("error: TCX_LISTEN: {err}");
            return ExitCode::FAILURE;
        }
    };
    let server = Server::new(acceptor);
    let handle = server.handle();
    tokio::spawn(async move {
        common::shutdown_signal().await;
        handle.stop_graceful(Duration::from_secs(9));
    });
    server.serve(service).await;
    common::flush_logs();
    ExitCode::SUCCESS
}
