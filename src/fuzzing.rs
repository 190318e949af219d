//! Entry points for the cargo-fuzz targets in `fuzz/`: thin wrappers that reach functions
//! private to the crate. Compiled only with the feature `fuzzing` (in neither `default` nor
//! `full`) and hidden from the docs: not part of the API, may change at any time.

/// `bytes` as unpadded base64url, as the crate encodes tokens.
pub fn base64url_encode(bytes: &[u8]) -> String {
    crate::util::base64url::encode(bytes)
}

/// Appends `bytes` as unpadded base64url to `out`.
pub fn base64url_encode_append(bytes: &[u8], out: &mut Vec<u8>) {
    crate::util::base64url::encode_append(bytes, out);
}

/// The bytes `text` encodes; `None` if it is not strict unpadded base64url.
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    crate::util::base64url::decode(text)
}

/// Appends the bytes `text` encodes to `out`; `None` if it is not strict unpadded base64url.
pub fn base64url_decode_append(text: &str, out: &mut Vec<u8>) -> Option<()> {
    crate::util::base64url::decode_append(text, out)
}

/// Decodes `text` into `buf`; `None` if it is not strict unpadded base64url or does not fit.
pub fn base64url_decode_into<'b>(text: &str, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    crate::util::base64url::decode_into(text, buf)
}

// The benches' entry points (`benches/ratios.rs`, the hand-written code against the
// libraries that could replace it).

/// Appends the JSON of a token's claims as the crate writes them when it issues a token
/// (`util::json`, the calls of `ClaimsRef::write_json` in `token/claims.rs`), with `auth`
/// as the roles: the same bytes as `serde_json::to_vec(claims)`.
pub fn claims_json(claims: &crate::token::Claims, auth: &[&str], out: &mut Vec<u8>) {
    use crate::token::TokenKind;
    let kind = match claims.kind {
        TokenKind::OneTime => "one_time",
        TokenKind::Access => "access",
    };
    let mut object = crate::util::json::Object::new(out);
    object
        .string("jti", claims.jti.as_str())
        .string("sub", claims.sub.as_str())
        .strings("auth", auth)
        .string("type", kind)
        .string("iss", &claims.iss)
        .string("aud", claims.aud.as_str())
        .number("iat", claims.iat)
        .number("exp", claims.exp);
    if let Some(sid) = &claims.sid {
        object.string("sid", sid.as_str());
    }
    object.finish();
}

/// Appends the JSON answer of the external endpoint, `{"oneTimeToken":…,"expiresIn":…}`,
/// as the endpoint writes it (`util::json`); `token` is a JWT, which needs no escaping.
pub fn one_time_answer_json(token: &str, expires_in: u64, out: &mut Vec<u8>) {
    let mut object = crate::util::json::Object::new(out);
    object.plain_string_with("oneTimeToken", |out| {
        out.extend_from_slice(token.as_bytes())
    });
    object.number("expiresIn", expires_in);
    object.finish();
}
