//! `POST /user/api/auth/external`: sign the partner's user up or in, answer a oneTimeToken.

use std::sync::Arc;

use http::HeaderMap;
use http_body::Body;

use super::respond::{Reply, ok, record_app};
use crate::events::AuthEvent;
use crate::rate_limit::RateDecision;
use crate::state::Shared;
use crate::store::Upserted;
use crate::token::TokenKind;
use crate::util::json;
use crate::util::sync::unix_seconds;
use crate::{AppId, BoxError, Error, bodies, request};

pub(super) async fn handle<B>(shared: Arc<Shared>, headers: HeaderMap, body: B) -> Reply
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let shared = &*shared;
    let app = authenticate(shared, &headers).await?;
    record_app(app.as_str());
    let body = request::read_json(&headers, body, shared.config.body_limit).await?;
    let profile = bodies::external_profile(&body)?;

    let upserted = shared
        .store_call(shared.users.upsert_external(&app, &profile))
        .await?;
    shared.events.on_event(&match &upserted {
        Upserted::SignedUp(user) => AuthEvent::SignedUp {
            app: app.clone(),
            user: user.id.clone(),
        },
        Upserted::SignedIn(user) => AuthEvent::SignedIn {
            app: app.clone(),
            user: user.id.clone(),
        },
    });

    let ttl = shared.config.one_time_token_ttl.as_secs();
    let issue = |out: &mut Vec<u8>| {
        shared.keys.issue_into(
            out,
            TokenKind::OneTime,
            upserted.user().id.as_str(),
            app.as_str(),
            &shared.config.issuer,
            unix_seconds(),
            ttl,
            None,
        )
    };
    let mut body = Vec::with_capacity(512);
    if request::wants_json(&headers) {
        let mut object = json::Object::new(&mut body);
        object
            .plain_string_with("oneTimeToken", issue)
            .map_err(Error::Internal)?;
        object.number("expiresIn", ttl);
        object.finish();
        Ok(ok(body, "application/json"))
    } else {
        issue(&mut body).map_err(Error::Internal)?;
        Ok(ok(body, "text/plain; charset=utf-8"))
    }
}

/// The app of the request's API key: 401/4 for a missing, malformed or unknown key, then
/// 429/6 when the key is over its rate limit.
async fn authenticate(shared: &Shared, headers: &http::HeaderMap) -> Result<AppId, Error> {
    let Some(key) = request::api_key(headers) else {
        shared.events.on_event(&AuthEvent::KeyRejected);
        return Err(Error::InvalidApiKey);
    };
    let Some(app) = shared.store_call(shared.api_keys.validate(&key)).await? else {
        shared.events.on_event(&AuthEvent::KeyRejected);
        return Err(Error::InvalidApiKey);
    };
    if let Some(limiter) = &shared.rate_limiter {
        let decision = shared.store_call(limiter.check(&key.digest())).await?;
        if let RateDecision::Limited { retry_after } = decision {
            return Err(Error::TooManyRequests { retry_after });
        }
    }
    Ok(app)
}
