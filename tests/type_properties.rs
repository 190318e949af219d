//! Compile-time checks: the services, layers, futures and stores are what hosts need them to
//! be (`Send`, `Sync`, `Clone`, `'static`) to run on a multi-threaded runtime and to be shared
//! as `Arc<dyn …>`. These tests fail to compile, not at run time, if that ever changes.

use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use techcentrix_auth::store::{ApiKeyAdmin, UserCount};
use techcentrix_auth::{
    AccessGuard, AccessGuardLayer, ApiKeyValidator, AuthEndpoints, AuthEndpointsLayer, AuthService,
    ReplayLedger, SessionStore, TechCentrixAuth, UserStore,
};
use tower::Service;

fn send_sync_static<T: Send + Sync + 'static>() {}
fn clone<T: Clone>() {}
fn send<T: Send>(_: &T) {}

#[test]
fn state_layers_and_services_are_send_sync_and_clone() {
    send_sync_static::<TechCentrixAuth>();
    send_sync_static::<AuthEndpointsLayer>();
    send_sync_static::<AccessGuardLayer>();
    send_sync_static::<AuthService>();
    send_sync_static::<AuthEndpoints<AuthService>>();
    send_sync_static::<AccessGuard<AuthService>>();
    clone::<TechCentrixAuth>();
    clone::<AuthService>();
    clone::<AccessGuard<AuthService>>();
}

#[test]
fn the_extension_traits_are_object_safe_and_shareable() {
    send_sync_static::<Arc<dyn ApiKeyValidator>>();
    send_sync_static::<Arc<dyn UserStore>>();
    send_sync_static::<Arc<dyn ReplayLedger>>();
    send_sync_static::<Arc<dyn SessionStore>>();
    send_sync_static::<Arc<dyn ApiKeyAdmin>>();
    send_sync_static::<Arc<dyn UserCount>>();
}

#[test]
fn response_futures_are_send() {
    let auth = TechCentrixAuth::builder()
        .api_keys(techcentrix_auth::MemoryApiKeyValidator::new())
        .signing_keys(techcentrix_auth::token::SigningKeys::hs512(
            techcentrix_auth::JwtSecret::generate(),
        ))
        .build()
        .unwrap();
    let mut service = auth.service();
    let future = service.call(Request::new(Full::new(Bytes::new())));
    send(&future);
    let mut guarded = tower::Layer::layer(&auth.guard(), auth.service());
    let future = guarded.call(Request::new(Full::new(Bytes::new())));
    send(&future);
}
