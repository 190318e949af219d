use jsonwebtoken::Validation;

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
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejected::Malformed)?;
        let kid = header.kid.as_deref().ok_or(Rejected::Malformed)?;
        let key = self.find(kid).ok_or(Rejected::UnknownKey)?;
        if header.alg != key.algorithm {
            return Err(Rejected::WrongAlgorithm);
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
