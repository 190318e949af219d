use serde::{Deserialize, Serialize};

use crate::{AppId, SessionId, UserId};

/// What a token is for: the `type` claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// `"one_time"`: the oneTimeToken, redeemed once for a session.
    OneTime,
    /// `"access"`: a session's access token.
    Access,
}

/// The claims of a oneTimeToken or an access token (SPEC §2), in the order the SPEC lists
/// them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// A fresh random UUID.
    pub jti: String,
    /// The service's own id of the user.
    pub sub: UserId,
    /// The roles: `["ROLE_USER"]`.
    pub auth: Vec<String>,
    /// `one_time` or `access`.
    #[serde(rename = "type")]
    pub kind: TokenKind,
    /// The configured issuer.
    pub iss: String,
    /// The app id of the partner whose key was used.
    pub aud: AppId,
    /// Issue time, unix seconds.
    pub iat: u64,
    /// Expiry, unix seconds: `iat + ttl`.
    pub exp: u64,
    /// The session an access token belongs to (absent from oneTimeTokens): what sign-out
    /// with the access token revokes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<SessionId>,
}

impl Claims {
    /// Claims for a new token of `kind` for `sub` in `aud`, issued at `iat` and valid for
    /// `ttl_secs`, with a fresh `jti` and the `ROLE_USER` role.
    pub fn new(
        kind: TokenKind,
        sub: UserId,
        aud: AppId,
        iss: impl Into<String>,
        iat: u64,
        ttl_secs: u64,
    ) -> Self {
        Claims {
            jti: uuid::Uuid::new_v4().to_string(),
            sub,
            auth: vec!["ROLE_USER".to_owned()],
            kind,
            iss: iss.into(),
            aud,
            iat,
            exp: iat + ttl_secs,
            sid: None,
        }
    }
}

/// The claims of a token being issued, borrowed: what [`SigningKeys::issue`] serializes
/// without building a [`Claims`]. Same fields, same order.
///
/// [`SigningKeys::issue`]: super::SigningKeys::issue
#[derive(Serialize)]
pub(crate) struct ClaimsRef<'a> {
    pub(crate) jti: &'a str,
    pub(crate) sub: &'a str,
    pub(crate) auth: &'a [&'a str],
    #[serde(rename = "type")]
    pub(crate) kind: TokenKind,
    pub(crate) iss: &'a str,
    pub(crate) aud: &'a str,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sid: Option<&'a str>,
}

/// The roles every token carries.
pub(crate) const ROLES: &[&str] = &["ROLE_USER"];
