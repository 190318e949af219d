//! SPEC §2: the guide's request, the token, the answer forms, sign-up-or-in.

use serde_json::Value;

use super::jwt::Jwt;
use super::kit::{
    Check, Kit, Not, Record, decode, ensure, expect_json, expect_no_store, expect_status,
    media_type, now,
};
use crate::RawRequest;

/// The integration guide's body, byte for byte.
const GUIDE_BODY: &str =
    r#"{ "id": "user1-external", "email": "user1@techcentrix.com", "firstName": "User1Name" }"#;

pub(super) async fn run(kit: &Kit, r: &mut dyn Record) {
    let guide = guide_request(kit).await;
    let token = guide.as_ref().ok().cloned();
    r.record("external: guide request", guide.map(|_| ()));
    let Some(token) = token else {
        for name in [
            "external: token header",
            "external: token claims",
            "external: HS512 signature",
        ] {
            r.record(
                name,
                Err(Not::Fail("no token from the guide request".into())),
            );
        }
        return more(kit, r).await;
    };
    r.record("external: token header", token_header(kit, &token));
    r.record(
        "external: token claims",
        token_claims(kit, &token, "user1-external"),
    );
    r.record("external: HS512 signature", hs512_signature(kit, &token));
    more(kit, r).await;
}

async fn more(kit: &Kit, r: &mut dyn Record) {
    r.record("external: fresh jti per token", fresh_jti(kit).await);
    r.record("external: JSON answer form", json_form(kit).await);
    r.record(
        "external: Accept */* answers text",
        accept_text(kit, "*/*").await,
    );
    r.record(
        "external: Accept naming JSON and text answers text",
        accept_text(kit, "application/json, text/plain").await,
    );
    r.record(
        "external: Bearer matched case-insensitively",
        bearer_case(kit).await,
    );
    r.record(
        "external: Content-Type with parameters",
        accepted(kit, |kit, id| {
            RawRequest::post(kit.paths().external.clone())
                .header("authorization", &kit.key_header())
                .header("content-type", "application/json; charset=utf-8")
                .body(Kit::profile(id, "p@example.com", "P"))
        })
        .await,
    );
    r.record(
        "external: unknown fields ignored",
        accepted(kit, |kit, id| {
            kit.external_request(format!(
                r#"{{"id":"{id}","email":"u@example.com","firstName":"U","nickname":"x","age":3}}"#
            ))
        })
        .await,
    );
    r.record(
        "external: empty firstName accepted",
        accepted(kit, |kit, id| {
            kit.external_request(Kit::profile(id, "e@example.com", ""))
        })
        .await,
    );
    let limit = kit.config.body_limit;
    r.record(
        "external: body at the limit accepted",
        accepted(kit, move |kit, id| {
            let body = Kit::profile(id, "l@example.com", "L");
            let padded = format!("{}{}", body, " ".repeat(limit.saturating_sub(body.len())));
            kit.external_request(padded)
        })
        .await,
    );
    r.record("sign-up-or-in: same id, same sub", same_sub(kit).await);
    r.record("sign-up-or-in: other id, other sub", other_sub(kit).await);
    r.record(
        "sign-up-or-in: concurrent first calls, one user",
        concurrent_first(kit).await,
    );
    r.record(
        "sign-up-or-in: profile update reflected",
        profile_update(kit).await,
    );
}

async fn guide_request(kit: &Kit) -> Result<String, Not> {
    let request = RawRequest::post(kit.paths().external.clone())
        .header("authorization", &kit.key_header())
        .header("content-type", "application/json")
        .body(GUIDE_BODY);
    let response = kit.send("guide request", request).await?;
    expect_status(&response, 200)?;
    let content_type = response
        .header("content-type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let charset_ok = content_type
        .split(';')
        .skip(1)
        .any(|p| p.trim().replace('"', "") == "charset=utf-8");
    ensure(
        media_type(&response).as_deref() == Some("text/plain") && charset_ok,
        || format!("Content-Type {content_type:?}, expected text/plain; charset=utf-8"),
    )?;
    expect_no_store(&response)?;
    let body = response.text();
    ensure(!body.starts_with('"') && !body.starts_with('{'), || {
        "the body is quoted or JSON, expected the bare token".into()
    })?;
    ensure(body.trim() == body, || {
        "the body has whitespace around the token".into()
    })?;
    decode("the body", &body)?;
    Ok(body)
}

fn token_header(kit: &Kit, token: &str) -> Check {
    let jwt = decode("oneTimeToken", token)?;
    let alg = jwt
        .header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kit.config.jwt_secret.is_some() {
        ensure(alg == "HS512", || {
            format!("alg {alg:?}, expected HS512 (a --jwt-secret was given)")
        })?;
    } else {
        ensure(["HS512", "ES256", "EdDSA", "RS256"].contains(&alg), || {
            format!("alg {alg:?}, expected HS512 or a configured asymmetric algorithm")
        })?;
    }
    let typ = jwt.header.get("typ").and_then(Value::as_str);
    ensure(typ == Some("JWT"), || {
        format!("typ {typ:?}, expected \"JWT\"")
    })?;
    let kid = jwt
        .header
        .get("kid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    ensure(!kid.is_empty(), || "no kid in the header".into())?;
    Ok(())
}

/// The claims of a oneTimeToken issued to the kit's app for partner id `partner_id`.
pub(super) fn check_claims(
    kit: &Kit,
    jwt: &Jwt,
    kind: &str,
    ttl: u64,
    partner_id: Option<&str>,
) -> Result<(), String> {
    let jti = jwt.str_claim("jti").unwrap_or_default();
    ensure(is_uuid(jti), || format!("jti {jti:?} is not a UUID"))?;
    let sub = jwt.str_claim("sub").unwrap_or_default();
    ensure(!sub.is_empty(), || "no sub".into())?;
    if let Some(partner_id) = partner_id {
        ensure(sub != partner_id, || {
            "sub is the partner's id, expected the service's own id".into()
        })?;
    }
    let auth = jwt.claims.get("auth");
    ensure(auth == Some(&serde_json::json!(["ROLE_USER"])), || {
        format!("auth {auth:?}, expected [\"ROLE_USER\"]")
    })?;
    let typ = jwt.str_claim("type");
    ensure(typ == Some(kind), || {
        format!("type {typ:?}, expected {kind:?}")
    })?;
    let iss = jwt.str_claim("iss").unwrap_or_default();
    match &kit.config.issuer {
        Some(expected) => ensure(iss == expected, || {
            format!("iss {iss:?}, expected {expected:?}")
        })?,
        None => ensure(!iss.is_empty(), || "no iss".into())?,
    }
    let aud = jwt.claims.get("aud");
    ensure(
        aud.and_then(Value::as_str) == Some(kit.config.app.as_str()),
        || format!("aud {aud:?}, expected {:?}", kit.config.app),
    )?;
    let (iat, exp) = (jwt.int_claim("iat"), jwt.int_claim("exp"));
    let (Some(iat), Some(exp)) = (iat, exp) else {
        return Err(format!(
            "iat {iat:?} / exp {exp:?}: expected integer unix seconds"
        ));
    };
    ensure((iat - now()).abs() <= 300, || {
        format!("iat {iat} is far from now ({})", now())
    })?;
    ensure(exp - iat == ttl as i64, || {
        format!("exp - iat = {}, expected {ttl}", exp - iat)
    })?;
    Ok(())
}

fn token_claims(kit: &Kit, token: &str, partner_id: &str) -> Check {
    let jwt = decode("oneTimeToken", token)?;
    check_claims(
        kit,
        &jwt,
        "one_time",
        kit.config.one_time_ttl,
        Some(partner_id),
    )?;
    Ok(())
}

fn hs512_signature(kit: &Kit, token: &str) -> Check {
    let secret = kit.skip_without_secret()?;
    let jwt = decode("oneTimeToken", token)?;
    ensure(jwt.verify_hs512(secret), || {
        "the signature does not verify with --jwt-secret".into()
    })?;
    Ok(())
}

async fn fresh_jti(kit: &Kit) -> Check {
    let id = kit.fresh_id();
    let a = kit.one_time_token("first token", &id).await?;
    let b = kit.one_time_token("second token", &id).await?;
    let (a, b) = (decode("first", &a)?, decode("second", &b)?);
    ensure(a.str_claim("jti") != b.str_claim("jti"), || {
        "two tokens share a jti".into()
    })?;
    Ok(())
}

async fn json_form(kit: &Kit) -> Check {
    let id = kit.fresh_id();
    let request = kit
        .external_request(Kit::profile(&id, "j@example.com", "J"))
        .header("accept", "application/json");
    let response = kit
        .send("external with Accept: application/json", request)
        .await?;
    expect_status(&response, 200)?;
    expect_json(&response)?;
    expect_no_store(&response)?;
    let body: Value = response
        .json()
        .map_err(|_| "the body is not JSON".to_string())?;
    let object = body.as_object().ok_or("the body is not an object")?;
    let token = object
        .get("oneTimeToken")
        .and_then(Value::as_str)
        .ok_or("no string oneTimeToken")?;
    let expires_in = object
        .get("expiresIn")
        .and_then(Value::as_u64)
        .ok_or("no integer expiresIn")?;
    let jwt = decode("oneTimeToken", token)?;
    check_claims(kit, &jwt, "one_time", kit.config.one_time_ttl, Some(&id))?;
    let lifetime = jwt.int_claim("exp").unwrap_or(0) - jwt.int_claim("iat").unwrap_or(0);
    ensure(expires_in as i64 == lifetime, || {
        format!("expiresIn {expires_in}, but exp - iat = {lifetime}")
    })?;
    Ok(())
}

async fn accept_text(kit: &Kit, accept: &str) -> Check {
    let id = kit.fresh_id();
    let request = kit
        .external_request(Kit::profile(&id, "a@example.com", "A"))
        .header("accept", accept);
    let response = kit.send("external with Accept", request).await?;
    expect_status(&response, 200)?;
    ensure(
        media_type(&response).as_deref() == Some("text/plain"),
        || {
            format!(
                "Content-Type {:?}, expected text/plain",
                response.header("content-type")
            )
        },
    )?;
    decode("the body", &response.text())?;
    Ok(())
}

async fn bearer_case(kit: &Kit) -> Check {
    for scheme in ["bearer", "BEARER", "BeArEr"] {
        let id = kit.fresh_id();
        let request = RawRequest::post(kit.paths().external.clone())
            .header(
                "authorization",
                &format!("{scheme} {}", kit.config.api_key.expose_secret()),
            )
            .json(Kit::profile(&id, "b@example.com", "B"));
        let response = kit
            .send("external with a lower-case scheme", request)
            .await?;
        ensure(response.status == 200, || {
            format!("`{scheme} <key>`: status {}, expected 200", response.status)
        })?;
    }
    Ok(())
}

/// The request `make` builds for a fresh id answers 200 with a token.
async fn accepted(kit: &Kit, make: impl Fn(&Kit, &str) -> RawRequest) -> Check {
    let id = kit.fresh_id();
    let response = kit.send("external", make(kit, &id)).await?;
    expect_status(&response, 200)?;
    decode("the body", &response.text())?;
    Ok(())
}

async fn sub_of(kit: &Kit, id: &str) -> Result<String, String> {
    let token = kit.one_time_token("external", id).await?;
    Ok(decode("oneTimeToken", &token)?
        .str_claim("sub")
        .unwrap_or_default()
        .to_owned())
}

async fn same_sub(kit: &Kit) -> Check {
    let id = kit.fresh_id();
    let (a, b) = (sub_of(kit, &id).await?, sub_of(kit, &id).await?);
    ensure(!a.is_empty() && a == b, || {
        format!("sub {a:?} then {b:?} for the same id")
    })?;
    Ok(())
}

async fn other_sub(kit: &Kit) -> Check {
    let (a, b) = (
        sub_of(kit, &kit.fresh_id()).await?,
        sub_of(kit, &kit.fresh_id()).await?,
    );
    ensure(a != b, || format!("two ids got the same sub {a:?}"))?;
    Ok(())
}

async fn concurrent_first(kit: &Kit) -> Check {
    let id = kit.fresh_id();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..kit.config.concurrency.min(8) {
        let (client, body) = (
            kit.client.clone(),
            kit.external_request(Kit::profile(&id, "c@example.com", "C")),
        );
        calls.spawn(async move { client.raw(&body).await });
    }
    let mut subs = Vec::new();
    while let Some(done) = calls.join_next().await {
        let response = done
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        ensure(response.status == 200, || {
            format!("a concurrent first call answered {}", response.status)
        })?;
        subs.push(
            decode("oneTimeToken", &response.text())?
                .str_claim("sub")
                .unwrap_or_default()
                .to_owned(),
        );
    }
    subs.dedup();
    ensure(subs.len() == 1, || {
        format!(
            "concurrent first calls for one id made {} users",
            subs.len()
        )
    })?;
    Ok(())
}

async fn profile_update(kit: &Kit) -> Check {
    let path = kit.protected()?.to_owned();
    let id = kit.fresh_id();
    let mut user = None;
    for (email, first) in [
        (format!("{id}@before.example"), "Before"),
        (format!("{id}@after.example"), "After"),
    ] {
        let token = kit
            .one_time_token_for("external", Kit::profile(&id, &email, first))
            .await?;
        let session = kit.redeem("redemption", &token).await?;
        let request = RawRequest::get(path.clone())
            .header("authorization", &format!("Bearer {}", session.access_token));
        let response = kit.send("protected path", request).await?;
        ensure(response.status == 200, || {
            format!("{path}: status {}, expected 200", response.status)
        })?;
        let body: Value = match response.json() {
            Ok(body @ Value::Object(_)) if body.get("email").is_some() => body,
            _ => {
                return Err(Not::Skip(format!(
                    "{path} does not show the profile (no JSON email)"
                )));
            }
        };
        let shown = body.get("email").and_then(Value::as_str);
        ensure(shown == Some(email.as_str()), || {
            format!("{path} shows email {shown:?}, expected {email:?}")
        })?;
        if let Some(shown) = body.get("firstName") {
            ensure(shown == first, || {
                format!("{path} shows firstName {shown}, expected {first:?}")
            })?;
        }
        if let Some(before) = &user {
            ensure(before == &session.user_id, || {
                "the update made another user".into()
            })?;
        }
        user = Some(session.user_id);
    }
    Ok(())
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}
