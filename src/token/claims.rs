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
