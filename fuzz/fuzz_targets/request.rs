//! Arbitrary requests through the public tower service (`TechCentrixAuth::service()`, in
//! memory stores, one current-thread runtime for the process).
//!
//! Input, made to be written by hand and mutated:
//! ```text
//! MPF<anything up to the end of the line>\n
//! Name: value\n            (any number of header lines)
//! \n
//! body
//! ```
//! - `M`, the method: `(M - '0') % 7` into GET, POST, HEAD, PUT, DELETE, OPTIONS, PATCH;
//! - `P`, the path: `(P - '0') % 6` into the external, token, refresh, sign-out and JWKS
//!   paths, and `/me` (not ours: passed to the inner service);
//! - `F`, the framing of the body: `(F - '0') % 64`, 0 for one frame of known size, else
//!   frames of that many bytes and no size known (as a chunked body);
//! - headers that are not a valid name or value are left out; a name may repeat;
//! - in header values and the body, `$KEY` and `$KEY2` become the API keys of apps `acme`
//!   and `other`, `$OTT` a fresh oneTimeToken for a user of `acme`, `$ACC` and `$RT` the
//!   access and refresh tokens of a session just opened by redeeming one.
//!
//! Asserts: no panic; never a 5xx; on our paths every non-2xx answer is
//! `application/json` with exactly `message` (a string) and `errorCode` (the number the
//! SPEC §3 table gives for the status), `WWW-Authenticate: Bearer…` on 401, `Allow` on 405,
//! `Retry-After` on 429; a 200 from the external endpoint carries a oneTimeToken that
//! verifies, from redemption or refresh an access token that verifies; no answer ever holds
//! an API key, the signing secret or the refresh token sent; any other path reaches the
//! inner service untouched (its empty 404).
//!
//! With `FUZZ_DEBUG` set in the environment, each answer is printed to stderr.
#![no_main]

mod common;

use bytes::Bytes;
use common::{FuzzBody, KEY, OTHER_KEY, SECRET, harness};
use http::{HeaderName, HeaderValue, Method, Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use techcentrix_auth::token::TokenKind;

const METHODS: [Method; 7] = [
    Method::GET,
    Method::POST,
    Method::HEAD,
    Method::PUT,
    Method::DELETE,
    Method::OPTIONS,
    Method::PATCH,
];

const PATHS: [&str; 6] = [
    "/user/api/auth/external",
    "/user/api/auth/token",
    "/user/api/auth/refresh",
    "/user/api/auth/sign-out",
    "/.well-known/jwks.json",
    "/me",
];

/// The tokens the placeholders stand for in one input.
#[derive(Default)]
struct Tokens {
    session: Option<(String, String)>,
}

impl Tokens {
    /// The access and refresh tokens of a fresh session of the guide's user.
    fn session(&mut self) -> &(String, String) {
        self.session.get_or_insert_with(|| {
            let h = harness();
            let body = format!(r#"{{"oneTimeToken":"{}"}}"#, h.one_time_token());
            let request = Request::post(PATHS[1])
                .header("content-type", "application/json")
                .header("x-techcentrix-app-id", "acme")
                .body(FuzzBody::full(Bytes::from(body)))
                .unwrap();
            let (parts, body) = h.call(request);
            assert_eq!(parts.status, 200, "redeeming a fresh token: {body:?}");
            let json: Value = serde_json::from_slice(&body).unwrap();
            (
                json["accessToken"].as_str().unwrap().to_owned(),
                json["refreshToken"].as_str().unwrap().to_owned(),
            )
        })
    }

    /// `bytes` with its placeholders replaced.
    fn substitute(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len());
        let mut rest = bytes;
        while let Some(at) = rest.iter().position(|&b| b == b'$') {
            out.extend_from_slice(&rest[..at]);
            rest = &rest[at..];
            // The longest name first: `$KEY2` before `$KEY`.
            let (name_len, value): (usize, String) = if rest.starts_with(b"$KEY2") {
                (5, OTHER_KEY.to_owned())
            } else if rest.starts_with(b"$KEY") {
                (4, KEY.to_owned())
            } else if rest.starts_with(b"$OTT") {
                (4, harness().one_time_token())
            } else if rest.starts_with(b"$ACC") {
                (4, self.session().0.clone())
            } else if rest.starts_with(b"$RT") {
                (3, self.session().1.clone())
            } else {
                (1, "$".to_owned())
            };
            out.extend_from_slice(value.as_bytes());
            rest = &rest[name_len..];
        }
        out.extend_from_slice(rest);
        out
    }
}

/// Whether `FUZZ_DEBUG` is set: then each answer is printed (to check what seeds reach).
fn debug() -> bool {
    static DEBUG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("FUZZ_DEBUG").is_some())
}

fn selector(byte: Option<&u8>, n: usize) -> usize {
    usize::from(byte.copied().unwrap_or(b'0').wrapping_sub(b'0')) % n
}

/// The errorCode SPEC §3 gives to a status.
fn error_codes(status: StatusCode) -> &'static [u64] {
    match status.as_u16() {
        400 => &[1],
        401 => &[4, 5],
        405 => &[8],
        413 => &[3],
        415 => &[2],
        429 => &[6],
        503 => &[7],
        _ => &[],
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fuzz_target!(|data: &[u8]| {
    let method = METHODS[selector(data.first(), METHODS.len())].clone();
    let path_index = selector(data.get(1), PATHS.len());
    let path = PATHS[path_index];
    let chunk = selector(data.get(2), 64);
    let rest = match data.iter().position(|&b| b == b'\n') {
        Some(at) => &data[at + 1..],
        None => &[][..],
    };

    let mut tokens = Tokens::default();
    let mut builder = Request::builder().method(method.clone()).uri(path);
    let mut body: &[u8] = &[];
    let mut lines = rest;
    loop {
        let (line, next) = match lines.iter().position(|&b| b == b'\n') {
            Some(at) => (&lines[..at], &lines[at + 1..]),
            None => (lines, &[][..]),
        };
        if line.is_empty() {
            body = next;
            break;
        }
        lines = next;
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let Ok(name) = HeaderName::from_bytes(line[..colon].trim_ascii()) else {
            continue;
        };
        let value = tokens.substitute(line[colon + 1..].trim_ascii_start());
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            builder = builder.header(name, value);
        }
        if lines.is_empty() {
            break;
        }
    }
    let body = Bytes::from(tokens.substitute(body));
    let body = if chunk == 0 {
        FuzzBody::full(body)
    } else {
        FuzzBody::chunked(body, chunk)
    };
    let request = builder.body(body).expect("a valid request");

    let h = harness();
    let (parts, body) = h.call(request);
    let status = parts.status;
    let headers = &parts.headers;
    let shown = || format!("{method} {path} -> {status} {headers:?} {body:?}");
    if debug() {
        eprintln!("{}", shown());
    }

    assert!(!status.is_server_error(), "5xx: {}", shown());

    let mut secrets: Vec<&[u8]> = vec![KEY.as_bytes(), OTHER_KEY.as_bytes(), SECRET];
    if let Some((_, refresh)) = &tokens.session {
        secrets.push(refresh.as_bytes());
    }
    for secret in &secrets {
        assert!(
            !contains(&body, secret),
            "a secret in the body: {}",
            shown()
        );
        for value in headers.values() {
            assert!(
                !contains(value.as_bytes(), secret),
                "a secret in a header: {}",
                shown()
            );
        }
    }

    if path_index == PATHS.len() - 1 {
        assert_eq!(status, 404, "not passed through: {}", shown());
        assert!(body.is_empty(), "not passed through: {}", shown());
        return;
    }

    if status.is_success() {
        match path_index {
            0 => {
                assert_eq!(status, 200, "{}", shown());
                assert_eq!(headers["cache-control"], "no-store", "{}", shown());
                let token = if headers["content-type"] == "application/json" {
                    let json: Value = serde_json::from_slice(&body).expect("JSON answer");
                    json["oneTimeToken"]
                        .as_str()
                        .expect("oneTimeToken")
                        .to_owned()
                } else {
                    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
                    String::from_utf8(body.to_vec()).expect("a UTF-8 token")
                };
                assert!(
                    h.verify(&token, TokenKind::OneTime).is_some(),
                    "a oneTimeToken that does not verify: {}",
                    shown()
                );
            }
            1 | 2 => {
                assert_eq!(status, 200, "{}", shown());
                assert_eq!(headers["cache-control"], "no-store", "{}", shown());
                let json: Value = serde_json::from_slice(&body).expect("JSON answer");
                assert_eq!(json["tokenType"], "Bearer", "{}", shown());
                let access = json["accessToken"].as_str().expect("accessToken");
                assert!(
                    h.verify(access, TokenKind::Access).is_some(),
                    "an access token that does not verify: {}",
                    shown()
                );
                assert!(json["refreshToken"].is_string(), "{}", shown());
            }
            3 => assert_eq!(status, 204, "{}", shown()),
            _ => assert_eq!(status, 200, "{}", shown()),
        }
        return;
    }

    // An error of ours: JSON with exactly `message` and `errorCode`.
    let content_type = headers.get("content-type").map(HeaderValue::as_bytes);
    assert_eq!(content_type, Some(&b"application/json"[..]), "{}", shown());
    let json: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("an error body that is not JSON ({e}): {}", shown()));
    let object = json.as_object().expect("an error body that is an object");
    assert_eq!(
        object.len(),
        2,
        "other fields than message and errorCode: {}",
        shown()
    );
    assert!(
        object.get("message").is_some_and(Value::is_string),
        "{}",
        shown()
    );
    let code = object
        .get("errorCode")
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no numeric errorCode: {}", shown()));
    assert!(
        error_codes(status).contains(&code),
        "errorCode {code} for status {status}: {}",
        shown()
    );
    match status.as_u16() {
        401 => assert!(
            headers
                .get("www-authenticate")
                .is_some_and(|v| v.as_bytes().starts_with(b"Bearer")),
            "401 without WWW-Authenticate: Bearer: {}",
            shown()
        ),
        405 => assert!(
            headers.contains_key("allow"),
            "405 without Allow: {}",
            shown()
        ),
        429 | 503 => assert!(
            headers.contains_key("retry-after"),
            "{status} without Retry-After: {}",
            shown()
        ),
        _ => {}
    }
});
