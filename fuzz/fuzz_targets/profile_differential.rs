//! The body of `POST /user/api/auth/external`, sent through the service with a valid key
//! and `Content-Type: application/json`, against two references:
//! - `serde_json`: a body the service accepts (200) must parse as a `serde_json::Value`;
//!   the panic message carries serde_json's reason, to tell JSON that is not JSON (bad
//!   UTF-8, a bad escape) from JSON that `Value` cannot hold (`1e400`, nesting past 128).
//! - SPEC §2 written out independently (`spec_verdict`): a body the service accepts must
//!   not be one the SPEC refuses, and a body the SPEC accepts must get a 200. Where the SPEC
//!   is silent or `Value` cannot hold the body, only the first check applies.
//! Any answer is 200, 400 or 413.
#![no_main]

mod common;

use std::fmt;

use bytes::Bytes;
use common::{FuzzBody, KEY, harness};
use http::Request;
use libfuzzer_sys::fuzz_target;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

/// What SPEC §2 says of a body.
#[derive(Debug, PartialEq)]
enum Verdict {
    Accept,
    Refuse(&'static str),
    /// The SPEC does not say (a duplicated unknown field), or `Value` cannot tell.
    Unsure(&'static str),
}

/// The top-level keys of an object, in order, escapes decoded.
struct Keys(Vec<String>);

impl<'de> serde::Deserialize<'de> for Keys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeysVisitor;
        impl<'de> Visitor<'de> for KeysVisitor {
            type Value = Keys;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some((key, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                    keys.push(key);
                }
                Ok(Keys(keys))
            }
        }
        deserializer.deserialize_map(KeysVisitor)
    }
}

const LIMIT: usize = 16 * 1024;

fn spec_verdict(body: &[u8]) -> Verdict {
    use Verdict::*;
    if body.len() > LIMIT {
        return Refuse("over the size limit");
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(e) => {
            let why = e.to_string();
            return if why.contains("number out of range") || why.contains("recursion limit") {
                Unsure("JSON that Value cannot hold")
            } else {
                Refuse("not JSON")
            };
        }
    };
    let Some(object) = value.as_object() else {
        return Refuse("not an object");
    };
    let keys = serde_json::from_slice::<Keys>(body)
        .expect("an object has keys")
        .0;
    for (i, key) in keys.iter().enumerate() {
        if keys[..i].contains(key) {
            return if ["id", "email", "firstName"].contains(&key.as_str()) {
                Refuse("a duplicated field")
            } else {
                Unsure("a duplicated unknown field")
            };
        }
    }
    let field = |name| object.get(name).and_then(Value::as_str);
    let (Some(id), Some(email), Some(first_name)) =
        (field("id"), field("email"), field("firstName"))
    else {
        return Refuse("a field missing, null or not a string");
    };
    let control = |s: &str| s.chars().any(char::is_control);
    if id.is_empty() || id.len() > 128 || control(id) {
        return Refuse("id");
    }
    if first_name.len() > 128 || control(first_name) {
        return Refuse("firstName");
    }
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Refuse("email");
    }
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && local.len() <= 64 => {}
        _ => return Refuse("email"),
    }
    Accept
}

fuzz_target!(|data: &[u8]| {
    let h = harness();
    let request = Request::post("/user/api/auth/external")
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json")
        .body(FuzzBody::full(Bytes::copy_from_slice(data)))
        .unwrap();
    let (parts, answer) = h.call(request);
    let status = parts.status.as_u16();
    assert!(
        matches!(status, 200 | 400 | 413),
        "status {status} for {:?}: {answer:?}",
        String::from_utf8_lossy(data)
    );
    let verdict = spec_verdict(data);
    if status == 200 {
        if let Err(e) = serde_json::from_slice::<Value>(data) {
            panic!(
                "accepted a body serde_json refuses ({e}): {:?}",
                String::from_utf8_lossy(data)
            );
        }
        assert!(
            !matches!(verdict, Verdict::Refuse(_)),
            "accepted a body SPEC §2 refuses ({verdict:?}): {:?}",
            String::from_utf8_lossy(data)
        );
    } else if verdict == Verdict::Accept {
        panic!(
            "refused ({status} {answer:?}) a body SPEC §2 accepts: {:?}",
            String::from_utf8_lossy(data)
        );
    }
});
