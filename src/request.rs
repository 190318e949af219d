//! Reading a request's HTTP: the bearer key, the content type, the accepted answer and the
//! size-limited body ([`crate::bodies`] reads the fields of the body).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use http_body::Body;
use http_body_util::combinators::Collect;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::{ApiKey, BoxError, Error};

/// The credential of `Authorization: Bearer <credential>`; the scheme is matched
/// case-insensitively and exactly one space separates it from the credential.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let value = value.to_str().ok()?;
    let (scheme, credential) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case("bearer ") {
        return None;
    }
    let valid = !credential.is_empty() && credential.bytes().all(|b| b.is_ascii_graphic());
    valid.then_some(credential)
}

/// The API key of the request, if it carries one that is well-formed.
pub(crate) fn api_key(headers: &HeaderMap) -> Option<ApiKey> {
    bearer(headers).map(ApiKey::new)
}

/// Whether the `Content-Type` is `application/json` (parameters allowed).
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// Whether the client asked for the JSON form: `Accept` names `application/json` and does
/// not name `text/plain` (wildcards name neither).
pub(crate) fn wants_json(headers: &HeaderMap) -> bool {
    let mut json = false;
    for value in headers.get_all(ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let essence = range.split(';').next().unwrap_or("").trim();
            if essence.eq_ignore_ascii_case("text/plain") {
                return false;
            }
            json |= essence.eq_ignore_ascii_case("application/json");
        }
    }
    json
}

/// Reads the whole body, refusing (413) as soon as it is known to be over `limit` bytes:
/// from `Content-Length` before reading, or while reading however it is framed.
pub(crate) fn read_limited<B>(headers: &HeaderMap, body: B, limit: usize) -> ReadBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    match fits(headers, &body, limit) {
        // http-body-util's reader: a hand-written one saved about 1 % of a sign-in
        // (`cargo bench --bench ratios --features fuzzing`, BENCHMARKS.md), not worth its code.
        Ok(()) => ReadBody::Reading {
            collect: Limited::new(body, limit).collect(),
        },
        Err(refused) => ReadBody::Refused {
            refused: Some(refused),
        },
    }
}

/// 413 when the body is known before reading to be over `limit` bytes: its `Content-Length`
/// (400 when that is not a number) or its size hint.
fn fits<B: Body>(headers: &HeaderMap, body: &B, limit: usize) -> Result<(), Error> {
    if let Some(length) = headers.get(CONTENT_LENGTH) {
        let declared = length
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| Error::Malformed("invalid Content-Length".into()))?;
        if declared > limit as u64 {
            return Err(Error::PayloadTooLarge);
        }
    }
    if body.size_hint().lower() > limit as u64 {
        return Err(Error::PayloadTooLarge);
    }
    Ok(())
}

/// `Content-Type` (415), then size (413): the body of a JSON endpoint.
pub(crate) fn read_json<B>(headers: &HeaderMap, body: B, limit: usize) -> ReadBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    if !is_json(headers) {
        return ReadBody::Refused {
            refused: Some(Error::UnsupportedMediaType),
        };
    }
    read_limited(headers, body, limit)
}

pin_project_lite::pin_project! {
    /// A request's body read whole, or why it is refused: the future of [`read_limited`] and
    /// [`read_json`], made before it is first polled. As `async fn`s they kept the body they
    /// were given beside each future it moved into: five copies of it in the sign-in's
    /// future (1,264 bytes with the reference servers' body, past the 1,032 that glibc's
    /// per-thread cache serves; `-Zprint-type-sizes`), two now.
    #[project = ReadBodyProj]
    pub(crate) enum ReadBody<B>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        /// Reading, up to the limit.
        Reading { #[pin] collect: Collect<Limited<B>> },
        /// Refused before reading (taken when answered).
        Refused { refused: Option<Error> },
    }
}

impl<B> Future for ReadBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Output = Result<Bytes, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ReadBodyProj::Reading { collect } => collect.poll(cx).map(|read| {
                read.map(|collected| collected.to_bytes()).map_err(|e| {
                    if e.is::<LengthLimitError>() {
                        Error::PayloadTooLarge
                    } else {
                        Error::Malformed(format!("could not read body: {e}"))
                    }
                })
            }),
            ReadBodyProj::Refused { refused } => Poll::Ready(Err(refused
                .take()
                .unwrap_or_else(|| Error::Internal("a body read polled after it ended".into())))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(name: http::header::HeaderName, value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(name, HeaderValue::from_str(value).unwrap());
        map
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let h = headers(AUTHORIZATION, &format!("{scheme} abc"));
            assert_eq!(bearer(&h), Some("abc"), "{scheme}");
        }
    }

    #[test]
    fn bearer_refuses_other_shapes() {
        for value in [
            "Basic abc",
            "Bearer",
            "Bearer ",
            "Bearer  abc",
            "Bearerabc",
            "Bearer abc ",
        ] {
            assert_eq!(bearer(&headers(AUTHORIZATION, value)), None, "{value:?}");
        }
        assert_eq!(bearer(&HeaderMap::new()), None);
    }

    #[test]
    fn json_content_type_allows_parameters() {
        assert!(is_json(&headers(CONTENT_TYPE, "application/json")));
        assert!(is_json(&headers(
            CONTENT_TYPE,
            "Application/JSON; charset=utf-8"
        )));
        assert!(!is_json(&headers(CONTENT_TYPE, "text/plain")));
        assert!(!is_json(&headers(
            CONTENT_TYPE,
            "application/json-patch+json"
        )));
        assert!(!is_json(&HeaderMap::new()));
    }

    #[test]
    fn accept_negotiation() {
        assert!(wants_json(&headers(ACCEPT, "application/json")));
        assert!(wants_json(&headers(ACCEPT, "application/json, */*;q=0.1")));
        assert!(!wants_json(&headers(
            ACCEPT,
            "application/json, text/plain"
        )));
        assert!(!wants_json(&headers(ACCEPT, "*/*")));
        assert!(!wants_json(&HeaderMap::new()));
    }
}
