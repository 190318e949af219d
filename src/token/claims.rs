use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::util::json;
use crate::{AppId, Jti, SessionId, UserId};

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
#[non_exhaustive]
pub struct Claims {
    /// A fresh random UUID.
    pub jti: Jti,
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
            jti: Jti::random(),
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

/// The claims of a token being issued, borrowed: what [`SigningKeys::issue_into`] writes
/// without building a [`Claims`]. Same fields, same order, same JSON as [`Claims`]'
/// `Serialize`.
///
/// [`SigningKeys::issue_into`]: super::SigningKeys::issue_into
pub(crate) struct ClaimsRef<'a> {
    pub(crate) jti: &'a str,
    pub(crate) sub: &'a str,
    pub(crate) auth: &'a [&'a str],
    pub(crate) kind: TokenKind,
    pub(crate) iss: &'a str,
    pub(crate) aud: &'a str,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    pub(crate) sid: Option<&'a str>,
}

impl<'a> ClaimsRef<'a> {
    /// Borrows `claims`, with its roles as `auth` (borrowed from `claims.auth`).
    pub(crate) fn of(claims: &'a Claims, auth: &'a [&'a str]) -> Self {
        ClaimsRef {
            jti: claims.jti.as_str(),
            sub: claims.sub.as_str(),
            auth,
            kind: claims.kind,
            iss: &claims.iss,
            aud: claims.aud.as_str(),
            iat: claims.iat,
            exp: claims.exp,
            sid: claims.sid.as_ref().map(SessionId::as_str),
        }
    }

    /// Appends the claims as JSON.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) {
        let mut object = json::Object::new(out);
        object
            .string("jti", self.jti)
            .string("sub", self.sub)
            .strings("auth", self.auth)
            .string("type", self.kind.as_str())
            .string("iss", self.iss)
            .string("aud", self.aud)
            .number("iat", self.iat)
            .number("exp", self.exp);
        if let Some(sid) = self.sid {
            object.string("sid", sid);
        }
        object.finish();
    }
}

/// The claims of a token being verified, borrowed from its decoded payload where no escape
/// forces a copy. The same fields are required as by [`Claims`].
#[derive(Deserialize)]
pub(crate) struct ClaimsView<'a> {
    #[serde(borrow)]
    pub(crate) jti: Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) sub: Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) auth: Vec<Cow<'a, str>>,
    #[serde(rename = "type")]
    pub(crate) kind: TokenKind,
    #[serde(borrow)]
    pub(crate) iss: Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) aud: Cow<'a, str>,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    #[serde(default, borrow)]
    pub(crate) sid: Option<Cow<'a, str>>,
}

impl ClaimsView<'_> {
    /// The owned claims.
    pub(crate) fn into_claims(self) -> Claims {
        Claims {
            jti: Jti::from(&*self.jti),
            sub: UserId::from(&*self.sub),
            auth: self.auth.into_iter().map(Cow::into_owned).collect(),
            kind: self.kind,
            iss: self.iss.into_owned(),
            aud: AppId::from(&*self.aud),
            iat: self.iat,
            exp: self.exp,
            sid: self.sid.as_deref().map(SessionId::from),
        }
    }
}

impl TokenKind {
    /// The `type` claim's value.
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::OneTime => "one_time",
            TokenKind::Access => "access",
        }
    }
}

/// The roles every token carries.
pub(crate) const ROLES: &[&str] = &["ROLE_USER"];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn claims() -> impl Strategy<Value = Claims> {
        (
            any::<String>(),
            any::<String>(),
            proptest::collection::vec(any::<String>(), 0..3),
            any::<bool>(),
            (any::<String>(), any::<String>(), any::<u64>(), any::<u64>()),
            proptest::option::of(any::<String>()),
        )
            .prop_map(
                |(jti, sub, auth, access, (iss, aud, iat, exp), sid)| Claims {
                    jti: jti.into(),
                    sub: sub.into(),
                    auth,
                    kind: if access {
                        TokenKind::Access
                    } else {
                        TokenKind::OneTime
                    },
                    iss,
                    aud: aud.into(),
                    iat,
                    exp,
                    sid: sid.map(SessionId::from),
                },
            )
    }

    proptest! {
        /// The hand-written JSON is serde's, byte for byte, and reads back through the view.
        #[test]
        fn written_claims_are_serdes_and_read_back(claims in claims()) {
            let auth: Vec<&str> = claims.auth.iter().map(String::as_str).collect();
            let mut out = Vec::new();
            ClaimsRef::of(&claims, &auth).write_json(&mut out);
            prop_assert_eq!(&out, &serde_json::to_vec(&claims).unwrap());
            let view: ClaimsView<'_> = serde_json::from_slice(&out).unwrap();
            prop_assert_eq!(view.into_claims(), claims);
        }
    }
}
