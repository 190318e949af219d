//! Tokens: the claims of SPEC §2 ([`Claims`]) and the signing-key set that issues and
//! verifies them ([`SigningKeys`], signing with an [`Algorithm`]).
//!
//! ```
//! use techcentrix_auth::token::{Claims, SigningKeys, TokenKind};
//! use techcentrix_auth::JwtSecret;
//!
//! let keys = SigningKeys::hs512(JwtSecret::new(vec![1u8; 32]).unwrap());
//! let claims = Claims::new(TokenKind::OneTime, "user-1".into(), "acme".into(), "techcentrix-auth", 1_700_000_000, 60);
//! let jwt = keys.sign(&claims).unwrap();
//! assert_eq!(jwt.split('.').count(), 3);
//! ```

mod algorithm;
mod claims;
mod keys;
mod verify;

pub use algorithm::Algorithm;
pub use claims::{Claims, TokenKind};
pub use keys::SigningKeys;
pub use verify::{Expected, Rejected};
