use base64::Engine;
use hmac::{Hmac, Mac};
use jsonwebtoken::Validation;
use sha2::Sha512;

use super::{Claims, SigningKeys, TokenKind};

/// What a token must be to be accepted.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// The `type` claim.
    pub kind: TokenKind,
    /// The `iss` claim.
    pub issuer: &'a str,
    /// The `aud` claim, when one app is expected; `None` accepts any app.
    pub audience: Option<&'a str>,
    /// Seconds of clock skew allowed past `exp`.
    pub leeway: u64,
}

/// Why a token was refused. Clients never see the reason (every refusal is the same 401);
/// it is for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejected {
    /// Not a well-formed JWT, or no `kid` in its header.
    #[error("malformed token")]
    Malformed,
    /// The `kid` names no live key.
    #[error("unknown key id")]
    UnknownKey,
    /// The header's `alg` is not the algorithm of the key its `kid` names.
    #[error("algorithm does not match the key")]
    WrongAlgorithm,
    /// The signature, `exp`, `iss`, `aud` or a required claim failed.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The `type` claim is not the expected one.
    #[error("wrong token type")]
    WrongType,
}

impl SigningKeys {
    /// Verifies a compact JWT: the key its `kid` names, that key's algorithm only, the
    /// signature, `exp` (with leeway), `iss`, `aud` and `type`.
    ///
    /// ```
    /// use techcentrix_auth::token::{Claims, Expected, SigningKeys, TokenKind};
    /// use techcentrix_auth::JwtSecret;
    ///
    /// let keys = SigningKeys::hs512(JwtSecret::generate());
    /// let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    /// let claims = Claims::new(TokenKind::OneTime, "u".into(), "acme".into(), "iss", now, 60);
    /// let jwt = keys.sign(&claims).unwrap();
    /// let expect = Expected { kind: TokenKind::OneTime, issuer: "iss", audience: Some("acme"), leeway: 5 };
    /// assert_eq!(keys.verify(&jwt, &expect).unwrap(), claims);
    /// let access = Expected { kind: TokenKind::Access, ..expect };
    /// assert!(keys.verify(&jwt, &access).is_err());
    /// ```
    pub fn verify(&self, token: &str, expected: &Expected<'_>) -> Result<Claims, Rejected> {
        let header = TokenHeader::of(token)?;
        let key = self.find(&header.kid).ok_or(Rejected::UnknownKey)?;
        if header.alg != key.algorithm {
            return Err(Rejected::WrongAlgorithm);
        }
        if let Some(hmac) = &key.hmac {
            return verify_hs512(token, hmac, expected);
        }
        let mut validation = Validation::new(key.algorithm);
        validation.leeway = expected.leeway;
        validation.set_issuer(&[expected.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        match expected.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map_err(|e| Rejected::Invalid(e.to_string()))?;
        if data.claims.kind != expected.kind {
            return Err(Rejected::WrongType);
        }
        Ok(data.claims)
    }
}

/// The two header fields verification reads. An unknown `alg` (`none` included) does not
/// parse: the token is malformed.
#[derive(serde::Deserialize)]
struct TokenHeader {
    alg: jsonwebtoken::Algorithm,
    kid: String,
}

impl TokenHeader {
    fn of(token: &str) -> Result<TokenHeader, Rejected> {
        let (header, _) = token.split_once('.').ok_or(Rejected::Malformed)?;
        let mut json = [0u8; 512];
        let length = B64
            .decode_slice(header, &mut json)
            .map_err(|_| Rejected::Malformed)?;
        serde_json::from_slice(&json[..length]).map_err(|_| Rejected::Malformed)
    }
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// HS512 with the key's precomputed HMAC state: the signature (constant-time), then the
/// claims jsonwebtoken would check for the other algorithms: `exp` with leeway, `iss`,
/// `aud`, and `type`. `exp`, `iss`, `aud` and `sub` are required by [`Claims`] itself.
fn verify_hs512(
    token: &str,
    hmac: &Hmac<Sha512>,
    expected: &Expected<'_>,
) -> Result<Claims, Rejected> {
    let (signed, signature) = token.rsplit_once('.').ok_or(Rejected::Malformed)?;
    let (_, payload) = signed.split_once('.').ok_or(Rejected::Malformed)?;
    let mut signature_bytes = [0u8; 64];
    let length = B64
        .decode_slice(signature, &mut signature_bytes)
        .map_err(|_| Rejected::Invalid("signature is not base64url".into()))?;
    let mut mac = hmac.clone();
    mac.update(signed.as_bytes());
    mac.verify_slice(&signature_bytes[..length])
        .map_err(|_| Rejected::Invalid("bad signature".into()))?;
    let json = B64
        .decode(payload)
        .map_err(|_| Rejected::Invalid("claims are not base64url".into()))?;
    let claims: Claims =
        serde_json::from_slice(&json).map_err(|e| Rejected::Invalid(e.to_string()))?;
    let now = crate::sync::unix_seconds();
    if claims.exp.saturating_add(expected.leeway) < now {
        return Err(Rejected::Invalid("expired".into()));
    }
    if claims.iss != expected.issuer {
        return Err(Rejected::Invalid("other issuer".into()));
    }
    if expected
        .audience
        .is_some_and(|aud| claims.aud.as_str() != aud)
    {
        return Err(Rejected::Invalid("other audience".into()));
    }
    if claims.kind != expected.kind {
        return Err(Rejected::WrongType);
    }
    Ok(claims)
}
