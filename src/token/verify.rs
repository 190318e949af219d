use std::borrow::Cow;

use hmac::{Hmac, Mac};
use sha2::Sha512;

use super::claims::ClaimsView;
use super::keys::Key;
use super::{Claims, SigningKeys, TokenKind};
use crate::util::base64url;

/// What a token must be to be accepted: built with [`Expected::new`], then the audience
/// and leeway set where they differ from "any app" and 0 s.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// The `type` claim.
    pub(crate) kind: TokenKind,
    /// The `iss` claim.
    pub(crate) issuer: &'a str,
    /// The `aud` claim, when one app is expected; `None` accepts any app.
    pub(crate) audience: Option<&'a str>,
    /// Seconds of clock skew allowed past `exp`.
    pub(crate) leeway: u64,
}

impl<'a> Expected<'a> {
    /// A token of `kind` from `issuer`, of any app, with no leeway.
    pub fn new(kind: TokenKind, issuer: &'a str) -> Self {
        Expected {
            kind,
            issuer,
            audience: None,
            leeway: 0,
        }
    }

    /// Only tokens of `app`.
    pub fn audience(mut self, app: &'a str) -> Self {
        self.audience = Some(app);
        self
    }

    /// `seconds` of clock skew allowed past `exp`.
    pub fn leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }
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
    /// let expect = Expected::new(TokenKind::OneTime, "iss").audience("acme").leeway(5);
    /// assert_eq!(keys.verify(&jwt, &expect).unwrap(), claims);
    /// let access = Expected::new(TokenKind::Access, "iss");
    /// assert!(keys.verify(&jwt, &access).is_err());
    /// ```
    pub fn verify(&self, token: &str, expected: &Expected<'_>) -> Result<Claims, Rejected> {
        let mut payload = Vec::new();
        self.verify_view(token, expected, &mut payload)
            .map(ClaimsView::into_claims)
    }

    /// [`SigningKeys::verify`] with the claims borrowed from `payload`, where the decoded
    /// claims are kept: nothing is copied that the caller does not copy itself.
    pub(crate) fn verify_view<'p>(
        &self,
        token: &str,
        expected: &Expected<'_>,
        payload: &'p mut Vec<u8>,
    ) -> Result<ClaimsView<'p>, Rejected> {
        let key = self.key_of(token)?;
        let (signed, signature) = token.rsplit_once('.').ok_or(Rejected::Malformed)?;
        let (_, claims) = signed.split_once('.').ok_or(Rejected::Malformed)?;
        let valid = match &key.hmac {
            Some(hmac) => verify_hmac(hmac, signed, signature)?,
            None => jsonwebtoken::crypto::verify(
                signature,
                signed.as_bytes(),
                &key.decoding,
                key.algorithm,
            )
            .map_err(|e| Rejected::Invalid(e.to_string()))?,
        };
        if !valid {
            return Err(Rejected::Invalid("bad signature".into()));
        }
        payload.clear();
        base64url::decode_append(claims, payload)
            .ok_or_else(|| Rejected::Invalid("claims are not base64url".into()))?;
        let claims: ClaimsView<'p> =
            serde_json::from_slice(payload).map_err(|e| Rejected::Invalid(e.to_string()))?;
        check(&claims, expected)?;
        Ok(claims)
    }

    /// The key the token's header names, if the header's `alg` is that key's algorithm.
    ///
    /// A header byte for byte as this crate writes it (the tokens it issued) is known without
    /// decoding it: a third of the work besides the HMAC in a redemption's verification.
    fn key_of(&self, token: &str) -> Result<&Key, Rejected> {
        let (header, _) = token.split_once('.').ok_or(Rejected::Malformed)?;
        if let Some(key) = self.by_header(header) {
            return Ok(key);
        }
        let mut json = [0u8; 512];
        let json = base64url::decode_into(header, &mut json).ok_or(Rejected::Malformed)?;
        let header: TokenHeader<'_> =
            serde_json::from_slice(json).map_err(|_| Rejected::Malformed)?;
        let key = self.find(&header.kid).ok_or(Rejected::UnknownKey)?;
        if header.alg != key.algorithm {
            return Err(Rejected::WrongAlgorithm);
        }
        Ok(key)
    }
}

/// The two header fields verification reads. An unknown `alg` (`none` included) does not
/// parse: the token is malformed.
#[derive(serde::Deserialize)]
struct TokenHeader<'a> {
    alg: jsonwebtoken::Algorithm,
    #[serde(borrow)]
    kid: Cow<'a, str>,
}

/// HS512 with the key's precomputed HMAC state, compared in constant time.
fn verify_hmac(hmac: &Hmac<Sha512>, signed: &str, signature: &str) -> Result<bool, Rejected> {
    // An HS512 signature is 64 bytes (86 characters); the decoder asks for room for 66.
    let mut signature_bytes = [0u8; 66];
    let signature = base64url::decode_into(signature, &mut signature_bytes)
        .ok_or_else(|| Rejected::Invalid("signature is not base64url".into()))?;
    let mut mac = hmac.clone();
    mac.update(signed.as_bytes());
    Ok(mac.verify_slice(signature).is_ok())
}

/// The claims every algorithm's tokens are held to once the signature holds: `exp` with
/// leeway, `iss`, `aud` and `type` (`exp`, `iss`, `aud` and `sub` are required by the
/// claims' shape itself).
fn check(claims: &ClaimsView<'_>, expected: &Expected<'_>) -> Result<(), Rejected> {
    let now = crate::util::sync::unix_seconds();
    if claims.exp.saturating_add(expected.leeway) < now {
        return Err(Rejected::Invalid("expired".into()));
    }
    if claims.iss != expected.issuer {
        return Err(Rejected::Invalid("other issuer".into()));
    }
    if expected.audience.is_some_and(|aud| claims.aud != aud) {
        return Err(Rejected::Invalid("other audience".into()));
    }
    if claims.kind != expected.kind {
        return Err(Rejected::WrongType);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use hmac::{Hmac, Mac};
    use sha2::Sha512;

    use super::*;
    use crate::JwtSecret;

    const ISSUER: &str = "iss";

    fn now() -> u64 {
        crate::util::sync::unix_seconds()
    }

    /// `header.claims.signature` with the header written as given, signed HS512 with `secret`.
    fn hand_signed(secret: &[u8], header_json: &str, claims: &Claims) -> String {
        let claims_json = serde_json::to_vec(claims).unwrap();
        let signed = format!(
            "{}.{}",
            base64url::encode(header_json.as_bytes()),
            base64url::encode(&claims_json)
        );
        let mut mac = Hmac::<Sha512>::new_from_slice(secret).unwrap();
        mac.update(signed.as_bytes());
        format!(
            "{signed}.{}",
            base64url::encode(&mac.finalize().into_bytes())
        )
    }

    fn setup() -> (JwtSecret, SigningKeys, Claims, String) {
        let secret = JwtSecret::generate();
        let keys = SigningKeys::hs512(secret.clone());
        let claims = Claims::new(
            TokenKind::OneTime,
            "u".into(),
            "acme".into(),
            ISSUER,
            now(),
            60,
        );
        let kid = keys.kids().next().unwrap().to_owned();
        (secret, keys, claims, kid)
    }

    #[test]
    fn a_header_written_otherwise_than_ours_still_names_its_key() {
        let (secret, keys, claims, kid) = setup();
        let expect = Expected::new(TokenKind::OneTime, ISSUER);
        // Same fields, another order and spacing: not our header's text, so it is parsed.
        let header = format!(r#"{{ "kid": "{kid}", "typ": "JWT", "alg": "HS512" }}"#);
        let token = hand_signed(secret.bytes(), &header, &claims);
        assert!(keys.by_header(token.split('.').next().unwrap()).is_none());
        assert_eq!(keys.verify(&token, &expect), Ok(claims));
    }

    #[test]
    fn a_parsed_header_is_held_to_the_keys_algorithm_and_id() {
        let (secret, keys, claims, kid) = setup();
        let expect = Expected::new(TokenKind::OneTime, ISSUER);
        let secret = secret.bytes().to_vec();
        let none = format!(r#"{{"alg":"none","kid":"{kid}"}}"#);
        assert_eq!(
            keys.verify(&hand_signed(&secret, &none, &claims), &expect),
            Err(Rejected::Malformed)
        );
        let hs256 = format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#);
        assert_eq!(
            keys.verify(&hand_signed(&secret, &hs256, &claims), &expect),
            Err(Rejected::WrongAlgorithm)
        );
        let other_kid = r#"{"alg":"HS512","kid":"someone-else"}"#;
        assert_eq!(
            keys.verify(&hand_signed(&secret, other_kid, &claims), &expect),
            Err(Rejected::UnknownKey)
        );
    }

    #[test]
    fn our_own_header_is_known_without_parsing_and_the_signature_still_counts() {
        let (_, keys, claims, _) = setup();
        let expect = Expected::new(TokenKind::OneTime, ISSUER);
        let token = keys.sign(&claims).unwrap();
        let (header, rest) = token.split_once('.').unwrap();
        assert!(keys.by_header(header).is_some());
        assert_eq!(keys.verify(&token, &expect), Ok(claims.clone()));
        // Our header, someone else's secret: refused at the signature.
        let forged = hand_signed(b"not-the-secret", "{}", &claims);
        let forged = format!("{header}.{}", forged.split_once('.').unwrap().1);
        assert!(matches!(
            keys.verify(&forged, &expect),
            Err(Rejected::Invalid(_))
        ));
        assert_ne!(rest, forged.split_once('.').unwrap().1);
    }
}
