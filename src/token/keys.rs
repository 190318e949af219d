use std::fmt;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sha2::{Digest, Sha256};

use super::Claims;
use crate::{BoxError, JwtSecret};

/// The keys tokens are signed with, each with its `kid`.
///
/// Today: one HS512 secret. The `kid` of an HS512 key is derived from the secret
/// (a truncated SHA-256 under a domain-separation prefix), so every instance that shares
/// the secret names it alike.
#[derive(Clone)]
pub struct SigningKeys {
    kid: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
}

impl SigningKeys {
    /// An HS512 key set from one shared secret.
    pub fn hs512(secret: JwtSecret) -> Self {
        let digest = Sha256::new()
            .chain_update(b"techcentrix-auth kid v1\0")
            .chain_update(secret.bytes())
            .finalize();
        let kid = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        SigningKeys {
            kid,
            algorithm: Algorithm::HS512,
            encoding: EncodingKey::from_secret(secret.bytes()),
        }
    }

    /// The `kid` of the key that signs new tokens.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm of the key that signs new tokens.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Signs `claims` into a compact JWT with `typ: JWT` and the signing key's `kid`.
    pub fn sign(&self, claims: &Claims) -> Result<String, BoxError> {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }
}

impl fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeys")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("key", &"[redacted]")
            .finish()
    }
}
