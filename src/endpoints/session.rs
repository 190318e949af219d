//! The session endpoints: `POST /user/api/auth/token` (redeem a oneTimeToken),
//! `POST /user/api/auth/refresh` and `POST /user/api/auth/sign-out`.

use std::sync::Arc;

use http::HeaderMap;
use http_body::Body;

use super::respond::{Reply, no_content, ok, record_app};
use crate::events::AuthEvent;
use crate::secret::random_token;
use crate::state::Shared;
use crate::store::{Consumed, Rotation, Session};
use crate::token::{Expected, TokenKind};
use crate::util::json;
use crate::util::sync::unix_seconds;
use crate::{
    AppId, AuthConfig, BoxError, Error, Jti, KeyDigest, SessionId, UserId, bodies, request,
};

/// The header naming the app at redemption.
pub(crate) const APP_ID_HEADER: &str = "x-techcentrix-app-id";

/// `POST /user/api/auth/token`: a valid, unused oneTimeToken of this app for an existing
/// user starts a session. Every refusal is 401/5.
pub(super) async fn redeem<B>(shared: Arc<Shared>, headers: HeaderMap, body: B) -> Reply
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let shared = &*shared;
    let app = app_id(&headers).ok_or(Error::InvalidOneTimeToken)?;
    record_app(app.as_str());
    let body = request::read_json(&headers, body, shared.config.body_limit).await?;
    let token = bodies::one_time_token(&body)?;

    let leeway = shared.config.leeway.as_secs();
    let expected = Expected {
        kind: TokenKind::OneTime,
        issuer: &shared.config.issuer,
        audience: Some(app.as_str()),
        leeway,
    };
    let mut payload = Vec::new();
    let claims = shared
        .keys
        .verify_view(&token, &expected, &mut payload)
        .map_err(|why| {
            tracing::debug!(%why, "oneTimeToken refused");
            Error::InvalidOneTimeToken
        })?;
    let user = UserId::from(&*claims.sub);
    if !shared.store_call(shared.users.exists(&user)).await? {
        tracing::debug!("oneTimeToken names no stored user");
        return Err(Error::InvalidOneTimeToken);
    }
    // Last, so that a token refused for another reason is not used up. The ledger keeps the
    // jti past the last instant the token verifies (its whole second, and the clock skew
    // allowed between this host and the ledger's).
    let verifies_until = claims.exp.saturating_add(leeway);
    let keep_until = verifies_until
        .saturating_add(AuthConfig::LEDGER_CLOCK_SKEW.as_secs())
        .saturating_add(1);
    let consumed = shared
        .store_call(shared.ledger.consume(
            &Jti::from(&*claims.jti),
            i64::try_from(keep_until).unwrap_or(i64::MAX),
        ))
        .await?;
    if consumed == Consumed::Replayed {
        tracing::debug!("oneTimeToken replayed");
        return Err(Error::InvalidOneTimeToken);
    }
    // However long the store calls took, the token is taken only while it still verifies:
    // past that, a ledger may already have forgotten the jti.
    if unix_seconds() > verifies_until {
        tracing::debug!("oneTimeToken expired while it was being redeemed");
        return Err(Error::InvalidOneTimeToken);
    }
    let session = Session {
        id: SessionId::random(),
        user,
        app,
        expires_at: (unix_seconds() + shared.config.session_ttl.as_secs()) as i64,
    };
    let refresh = random_token();
    shared
        .store_call(
            shared
                .sessions
                .create(&session, &KeyDigest::of(refresh.as_bytes())),
        )
        .await?;
    shared.events.on_event(&AuthEvent::Redeemed {
        app: session.app.clone(),
        user: session.user.clone(),
        session: session.id.clone(),
    });
    answer(shared, &session, refresh)
}

/// `POST /user/api/auth/refresh`: rotate a refresh token; reuse of a rotated one revokes
/// its session. Every refusal is 401/5.
pub(super) async fn refresh<B>(shared: Arc<Shared>, headers: HeaderMap, body: B) -> Reply
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let shared = &*shared;
    let body = request::read_json(&headers, body, shared.config.body_limit).await?;
    let presented = KeyDigest::of(bodies::refresh_token(&body)?.as_bytes());
    let next = random_token();
    let rotation = shared
        .store_call(shared.sessions.rotate(
            &presented,
            &KeyDigest::of(next.as_bytes()),
            unix_seconds() as i64,
            shared.config.refresh_reuse_interval.as_secs(),
        ))
        .await?;
    match rotation {
        Rotation::Rotated(session) => {
            record_app(session.app.as_str());
            shared.events.on_event(&AuthEvent::Refreshed {
                app: session.app.clone(),
                user: session.user.clone(),
                session: session.id.clone(),
            });
            answer(shared, &session, next)
        }
        Rotation::Reused(session) => {
            record_app(session.app.as_str());
            tracing::warn!(session = %session.id, "rotated refresh token presented again: session revoked");
            shared.events.on_event(&AuthEvent::RefreshReused {
                app: session.app,
                user: session.user,
                session: session.id,
            });
            Err(Error::InvalidRefreshToken)
        }
        Rotation::Invalid => Err(Error::InvalidRefreshToken),
    }
}

/// `POST /user/api/auth/sign-out`: with `Authorization: Bearer <access token>` (401/4 when
/// invalid) or a body `{"refreshToken"}`; 204 either way, idempotent.
pub(super) async fn sign_out<B>(shared: Arc<Shared>, headers: HeaderMap, body: B) -> Reply
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let shared = &*shared;
    if headers.contains_key(http::header::AUTHORIZATION) {
        let claims = shared.verify_access(&headers)?;
        record_app(claims.aud.as_str());
        let session = claims.sid.ok_or(Error::InvalidAccessToken)?;
        shared.store_call(shared.sessions.revoke(&session)).await?;
        shared.events.on_event(&AuthEvent::SignedOut {
            session: Some(session),
        });
        return Ok(no_content());
    }
    let body = request::read_json(&headers, body, shared.config.body_limit).await?;
    let token = KeyDigest::of(bodies::refresh_token(&body)?.as_bytes());
    shared
        .store_call(shared.sessions.revoke_by_token(&token))
        .await?;
    shared
        .events
        .on_event(&AuthEvent::SignedOut { session: None });
    Ok(no_content())
}

/// The app of `X-TechCentrix-App-Id`: one header, 1–128 bytes of visible ASCII.
fn app_id(headers: &HeaderMap) -> Option<AppId> {
    let mut values = headers.get_all(APP_ID_HEADER).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let value = value.to_str().ok()?;
    let ok = !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| AppId::from(value))
}

/// The session answer: a new access token for the session, and its refresh token.
fn answer(shared: &Shared, session: &Session, refresh_token: String) -> Reply {
    let ttl = shared.config.access_token_ttl.as_secs();
    let mut body = Vec::with_capacity(1024);
    let mut object = json::Object::new(&mut body);
    object
        .plain_string_with("accessToken", |out| {
            shared.keys.issue_into(
                out,
                TokenKind::Access,
                session.user.as_str(),
                session.app.as_str(),
                &shared.config.issuer,
                unix_seconds(),
                ttl,
                Some(session.id.as_str()),
            )
        })
        .map_err(Error::Internal)?;
    object
        .string("refreshToken", &refresh_token)
        .string("tokenType", "Bearer")
        .number("expiresIn", ttl)
        .string("userId", session.user.as_str());
    object.finish();
    Ok(ok(body, "application/json"))
}
