//! Just enough JWT for the kit: split and decode, verify and forge HS512, tamper.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha512;

/// A decoded compact JWT.
#[derive(Clone, Debug)]
pub(crate) struct Jwt {
    pub(crate) header: Map<String, Value>,
    pub(crate) claims: Map<String, Value>,
    pub(crate) signing_input: String,
    pub(crate) signature: Vec<u8>,
}

fn segment(part: &str, what: &str) -> Result<Map<String, Value>, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| format!("the {what} is not unpadded base64url"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(format!("the {what} is not a JSON object")),
    }
}

impl Jwt {
    /// Decodes `token` (no verification).
    pub(crate) fn decode(token: &str) -> Result<Jwt, String> {
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() != 3 {
            return Err(format!(
                "not a compact JWT ({} segments, expected 3)",
                parts.len()
            ));
        }
        if let Some(bad) = token
            .bytes()
            .find(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
        {
            return Err(format!("byte {bad:#04x} outside base64url and '.'"));
        }
        Ok(Jwt {
            header: segment(parts[0], "header")?,
            claims: segment(parts[1], "payload")?,
            signing_input: format!("{}.{}", parts[0], parts[1]),
            signature: URL_SAFE_NO_PAD
                .decode(parts[2])
                .map_err(|_| "the signature is not unpadded base64url".to_string())?,
        })
    }

    /// Whether the HS512 signature verifies with `secret`.
    pub(crate) fn verify_hs512(&self, secret: &[u8]) -> bool {
        let mut mac = Hmac::<Sha512>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(self.signing_input.as_bytes());
        mac.verify_slice(&self.signature).is_ok()
    }

    pub(crate) fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    pub(crate) fn int_claim(&self, name: &str) -> Option<i64> {
        self.claims.get(name).and_then(Value::as_i64)
    }
}

fn encode_json(map: &Map<String, Value>) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(map).expect("a JSON map serializes"))
}

/// A token of `header` and `claims` signed HS512 with `secret`.
pub(crate) fn sign_hs512(
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
    secret: &[u8],
) -> String {
    let input = format!("{}.{}", encode_json(header), encode_json(claims));
    let mut mac = Hmac::<Sha512>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

/// `claims` under `alg: none`, with an empty signature.
pub(crate) fn unsigned(claims: &Map<String, Value>) -> String {
    let mut header = Map::new();
    header.insert("alg".into(), "none".into());
    header.insert("typ".into(), "JWT".into());
    format!("{}.{}.", encode_json(&header), encode_json(claims))
}

/// `token` with the first character of its signature changed.
pub(crate) fn tampered(token: &str) -> String {
    let dot = token.rfind('.').map_or(0, |i| i + 1);
    let mut bytes = token.as_bytes().to_vec();
    if let Some(b) = bytes.get_mut(dot) {
        *b = if *b == b'A' { b'B' } else { b'A' };
    }
    String::from_utf8(bytes).expect("ASCII stays ASCII")
}

/// `token` with its payload replaced by `claims` and its signature kept (so it no longer
/// verifies): a token that only looks like, e.g., an expired one.
pub(crate) fn repayloaded(token: &str, claims: &Map<String, Value>) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!(
        "{}.{}.{}",
        parts[0],
        encode_json(claims),
        parts.get(2).copied().unwrap_or("")
    )
}
