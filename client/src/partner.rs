//! The partner backend's call: `POST /user/api/auth/external` with its API key.

use http::StatusCode;
use http::header::{ACCEPT, CONTENT_TYPE};

use crate::client::{Client, bearer, expect_status};
use crate::error::Error;
use crate::raw::RawRequest;
use crate::secret::{ApiKey, OneTimeToken};

/// The profile of a user the partner has signed in (SPEC §2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// `id`: the partner's own id of the user (1–128 bytes).
    pub id: String,
    /// `email`: `local@domain`.
    pub email: String,
    /// `firstName`: at most 128 bytes, may be empty.
    pub first_name: String,
}

impl Profile {
    /// A profile.
    pub fn new(
        id: impl Into<String>,
        email: impl Into<String>,
        first_name: impl Into<String>,
    ) -> Self {
        Profile {
            id: id.into(),
            email: email.into(),
            first_name: first_name.into(),
        }
    }

    /// The request body.
    pub(crate) fn to_json(&self) -> String {
        serde_json::json!({ "id": self.id, "email": self.email, "firstName": self.first_name })
            .to_string()
    }
}

/// A oneTimeToken with its lifetime, as the JSON form of the answer gives it.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    /// `oneTimeToken`.
    pub one_time_token: OneTimeToken,
    /// `expiresIn`, seconds.
    pub expires_in: u64,
}

/// The partner backend's client: [`Client::partner`]. Holds the API key; its `Debug` shows
/// `[redacted]` for it, and no error message carries it (a host that echoed it back would
/// see it cut out).
///
/// ```no_run
/// use techcentrix_auth_client::{ApiKey, Client, ErrorCode, Profile};
///
/// # async fn demo() -> Result<(), techcentrix_auth_client::Error> {
/// let partner = Client::new("http://127.0.0.1:8080")?
///     .partner(ApiKey::new(std::env::var("ACME_KEY").unwrap()));
/// match partner.external(&Profile::new("user1-external", "user1@techcentrix.com", "User1Name")).await {
///     Ok(token) => println!("hand this to the app: {}", token.expose_secret()),
///     Err(err) if err.code() == Some(ErrorCode::InvalidAccessToken) => eprintln!("wrong API key"),
///     Err(err) => return Err(err),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct PartnerClient {
    client: Client,
    api_key: ApiKey,
}

impl PartnerClient {
    /// The partner side of `client`, with `api_key`.
    pub fn new(client: Client, api_key: ApiKey) -> Self {
        PartnerClient { client, api_key }
    }

    /// The client it calls through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Signs the user up or in and answers a oneTimeToken (the plain-text answer form).
    /// A wrong key is [`ErrorCode::InvalidAccessToken`](crate::ErrorCode::InvalidAccessToken),
    /// a rejected profile [`ErrorCode::MalformedRequest`](crate::ErrorCode::MalformedRequest).
    pub async fn external(&self, profile: &Profile) -> Result<OneTimeToken, Error> {
        let response = self.send(profile, "text/plain").await?;
        let token = std::str::from_utf8(&response.body)
            .ok()
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic() && b != b'"'))
            .ok_or_else(|| Error::UnexpectedResponse {
                status: response.status,
                reason: "the body is not a bare token".into(),
            })?;
        Ok(OneTimeToken::new(token))
    }

    /// As [`external`](Self::external), asking for the JSON answer form, which also gives the
    /// token's lifetime.
    pub async fn external_json(&self, profile: &Profile) -> Result<IssuedToken, Error> {
        let response = self.send(profile, "application/json").await?;
        let value: serde_json::Value = response.json().map_err(|_| Error::UnexpectedResponse {
            status: response.status,
            reason: "the body is not JSON".into(),
        })?;
        match (
            value.get("oneTimeToken").and_then(|v| v.as_str()),
            value.get("expiresIn").and_then(|v| v.as_u64()),
        ) {
            (Some(token), Some(expires_in)) => Ok(IssuedToken {
                one_time_token: OneTimeToken::new(token),
                expires_in,
            }),
            _ => Err(Error::UnexpectedResponse {
                status: response.status,
                reason: "no `oneTimeToken` string and `expiresIn` integer".into(),
            }),
        }
    }

    async fn send(&self, profile: &Profile, accept: &str) -> Result<crate::RawResponse, Error> {
        let request = RawRequest::post(self.client.paths().external.clone())
            .header(CONTENT_TYPE.as_str(), "application/json")
            .header(ACCEPT.as_str(), accept)
            .body(profile.to_json());
        let request = bearer(request, self.api_key.expose_secret())?;
        let secrets = [self.api_key.expose_secret()];
        let response = self.client.send(&request).await?;
        expect_status(&response, StatusCode::OK, &secrets)?;
        Ok(response)
    }
}
