//! `GET /.well-known/jwks.json`: the public keys of the asymmetric signing keys.

use crate::AuthBody;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response};

use super::respond::Reply;
use crate::state::Shared;

pub(super) fn handle(shared: &Shared) -> Reply {
    let mut response = Response::new(AuthBody::new(shared.jwks.clone()));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    Ok(response)
}
