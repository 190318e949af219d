//! What the app side gets: a [`Session`], and the token [`sign_out`](crate::Client::sign_out)
//! takes.

use crate::error::Error;
use crate::raw::RawResponse;
use crate::secret::{AccessToken, RefreshToken};

/// A session (SPEC §4): the answer of redemption and of refresh.
#[derive(Clone, Debug)]
pub struct Session {
    /// `accessToken`: a JWT for guarded routes.
    pub access_token: AccessToken,
    /// `refreshToken`: opaque, good for one refresh.
    pub refresh_token: RefreshToken,
    /// `tokenType`: `Bearer`.
    pub token_type: String,
    /// `expiresIn`: the access token's lifetime in seconds.
    pub expires_in: u64,
    /// `userId`: the service's id of the user (the tokens' `sub`).
    pub user_id: String,
}

impl Session {
    /// Parses a `200` session answer.
    pub(crate) fn from_response(response: &RawResponse) -> Result<Session, Error> {
        let unexpected = |reason: &str| Error::UnexpectedResponse {
            status: response.status,
            reason: format!("session answer: {reason}"),
        };
        let value: serde_json::Value = response
            .json()
            .map_err(|_| unexpected("the body is not JSON"))?;
        let string = |name: &str| {
            value
                .get(name)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or_else(|| unexpected(&format!("no string `{name}`")))
        };
        Ok(Session {
            access_token: AccessToken::new(string("accessToken")?),
            refresh_token: RefreshToken::new(string("refreshToken")?),
            token_type: string("tokenType")?,
            expires_in: value
                .get("expiresIn")
                .and_then(|v| v.as_u64())
                .ok_or_else(|| unexpected("no integer `expiresIn`"))?,
            user_id: string("userId")?,
        })
    }
}

/// The token a sign-out presents: the access token (as `Authorization: Bearer`) or the
/// refresh token (in the body). Made from either with `From`.
#[derive(Clone, Copy, Debug)]
pub enum SignOutWith<'a> {
    /// `Authorization: Bearer <access token>`, no body.
    AccessToken(&'a AccessToken),
    /// `{"refreshToken": "…"}`.
    RefreshToken(&'a RefreshToken),
}

impl<'a> From<&'a AccessToken> for SignOutWith<'a> {
    fn from(token: &'a AccessToken) -> Self {
        SignOutWith::AccessToken(token)
    }
}

impl<'a> From<&'a RefreshToken> for SignOutWith<'a> {
    fn from(token: &'a RefreshToken) -> Self {
        SignOutWith::RefreshToken(token)
    }
}
