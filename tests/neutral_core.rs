//! The framework-neutral calls (`TechCentrixAuth::serve`, `verify_access`, `handles`,
//! `Error::into_response`) give what the tower layer gives, byte for byte, and the axum
//! extractor refuses exactly as the guard does.

mod common;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use common::{GUIDE_BODY, KEY, auth, bearer_get, guide_request, json_post, start_session};
use http::Request;
use http_body_util::{BodyExt, Full};
use techcentrix_auth::TechCentrixAuth;
use techcentrix_auth::token::Claims;
use tower::{Layer, ServiceExt, service_fn};

/// What a client sees of an answer: status, headers and body.
#[derive(Debug, PartialEq)]
struct Seen {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Bytes,
}

/// As a client sees it over HTTP/1: a body of a known size gets its `Content-Length` from
/// hyper when no layer has set one (axum sets it on some routes and not others).
async fn seen<B>(response: http::Response<B>) -> Seen
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let (mut parts, body) = response.into_parts();
    let exact = body.size_hint().exact();
    let body = body.collect().await.unwrap().to_bytes();
    if let Some(length) = exact.filter(|_| !parts.headers.contains_key("content-length")) {
        assert_eq!(length, body.len() as u64);
        parts.headers.insert("content-length", length.into());
    }
    let mut headers: Vec<_> = parts
        .headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
        .collect();
    headers.sort();
    Seen {
        status: parts.status.as_u16(),
        headers,
        body,
    }
}

/// The same request as the layer and as `serve` (the body buffered) receive it.
async fn both_ways(auth: &TechCentrixAuth, request: Request<Full<Bytes>>) -> (Seen, Seen) {
    let (parts, body) = request.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let tower = auth
        .service()
        .oneshot(Request::from_parts(parts.clone(), Full::new(bytes.clone())))
        .await
        .unwrap();
    let neutral = auth.serve(Request::from_parts(parts, bytes)).await;
    (seen(tower).await, seen(neutral).await)
}

#[tokio::test]
async fn serve_answers_as_the_layer_on_every_refusal() {
    let auth = auth();
    let big = format!(
        r#"{{"id":"x","email":"a@b.c","firstName":"{}"}}"#,
        "n".repeat(20_000)
    );
    let requests = vec![
        // 401/2: no key, wrong key.
        json_post("/user/api/auth/external", &[], GUIDE_BODY),
        guide_request("wrong-key-wrong-key-wrong-key-wrong", GUIDE_BODY),
        // 400/1: malformed body.
        guide_request(KEY, "{not json"),
        guide_request(KEY, r#"{"id":"","email":"x","firstName":"y"}"#),
        // 413, 415.
        guide_request(KEY, &big),
        Request::post("/user/api/auth/external")
            .header("authorization", format!("Bearer {KEY}"))
            .header("content-type", "text/plain")
            .body(Full::new(Bytes::from(GUIDE_BODY)))
            .unwrap(),
        // 405 with Allow, on a POST endpoint and on the JWKS.
        Request::get("/user/api/auth/external")
            .body(Full::new(Bytes::new()))
            .unwrap(),
        Request::post("/.well-known/jwks.json")
            .body(Full::new(Bytes::new()))
            .unwrap(),
        // 401/5, 401/3 (a bad oneTimeToken, a bad refresh token), 400/1 (sign-out with
        // neither token).
        json_post(
            "/user/api/auth/token",
            &[("x-techcentrix-app-id", "acme")],
            r#"{"oneTimeToken":"a.b.c"}"#,
        ),
        json_post("/user/api/auth/refresh", &[], r#"{"refreshToken":"nope"}"#),
        json_post("/user/api/auth/sign-out", &[], "{}"),
        // The JWKS, and a path that is none of ours.
        Request::get("/.well-known/jwks.json")
            .body(Full::new(Bytes::new()))
            .unwrap(),
        Request::get("/elsewhere")
            .body(Full::new(Bytes::new()))
            .unwrap(),
    ];
    let mut statuses = Vec::new();
    for request in requests {
        let label = format!("{} {}", request.method(), request.uri());
        let (tower, neutral) = both_ways(&auth, request).await;
        assert_eq!(tower, neutral, "{label}");
        statuses.push(neutral.status);
    }
    assert_eq!(
        statuses,
        [
            401, 401, 400, 400, 413, 415, 405, 405, 401, 401, 400, 200, 404
        ]
    );
}

#[tokio::test]
async fn serve_runs_the_whole_flow() {
    let auth = auth();
    let (parts, body) = guide_request(KEY, GUIDE_BODY).into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let answer = auth.serve(Request::from_parts(parts, body)).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    let token = String::from_utf8(answer.into_body().into_bytes().to_vec()).unwrap();

    let redeem = Request::post("/user/api/auth/token")
        .header("content-type", "application/json")
        .header("x-techcentrix-app-id", "acme")
        .body(Bytes::from(format!(r#"{{"oneTimeToken":"{token}"}}"#)))
        .unwrap();
    let session = auth.serve(redeem).await;
    assert_eq!(session.status(), 200);
    let session: serde_json::Value =
        serde_json::from_slice(&session.into_body().into_bytes()).unwrap();
    let access = session["accessToken"].as_str().unwrap();

    // The same token again: single use holds on this path too.
    let again = Request::post("/user/api/auth/token")
        .header("content-type", "application/json")
        .header("x-techcentrix-app-id", "acme")
        .body(Bytes::from(format!(r#"{{"oneTimeToken":"{token}"}}"#)))
        .unwrap();
    assert_eq!(auth.serve(again).await.status(), 401);

    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {access}").parse().unwrap());
    let claims = auth.verify_access(&headers).unwrap();
    assert_eq!(claims.aud.as_str(), "acme");
    assert!(auth.handles("/user/api/auth/sign-out"));
    assert!(!auth.handles("/me"));
}

/// A route answering the `sub` of the claims the extractor gives.
async fn me(claims: Claims) -> String {
    claims.sub.to_string()
}

/// `Option<Claims>`: who is there, if anyone.
async fn maybe(claims: Option<Claims>) -> String {
    claims.map_or_else(|| "nobody".to_owned(), |c| c.sub.to_string())
}

fn routers(auth: &TechCentrixAuth) -> (Router, Router) {
    let guarded = Router::new()
        .route("/me", get(me).route_layer(auth.guard()))
        .with_state(auth.clone());
    let bare = Router::new()
        .route("/me", get(me))
        .route("/maybe", get(maybe))
        .with_state(auth.clone());
    (guarded, bare)
}

#[tokio::test]
async fn the_extractor_refuses_as_the_guard_does() {
    let auth = auth();
    let (guarded, bare) = routers(&auth);
    // Also the guard as a plain tower layer, outside axum.
    let plain = auth
        .guard()
        .layer(service_fn(|_: Request<Full<Bytes>>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from("in"))))
        }));
    let missing = || Request::get("/me").body(Full::new(Bytes::new())).unwrap();
    let refusals = [
        missing(),
        bearer_get("/me", "not-a-token"),
        bearer_get("/me", "a.b.c"),
        Request::get("/me")
            .header("authorization", "Basic dXNlcjpwYXNz")
            .body(Full::new(Bytes::new()))
            .unwrap(),
    ];
    for request in refusals {
        let label = format!("{:?}", request.headers().get("authorization"));
        let (parts, body) = request.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        let again = || Request::from_parts(parts.clone(), Full::new(body.clone()));
        let by_guard = seen(guarded.clone().oneshot(again()).await.unwrap()).await;
        let by_extractor = seen(bare.clone().oneshot(again()).await.unwrap()).await;
        let by_layer = seen(plain.clone().oneshot(again()).await.unwrap()).await;
        assert_eq!(by_guard.status, 401, "{label}");
        assert_eq!(by_guard, by_extractor, "{label}");
        assert_eq!(by_guard, by_layer, "{label}");
        let error: serde_json::Value = serde_json::from_slice(&by_guard.body).unwrap();
        assert_eq!(error["errorCode"], 4);
    }
}

#[tokio::test]
async fn the_extractor_gives_the_claims_with_or_without_the_guard() {
    let auth = auth();
    let (guarded, bare) = routers(&auth);
    let session = start_session(&auth, "acme", KEY).await;
    let access = session["accessToken"].as_str().unwrap();
    let sub = auth
        .verify_access(&bearer_get("/me", access).headers().clone())
        .unwrap()
        .sub
        .to_string();
    for router in [guarded, bare.clone()] {
        let answer = router.oneshot(bearer_get("/me", access)).await.unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(seen(answer).await.body, sub.as_bytes());
    }
    // Option<Claims>: none without a header, the claims with a good token, 401 with a bad one.
    let nobody = Request::get("/maybe")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let answer = seen(bare.clone().oneshot(nobody).await.unwrap()).await;
    assert_eq!((answer.status, &answer.body[..]), (200, &b"nobody"[..]));
    let answer = seen(
        bare.clone()
            .oneshot(bearer_get("/maybe", access))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((answer.status, &answer.body[..]), (200, sub.as_bytes()));
    let answer = seen(bare.oneshot(bearer_get("/maybe", "bad")).await.unwrap()).await;
    assert_eq!(answer.status, 401);
}

#[tokio::test]
async fn errors_answer_the_same_through_axum() {
    use axum::response::IntoResponse;
    use techcentrix_auth::Error;
    let errors: [fn() -> Error; 4] = [
        || Error::InvalidAccessToken,
        || Error::UnsupportedMediaType,
        || Error::MethodNotAllowed { allow: "GET" },
        || Error::Malformed("missing field `id`".into()),
    ];
    for error in errors {
        let direct = seen(Error::into_response(error())).await;
        let via_axum = seen(IntoResponse::into_response(error())).await;
        assert_eq!(direct, via_axum);
        assert!(direct.status >= 400);
    }
}
