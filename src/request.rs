//! Reading a request: the bearer key, the content type, the size-limited body and the
//! external profile in it.

use std::borrow::Cow;
use std::fmt;

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use http_body::Body;
use http_body_util::BodyExt;
use serde::Deserialize;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::store::ExternalProfile;
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
pub(crate) async fn read_limited<B>(
    headers: &HeaderMap,
    body: B,
    limit: usize,
) -> Result<Bytes, Error>
where
    B: Body,
    B::Error: Into<BoxError>,
{
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
    let mut body = std::pin::pin!(body);
    // The common case is a body in one frame: keep it as it came, without a copy.
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| Error::Malformed(format!("could not read body: {}", e.into())))?;
        let Ok(mut data) = frame.into_data() else {
            continue;
        };
        total += data.remaining();
        if total > limit {
            return Err(Error::PayloadTooLarge);
        }
        let chunk = data.copy_to_bytes(data.remaining());
        match first.take() {
            None if rest.is_empty() => first = Some(chunk),
            None => rest.extend_from_slice(&chunk),
            Some(head) => {
                rest.extend_from_slice(&head);
                rest.extend_from_slice(&chunk);
            }
        }
    }
    Ok(first.unwrap_or_else(|| rest.freeze()))
}

/// The body's known fields. Each is read as a JSON value so that a missing, `null` or
/// mistyped field gets a message naming it; a duplicated field is refused by serde.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProfileBody<'a> {
    #[serde(default, borrow)]
    id: Text<'a>,
    #[serde(default, borrow)]
    email: Text<'a>,
    #[serde(default, borrow)]
    first_name: Text<'a>,
}

/// `Content-Type` (415), then size (413): the body of a JSON endpoint.
pub(crate) async fn read_json<B>(headers: &HeaderMap, body: B, limit: usize) -> Result<Bytes, Error>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    if !is_json(headers) {
        return Err(Error::UnsupportedMediaType);
    }
    read_limited(headers, body, limit).await
}

/// Parses a body that must be a JSON object into `T` (400/1 otherwise). Unknown fields are
/// ignored; a duplicated known field is refused.
pub(crate) fn parse_object<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, Error> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(Error::Malformed("body must be a JSON object".into()));
    }
    serde_json::from_slice(body).map_err(|e| {
        let detail = e.to_string();
        // serde_json appends " at line L column C"; the position adds nothing for a
        // one-line body and the message reads better without it.
        let detail = match detail.rfind(" at line ") {
            Some(at) => detail[..at].to_owned(),
            None => detail,
        };
        Error::Malformed(detail)
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RedeemBody<'a> {
    #[serde(default, borrow)]
    one_time_token: Text<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshBody<'a> {
    #[serde(default, borrow)]
    refresh_token: Text<'a>,
}

/// The token of `{"oneTimeToken": "<jwt>"}`, borrowed from the body.
pub(crate) fn one_time_token(body: &[u8]) -> Result<Cow<'_, str>, Error> {
    string_field(
        "oneTimeToken",
        parse_object::<RedeemBody<'_>>(body)?.one_time_token,
    )
}

/// The token of `{"refreshToken": "<token>"}`, borrowed from the body.
pub(crate) fn refresh_token(body: &[u8]) -> Result<Cow<'_, str>, Error> {
    string_field(
        "refreshToken",
        parse_object::<RefreshBody<'_>>(body)?.refresh_token,
    )
}

/// Parses and checks the body of `POST /user/api/auth/external` (SPEC §2).
pub(crate) fn external_profile(body: &[u8]) -> Result<ExternalProfile, Error> {
    let parsed: ProfileBody<'_> = parse_object(body)?;
    let id = string_field("id", parsed.id)?.into_owned();
    let email = string_field("email", parsed.email)?.into_owned();
    let first_name = string_field("firstName", parsed.first_name)?.into_owned();
    check_id(&id)?;
    check_email(&email)?;
    check_first_name(&first_name)?;
    Ok(ExternalProfile {
        external_id: id,
        email,
        first_name,
    })
}

fn string_field<'a>(name: &str, value: Text<'a>) -> Result<Cow<'a, str>, Error> {
    match value {
        Text::String(s) => Ok(s),
        Text::Absent => Err(Error::Malformed(format!(
            "`{name}` is required and must be a string"
        ))),
        Text::Other => Err(Error::Malformed(format!("`{name}` must be a string"))),
    }
}

/// A body field that must be a string, as found: the string (borrowed from the body unless
/// it has escapes), absent or `null`, or another kind of value (the error names which).
#[derive(Default)]
enum Text<'a> {
    #[default]
    Absent,
    String(Cow<'a, str>),
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor(std::marker::PhantomData))
    }
}

struct TextVisitor<'a>(std::marker::PhantomData<Text<'a>>);

impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
    type Value = Text<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Text<'a>, E> {
        Ok(Text::String(Cow::Borrowed(value)))
    }

    fn visit_str<E>(self, value: &str) -> Result<Text<'a>, E> {
        Ok(Text::String(Cow::Owned(value.to_owned())))
    }

    fn visit_string<E>(self, value: String) -> Result<Text<'a>, E> {
        Ok(Text::String(Cow::Owned(value)))
    }

    fn visit_unit<E>(self) -> Result<Text<'a>, E> {
        Ok(Text::Absent)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Text<'a>, E> {
        Ok(Text::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Text<'a>, E> {
        Ok(Text::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Text<'a>, E> {
        Ok(Text::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Text<'a>, E> {
        Ok(Text::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text<'a>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Text::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text<'a>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Text::Other)
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

fn check_id(id: &str) -> Result<(), Error> {
    if id.is_empty() || id.len() > 128 {
        return Err(Error::Malformed("`id` must be 1 to 128 bytes".into()));
    }
    if has_control(id) {
        return Err(Error::Malformed(
            "`id` must not contain control characters".into(),
        ));
    }
    Ok(())
}

fn check_email(email: &str) -> Result<(), Error> {
    let invalid = |why: &str| Err(Error::Malformed(format!("`email` {why}")));
    if email.len() > 254 {
        return invalid("must be at most 254 bytes");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid("must not contain whitespace or control characters");
    }
    let mut parts = email.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return invalid("must be local@domain with exactly one `@`");
    };
    if local.is_empty() || domain.is_empty() {
        return invalid("must be local@domain with both parts non-empty");
    }
    if local.len() > 64 {
        return invalid("local part must be at most 64 bytes");
    }
    Ok(())
}

fn check_first_name(name: &str) -> Result<(), Error> {
    if name.len() > 128 {
        return Err(Error::Malformed(
            "`firstName` must be at most 128 bytes".into(),
        ));
    }
    if has_control(name) {
        return Err(Error::Malformed(
            "`firstName` must not contain control characters".into(),
        ));
    }
    Ok(())
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
    fn tokens_are_read_borrowed_unless_escaped() {
        let body = br#"{"oneTimeToken":"a.b.c","other":[1,{"x":null}]}"#;
        assert!(matches!(one_time_token(body), Ok(Cow::Borrowed("a.b.c"))));
        let escaped = br#"{"refreshToken":"a\u002eb"}"#;
        assert!(matches!(refresh_token(escaped), Ok(Cow::Owned(t)) if t == "a.b"));
    }

    #[test]
    fn a_token_that_is_not_a_string_is_named() {
        let message = |body: &[u8]| match one_time_token(body) {
            Err(Error::Malformed(message)) => message,
            other => panic!("{other:?}"),
        };
        for body in [&b"{}"[..], br#"{"oneTimeToken":null}"#] {
            assert_eq!(
                message(body),
                "`oneTimeToken` is required and must be a string"
            );
        }
        for body in [
            &br#"{"oneTimeToken":5}"#[..],
            br#"{"oneTimeToken":true}"#,
            br#"{"oneTimeToken":-1.5}"#,
            br#"{"oneTimeToken":["a"]}"#,
            br#"{"oneTimeToken":{"a":"b"}}"#,
        ] {
            assert_eq!(message(body), "`oneTimeToken` must be a string");
        }
        assert!(message(br#"{"oneTimeToken":"a","oneTimeToken":"b"}"#).contains("duplicate"));
        assert!(matches!(one_time_token(b"[]"), Err(Error::Malformed(_))));
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

    #[test]
    fn emails() {
        for ok in [
            "a@b",
            "user1@techcentrix.com",
            &format!("{}@x", "l".repeat(64)),
        ] {
            assert!(check_email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ab",
            "@b",
            "a@",
            "a@b@c",
            "a b@c",
            "a@b\u{7}",
            &format!("{}@x", "l".repeat(65)),
            &format!("a@{}", "d".repeat(253)),
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn profile_rejects_duplicates_nulls_and_arrays() {
        let dup = br#"{"id":"a","id":"b","email":"a@b","firstName":""}"#;
        assert!(external_profile(dup).is_err());
        let null = br#"{"id":null,"email":"a@b","firstName":""}"#;
        assert!(external_profile(null).is_err());
        let array = br#"["a","a@b",""]"#;
        assert!(external_profile(array).is_err());
        let extra = br#"{"id":"a","email":"a@b","firstName":"","lastName":"x"}"#;
        assert!(external_profile(extra).is_ok());
    }
}
