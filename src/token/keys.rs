use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use sha2::{Digest, Sha256, Sha512};

use super::Claims;
use super::claims::{ClaimsRef, ROLES};
use crate::util::base64url;
use crate::{BoxError, ConfigError, JwtSecret};

/// The keys tokens are signed and verified with, each named by its `kid`.
///
/// One key signs new tokens; every key in the set verifies, so a key can be rotated without
/// invalidating tokens in flight: sign with the new key and keep the old one
/// ([`SigningKeys::with_previous`]) until its last token has expired, then drop it.
///
/// - [`SigningKeys::hs512`]: a shared secret (the default). Its `kid` is derived from the
///   secret, so every instance sharing the secret names it alike. Never published.
/// - [`SigningKeys::from_pem`]: a PKCS#8 private key; the algorithm follows the key:
///   EC P-256 → ES256, Ed25519 → EdDSA, RSA ≥ 2048 bits → RS256. Its public half is
///   published by [`SigningKeys::jwks`].
///
/// A token verifies only with the key its `kid` names and only under that key's algorithm,
/// so neither `alg: none` nor an HS token made with a public key's bytes gets through.
///
/// ```
/// use techcentrix_auth::token::SigningKeys;
/// use techcentrix_auth::JwtSecret;
///
/// let old = SigningKeys::hs512(JwtSecret::new(vec![1u8; 32]).unwrap());
/// let new = SigningKeys::hs512(JwtSecret::new(vec![2u8; 32]).unwrap());
/// let keys = new.clone().with_previous(old.clone()).unwrap();
/// assert_eq!(keys.kid(), new.kid());
/// assert_eq!(keys.kids().count(), 2);
/// assert_eq!(keys.jwks()["keys"].as_array().unwrap().len(), 0, "a shared secret is never published");
/// // The same key id twice is refused.
/// assert!(new.clone().with_previous(new).is_err());
/// ```
#[derive(Clone)]
pub struct SigningKeys {
    signer: Arc<Key>,
    keys: Vec<Arc<Key>>,
}

pub(crate) struct Key {
    pub(crate) kid: String,
    pub(crate) algorithm: Algorithm,
    encoding: Option<EncodingKey>,
    pub(crate) decoding: DecodingKey,
    /// The public JWK, for asymmetric keys.
    public: Option<Jwk>,
    /// `base64url(header)` of the tokens this key signs: the header never changes.
    header_b64: String,
    /// For HS512: the HMAC state with the key already absorbed, cloned per token instead of
    /// re-deriving the key schedule.
    pub(crate) hmac: Option<Hmac<Sha512>>,
}

impl Key {
    fn new(
        kid: String,
        algorithm: Algorithm,
        encoding: Option<EncodingKey>,
        decoding: DecodingKey,
        public: Option<Jwk>,
        hmac: Option<Hmac<Sha512>>,
    ) -> Key {
        let mut header = Header::new(algorithm);
        header.kid = Some(kid.clone());
        let header_json = serde_json::to_vec(&header).unwrap_or_default();
        Key {
            kid,
            algorithm,
            encoding,
            decoding,
            public,
            header_b64: base64url::encode(&header_json),
            hmac,
        }
    }
}

impl SigningKeys {
    /// An HS512 key set from one shared secret.
    pub fn hs512(secret: JwtSecret) -> Self {
        Self::from_key(hs512_key(&secret))
    }

    /// A key set whose signing key is the PKCS#8 PEM private key `pem`, named `kid`.
    ///
    /// ```
    /// use techcentrix_auth::token::SigningKeys;
    ///
    /// let pem = std::fs::read("tests/keys/ec-a.pem").unwrap();
    /// let keys = SigningKeys::from_pem("2026-11", &pem).unwrap();
    /// assert_eq!(keys.algorithm(), techcentrix_auth::token::Algorithm::ES256);
    /// assert_eq!(keys.jwks()["keys"].as_array().unwrap().len(), 1);
    /// ```
    pub fn from_pem(kid: impl Into<String>, pem: &[u8]) -> Result<Self, ConfigError> {
        let kid = kid.into();
        check_kid(&kid)?;
        Ok(Self::from_key(private_key(kid, pem)?))
    }

    /// Adds a verification-only key from a PEM: a PKCS#8 private key or an SPKI public key.
    pub fn with_verification_pem(
        mut self,
        kid: impl Into<String>,
        pem: &[u8],
    ) -> Result<Self, ConfigError> {
        let kid = kid.into();
        check_kid(&kid)?;
        let key = match private_key(kid.clone(), pem) {
            Ok(key) => key,
            Err(_) => public_key(kid, pem)?,
        };
        self.push(Arc::new(key))?;
        Ok(self)
    }

    /// Keeps every key of `previous` for verification (not for signing): the rotation step.
    /// A `kid` already in the set is refused: two keys under one id would make verification
    /// depend on which is found first.
    pub fn with_previous(mut self, previous: SigningKeys) -> Result<Self, ConfigError> {
        for key in previous.keys {
            self.push(key)?;
        }
        Ok(self)
    }

    fn from_key(key: Key) -> Self {
        let key = Arc::new(key);
        SigningKeys {
            signer: key.clone(),
            keys: vec![key],
        }
    }

    fn push(&mut self, key: Arc<Key>) -> Result<(), ConfigError> {
        if self.keys.iter().any(|k| k.kid == key.kid) {
            return Err(ConfigError::new(
                "signing keys",
                format!("two keys named `{}`", key.kid),
            ));
        }
        self.keys.push(key);
        Ok(())
    }

    /// The `kid` of the key that signs new tokens.
    pub fn kid(&self) -> &str {
        &self.signer.kid
    }

    /// The algorithm of the key that signs new tokens.
    pub fn algorithm(&self) -> super::Algorithm {
        super::Algorithm::of(self.signer.algorithm)
    }

    /// The `kid`s of every key that verifies.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }

    /// The public keys of the asymmetric keys, as the JWK set document of
    /// `/.well-known/jwks.json` (`{"keys": [...]}`). Shared secrets are never in it.
    pub fn jwks(&self) -> serde_json::Value {
        let set = JwkSet {
            keys: self.keys.iter().filter_map(|k| k.public.clone()).collect(),
        };
        // A JWK set is strings and lists: it always converts.
        serde_json::to_value(set).unwrap_or_else(|_| serde_json::json!({ "keys": [] }))
    }

    /// Signs `claims` into a compact JWT with `typ: JWT` and the signing key's `kid`.
    pub fn sign(&self, claims: &Claims) -> Result<String, BoxError> {
        let auth: Vec<&str> = claims.auth.iter().map(String::as_str).collect();
        let mut token = Vec::new();
        self.sign_into(&ClaimsRef::of(claims, &auth), &mut token)?;
        Ok(String::from_utf8(token)?)
    }

    /// Issues a token of `kind` for `sub` in `aud`, valid `ttl_secs` from `iat`, with a fresh
    /// `jti` (and `sid` for access tokens), appended to `out`: [`SigningKeys::sign`] without
    /// building a [`Claims`] or a `String`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn issue_into(
        &self,
        out: &mut Vec<u8>,
        kind: super::TokenKind,
        sub: &str,
        aud: &str,
        iss: &str,
        iat: u64,
        ttl_secs: u64,
        sid: Option<&str>,
    ) -> Result<(), BoxError> {
        let mut jti = [0u8; 36];
        let jti = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut jti);
        self.sign_into(
            &ClaimsRef {
                jti,
                sub,
                auth: ROLES,
                kind,
                iss,
                aud,
                iat,
                exp: iat + ttl_secs,
                sid,
            },
            out,
        )
    }

    /// Appends `header.claims.signature` to `out`: HS512 with the precomputed HMAC state,
    /// other algorithms through jsonwebtoken; the header is precomputed either way.
    fn sign_into(&self, claims: &ClaimsRef<'_>, out: &mut Vec<u8>) -> Result<(), BoxError> {
        let key = &self.signer;
        let mut json = Vec::with_capacity(256);
        claims.write_json(&mut json);
        let start = out.len();
        out.reserve(key.header_b64.len() + json.len() * 4 / 3 + 96);
        out.extend_from_slice(key.header_b64.as_bytes());
        out.push(b'.');
        base64url::encode_append(&json, out);
        let signed = &out[start..];
        match &key.hmac {
            Some(hmac) => {
                let mut mac = hmac.clone();
                mac.update(signed);
                let signature = mac.finalize().into_bytes();
                out.push(b'.');
                base64url::encode_append(&signature, out);
            }
            None => {
                let encoding = key
                    .encoding
                    .as_ref()
                    .ok_or("the signing key has no private half")?;
                let signature = jsonwebtoken::crypto::sign(signed, encoding, key.algorithm)?;
                out.push(b'.');
                out.extend_from_slice(signature.as_bytes());
            }
        }
        Ok(())
    }

    pub(crate) fn find(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid == kid).map(|k| &**k)
    }

    /// The key whose tokens start with exactly `header_b64`: the header this crate writes
    /// names that key and its algorithm, so a token carrying it needs no header parsing.
    pub(crate) fn by_header(&self, header_b64: &str) -> Option<&Key> {
        self.keys
            .iter()
            .find(|k| k.header_b64 == header_b64)
            .map(|k| &**k)
    }
}

impl fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<_> = self
            .keys
            .iter()
            .map(|k| format!("{}:{:?}", k.kid, k.algorithm))
            .collect();
        f.debug_struct("SigningKeys")
            .field("signer", &self.signer.kid)
            .field("keys", &keys)
            .field("secrets", &"[redacted]")
            .finish()
    }
}

fn check_kid(kid: &str) -> Result<(), ConfigError> {
    let ok = !kid.is_empty()
        && kid.len() <= 64
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            "kid",
            format!("`{kid}` must be 1-64 characters of A-Z a-z 0-9 - _ ."),
        ))
    }
}

fn hs512_key(secret: &JwtSecret) -> Key {
    let digest = Sha256::new()
        .chain_update(b"techcentrix-auth kid v1\0")
        .chain_update(secret.bytes())
        .finalize();
    let hmac = <Hmac<Sha512> as Mac>::new_from_slice(secret.bytes())
        .expect("HMAC takes a key of any length");
    Key::new(
        digest[..8].iter().map(|b| format!("{b:02x}")).collect(),
        Algorithm::HS512,
        Some(EncodingKey::from_secret(secret.bytes())),
        DecodingKey::from_secret(secret.bytes()),
        None,
        Some(hmac),
    )
}

fn pem_error(kid: &str, why: impl fmt::Display) -> ConfigError {
    ConfigError::new("signing key", format!("key `{kid}`: {why}"))
}

/// A PKCS#8 private key: EC P-256, Ed25519 or RSA ≥ 2048 bits.
fn private_key(kid: String, pem: &[u8]) -> Result<Key, ConfigError> {
    if let Ok(encoding) = EncodingKey::from_ec_pem(pem) {
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256)
            .map_err(|_| pem_error(&kid, "an EC key must be on curve P-256 (ES256)"))?;
        return finish(kid, Algorithm::ES256, Some(encoding), jwk);
    }
    if let Ok(encoding) = EncodingKey::from_ed_pem(pem) {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        let signing = ed25519_dalek::SigningKey::from_pkcs8_der(encoding.inner())
            .map_err(|_| pem_error(&kid, "not an Ed25519 private key"))?;
        let x = base64url::encode(signing.verifying_key().as_bytes());
        let jwk = Jwk {
            common: CommonParameters::default(),
            algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x,
            }),
        };
        return finish(kid, Algorithm::EdDSA, Some(encoding), jwk);
    }
    if let Ok(encoding) = EncodingKey::from_rsa_pem(pem) {
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256)
            .map_err(|e| pem_error(&kid, format!("unusable RSA key: {e}")))?;
        return finish(kid, Algorithm::RS256, Some(encoding), jwk);
    }
    Err(pem_error(
        &kid,
        "not a PKCS#8 PEM private key (EC P-256, Ed25519 or RSA)",
    ))
}

/// An SPKI public key, for verification only: EC P-256, Ed25519 or RSA ≥ 2048 bits, held to
/// the same rules as a signing key.
fn public_key(kid: String, pem: &[u8]) -> Result<Key, ConfigError> {
    let text = std::str::from_utf8(pem).map_err(|_| pem_error(&kid, "not a PEM file"))?;
    let (algorithm, decoding) = if let Ok(d) = DecodingKey::from_ec_pem(pem) {
        use p256::pkcs8::DecodePublicKey;
        p256::PublicKey::from_public_key_pem(text)
            .map_err(|_| pem_error(&kid, "an EC key must be on curve P-256 (ES256)"))?;
        (Algorithm::ES256, d)
    } else if let Ok(d) = DecodingKey::from_ed_pem(pem) {
        (Algorithm::EdDSA, d)
    } else if let Ok(d) = DecodingKey::from_rsa_pem(pem) {
        use rsa::pkcs8::DecodePublicKey;
        use rsa::traits::PublicKeyParts;
        let key = rsa::RsaPublicKey::from_public_key_pem(text)
            .map_err(|e| pem_error(&kid, format!("unusable RSA key: {e}")))?;
        check_rsa_bits(&kid, key.n().bits())?;
        (Algorithm::RS256, d)
    } else {
        return Err(pem_error(&kid, "not a PEM key (EC P-256, Ed25519 or RSA)"));
    };
    // A verification-only key from a bare public PEM is not republished: its owner
    // publishes it.
    Ok(Key::new(kid, algorithm, None, decoding, None, None))
}

/// The exact bit length of a big-endian modulus (leading zero bits not counted).
fn modulus_bits(modulus: &[u8]) -> usize {
    match modulus.iter().position(|b| *b != 0) {
        Some(first) => (modulus.len() - first) * 8 - modulus[first].leading_zeros() as usize,
        None => 0,
    }
}

fn check_rsa_bits(kid: &str, bits: usize) -> Result<(), ConfigError> {
    if bits < 2048 {
        return Err(pem_error(
            kid,
            format!("an RSA key must have at least 2048 bits (this one has {bits})"),
        ));
    }
    Ok(())
}

fn finish(
    kid: String,
    algorithm: Algorithm,
    encoding: Option<EncodingKey>,
    mut jwk: Jwk,
) -> Result<Key, ConfigError> {
    if let AlgorithmParameters::RSA(rsa) = &jwk.algorithm {
        let modulus = base64url::decode(&rsa.n).unwrap_or_default();
        check_rsa_bits(&kid, modulus_bits(&modulus))?;
    }
    jwk.common = CommonParameters {
        public_key_use: Some(PublicKeyUse::Signature),
        key_id: Some(kid.clone()),
        key_algorithm: Some(match algorithm {
            Algorithm::ES256 => KeyAlgorithm::ES256,
            Algorithm::EdDSA => KeyAlgorithm::EdDSA,
            _ => KeyAlgorithm::RS256,
        }),
        ..CommonParameters::default()
    };
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| pem_error(&kid, e))?;
    Ok(Key::new(
        kid,
        algorithm,
        encoding,
        decoding,
        Some(jwk),
        None,
    ))
}
