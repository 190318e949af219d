//! `GET /.well-known/jwks.json`: the public keys of the asymmetric signing keys.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response};
use http_body_util::Full;

use super::respond::require_method;
use crate::Error;
use crate::auth::Shared;

pub(super) fn handle<B>(
    shared: &Shared,
    request: Request<B>,
) -> Result<Response<Full<Bytes>>, Error> {
    require_method(request.method(), &[Method::GET, Method::HEAD], "GET, HEAD")?;
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
