//! `SigningKeys::verify` (HS512) on arbitrary text, never a panic. The first byte picks how
//! the rest is used, so that mutations reach past the signature check:
//! - `0` (any byte ≡ 0 mod 4): the rest is the token, as is. Whatever verifies must be a
//!   oneTimeToken of the expected issuer and app that has not expired.
//! - `1`: a valid token with the rest appended. Anything appended must make it fail: a
//!   token has one spelling only.
//! - `2`: the rest is the claims JSON, under a valid header and signed with the key: the
//!   claims parser and checks. Whatever verifies holds the expected claims.
//! - `3`: the rest is the header JSON, over valid claims and signed with the key: the
//!   header parser and the `kid`/`alg` match. Whatever verifies names our `kid` and HS512.
#![no_main]

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sha2::Sha512;
use techcentrix_auth::JwtSecret;
use techcentrix_auth::token::{Claims, Expected, SigningKeys, TokenKind};

const SECRET: &[u8] = b"fuzz-secret-fuzz-secret-fuzz-secret-0123456789";
const ISSUER: &str = "techcentrix-auth";
const APP: &str = "acme";

struct Fixture {
    keys: SigningKeys,
    /// A token that verifies (one-time, for `APP`, expiring in a century).
    valid: String,
    /// Its header and claims segments, base64url.
    header_b64: String,
    claims_b64: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let keys = SigningKeys::hs512(JwtSecret::new(SECRET.to_vec()).unwrap());
        let claims = Claims::new(
            TokenKind::OneTime,
            "user-1".into(),
            APP.into(),
            ISSUER,
            now(),
            100 * 365 * 86_400,
        );
        let valid = keys.sign(&claims).unwrap();
        keys.verify(&valid, &expected())
            .expect("the fixture's token verifies");
        let mut parts = valid.split('.');
        let header_b64 = parts.next().unwrap().to_owned();
        let claims_b64 = parts.next().unwrap().to_owned();
        Fixture {
            keys,
            valid,
            header_b64,
            claims_b64,
        }
    })
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn expected() -> Expected<'static> {
    Expected {
        kind: TokenKind::OneTime,
        issuer: ISSUER,
        audience: Some(APP),
        leeway: 5,
    }
}

/// `header.claims.signature`, HS512-signed with the fixture's secret.
fn signed(header_b64: &str, claims_b64: &str) -> String {
    let signing_input = format!("{header_b64}.{claims_b64}");
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(SECRET).unwrap();
    mac.update(signing_input.as_bytes());
    let signature = B64.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

fn assert_holds(claims: &Claims, token: &str) {
    assert_eq!(claims.kind, TokenKind::OneTime, "accepted {token:?}");
    assert_eq!(claims.iss, ISSUER, "accepted {token:?}");
    assert_eq!(claims.aud.as_str(), APP, "accepted {token:?}");
    assert!(
        claims.exp.saturating_add(5) >= now(),
        "accepted an expired token {token:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let fixture = fixture();
    let expected = expected();
    match mode % 4 {
        0 => {
            let Ok(token) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok(claims) = fixture.keys.verify(token, &expected) {
                assert_holds(&claims, token);
            }
        }
        1 => {
            let Ok(suffix) = std::str::from_utf8(rest) else {
                return;
            };
            let token = format!("{}{suffix}", fixture.valid);
            let verdict = fixture.keys.verify(&token, &expected);
            if suffix.is_empty() {
                assert!(verdict.is_ok(), "the valid token was refused: {verdict:?}");
            } else {
                assert!(verdict.is_err(), "accepted the valid token + {suffix:?}");
            }
        }
        2 => {
            let token = signed(&fixture.header_b64, &B64.encode(rest));
            if let Ok(claims) = fixture.keys.verify(&token, &expected) {
                assert_holds(&claims, &token);
                // And the claims are those of the JSON that was signed. (`serde_json::Value`
                // refuses some JSON that skipping unknown fields lets through, such as
                // `1e400`: the profile_differential target is about that, not this one.)
                if let Ok(json) = serde_json::from_slice::<Value>(rest) {
                    assert_eq!(json["sub"].as_str(), Some(claims.sub.as_str()));
                    assert_eq!(json["jti"].as_str(), Some(claims.jti.as_str()));
                }
            }
        }
        _ => {
            let token = signed(&B64.encode(rest), &fixture.claims_b64);
            if let Ok(claims) = fixture.keys.verify(&token, &expected) {
                assert_holds(&claims, &token);
                if let Ok(header) = serde_json::from_slice::<Value>(rest) {
                    assert_eq!(header["alg"], "HS512", "accepted header {header}");
                    assert_eq!(
                        header["kid"],
                        fixture.keys.kid(),
                        "accepted header {header}"
                    );
                }
            }
        }
    }
});
