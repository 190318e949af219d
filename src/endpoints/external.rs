//! `POST /user/api/auth/external`: sign the partner's user up or in, answer a oneTimeToken.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response};
use http_body::Body;
use http_body_util::Full;
use tracing::Instrument;

use crate::auth::Shared;
use crate::events::AuthEvent;
use crate::rate_limit::RateDecision;
use crate::store::Upserted;
use crate::token::{Claims, TokenKind};
use crate::{AppId, BoxError, Error, request};

/// Serves one request, turning every failure into its SPEC §3 response, inside a span that
/// records the app and the outcome.
pub(super) async fn serve<B>(shared: Arc<Shared>, request: Request<B>) -> Response<Full<Bytes>>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let span = tracing::info_span!(
        "tcx.external",
        app = tracing::field::Empty,
        outcome = tracing::field::Empty,
    );
    async move {
        let response = match handle(&shared, request).await {
            Ok(response) => {
                tracing::Span::current().record("outcome", "issued");
                response
            }
            Err(err) => {
                tracing::Span::current().record("outcome", err.outcome());
                log_error(&err);
                err.into_response()
            }
        };
        tracing::info!(status = response.status().as_u16(), "request finished");
        response
    }
    .instrument(span)
    .await
}

pub(crate) fn log_error(err: &Error) {
    match err {
        Error::Internal(source) => tracing::error!(error = %source, "internal error"),
        Error::Unavailable(source) => tracing::warn!(error = %source, "store unavailable"),
        other => tracing::debug!(error = %other, "request refused"),
    }
}

async fn handle<B>(shared: &Shared, request: Request<B>) -> Result<Response<Full<Bytes>>, Error>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    if request.method() != Method::POST {
        return Err(Error::MethodNotAllowed { allow: "POST" });
    }
    let (parts, body) = request.into_parts();
    let app = authenticate(shared, &parts.headers).await?;
    tracing::Span::current().record("app", app.as_str());
    if !request::is_json(&parts.headers) {
        return Err(Error::UnsupportedMediaType);
    }
    let body = request::read_limited(&parts.headers, body, shared.config.body_limit).await?;
    let profile = request::external_profile(&body)?;

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
    let claims = Claims::new(
        TokenKind::OneTime,
        upserted.into_user().id,
        app,
        shared.config.issuer.clone(),
        unix_seconds(),
        ttl,
    );
    let token = shared.keys.sign(&claims).map_err(Error::Internal)?;
    Ok(if request::wants_json(&parts.headers) {
        let body = TokenBody {
            one_time_token: &token,
            expires_in: ttl,
        };
        let body = serde_json::to_string(&body).map_err(|e| Error::Internal(e.into()))?;
        ok_response(body, "application/json")
    } else {
        ok_response(token, "text/plain; charset=utf-8")
    })
}

/// The app of the request's API key: 401/4 for a missing, malformed or unknown key, then
/// 429/6 when the key is over its rate limit.
pub(crate) async fn authenticate(
    shared: &Shared,
    headers: &http::HeaderMap,
) -> Result<AppId, Error> {
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

/// The JSON form of the answer, fields in the SPEC's order.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenBody<'a> {
    one_time_token: &'a str,
    expires_in: u64,
}

fn ok_response(body: String, content_type: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
