//! [`Algorithm`]: the signature algorithms a key set signs with, named by this crate so that
//! the JWT library underneath can change without changing this crate's API.

use std::fmt;

/// A token signature algorithm (the JWT header's `alg`).
///
/// ```
/// use techcentrix_auth::token::{Algorithm, SigningKeys};
/// use techcentrix_auth::JwtSecret;
///
/// let keys = SigningKeys::hs512(JwtSecret::generate());
/// assert_eq!(keys.algorithm(), Algorithm::HS512);
/// assert_eq!(keys.algorithm().as_str(), "HS512");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-512 over a shared secret (the default).
    HS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
    /// RSASSA-PKCS1-v1_5 with SHA-256, keys of at least 2,048 bits.
    RS256,
}

impl Algorithm {
    /// The name in a JWT header (`"HS512"`, `"ES256"`, `"EdDSA"`, `"RS256"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::HS512 => "HS512",
            Algorithm::ES256 => "ES256",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::RS256 => "RS256",
        }
    }

    /// The algorithm of a key the crate made: only these four are ever made.
    pub(crate) fn of(algorithm: jsonwebtoken::Algorithm) -> Self {
        match algorithm {
            jsonwebtoken::Algorithm::ES256 => Algorithm::ES256,
            jsonwebtoken::Algorithm::EdDSA => Algorithm::EdDSA,
            jsonwebtoken::Algorithm::RS256 => Algorithm::RS256,
            _ => Algorithm::HS512,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
