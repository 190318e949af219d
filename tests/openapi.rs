//! The OpenAPI document (`TechCentrixAuth::openapi`) against itself and against the service:
//! it is well-formed OpenAPI 3.1 as far as can be checked offline, it lists the configured
//! paths and the whole error table, and real answers of the service validate against the
//! responses it documents.
//!
//! The answers are validated by a small JSON Schema validator below, for the keywords the
//! document uses; `document_uses_only_keywords_the_validator_knows` fails when the document
//! starts using another one, so nothing is skipped silently. (The `jsonschema` crate would
//! need a dev-dependency; `scripts/schemathesis.sh` runs a full validator against a running
//! server.)

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use techcentrix_auth::rate_limit::MemoryRateLimiter;
use techcentrix_auth::token::SigningKeys;
use techcentrix_auth::{
    ApiKey, ApiKeyValidator, AppId, AuthConfig, Error, JwtSecret, MemoryApiKeyValidator,
    StoreError, TechCentrixAuth,
};
use tower::{Layer, ServiceExt, service_fn};

const KEY: &str = "0123456789abcdef0123456789abcdef";
const GUIDE_BODY: &str =
    r#"{"id":"user1-external","email":"user1@techcentrix.com","firstName":"User1Name"}"#;

fn builder() -> techcentrix_auth::AuthBuilder {
    TechCentrixAuth::builder()
        .api_keys(MemoryApiKeyValidator::new().with_key("acme", &ApiKey::new(KEY)))
        .signing_keys(SigningKeys::hs512(
            JwtSecret::new(b"a test secret of at least 32 bytes!!".to_vec()).unwrap(),
        ))
}

fn auth() -> TechCentrixAuth {
    builder().build().unwrap()
}

/// One error value of each row of the SPEC's table, as the crate's public API makes them.
fn error_rows() -> Vec<Error> {
    vec![
        Error::Malformed("x".into()),
        Error::UnsupportedMediaType,
        Error::PayloadTooLarge,
        Error::InvalidApiKey,
        Error::InvalidAccessToken,
        Error::InvalidOneTimeToken,
        Error::InvalidRefreshToken,
        Error::TooManyRequests {
            retry_after: Duration::from_secs(2),
        },
        Error::Unavailable(StoreError::timeout()),
        Error::MethodNotAllowed { allow: "POST" },
        Error::Internal("boom".into()),
    ]
}

// ---------------------------------------------------------------------------------------
// The document on its own.

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `(path, method, operation)` of every operation.
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            found.push((path.clone(), method.clone(), operation.clone()));
        }
    }
    found
}

/// Follows a local `$ref` (`#/a/b`), with JSON Pointer unescaping.
fn resolve<'a>(document: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    document.pointer(pointer)
}

/// `value` itself, or what its `$ref` points at.
fn deref<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => resolve(document, reference).expect("dangling $ref"),
        None => value,
    }
}

fn every_ref(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "$ref" {
                    out.push(value.as_str().expect("$ref is a string").to_owned());
                } else {
                    every_ref(value, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| every_ref(item, out)),
        _ => {}
    }
}

fn both_documents() -> Vec<Value> {
    let auth = auth();
    vec![auth.openapi(), auth.openapi_with_reference_routes()]
}

#[test]
fn document_is_openapi_3_1() {
    for document in both_documents() {
        assert_eq!(document["openapi"], "3.1.0");
        assert!(document["info"]["title"].is_string());
        assert!(document["info"]["version"].is_string());
        // The license's SPDX identifier excludes a url (3.1).
        assert!(document["info"]["license"]["url"].is_null());
        let top: BTreeSet<&str> = document
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let allowed = BTreeSet::from([
            "openapi",
            "info",
            "jsonSchemaDialect",
            "servers",
            "paths",
            "webhooks",
            "components",
            "security",
            "tags",
            "externalDocs",
        ]);
        assert!(top.is_subset(&allowed), "{top:?}");
    }
}

#[test]
fn every_ref_resolves() {
    for document in both_documents() {
        let mut refs = Vec::new();
        every_ref(&document, &mut refs);
        assert!(refs.len() > 20);
        for reference in refs {
            assert!(reference.starts_with("#/components/"), "{reference}");
            assert!(
                resolve(&document, &reference).is_some(),
                "dangling {reference}"
            );
        }
    }
}

#[test]
fn every_operation_has_responses_and_known_security() {
    for document in both_documents() {
        let schemes = document["components"]["securitySchemes"]
            .as_object()
            .unwrap();
        let mut ids = BTreeSet::new();
        for (path, method, operation) in operations(&document) {
            assert!(path.starts_with('/'), "{path}");
            assert!(METHODS.contains(&method.as_str()), "{path} {method}");
            let id = operation["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
            let responses = operation["responses"].as_object().expect("responses");
            assert!(!responses.is_empty(), "{path} {method}");
            for (status, response) in responses {
                let code: u16 = status.parse().unwrap_or_else(|_| panic!("status {status}"));
                assert!((100..600).contains(&code));
                let response = deref(&document, response);
                assert!(
                    response["description"].is_string(),
                    "{path} {method} {status}"
                );
                if code == 204 || method == "head" {
                    assert!(
                        response.get("content").is_none(),
                        "{path} {method} {status}"
                    );
                }
            }
            for requirement in operation["security"].as_array().expect("security") {
                for name in requirement.as_object().unwrap().keys() {
                    assert!(schemes.contains_key(name), "{path} {method}: {name}");
                }
            }
            if let Some(body) = operation.get("requestBody") {
                assert!(body["content"]["application/json"]["schema"].is_object());
            }
        }
    }
}

#[test]
fn the_error_code_enum_is_the_error_table() {
    let document = auth().openapi();
    let codes: BTreeSet<u64> = error_rows()
        .iter()
        .map(|e| u64::from(e.error_code()))
        .collect();
    let error = &document["components"]["schemas"]["Error"];
    let listed: BTreeSet<u64> = error["properties"]["errorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    assert_eq!(listed, codes);
    let docs = error["properties"]["errorCode"]["description"]
        .as_str()
        .unwrap();
    for err in error_rows() {
        let row = format!("`{}` (HTTP {})", err.error_code(), err.status().as_u16());
        assert!(docs.contains(&row), "{row} not described");
    }
    assert_eq!(error["additionalProperties"], false);
    assert_eq!(error["required"], json!(["message", "errorCode"]));
    let properties: BTreeSet<&str> = error["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(properties, BTreeSet::from(["message", "errorCode"]));
}

#[test]
fn every_error_row_has_a_documented_response() {
    let document = auth().openapi();
    for err in error_rows() {
        let status = err.status().as_u16().to_string();
        let code = err.error_code();
        let message = err.to_string();
        let response = err.into_response();
        // Some operation documents this row, and its schema accepts this very answer.
        let matching: Vec<_> = operations(&document)
            .into_iter()
            .filter_map(|(_, _, operation)| operation["responses"].get(&status).cloned())
            .map(|r| deref(&document, &r).clone())
            .filter(|r| {
                let schema = &r["content"]["application/json"]["schema"];
                let body = json!({ "message": message, "errorCode": code });
                validate(&document, schema, &body).is_ok()
                    && check_headers(&document, r, response.headers()).is_ok()
            })
            .collect();
        assert!(
            !matching.is_empty(),
            "no response documents {status}/{code} {message}"
        );
    }
}

#[test]
fn configured_paths_and_settings_appear() {
    let config = AuthConfig::default()
        .with_external_path("/partner/v2/sign-in")
        .with_token_path("/sdk/redeem")
        .with_refresh_path("/sdk/refresh")
        .with_sign_out_path("/sdk/sign-out")
        .with_jwks_path("/keys.json")
        .with_body_limit(4096)
        .with_one_time_token_ttl(Duration::from_secs(30))
        .with_access_token_ttl(Duration::from_secs(600));
    let auth = builder().config(config).build().unwrap();
    let document = auth.openapi();
    let paths: BTreeSet<&str> = document["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        paths,
        BTreeSet::from([
            "/partner/v2/sign-in",
            "/sdk/redeem",
            "/sdk/refresh",
            "/sdk/sign-out",
            "/keys.json"
        ])
    );
    for path in &paths {
        assert!(auth.handles(path), "{path}");
    }
    let schemas = &document["components"]["schemas"];
    assert_eq!(
        schemas["OneTimeTokenAnswer"]["properties"]["expiresIn"]["const"],
        30
    );
    assert_eq!(schemas["Session"]["properties"]["expiresIn"]["const"], 600);
    let body = &document["paths"]["/partner/v2/sign-in"]["post"]["requestBody"]["description"];
    assert!(body.as_str().unwrap().contains("4096 bytes"), "{body}");

    let with_reference = auth.openapi_with_reference_routes();
    let paths: BTreeSet<&str> = with_reference["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert!(paths.contains("/me") && paths.contains("/healthz") && paths.len() == 7);
    for (path, _, operation) in operations(&with_reference) {
        let reference = operation.get("x-techcentrix-reference-server") == Some(&json!(true));
        assert_eq!(reference, path == "/me" || path == "/healthz", "{path}");
    }
}

#[test]
fn the_guides_request_is_the_example() {
    let document = auth().openapi();
    let operation = &document["paths"]["/user/api/auth/external"]["post"];
    let example =
        &operation["requestBody"]["content"]["application/json"]["examples"]["guide"]["value"];
    assert_eq!(*example, serde_json::from_str::<Value>(GUIDE_BODY).unwrap());
    assert_eq!(operation["security"], json!([{ "partnerApiKey": [] }]));
    let scheme = &document["components"]["securitySchemes"]["partnerApiKey"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
    validate(&document, schema, example).unwrap();
}

/// The request bodies' schemas say what `bodies.rs` accepts: a sample on each side of
/// each rule (the byte limits are checked with ASCII, where bytes and characters agree).
#[test]
fn the_profile_schema_accepts_and_refuses_as_the_service_does() {
    let document = auth().openapi();
    let schema = json!({ "$ref": "#/components/schemas/ExternalProfile" });
    let long = |n: usize| "a".repeat(n);
    let accepted = [
        json!({ "id": "u", "email": "a@b", "firstName": "" }),
        json!({ "id": long(128), "email": format!("{}@{}", long(64), long(189)), "firstName": long(128) }),
        json!({ "id": "ü ñ", "email": "ü@ñ", "firstName": "Zoë", "extra": [1, null] }),
    ];
    let refused = [
        json!({ "id": "", "email": "a@b", "firstName": "" }),
        json!({ "id": long(129), "email": "a@b", "firstName": "" }),
        json!({ "id": "a\u{7}", "email": "a@b", "firstName": "" }),
        json!({ "id": "a", "email": "a@b@c", "firstName": "" }),
        json!({ "id": "a", "email": "@b", "firstName": "" }),
        json!({ "id": "a", "email": "a@", "firstName": "" }),
        json!({ "id": "a", "email": "a b@c", "firstName": "" }),
        json!({ "id": "a", "email": "a@b\u{a0}", "firstName": "" }),
        json!({ "id": "a", "email": format!("{}@b", long(65)), "firstName": "" }),
        json!({ "id": "a", "email": format!("{}@{}", long(64), long(190)), "firstName": "" }),
        json!({ "id": "a", "email": "a@b", "firstName": long(129) }),
        json!({ "id": "a", "email": "a@b", "firstName": "\u{85}" }),
        json!({ "id": "a", "email": "a@b", "firstName": null }),
        json!({ "id": "a", "email": "a@b" }),
        json!({ "id": 1, "email": "a@b", "firstName": "" }),
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let auth = auth();
    for body in accepted {
        validate(&document, &schema, &body).unwrap_or_else(|e| panic!("{body}: {e}"));
        let answer = rt.block_on(call(&auth, external_request(&body.to_string())));
        assert_eq!(answer.status, 200, "{body}");
    }
    for body in refused {
        assert!(
            validate(&document, &schema, &body).is_err(),
            "{body} validates"
        );
        let answer = rt.block_on(call(&auth, external_request(&body.to_string())));
        assert_eq!(answer.status, 400, "{body}");
    }
}

// ---------------------------------------------------------------------------------------
// Real answers against the document.

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

async fn call(auth: &TechCentrixAuth, request: Request<Full<Bytes>>) -> Answer {
    let response = auth.service().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

fn external_request(body: &str) -> Request<Full<Bytes>> {
    Request::post("/user/api/auth/external")
        .header("Authorization", format!("Bearer {KEY}"))
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

fn json_post(path: &str) -> http::request::Builder {
    Request::post(path).header("Content-Type", "application/json")
}

fn with_body(builder: http::request::Builder, body: &str) -> Request<Full<Bytes>> {
    builder
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

/// Checks `answer` against what `document` says `method path` answers with its status.
fn conforms(document: &Value, method: &Method, path: &str, answer: &Answer) -> Result<(), String> {
    let method = method.as_str().to_ascii_lowercase();
    let operation = document["paths"]
        .get(path)
        .and_then(|item| item.get(&method))
        .ok_or_else(|| format!("{method} {path} is not documented"))?;
    let status = answer.status.as_u16().to_string();
    let response = operation["responses"]
        .get(&status)
        .ok_or_else(|| format!("{method} {path}: status {status} is not documented"))?;
    let response = deref(document, response);
    check_headers(document, response, &answer.headers)?;
    match response.get("content") {
        None => {
            if !answer.body.is_empty() {
                return Err(format!("{method} {path} {status}: undocumented body"));
            }
        }
        Some(content) => {
            let content_type = answer.headers["content-type"].to_str().unwrap();
            let essence = content_type.split(';').next().unwrap().trim();
            let media = content
                .get(essence)
                .ok_or_else(|| format!("{method} {path} {status}: undocumented {essence}"))?;
            let body = if essence == "application/json" {
                serde_json::from_slice(&answer.body).map_err(|e| e.to_string())?
            } else {
                Value::String(String::from_utf8(answer.body.to_vec()).map_err(|e| e.to_string())?)
            };
            validate(document, &media["schema"], &body)
                .map_err(|e| format!("{method} {path} {status}: {e} in {body}"))?;
        }
    }
    Ok(())
}

fn check_headers(document: &Value, response: &Value, headers: &HeaderMap) -> Result<(), String> {
    let Some(documented) = response.get("headers").and_then(Value::as_object) else {
        return Ok(());
    };
    for (name, header) in documented {
        let header = deref(document, header);
        let Some(value) = headers.get(name.as_str()) else {
            if header["required"] == true {
                return Err(format!("required header {name} missing"));
            }
            continue;
        };
        let value = value.to_str().unwrap();
        let schema = &header["schema"];
        let value = if schema["type"] == "integer" {
            json!(
                value
                    .parse::<i64>()
                    .map_err(|_| format!("{name}: {value} not an integer"))?
            )
        } else {
            json!(value)
        };
        validate(document, schema, &value).map_err(|e| format!("header {name}: {e}"))?;
    }
    Ok(())
}

/// The guide's flow through the service: oneTimeToken, then a session.
async fn session(auth: &TechCentrixAuth) -> Value {
    let token = call(auth, external_request(GUIDE_BODY)).await;
    let token = String::from_utf8(token.body.to_vec()).unwrap();
    let redeem = Request::post("/user/api/auth/token")
        .header("Content-Type", "application/json")
        .header("X-TechCentrix-App-Id", "acme")
        .body(Full::new(Bytes::from(format!(
            r#"{{"oneTimeToken":"{token}"}}"#
        ))))
        .unwrap();
    let answer = call(auth, redeem).await;
    assert_eq!(answer.status, 200);
    serde_json::from_slice(&answer.body).unwrap()
}

#[tokio::test]
async fn real_answers_of_every_endpoint_conform() {
    let auth = auth();
    let document = auth.openapi();
    let mut checked = 0;
    let mut check = |method: Method, path: &str, answer: Answer, status: u16| {
        assert_eq!(answer.status, status, "{method} {path}: {:?}", answer.body);
        conforms(&document, &method, path, &answer).unwrap();
        checked += 1;
    };
    let external = "/user/api/auth/external";

    // The guide's request: text, then JSON.
    check(
        Method::POST,
        external,
        call(&auth, external_request(GUIDE_BODY)).await,
        200,
    );
    let mut json_form = external_request(GUIDE_BODY);
    json_form
        .headers_mut()
        .insert("accept", "application/json".parse().unwrap());
    let answer = call(&auth, json_form).await;
    assert!(
        answer.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    check(Method::POST, external, answer, 200);
    // The error rows of the external endpoint.
    let no_key = with_body(json_post(external), "{}");
    check(Method::POST, external, call(&auth, no_key).await, 401);
    let mut text = external_request(GUIDE_BODY);
    text.headers_mut()
        .insert("content-type", "text/plain".parse().unwrap());
    check(Method::POST, external, call(&auth, text).await, 415);
    let big = format!(
        r#"{{"id":"a","email":"a@b","firstName":"","pad":"{}"}}"#,
        "x".repeat(20_000)
    );
    check(
        Method::POST,
        external,
        call(&auth, external_request(&big)).await,
        413,
    );
    check(
        Method::POST,
        external,
        call(&auth, external_request("[]")).await,
        400,
    );
    check(
        Method::POST,
        external,
        call(&auth, external_request(r#"{"id":1}"#)).await,
        400,
    );

    // Sessions.
    let started = session(&auth).await;
    let access = started["accessToken"].as_str().unwrap().to_owned();
    let refresh_token = started["refreshToken"].as_str().unwrap().to_owned();
    let token_path = "/user/api/auth/token";
    let bad_token = with_body(
        json_post(token_path).header("X-TechCentrix-App-Id", "acme"),
        r#"{"oneTimeToken":"not.a.token"}"#,
    );
    check(Method::POST, token_path, call(&auth, bad_token).await, 401);
    let no_app = with_body(json_post(token_path), r#"{"oneTimeToken":"x"}"#);
    check(Method::POST, token_path, call(&auth, no_app).await, 401);
    let malformed = with_body(
        json_post(token_path).header("X-TechCentrix-App-Id", "acme"),
        r#"{"oneTimeToken":null}"#,
    );
    check(Method::POST, token_path, call(&auth, malformed).await, 400);

    let refresh = "/user/api/auth/refresh";
    let body = format!(r#"{{"refreshToken":"{refresh_token}"}}"#);
    check(
        Method::POST,
        refresh,
        call(&auth, with_body(json_post(refresh), &body)).await,
        200,
    );
    // The same token again: reuse, 401/5.
    check(
        Method::POST,
        refresh,
        call(&auth, with_body(json_post(refresh), &body)).await,
        401,
    );
    let form = Request::post(refresh)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from("refreshToken=x")))
        .unwrap();
    check(Method::POST, refresh, call(&auth, form).await, 415);

    let sign_out = "/user/api/auth/sign-out";
    let with_access = Request::post(sign_out)
        .header("Authorization", format!("Bearer {access}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    check(Method::POST, sign_out, call(&auth, with_access).await, 204);
    let bad_access = Request::post(sign_out)
        .header("Authorization", "Bearer nope")
        .body(Full::new(Bytes::new()))
        .unwrap();
    check(Method::POST, sign_out, call(&auth, bad_access).await, 401);
    let by_refresh = with_body(json_post(sign_out), r#"{"refreshToken":"unknown"}"#);
    check(Method::POST, sign_out, call(&auth, by_refresh).await, 204);

    // The JWK set, and 405 on every path.
    let jwks = Request::get("/.well-known/jwks.json")
        .body(Full::new(Bytes::new()))
        .unwrap();
    check(
        Method::GET,
        "/.well-known/jwks.json",
        call(&auth, jwks).await,
        200,
    );
    for path in [
        external,
        token_path,
        refresh,
        sign_out,
        "/.well-known/jwks.json",
    ] {
        let get = path == "/.well-known/jwks.json";
        let method = if get { Method::GET } else { Method::POST };
        let delete = Request::delete(path).body(Full::new(Bytes::new())).unwrap();
        let answer = call(&auth, delete).await;
        assert_eq!(answer.status, 405, "{path}");
        // The 405 documented on the path's operation, with its `Allow`.
        conforms(&document, &method, path, &answer).unwrap();
        checked += 1;
    }
    assert!(checked >= 20);
}

#[tokio::test]
async fn the_jwks_of_asymmetric_keys_conform() {
    for (kid, pem) in [
        ("ec", "tests/keys/ec-a.pem"),
        ("ed", "tests/keys/ed-a.pem"),
        ("rsa", "tests/keys/rsa-a.pem"),
    ] {
        let keys = SigningKeys::from_pem(kid, &std::fs::read(pem).unwrap()).unwrap();
        let auth = TechCentrixAuth::builder()
            .api_keys(MemoryApiKeyValidator::new())
            .signing_keys(keys)
            .build()
            .unwrap();
        let document = auth.openapi();
        let request = Request::get("/.well-known/jwks.json")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let answer = call(&auth, request).await;
        let body: Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(body["keys"].as_array().unwrap().len(), 1, "{body}");
        conforms(&document, &Method::GET, "/.well-known/jwks.json", &answer).unwrap();
    }
}

/// A key validator whose store is down (503/7) or broken (500/9).
struct Broken(fn() -> StoreError);

#[async_trait]
impl ApiKeyValidator for Broken {
    async fn validate(&self, _key: &ApiKey) -> Result<Option<AppId>, StoreError> {
        Err((self.0)())
    }
}

#[tokio::test]
async fn rate_limited_unavailable_and_internal_answers_conform() {
    let limited = builder()
        .rate_limiter(MemoryRateLimiter::new(1))
        .build()
        .unwrap();
    let document = limited.openapi();
    let path = "/user/api/auth/external";
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let answer = call(&limited, external_request(GUIDE_BODY)).await;
        conforms(&document, &Method::POST, path, &answer).unwrap();
        statuses.push(answer.status.as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");

    let io = || StoreError::unavailable(std::io::Error::other("down"));
    for (broken, status) in [
        (Broken(io), 503),
        (Broken(|| StoreError::other("bug")), 500),
    ] {
        let auth = builder().api_keys(broken).build().unwrap();
        let answer = call(&auth, external_request(GUIDE_BODY)).await;
        assert_eq!(answer.status, status);
        conforms(&document, &Method::POST, path, &answer).unwrap();
    }
}

/// The guard's refusal is what the document says `GET /me` answers without a valid token.
#[tokio::test]
async fn the_guards_refusal_conforms_to_me() {
    let auth = auth();
    let document = auth.openapi_with_reference_routes();
    let inner = service_fn(|_: Request<Full<Bytes>>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::new())))
    });
    let guarded = auth.guard().layer(inner);
    for authorization in [None, Some("Bearer nope"), Some("Basic abc")] {
        let mut request = Request::get("/me");
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        let response = guarded
            .clone()
            .oneshot(request.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let answer = Answer {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await.unwrap().to_bytes(),
        };
        assert_eq!(answer.status, 401);
        conforms(&document, &Method::GET, "/me", &answer).unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// A JSON Schema validator for the keywords the document uses.

/// The keywords `validate` implements; annotations it may ignore.
const KEYWORDS: [&str; 16] = [
    "$ref",
    "allOf",
    "anyOf",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "maxItems",
];
const ANNOTATIONS: [&str; 4] = ["description", "example", "examples", "title"];

/// Every schema in the document: components' schemas, and the `schema` of every parameter,
/// header and media type.
fn schemas_in(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "schema" {
                    out.push(value.clone());
                } else if key == "schemas" {
                    out.extend(value.as_object().unwrap().values().cloned());
                } else {
                    schemas_in(value, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| schemas_in(item, out)),
        _ => {}
    }
}

fn keywords_of(schema: &Value, out: &mut BTreeSet<String>) {
    let Some(map) = schema.as_object() else {
        return;
    };
    for (key, value) in map {
        out.insert(key.clone());
        match key.as_str() {
            "properties" => value
                .as_object()
                .unwrap()
                .values()
                .for_each(|s| keywords_of(s, out)),
            "allOf" | "anyOf" => value
                .as_array()
                .unwrap()
                .iter()
                .for_each(|s| keywords_of(s, out)),
            "items" | "additionalProperties" => keywords_of(value, out),
            _ => {}
        }
    }
}

#[test]
fn document_uses_only_keywords_the_validator_knows() {
    let document = auth().openapi_with_reference_routes();
    let mut schemas = Vec::new();
    schemas_in(&document, &mut schemas);
    let mut used = BTreeSet::new();
    schemas.iter().for_each(|s| keywords_of(s, &mut used));
    let unknown: Vec<_> = used
        .iter()
        .filter(|k| !KEYWORDS.contains(&k.as_str()) && !ANNOTATIONS.contains(&k.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "the validator does not know {unknown:?}"
    );
    // And every pattern is one the validator can match.
    let mut patterns = Vec::new();
    collect_patterns(&document, &mut patterns);
    for pattern in patterns {
        assert!(
            pattern_matcher(&pattern).is_some(),
            "unknown pattern {pattern}"
        );
    }
}

fn collect_patterns(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("pattern", Value::String(p)) => out.push(p.clone()),
                    _ => collect_patterns(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_patterns(item, out)),
        _ => {}
    }
}

/// Whether a string matches a pattern.
type Matcher = Box<dyn Fn(&str) -> bool>;

/// The patterns of the document, as Rust predicates (no regex engine among the
/// dependencies). `None` for a pattern this file does not know yet.
fn pattern_matcher(pattern: &str) -> Option<Matcher> {
    let base64url = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let control = |c: char| c.is_control();
    let space_or_control = |c: char| c.is_whitespace() || c.is_control();
    Some(match pattern {
        r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$" => Box::new(move |s: &str| {
            let parts: Vec<_> = s.split('.').collect();
            parts.len() == 3 && parts.iter().all(|p| base64url(p))
        }),
        r"^[A-Za-z0-9_-]{43}$" => Box::new(move |s: &str| s.len() == 43 && base64url(s)),
        r"^[^\u0000-\u001f\u007f-\u009f]*$" => Box::new(move |s: &str| !s.chars().any(control)),
        r"^[\x21-\x7e]{1,128}$" => Box::new(|s: &str| {
            (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())
        }),
        p if p.starts_with("^[^@\\u0000-\\u0020") && p.contains("]{1,64}@[^@") => {
            Box::new(move |s: &str| {
                let mut parts = s.split('@');
                let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next())
                else {
                    return false;
                };
                let clean = |part: &str| !part.chars().any(space_or_control);
                (1..=64).contains(&local.chars().count())
                    && !domain.is_empty()
                    && clean(local)
                    && clean(domain)
            })
        }
        p if p.starts_with('^') && !p[1..].contains(['[', '(', '*', '+', '?', '|', '$']) => {
            // A fixed prefix (the malformed request's message), `\`-escaped.
            let prefix = p[1..].replace('\\', "");
            Box::new(move |s: &str| s.starts_with(&prefix))
        }
        _ => return None,
    })
}

fn validate(document: &Value, schema: &Value, value: &Value) -> Result<(), String> {
    let Some(map) = schema.as_object() else {
        return Err(format!("schema {schema} is not an object"));
    };
    for (keyword, argument) in map {
        match keyword.as_str() {
            "$ref" => {
                let target = resolve(document, argument.as_str().unwrap())
                    .ok_or_else(|| format!("dangling {argument}"))?;
                validate(document, target, value)?;
            }
            "allOf" => {
                for sub in argument.as_array().unwrap() {
                    validate(document, sub, value)?;
                }
            }
            "anyOf" => {
                let branches = argument.as_array().unwrap();
                if !branches
                    .iter()
                    .any(|sub| validate(document, sub, value).is_ok())
                {
                    return Err(format!("{value} matches no branch of anyOf"));
                }
            }
            "type" => {
                let ok = match argument.as_str().unwrap() {
                    "object" => value.is_object(),
                    "array" => value.is_array(),
                    "string" => value.is_string(),
                    "integer" => value.is_i64() || value.is_u64(),
                    "number" => value.is_number(),
                    "boolean" => value.is_boolean(),
                    "null" => value.is_null(),
                    other => return Err(format!("unknown type {other}")),
                };
                if !ok {
                    return Err(format!("{value} is not of type {argument}"));
                }
            }
            "properties" => {
                if let Some(object) = value.as_object() {
                    for (name, sub) in argument.as_object().unwrap() {
                        if let Some(field) = object.get(name) {
                            validate(document, sub, field).map_err(|e| format!("{name}: {e}"))?;
                        }
                    }
                }
            }
            "required" => {
                if let Some(object) = value.as_object() {
                    for name in argument.as_array().unwrap() {
                        if !object.contains_key(name.as_str().unwrap()) {
                            return Err(format!("missing {name}"));
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(object) = value.as_object() {
                    let known = map.get("properties").and_then(Value::as_object);
                    for (name, field) in object {
                        if known.is_some_and(|k| k.contains_key(name)) {
                            continue;
                        }
                        match argument {
                            Value::Bool(false) => return Err(format!("unexpected field {name}")),
                            Value::Bool(true) => {}
                            sub => validate(document, sub, field)?,
                        }
                    }
                }
            }
            "items" => {
                if let Some(items) = value.as_array() {
                    for item in items {
                        validate(document, argument, item)?;
                    }
                }
            }
            "enum" => {
                if !argument.as_array().unwrap().contains(value) {
                    return Err(format!("{value} not in {argument}"));
                }
            }
            "const" => {
                if argument != value {
                    return Err(format!("{value} is not {argument}"));
                }
            }
            "pattern" => {
                if let Some(text) = value.as_str() {
                    let pattern = argument.as_str().unwrap();
                    let matcher = pattern_matcher(pattern)
                        .ok_or_else(|| format!("unknown pattern {pattern}"))?;
                    if !matcher(text) {
                        return Err(format!("{value} does not match {pattern}"));
                    }
                }
            }
            "minLength" | "maxLength" => {
                if let Some(text) = value.as_str() {
                    let length = text.chars().count() as u64;
                    let bound = argument.as_u64().unwrap();
                    let ok = if keyword == "minLength" {
                        length >= bound
                    } else {
                        length <= bound
                    };
                    if !ok {
                        return Err(format!("{value}: {keyword} {bound}"));
                    }
                }
            }
            "minimum" | "maximum" => {
                if let Some(number) = value.as_f64() {
                    let bound = argument.as_f64().unwrap();
                    let ok = if keyword == "minimum" {
                        number >= bound
                    } else {
                        number <= bound
                    };
                    if !ok {
                        return Err(format!("{value}: {keyword} {bound}"));
                    }
                }
            }
            "maxItems" => {
                if let Some(items) = value.as_array()
                    && items.len() as u64 > argument.as_u64().unwrap()
                {
                    return Err(format!("{value}: maxItems {argument}"));
                }
            }
            k if ANNOTATIONS.contains(&k) => {}
            other => return Err(format!("keyword {other} is not implemented here")),
        }
    }
    Ok(())
}
