//! SPEC §4: the session, single use, refresh rotation and reuse detection, sign-out.

use super::external::check_claims;
use super::kit::{
    Check, Kit, Msg, Record, SessionBody, decode, ensure, expect_error, expect_json,
    expect_no_store, expect_status, snippet,
};
use crate::RawRequest;

const ONE_TIME_401: Msg = Msg::Exact("Invalid one-time token");
const REFRESH_401: Msg = Msg::Exact("Invalid refresh token");

pub(super) async fn run(kit: &Kit, r: &mut dyn Record) {
    r.record("redeem: session answer", session_answer(kit).await);
    r.record(
        "single use: second redemption refused",
        second_redemption(kit).await,
    );
    r.record(
        "single use: concurrent redemptions, exactly one succeeds",
        concurrent(kit).await,
    );
    r.record("refresh: rotation", rotation(kit).await);
    r.record(
        "refresh: reuse of a rotated token refused and revokes the session",
        reuse(kit).await,
    );
    r.record(
        "refresh: reuse leaves the user's other sessions alone",
        other_sessions(kit).await,
    );
    r.record(
        "sign-out: with the access token",
        sign_out_access(kit).await,
    );
    r.record(
        "sign-out: with the refresh token",
        sign_out_refresh(kit).await,
    );
}

async fn session_answer(kit: &Kit) -> Check {
    let id = kit.fresh_id();
    let token = kit.one_time_token("external", &id).await?;
    let sub = decode("oneTimeToken", &token)?
        .str_claim("sub")
        .unwrap_or_default()
        .to_owned();
    let response = kit
        .send(
            "redemption",
            kit.redeem_request(&token, Some(&kit.config.app)),
        )
        .await?;
    expect_status(&response, 200)?;
    expect_json(&response)?;
    expect_no_store(&response)?;
    let session = SessionBody::parse(&response)?;
    ensure(session.token_type == "Bearer", || {
        format!("tokenType {:?}, expected \"Bearer\"", session.token_type)
    })?;
    ensure(session.user_id == sub, || {
        format!(
            "userId {:?} is not the token's sub {sub:?}",
            session.user_id
        )
    })?;
    let access = decode("accessToken", &session.access_token)?;
    check_claims(kit, &access, "access", kit.config.access_ttl, Some(&id))
        .map_err(|why| format!("accessToken: {why}"))?;
    ensure(access.str_claim("sub") == Some(sub.as_str()), || {
        "the access token's sub is not the user's".into()
    })?;
    ensure(session.expires_in == kit.config.access_ttl, || {
        format!(
            "expiresIn {}, expected {}",
            session.expires_in, kit.config.access_ttl
        )
    })?;
    if let Some(secret) = kit.config.jwt_secret.as_ref() {
        ensure(
            access.verify_hs512(secret.expose_secret().as_bytes()),
            || "the access token does not verify with --jwt-secret".into(),
        )?;
    }
    ensure(bits(&session.refresh_token) >= 256, || {
        format!(
            "the refresh token carries at most {} bits, expected ≥ 256",
            bits(&session.refresh_token)
        )
    })?;
    ensure(
        session.refresh_token.split('.').count() != 3
            || decode("", &session.refresh_token).is_err(),
        || "the refresh token is a JWT, expected an opaque token".into(),
    )?;
    Ok(())
}

/// The most bits an encoding of `token` can carry, by its alphabet.
fn bits(token: &str) -> usize {
    let per_char = if token.bytes().all(|b| b.is_ascii_hexdigit()) {
        4
    } else {
        6
    };
    token.trim_end_matches('=').len() * per_char
}

async fn second_redemption(kit: &Kit) -> Check {
    let token = kit.one_time_token("external", &kit.fresh_id()).await?;
    kit.redeem("first redemption", &token).await?;
    let response = kit
        .send(
            "second redemption",
            kit.redeem_request(&token, Some(&kit.config.app)),
        )
        .await?;
    expect_error(&response, 401, 5, ONE_TIME_401)
        .map_err(|why| format!("second redemption: {why}"))?;
    Ok(())
}

async fn concurrent(kit: &Kit) -> Check {
    let token = kit.one_time_token("external", &kit.fresh_id()).await?;
    let n = kit.config.concurrency;
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (client, request) = (
            kit.client.clone(),
            kit.redeem_request(&token, Some(&kit.config.app)),
        );
        calls.spawn(async move { client.raw(&request).await });
    }
    let (mut ok, mut refused, mut other) = (0, 0, Vec::new());
    while let Some(done) = calls.join_next().await {
        let response = done
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        match response.status.as_u16() {
            200 => ok += 1,
            401 if expect_error(&response, 401, 5, ONE_TIME_401).is_ok() => refused += 1,
            _ => other.push(response.status.as_u16()),
        }
    }
    ensure(ok == 1 && refused == n - 1, || {
        format!(
            "{n} concurrent redemptions: {ok} succeeded, {refused} answered 401/5, others {other:?}; expected exactly one 200"
        )
    })?;
    Ok(())
}

async fn refresh(kit: &Kit, label: &str, token: &str) -> Result<SessionBody, String> {
    let response = kit.send(label, kit.refresh_request(token)).await?;
    ensure(response.status == 200, || {
        format!(
            "{label}: status {}, expected 200 ({})",
            response.status,
            snippet(&response)
        )
    })?;
    expect_no_store(&response).map_err(|why| format!("{label}: {why}"))?;
    SessionBody::parse(&response).map_err(|why| format!("{label}: {why}"))
}

async fn refused(kit: &Kit, label: &str, token: &str) -> Result<(), String> {
    let response = kit.send(label, kit.refresh_request(token)).await?;
    expect_error(&response, 401, 5, REFRESH_401).map_err(|why| format!("{label}: {why}"))
}

async fn rotation(kit: &Kit) -> Check {
    let first = kit.session("session").await?;
    let second = refresh(kit, "refresh (no app id header)", &first.refresh_token).await?;
    ensure(second.refresh_token != first.refresh_token, || {
        "the refresh answered the same refresh token: not rotated".into()
    })?;
    ensure(second.user_id == first.user_id, || {
        "the refreshed session names another user".into()
    })?;
    let access = decode("new accessToken", &second.access_token)?;
    ensure(access.str_claim("type") == Some("access"), || {
        "the new access token is not of type access".into()
    })?;
    let third = refresh(kit, "refresh with the new token", &second.refresh_token).await?;
    ensure(third.refresh_token != second.refresh_token, || {
        "the second refresh answered the same token".into()
    })?;
    Ok(())
}

async fn reuse(kit: &Kit) -> Check {
    let first = kit.session("session").await?;
    let second = refresh(kit, "refresh", &first.refresh_token).await?;
    ensure(second.refresh_token != first.refresh_token, || {
        "not rotated: the refresh answered the same token".into()
    })?;
    refused(kit, "the rotated token again (reuse)", &first.refresh_token).await?;
    refused(
        kit,
        "the newest token after the reuse (session revoked)",
        &second.refresh_token,
    )
    .await?;
    Ok(())
}

async fn other_sessions(kit: &Kit) -> Check {
    let id = kit.fresh_id();
    let a = kit
        .redeem("session A", &kit.one_time_token("external", &id).await?)
        .await?;
    let b = kit
        .redeem("session B", &kit.one_time_token("external", &id).await?)
        .await?;
    let a2 = refresh(kit, "refresh A", &a.refresh_token).await?;
    ensure(a2.refresh_token != a.refresh_token, || "not rotated".into())?;
    refused(kit, "reuse in session A", &a.refresh_token).await?;
    refresh(
        kit,
        "refresh of session B after A's reuse",
        &b.refresh_token,
    )
    .await?;
    Ok(())
}

async fn sign_out_access(kit: &Kit) -> Check {
    let session = kit.session("session").await?;
    let request = RawRequest::post(kit.paths().sign_out.clone())
        .header("authorization", &format!("Bearer {}", session.access_token));
    let response = kit.send("sign-out with the access token", request).await?;
    expect_status(&response, 204)?;
    expect_no_store(&response)?;
    refused(kit, "refresh after sign-out", &session.refresh_token).await?;
    Ok(())
}

async fn sign_out_refresh(kit: &Kit) -> Check {
    let session = kit.session("session").await?;
    for attempt in [
        "sign-out with the refresh token",
        "the same sign-out again (idempotent)",
    ] {
        let response = kit
            .send(attempt, kit.sign_out_body_request(&session.refresh_token))
            .await?;
        ensure(response.status == 204, || {
            format!("{attempt}: status {}, expected 204", response.status)
        })?;
    }
    refused(kit, "refresh after sign-out", &session.refresh_token).await?;
    Ok(())
}
