//! SPEC §3: every error row a client can provoke, with the check order.

use bytes::Bytes;
use http::Method;

use super::jwt;
use super::kit::{
    Check, ClaimsChange, Kit, Msg, Record, decode, expect_error, expect_no_store, now,
};
use crate::RawRequest;

const KEY_401: Msg = Msg::Exact("Invalid access token");
const MALFORMED: Msg = Msg::Prefix("Malformed request: ");
const ONE_TIME_401: Msg = Msg::Exact("Invalid one-time token");
const REFRESH_401: Msg = Msg::Exact("Invalid refresh token");

pub(super) async fn run(kit: &Kit, r: &mut dyn Record) {
    let external = kit.paths().external.clone();
    let key = kit.config.api_key.expose_secret().to_owned();
    let valid = Kit::profile("conformance-unused", "u@example.com", "U");
    let limit = kit.config.body_limit;
    let oversized = format!("{valid}{}", " ".repeat(limit + 1 - valid.len()));

    // 401/4: the key.
    let post = || RawRequest::post(external.clone());
    let rows_401: Vec<(&str, RawRequest)> = vec![
        ("401/4: no Authorization", post().json(valid.clone())),
        (
            "401/4: wrong key",
            post()
                .header(
                    "authorization",
                    "Bearer conformance-wrong-key-0123456789abcdef",
                )
                .json(valid.clone()),
        ),
        (
            "401/4: key with a suffix",
            post()
                .header("authorization", &format!("Bearer {key}x"))
                .json(valid.clone()),
        ),
        (
            "401/4: key cut short",
            post()
                .header(
                    "authorization",
                    &format!("Bearer {}", &key[..key.len() / 2]),
                )
                .json(valid.clone()),
        ),
        (
            "401/4: Basic scheme",
            post()
                .header("authorization", &format!("Basic {key}"))
                .json(valid.clone()),
        ),
        (
            "401/4: Bearer without a key",
            post().header("authorization", "Bearer").json(valid.clone()),
        ),
        (
            "401/4 before the body: no key, bad JSON",
            post().json("{not json"),
        ),
        (
            "401/4 before 415: wrong key, text/plain",
            post()
                .header(
                    "authorization",
                    "Bearer conformance-wrong-key-0123456789abcdef",
                )
                .header("content-type", "text/plain")
                .body(valid.clone()),
        ),
        (
            "401/4 before 413: no key, body over the limit",
            post().json(oversized.clone()),
        ),
    ];
    for (name, request) in rows_401 {
        let check = async {
            Ok(expect_error(
                &kit.send(name, request).await?,
                401,
                4,
                KEY_401,
            )?)
        };
        r.record(name, check.await);
    }

    // 415/2, 413/3 and their order.
    let keyed = || post().header("authorization", &kit.key_header());
    let chunks: Vec<Bytes> = oversized
        .as_bytes()
        .chunks(1000)
        .map(Bytes::copy_from_slice)
        .collect();
    let rows: Vec<(&str, RawRequest, u16, u64, Msg)> = vec![
        (
            "415/2: text/plain",
            keyed()
                .header("content-type", "text/plain")
                .body(valid.clone()),
            415,
            2,
            Msg::Exact("Unsupported media type"),
        ),
        (
            "415/2: no Content-Type",
            keyed().body(valid.clone()),
            415,
            2,
            Msg::Exact("Unsupported media type"),
        ),
        (
            "415/2 before 413: text/plain over the limit",
            keyed()
                .header("content-type", "text/plain")
                .body(oversized.clone()),
            415,
            2,
            Msg::Exact("Unsupported media type"),
        ),
        (
            "413/3: Content-Length over the limit",
            keyed().json(oversized.clone()),
            413,
            3,
            Msg::Exact("Payload too large"),
        ),
        (
            "413/3: chunked over the limit",
            keyed()
                .header("content-type", "application/json")
                .chunked(chunks),
            413,
            3,
            Msg::Exact("Payload too large"),
        ),
        (
            "413/3 before 400: bad JSON over the limit",
            keyed().json(format!("{{not json{}", " ".repeat(limit))),
            413,
            3,
            Msg::Exact("Payload too large"),
        ),
    ];
    for (name, request, status, code, msg) in rows {
        let check = async {
            Ok(expect_error(
                &kit.send(name, request).await?,
                status,
                code,
                msg,
            )?)
        };
        r.record(name, check.await);
    }

    // 400/1: the body.
    let long = |n: usize| "a".repeat(n);
    let bodies: Vec<(&str, String)> = vec![
        ("400/1: bad JSON", "{\"id\": \"x\",".into()),
        ("400/1: JSON not an object", "[\"x\"]".into()),
        ("400/1: empty body", String::new()),
        (
            "400/1: missing id",
            r#"{"email":"u@example.com","firstName":"U"}"#.into(),
        ),
        (
            "400/1: missing email",
            r#"{"id":"x","firstName":"U"}"#.into(),
        ),
        (
            "400/1: missing firstName",
            r#"{"id":"x","email":"u@example.com"}"#.into(),
        ),
        (
            "400/1: id of the wrong type",
            r#"{"id":42,"email":"u@example.com","firstName":"U"}"#.into(),
        ),
        (
            "400/1: firstName of the wrong type",
            r#"{"id":"x","email":"u@example.com","firstName":["U"]}"#.into(),
        ),
        (
            "400/1: null email",
            r#"{"id":"x","email":null,"firstName":"U"}"#.into(),
        ),
        (
            "400/1: duplicated field",
            r#"{"id":"x","id":"y","email":"u@example.com","firstName":"U"}"#.into(),
        ),
        (
            "400/1: empty id",
            r#"{"id":"","email":"u@example.com","firstName":"U"}"#.into(),
        ),
        (
            "400/1: id over 128 bytes",
            Kit::profile(&long(129), "u@example.com", "U"),
        ),
        (
            "400/1: control character in id",
            Kit::profile("x\u{1}y", "u@example.com", "U"),
        ),
        (
            "400/1: email without @",
            Kit::profile("x", "user.example.com", "U"),
        ),
        (
            "400/1: email with two @",
            Kit::profile("x", "a@b@example.com", "U"),
        ),
        (
            "400/1: email with an empty local part",
            Kit::profile("x", "@example.com", "U"),
        ),
        (
            "400/1: email with an empty domain",
            Kit::profile("x", "user@", "U"),
        ),
        (
            "400/1: email with whitespace",
            Kit::profile("x", "us er@example.com", "U"),
        ),
        (
            "400/1: email local part over 64 bytes",
            Kit::profile("x", &format!("{}@example.com", long(65)), "U"),
        ),
        (
            "400/1: email over 254 bytes",
            Kit::profile("x", &format!("user@{}.example", long(246)), "U"),
        ),
        (
            "400/1: firstName over 128 bytes",
            Kit::profile("x", "u@example.com", &long(129)),
        ),
        (
            "400/1: control character in firstName",
            Kit::profile("x", "u@example.com", "U\u{7f}"),
        ),
    ];
    for (name, body) in bodies {
        let check = async {
            Ok(expect_error(
                &kit.send(name, kit.external_request(body)).await?,
                400,
                1,
                MALFORMED,
            )?)
        };
        r.record(name, check.await);
    }
    // The bounds themselves pass.
    let bounds = async {
        for body in [
            {
                let id = kit.fresh_id();
                Kit::profile(
                    &format!("{id}-{}", long(127 - id.len())),
                    "u@example.com",
                    &long(128),
                )
            },
            Kit::profile(
                &kit.fresh_id(),
                &format!("{}@{}.example", long(64), long(181)),
                "U",
            ),
        ] {
            let response = kit
                .send("external at the field bounds", kit.external_request(body))
                .await?;
            super::kit::ensure(response.status == 200, || {
                format!(
                    "status {}, expected 200 ({})",
                    response.status,
                    super::kit::snippet(&response)
                )
            })?;
        }
        Ok(())
    };
    r.record("external: fields at their bounds accepted", bounds.await);

    // 405/8.
    let paths = kit.paths().clone();
    let rows_405: Vec<(&str, Method, String, &str)> = vec![
        (
            "405/8: GET external",
            Method::GET,
            paths.external.clone(),
            "POST",
        ),
        (
            "405/8: PUT external",
            Method::PUT,
            paths.external.clone(),
            "POST",
        ),
        (
            "405/8: DELETE external",
            Method::DELETE,
            paths.external.clone(),
            "POST",
        ),
        ("405/8: GET token", Method::GET, paths.token.clone(), "POST"),
        (
            "405/8: GET refresh",
            Method::GET,
            paths.refresh.clone(),
            "POST",
        ),
        (
            "405/8: GET sign-out",
            Method::GET,
            paths.sign_out.clone(),
            "POST",
        ),
        ("405/8: POST jwks", Method::POST, paths.jwks.clone(), "GET"),
    ];
    for (name, method, path, allowed) in rows_405 {
        let check = async {
            let request = RawRequest::new(method, path).header("authorization", &kit.key_header());
            let response = kit.send(name, request).await?;
            expect_error(&response, 405, 8, Msg::Exact("Method not allowed"))?;
            let allow = response.header("allow").unwrap_or_default();
            super::kit::ensure(allow.split(',').any(|m| m.trim() == allowed), || {
                format!("Allow {allow:?} does not name {allowed}")
            })?;
            Ok(())
        };
        r.record(name, check.await);
    }

    redemption(kit, r).await;
    refresh_and_sign_out(kit, r).await;
}

/// 401/5 and 400/1 at redemption.
async fn redemption(kit: &Kit, r: &mut dyn Record) {
    let app = kit.config.app.clone();
    let id = kit.fresh_id();
    let token = match kit.one_time_token("external", &id).await {
        Ok(token) => token,
        Err(why) => {
            r.record("401/5: redemption rows", Err(why.into()));
            return;
        }
    };
    let jwt = decode("oneTimeToken", &token).ok();
    let claims = jwt.as_ref().map(|j| j.claims.clone()).unwrap_or_default();
    let mut expired = claims.clone();
    expired.insert("exp".into(), (now() - 3600).into());
    expired.insert("iat".into(), (now() - 3660).into());

    let access = kit
        .session("session")
        .await
        .map(|s| s.access_token)
        .unwrap_or_default();
    let rows: Vec<(&str, RawRequest)> = vec![
        (
            "401/5: garbage oneTimeToken",
            kit.redeem_request("not-a-jwt", Some(&app)),
        ),
        (
            "401/5: tampered signature",
            kit.redeem_request(&jwt::tampered(&token), Some(&app)),
        ),
        (
            "401/5: alg none",
            kit.redeem_request(&jwt::unsigned(&claims), Some(&app)),
        ),
        (
            "401/5: expired-looking (payload changed)",
            kit.redeem_request(&jwt::repayloaded(&token, &expired), Some(&app)),
        ),
        (
            "401/5: other app",
            kit.redeem_request(&token, Some("conformance-other-app")),
        ),
        ("401/5: no app id header", kit.redeem_request(&token, None)),
        (
            "401/5: access token instead",
            kit.redeem_request(&access, Some(&app)),
        ),
    ];
    for (name, request) in rows {
        let check = async {
            let response = kit.send(name, request).await?;
            expect_error(&response, 401, 5, ONE_TIME_401)?;
            Ok(expect_no_store(&response)?)
        };
        r.record(name, check.await);
    }

    // Forged with the secret: properly signed, wrong in one claim.
    let forged: Vec<(&str, ClaimsChange)> = vec![
        ("401/5: expired (signed)", |c| {
            c.insert("exp".into(), (now() - 3600).into());
            c.insert("iat".into(), (now() - 3660).into());
        }),
        ("401/5: other issuer (signed)", |c| {
            c.insert("iss".into(), "conformance-other-issuer".into());
        }),
        ("401/5: unknown user (signed)", |c| {
            c.insert("sub".into(), "conformance-no-such-user".into());
        }),
        ("401/5: wrong type (signed)", |c| {
            c.insert("type".into(), "refresh".into());
        }),
    ];
    for (name, change) in forged {
        let check = async {
            let secret = kit.skip_without_secret()?;
            let jwt = jwt.as_ref().ok_or("no token to forge from")?;
            let mut claims = jwt.claims.clone();
            claims.insert(
                "jti".into(),
                format!("00000000-0000-4000-8000-{:012x}", now()).into(),
            );
            change(&mut claims);
            let forged = jwt::sign_hs512(&jwt.header, &claims, secret);
            let response = kit
                .send(name, kit.redeem_request(&forged, Some(&app)))
                .await?;
            Ok(expect_error(&response, 401, 5, ONE_TIME_401)?)
        };
        r.record(name, check.await);
    }

    // The token is still unused: the rejections above did not spend it.
    let check = async {
        kit.redeem("redemption after the rejections", &token)
            .await?;
        Ok(())
    };
    r.record(
        "redeem: rejected attempts do not spend the token",
        check.await,
    );

    let token_path = kit.paths().token.clone();
    let bodies: Vec<(&str, RawRequest, u16, u64, Msg)> = vec![
        (
            "400/1: redemption body not JSON",
            RawRequest::post(token_path.clone())
                .header("x-techcentrix-app-id", &app)
                .json("{oneTimeToken"),
            400,
            1,
            MALFORMED,
        ),
        (
            "400/1: redemption without oneTimeToken",
            RawRequest::post(token_path.clone())
                .header("x-techcentrix-app-id", &app)
                .json("{}"),
            400,
            1,
            MALFORMED,
        ),
        (
            "400/1: oneTimeToken not a string",
            RawRequest::post(token_path.clone())
                .header("x-techcentrix-app-id", &app)
                .json(r#"{"oneTimeToken":42}"#),
            400,
            1,
            MALFORMED,
        ),
        (
            "415/2: redemption as text/plain",
            RawRequest::post(token_path.clone())
                .header("x-techcentrix-app-id", &app)
                .header("content-type", "text/plain")
                .body(r#"{"oneTimeToken":"x"}"#),
            415,
            2,
            Msg::Exact("Unsupported media type"),
        ),
    ];
    for (name, request, status, code, msg) in bodies {
        let check = async {
            Ok(expect_error(
                &kit.send(name, request).await?,
                status,
                code,
                msg,
            )?)
        };
        r.record(name, check.await);
    }
}

async fn refresh_and_sign_out(kit: &Kit, r: &mut dyn Record) {
    let unknown = "conformance-unknown-refresh-token-0123456789abcdefghij";
    let check = async {
        let response = kit
            .send(
                "refresh with an unknown token",
                kit.refresh_request(unknown),
            )
            .await?;
        expect_error(&response, 401, 5, REFRESH_401)?;
        Ok(expect_no_store(&response)?)
    };
    r.record("401/5: unknown refresh token", check.await);
    let check = async {
        let request = RawRequest::post(kit.paths().refresh.clone()).json("{refreshToken");
        Ok(expect_error(
            &kit.send("refresh with bad JSON", request).await?,
            400,
            1,
            MALFORMED,
        )?)
    };
    r.record("400/1: refresh body not JSON", check.await);
    let check = async {
        let request = RawRequest::post(kit.paths().sign_out.clone())
            .header("authorization", "Bearer conformance.not.a-token");
        let response = kit
            .send("sign-out with a bad access token", request)
            .await?;
        Ok(expect_error(&response, 401, 4, KEY_401)?)
    };
    r.record("401/4: sign-out with a bad access token", check.await);
    let check: Check = async {
        let response = kit
            .send(
                "sign-out with an unknown refresh token",
                kit.sign_out_body_request(unknown),
            )
            .await?;
        super::kit::ensure(response.status == 204, || {
            format!("status {}, expected 204", response.status)
        })?;
        Ok(())
    }
    .await;
    r.record("sign-out: unknown refresh token is 204", check);
}
