//! The session endpoints (SPEC §4) and the guard, in process through the tower services.

mod common;

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use common::*;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use techcentrix_auth::token::{Claims, SigningKeys, TokenKind};
use techcentrix_auth::{AuthConfig, JwtSecret, MemoryUserStore, TechCentrixAuth, UserId};
use tower::{Layer, ServiceExt, service_fn};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn pem(name: &str) -> Vec<u8> {
    std::fs::read(format!("tests/keys/{name}")).unwrap()
}

fn auth_with_keys(keys: SigningKeys) -> TechCentrixAuth {
    TechCentrixAuth::builder()
        .api_keys(common::keys())
        .signing_keys(keys)
        .build()
        .unwrap()
}

/// A service behind the guard that answers the verified `sub`.
async fn guarded(auth: &TechCentrixAuth, token: Option<&str>) -> Answer {
    let inner = service_fn(|request: Request<Full<Bytes>>| async move {
        let claims = request.extensions().get::<Claims>().expect("claims");
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(
            claims.sub.to_string(),
        ))))
    });
    let mut builder = Request::get("/me");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let response = auth
        .guard()
        .layer(inner)
        .oneshot(builder.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

fn assert_guard_refused(answer: &Answer) {
    answer.assert_error(401, 4);
    assert_eq!(answer.message(), "Invalid access token");
    assert_eq!(
        answer.headers["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
}

#[tokio::test]
async fn redeem_answers_a_session() {
    let auth = auth();
    let ott = call(&auth, guide_request(KEY, GUIDE_BODY)).await;
    let sub = ott.claims()["sub"].clone();
    let answer = call(&auth, redeem_request("acme", ott.text())).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-type"], "application/json");
    assert_eq!(answer.headers["cache-control"], "no-store");
    let json = answer.json();
    assert_eq!(json.as_object().unwrap().len(), 5);
    // The fields in the SPEC's order.
    let text = answer.text();
    let at: Vec<usize> = [
        "accessToken",
        "refreshToken",
        "tokenType",
        "expiresIn",
        "userId",
    ]
    .iter()
    .map(|k| text.find(&format!("\"{k}\":")).unwrap())
    .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert_eq!(json["tokenType"], "Bearer");
    assert_eq!(json["expiresIn"], 900);
    assert_eq!(json["userId"], sub);
    // ≥ 256 random bits.
    let refresh = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(json["refreshToken"].as_str().unwrap())
        .unwrap();
    assert!(refresh.len() >= 32);

    let (header, access) = decode_parts(json["accessToken"].as_str().unwrap());
    assert_eq!(header["alg"], "HS512");
    assert_eq!(access["type"], "access");
    assert_eq!(access["sub"], sub);
    assert_eq!(access["aud"], "acme");
    assert_eq!(access["iss"], "techcentrix-auth");
    assert_eq!(access["auth"], json!(["ROLE_USER"]));
    assert_eq!(
        access["exp"].as_u64().unwrap() - access["iat"].as_u64().unwrap(),
        900
    );
}

#[tokio::test]
async fn a_one_time_token_is_accepted_once() {
    let auth = auth();
    let ott = call(&auth, guide_request(KEY, GUIDE_BODY)).await;
    assert_eq!(
        call(&auth, redeem_request("acme", ott.text())).await.status,
        200
    );
    let again = call(&auth, redeem_request("acme", ott.text())).await;
    again.assert_error(401, 5);
    assert_eq!(again.message(), "Invalid one-time token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_redemptions_give_one_session() {
    let auth = auth();
    let ott = call(&auth, guide_request(KEY, GUIDE_BODY)).await;
    let token = ott.text().to_owned();
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let (auth, token) = (auth.clone(), token.clone());
            tokio::spawn(async move { call(&auth, redeem_request("acme", &token)).await })
        })
        .collect();
    let mut ok = 0;
    for handle in calls {
        let answer = handle.await.unwrap();
        match answer.status.as_u16() {
            200 => ok += 1,
            _ => answer.assert_error(401, 5),
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn token_of_app_a_under_app_b_is_refused_and_stays_usable_by_a() {
    let auth = auth();
    let ott = call(&auth, guide_request(KEY, GUIDE_BODY)).await;
    call(&auth, redeem_request("other", ott.text()))
        .await
        .assert_error(401, 5);
    assert_eq!(
        call(&auth, redeem_request("acme", ott.text())).await.status,
        200
    );
}

#[tokio::test]
async fn missing_app_id_header_is_401_5() {
    let auth = auth();
    let ott = call(&auth, guide_request(KEY, GUIDE_BODY)).await;
    let request = json_post(
        "/user/api/auth/token",
        &[],
        &json!({ "oneTimeToken": ott.text() }).to_string(),
    );
    call(&auth, request).await.assert_error(401, 5);
}

#[tokio::test]
async fn malformed_redeem_bodies_are_400_1() {
    let auth = auth();
    for body in [
        "".to_owned(),
        "[]".to_owned(),
        "{}".to_owned(),
        r#"{"oneTimeToken":null}"#.to_owned(),
        r#"{"oneTimeToken":7}"#.to_owned(),
        "not json".to_owned(),
    ] {
        let request = json_post(
            "/user/api/auth/token",
            &[("x-techcentrix-app-id", "acme")],
            &body,
        );
        call(&auth, request).await.assert_error(400, 1);
    }
}

#[tokio::test]
async fn session_endpoints_check_method_content_type_and_size() {
    let auth = auth();
    for path in [
        "/user/api/auth/token",
        "/user/api/auth/refresh",
        "/user/api/auth/sign-out",
    ] {
        let get = Request::get(path).body(Full::new(Bytes::new())).unwrap();
        let answer = call(&auth, get).await;
        answer.assert_error(405, 8);
        assert_eq!(answer.headers["allow"], "POST");

        let text = Request::post(path)
            .header("x-techcentrix-app-id", "acme")
            .header("content-type", "text/plain")
            .body(Full::new(Bytes::from("{}")))
            .unwrap();
        call(&auth, text).await.assert_error(415, 2);

        let big = json_post(
            path,
            &[("x-techcentrix-app-id", "acme")],
            &" ".repeat(16_385),
        );
        call(&auth, big).await.assert_error(413, 3);
    }
}

#[tokio::test]
async fn garbage_and_foreign_tokens_are_401_5() {
    let auth = auth();
    let other_secret = SigningKeys::hs512(JwtSecret::new(vec![9u8; 32]).unwrap());
    let claims = Claims::new(
        TokenKind::OneTime,
        UserId::random(),
        "acme".into(),
        "techcentrix-auth",
        now(),
        60,
    );
    for token in [
        "garbage".to_owned(),
        "a.b.c".to_owned(),
        other_secret.sign(&claims).unwrap(),
    ] {
        call(&auth, redeem_request("acme", &token))
            .await
            .assert_error(401, 5);
    }
}

/// Signs `edit`ed claims of a valid oneTimeToken for the guide's user with the auth's key.
async fn forged(auth: &TechCentrixAuth, edit: impl FnOnce(&mut Claims)) -> String {
    let issued = call(auth, guide_request(KEY, GUIDE_BODY)).await.claims();
    let mut claims: Claims = serde_json::from_value(issued).unwrap();
    claims.jti = techcentrix_auth::Jti::random();
    edit(&mut claims);
    auth.signing_keys().sign(&claims).unwrap()
}

#[tokio::test]
async fn expired_wrong_issuer_wrong_type_and_unknown_user_are_401_5() {
    let auth = auth();
    let cases: Vec<(&str, String)> = vec![
        (
            "expired beyond the leeway",
            forged(&auth, |c| {
                c.iat = now() - 100;
                c.exp = now() - 10;
            })
            .await,
        ),
        (
            "other issuer",
            forged(&auth, |c| c.iss = "evil".into()).await,
        ),
        (
            "access token",
            forged(&auth, |c| c.kind = TokenKind::Access).await,
        ),
        (
            "unknown user",
            forged(&auth, |c| c.sub = UserId::random()).await,
        ),
    ];
    for (why, token) in cases {
        let answer = call(&auth, redeem_request("acme", &token)).await;
        assert_eq!(answer.status, 401, "{why}");
        answer.assert_error(401, 5);
    }
}

#[tokio::test]
async fn expiry_within_the_leeway_is_accepted() {
    let auth = auth();
    let token = forged(&auth, |c| {
        c.iat = now() - 62;
        c.exp = now() - 2;
    })
    .await;
    assert_eq!(
        call(&auth, redeem_request("acme", &token)).await.status,
        200
    );
}

#[tokio::test]
async fn configured_leeway_zero_refuses_just_expired_tokens() {
    let config = AuthConfig::default().with_leeway(Duration::ZERO);
    let auth = auth_with(keys(), MemoryUserStore::new(), config);
    let token = forged(&auth, |c| c.exp = now() - 2).await;
    call(&auth, redeem_request("acme", &token))
        .await
        .assert_error(401, 5);
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact JWT with any header, signed HMAC-SHA512 with `key` (or unsigned).
fn hand_made(header: Value, claims: &Value, hmac_key: Option<&[u8]>) -> String {
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = match hmac_key {
        Some(key) => jsonwebtoken::crypto::sign(
            signing_input.as_bytes(),
            &jsonwebtoken::EncodingKey::from_secret(key),
            jsonwebtoken::Algorithm::HS512,
        )
        .unwrap(),
        None => String::new(),
    };
    format!("{signing_input}.{signature}")
}

#[tokio::test]
async fn alg_none_and_hs_signed_with_the_public_key_are_refused() {
    let auth = auth_with_keys(SigningKeys::from_pem("ec1", &pem("ec-a.pem")).unwrap());
    let issued = call(&auth, guide_request(KEY, GUIDE_BODY)).await.claims();
    let public_pem = pem("ec-a.pub.pem");
    let jwk = auth.signing_keys().jwks()["keys"][0].clone();
    let forgeries = [
        hand_made(
            json!({"alg": "none", "typ": "JWT", "kid": "ec1"}),
            &issued,
            None,
        ),
        hand_made(
            json!({"alg": "HS512", "typ": "JWT", "kid": "ec1"}),
            &issued,
            Some(&public_pem),
        ),
        hand_made(
            json!({"alg": "HS512", "typ": "JWT", "kid": "ec1"}),
            &issued,
            Some(jwk["x"].as_str().unwrap().as_bytes()),
        ),
        hand_made(
            json!({"alg": "HS512", "typ": "JWT"}),
            &issued,
            Some(&public_pem),
        ),
    ];
    for token in &forgeries {
        call(&auth, redeem_request("acme", token))
            .await
            .assert_error(401, 5);
    }
    // The same claims as access tokens at the guard: refused too.
    let mut access = issued.clone();
    access["type"] = json!("access");
    for token in [
        hand_made(json!({"alg": "none", "kid": "ec1"}), &access, None),
        hand_made(
            json!({"alg": "HS512", "kid": "ec1"}),
            &access,
            Some(&public_pem),
        ),
    ] {
        assert_guard_refused(&guarded(&auth, Some(&token)).await);
    }
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let auth = auth();
    let first = start_session(&auth, "acme", KEY).await;
    let other_session = start_session(&auth, "acme", KEY).await;
    let r1 = first["refreshToken"].as_str().unwrap();

    let second = call(&auth, refresh_request(r1)).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.headers["cache-control"], "no-store");
    let second = second.json();
    assert_eq!(second["userId"], first["userId"]);
    assert_eq!(second["tokenType"], "Bearer");
    let r2 = second["refreshToken"].as_str().unwrap();
    assert_ne!(r1, r2);
    let (_, access) = decode_parts(second["accessToken"].as_str().unwrap());
    assert_eq!(access["type"], "access");

    // r1 again: reuse. The answer is 401/5 and the family is revoked: r2 dies too.
    let reuse = call(&auth, refresh_request(r1)).await;
    reuse.assert_error(401, 5);
    assert_eq!(reuse.message(), "Invalid refresh token");
    call(&auth, refresh_request(r2)).await.assert_error(401, 5);
    // Other sessions of the same user go on.
    let other = other_session["refreshToken"].as_str().unwrap();
    assert_eq!(call(&auth, refresh_request(other)).await.status, 200);
}

#[tokio::test]
async fn unknown_refresh_token_is_401_5() {
    call(&auth(), refresh_request("not-a-token"))
        .await
        .assert_error(401, 5);
}

#[tokio::test]
async fn sign_out_with_the_access_token_ends_the_session() {
    let auth = auth();
    let session = start_session(&auth, "acme", KEY).await;
    let access = session["accessToken"].as_str().unwrap();
    let request = Request::post("/user/api/auth/sign-out")
        .header("authorization", format!("Bearer {access}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let answer = call(&auth, request).await;
    assert_eq!(answer.status, 204);
    assert!(answer.body.is_empty());
    call(
        &auth,
        refresh_request(session["refreshToken"].as_str().unwrap()),
    )
    .await
    .assert_error(401, 5);
}

#[tokio::test]
async fn sign_out_with_the_refresh_token_is_idempotent() {
    let auth = auth();
    let session = start_session(&auth, "acme", KEY).await;
    let refresh = session["refreshToken"].as_str().unwrap();
    let body = json!({ "refreshToken": refresh }).to_string();
    for _ in 0..2 {
        let answer = call(&auth, json_post("/user/api/auth/sign-out", &[], &body)).await;
        assert_eq!(answer.status, 204);
    }
    call(&auth, refresh_request(refresh))
        .await
        .assert_error(401, 5);
    let unknown = json!({ "refreshToken": "never-issued" }).to_string();
    let answer = call(&auth, json_post("/user/api/auth/sign-out", &[], &unknown)).await;
    assert_eq!(answer.status, 204);
}

#[tokio::test]
async fn sign_out_with_an_invalid_access_token_is_401_4() {
    let auth = auth();
    let ott = call(&auth, guide_request(KEY, GUIDE_BODY)).await;
    for token in ["garbage", ott.text()] {
        let request = Request::post("/user/api/auth/sign-out")
            .header("authorization", format!("Bearer {token}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        call(&auth, request).await.assert_error(401, 4);
    }
}

// ---- the guard ----

#[tokio::test]
async fn guard_passes_a_valid_access_token_with_its_claims() {
    let auth = auth();
    let session = start_session(&auth, "acme", KEY).await;
    let answer = guarded(&auth, session["accessToken"].as_str()).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.text(), session["userId"].as_str().unwrap());
}

#[tokio::test]
async fn guard_refuses_missing_malformed_one_time_expired_and_foreign_tokens() {
    let auth = auth();
    let ott = call(&auth, guide_request(KEY, GUIDE_BODY)).await;
    let expired = forged(&auth, |c| {
        c.kind = TokenKind::Access;
        c.exp = now() - 60;
    })
    .await;
    let other_issuer = forged(&auth, |c| {
        c.kind = TokenKind::Access;
        c.iss = "elsewhere".into();
    })
    .await;
    let foreign = SigningKeys::hs512(JwtSecret::new(vec![3u8; 40]).unwrap())
        .sign(&Claims::new(
            TokenKind::Access,
            UserId::random(),
            "acme".into(),
            "techcentrix-auth",
            now(),
            60,
        ))
        .unwrap();
    assert_guard_refused(&guarded(&auth, None).await);
    for token in ["garbage", ott.text(), &expired, &other_issuer, &foreign] {
        assert_guard_refused(&guarded(&auth, Some(token)).await);
    }
}

#[tokio::test]
async fn guard_can_be_limited_to_apps() {
    let auth = auth();
    let session = start_session(&auth, "other", OTHER_KEY).await;
    let token = session["accessToken"].as_str().unwrap();
    let inner = service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    });
    let only_acme = auth.guard().allow_apps(["acme"]).layer(inner);
    let response = only_acme.oneshot(bearer_get("/me", token)).await.unwrap();
    assert_eq!(response.status(), 401);
    let any = auth.guard().layer(inner);
    let response = any.oneshot(bearer_get("/me", token)).await.unwrap();
    assert_eq!(response.status(), 200);
}

// ---- keys: algorithms, rotation, JWKS ----

#[tokio::test]
async fn every_algorithm_signs_and_verifies_the_whole_flow() {
    for (file, alg) in [
        ("ec-a.pem", "ES256"),
        ("ed-a.pem", "EdDSA"),
        ("rsa-a.pem", "RS256"),
    ] {
        let auth = auth_with_keys(SigningKeys::from_pem("k", &pem(file)).unwrap());
        let ott = call(&auth, guide_request(KEY, GUIDE_BODY)).await;
        assert_eq!(decode_parts(ott.text()).0["alg"], alg);
        let session = call(&auth, redeem_request("acme", ott.text())).await;
        assert_eq!(session.status, 200, "{alg}");
        let access = session.json()["accessToken"].as_str().unwrap().to_owned();
        assert_eq!(guarded(&auth, Some(&access)).await.status, 200, "{alg}");
    }
}

#[test]
fn weak_or_unsupported_keys_are_refused() {
    assert!(SigningKeys::from_pem("k", &pem("rsa-weak.pem")).is_err());
    assert!(SigningKeys::from_pem("k", &pem("ec-p384.pem")).is_err());
    assert!(SigningKeys::from_pem("k", b"not a pem").is_err());
    assert!(SigningKeys::from_pem("bad kid!", &pem("ec-a.pem")).is_err());
}

#[tokio::test]
async fn rotation_keeps_old_tokens_valid_until_the_old_key_is_removed() {
    let old = SigningKeys::from_pem("old", &pem("ec-a.pem")).unwrap();
    let new = SigningKeys::from_pem("new", &pem("ec-b.pem")).unwrap();
    let users: Arc<dyn techcentrix_auth::UserStore> = Arc::new(MemoryUserStore::new());
    // Three deployments over one user store: before, during and after the rotation.
    let build = |keys: SigningKeys| {
        TechCentrixAuth::builder()
            .api_keys(common::keys())
            .user_store(users.clone())
            .signing_keys(keys)
            .build()
            .unwrap()
    };
    let before = build(old.clone());
    let old_token = call(&before, guide_request(KEY, GUIDE_BODY))
        .await
        .text()
        .to_owned();
    assert_eq!(decode_parts(&old_token).0["kid"], "old");

    // Rotated: the new key signs, the old one still verifies.
    let rotated = build(new.clone().with_previous(old.clone()).unwrap());
    let new_token = call(&rotated, guide_request(KEY, GUIDE_BODY))
        .await
        .text()
        .to_owned();
    assert_eq!(decode_parts(&new_token).0["kid"], "new");
    let kids: Vec<Value> = jwks(&rotated).await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].clone())
        .collect();
    assert_eq!(kids, [json!("new"), json!("old")]);
    assert_eq!(
        call(&rotated, redeem_request("acme", &old_token))
            .await
            .status,
        200
    );

    // The old key removed: its tokens stop verifying; JWKS lists only the new key.
    let after = build(new);
    let late_old = call(&before, guide_request(KEY, GUIDE_BODY))
        .await
        .text()
        .to_owned();
    call(&after, redeem_request("acme", &late_old))
        .await
        .assert_error(401, 5);
    assert_eq!(jwks(&after).await["keys"].as_array().unwrap().len(), 1);
    assert_eq!(
        call(&after, redeem_request("acme", &new_token))
            .await
            .status,
        200
    );
}

async fn jwks(auth: &TechCentrixAuth) -> Value {
    let answer = call(
        auth,
        Request::get("/.well-known/jwks.json")
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-type"], "application/json");
    answer.json()
}

#[tokio::test]
async fn jwks_never_publishes_a_shared_secret() {
    let keys = jwks(&auth()).await;
    assert_eq!(keys, json!({ "keys": [] }));
}

/// Tokens verify with the published JWKS through another JWT library (jwt-compact): the
/// keys, the `kid`s and the algorithms are what a third party would see.
#[tokio::test]
async fn jwks_keys_verify_tokens_with_an_independent_jwt_library() {
    use jwt_compact::alg::{Ed25519, Es256};
    use jwt_compact::jwk::JsonWebKey;
    use jwt_compact::{AlgorithmExt, UntrustedToken};

    let ec = SigningKeys::from_pem("ec", &pem("ec-a.pem")).unwrap();
    let ed = SigningKeys::from_pem("ed", &pem("ed-a.pem")).unwrap();
    let ec_auth = auth_with_keys(ec.clone().with_previous(ed.clone()).unwrap());
    let ed_auth = auth_with_keys(ed.with_previous(ec).unwrap());
    let published = jwks(&ec_auth).await;
    let kids = |jwks: &Value| -> HashSet<String> {
        let keys = jwks["keys"].as_array().unwrap();
        keys.iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        kids(&published),
        kids(&jwks(&ed_auth).await),
        "same live keys"
    );
    let jwk = |kid: &str| -> Value {
        published["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .cloned()
            .unwrap()
    };

    let token = call(&ec_auth, guide_request(KEY, GUIDE_BODY))
        .await
        .text()
        .to_owned();
    let untrusted = UntrustedToken::new(&token).unwrap();
    assert_eq!(untrusted.header().key_id.as_deref(), Some("ec"));
    let key_json = jwk("ec");
    let key: JsonWebKey<'_> = serde_json::from_value(key_json).unwrap();
    let key = <Es256 as jwt_compact::Algorithm>::VerifyingKey::try_from(&key).unwrap();
    let verified = Es256.validator::<Value>(&key).validate(&untrusted).unwrap();
    assert_eq!(verified.claims().custom["type"], "one_time");
    assert_eq!(verified.claims().custom["aud"], "acme");

    let token = call(&ed_auth, guide_request(KEY, GUIDE_BODY))
        .await
        .text()
        .to_owned();
    let untrusted = UntrustedToken::new(&token).unwrap();
    assert_eq!(untrusted.header().key_id.as_deref(), Some("ed"));
    let key_json = jwk("ed");
    let key: JsonWebKey<'_> = serde_json::from_value(key_json).unwrap();
    let key = <Ed25519 as jwt_compact::Algorithm>::VerifyingKey::try_from(&key).unwrap();
    let verified = Ed25519
        .validator::<Value>(&key)
        .validate(&untrusted)
        .unwrap();
    assert_eq!(verified.claims().custom["type"], "one_time");

    // A key that is not published does not verify: the ES256 token fails with the Ed key's
    // algorithm and with another EC key.
    let other = SigningKeys::from_pem("other", &pem("ec-b.pem"))
        .unwrap()
        .jwks();
    let other_json = other["keys"][0].clone();
    let other: JsonWebKey<'_> = serde_json::from_value(other_json).unwrap();
    let other = <Es256 as jwt_compact::Algorithm>::VerifyingKey::try_from(&other).unwrap();
    let ec_token = call(&ec_auth, guide_request(KEY, GUIDE_BODY))
        .await
        .text()
        .to_owned();
    let untrusted = UntrustedToken::new(&ec_token).unwrap();
    assert!(
        Es256
            .validator::<Value>(&other)
            .validate(&untrusted)
            .is_err()
    );
}

#[tokio::test]
async fn jwks_only_answers_get() {
    let request = Request::post("/.well-known/jwks.json")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let answer = call(&auth(), request).await;
    answer.assert_error(405, 8);
    assert_eq!(answer.headers["allow"], "GET, HEAD");
}

/// `refresh_reuse_interval` (TCX_REFRESH_REUSE_INTERVAL): a refresh whose answer was lost
/// can be retried once with the same token; the lost token is then reuse. Off by default.
#[tokio::test]
async fn a_lost_refresh_answer_can_be_retried_within_the_reuse_interval() {
    let config =
        AuthConfig::default().with_refresh_reuse_interval(std::time::Duration::from_secs(30));
    let auth = auth_with(keys(), techcentrix_auth::MemoryUserStore::new(), config);
    let session = start_session(&auth, "acme", KEY).await;
    let first = session["refreshToken"].as_str().unwrap().to_owned();
    let lost = call(&auth, refresh_request(&first)).await;
    assert_eq!(lost.status, 200);
    let retried = call(&auth, refresh_request(&first)).await;
    assert_eq!(retried.status, 200, "{}", retried.text());
    let current = retried.json()["refreshToken"].as_str().unwrap().to_owned();
    // A second retry is reuse, and revokes the session.
    call(&auth, refresh_request(&first))
        .await
        .assert_error(401, 5);
    call(&auth, refresh_request(&current))
        .await
        .assert_error(401, 5);

    // The lost token, presented after the retry, is reuse too.
    let session = start_session(&auth, "acme", KEY).await;
    let first = session["refreshToken"].as_str().unwrap().to_owned();
    let lost = call(&auth, refresh_request(&first)).await.json()["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let current = call(&auth, refresh_request(&first)).await.json()["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    call(&auth, refresh_request(&lost))
        .await
        .assert_error(401, 5);
    call(&auth, refresh_request(&current))
        .await
        .assert_error(401, 5);

    // Off (the default): the retry is reuse at once.
    let auth = common::auth();
    let session = start_session(&auth, "acme", KEY).await;
    let first = session["refreshToken"].as_str().unwrap().to_owned();
    assert_eq!(call(&auth, refresh_request(&first)).await.status, 200);
    call(&auth, refresh_request(&first))
        .await
        .assert_error(401, 5);
}

/// `TechCentrixAuth::verify_access`, the check without tower, agrees with the guard: the
/// same claims for a valid token, and for a refused one an error whose response is
/// byte-identical to the guard's 401 (status, headers, body).
#[tokio::test]
async fn verify_access_and_the_guard_agree() {
    let auth = auth();
    let session = start_session(&auth, "acme", KEY).await;
    let access = session["accessToken"].as_str().unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {access}").parse().unwrap());
    let claims = auth.verify_access(&headers).unwrap();
    assert_eq!(
        guarded(&auth, Some(access)).await.text(),
        claims.sub.as_str()
    );

    let ott = call(&auth, guide_request(KEY, GUIDE_BODY)).await;
    for token in [None, Some("garbage"), Some(ott.text())] {
        let mut headers = http::HeaderMap::new();
        if let Some(token) = token {
            headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        let (parts, body) = auth
            .verify_access(&headers)
            .unwrap_err()
            .into_response()
            .into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        let guard = guarded(&auth, token).await;
        assert_guard_refused(&guard);
        assert_eq!(parts.status, guard.status);
        assert_eq!(parts.headers, guard.headers);
        assert_eq!(body, guard.body);
    }
}
