//! `GET /.well-known/jwks.json`: the public keys of the asymmetric signing keys.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response};
use http_body_util::Full;

use super::respond::Reply;
use crate::Error;
use crate::auth::Shared;

pub(super) fn handle(shared: &Shared) -> Reply {
    let body = serde_json::to_vec(&shared.keys.jwks()).map_err(|e| Error::Internal(e.into()))?;
    let mut response = Response::new(Full::new(Bytes::from(body)));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    Ok(response)
}
