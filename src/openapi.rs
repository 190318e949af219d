//! The OpenAPI 3.1 document of the endpoints ([`TechCentrixAuth::openapi`] and
//! [`TechCentrixAuth::openapi_with_reference_routes`]).
//!
//! It is built from the code it describes, so that it cannot drift from it: the paths and
//! lifetimes are the configuration's, and each error response (status, `errorCode`,
//! message, headers) is read off the [`Error`] value the endpoint answers and the response
//! [`Error::into_response`] makes of it. What is written by hand here (the request
//! bodies' rules, the success shapes, which errors each operation can answer) is checked
//! against real answers of the service by `tests/openapi.rs`, and against a running
//! reference server by `scripts/schemathesis.sh`.
//!
//! [`TechCentrixAuth::openapi`]: crate::TechCentrixAuth::openapi
//! [`TechCentrixAuth::openapi_with_reference_routes`]: crate::TechCentrixAuth::openapi_with_reference_routes

use std::time::Duration;

use http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER};
use serde_json::{Map, Value, json};

use crate::{AuthConfig, Error, StoreError};

/// Which routes the document lists.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Routes {
    /// The five endpoints the layer serves.
    Endpoints,
    /// Those, plus the reference servers' `GET /me` and `GET /healthz`.
    WithReferenceRoutes,
}

/// A JWT in its compact form: three base64url segments.
const JWT_PATTERN: &str = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$";
/// No control characters (Unicode `Cc`: what `char::is_control` refuses).
const NO_CONTROL_PATTERN: &str = r"^[^\u0000-\u001f\u007f-\u009f]*$";
/// `local@domain`: one `@`, both parts non-empty, the local part at most 64 characters, no
/// control character and no Unicode white space (`char::is_whitespace`) anywhere.
const EMAIL_PATTERN: &str = concat!(
    r"^[^@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]{1,64}",
    r"@[^@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$",
);

/// The name of an [`Error`]'s response in `#/components/responses`, and when it is answered.
/// One arm per variant: a new variant does not compile until it is described here (and
/// listed in [`errors`]).
fn describe(err: &Error) -> (&'static str, &'static str) {
    match err {
        Error::Malformed(_) => (
            "MalformedRequest",
            "The body is not a JSON object, or a known field is missing, `null`, duplicated, \
             not a string or invalid; the message names the problem after `Malformed request: `.",
        ),
        Error::UnsupportedMediaType => (
            "UnsupportedMediaType",
            "The `Content-Type` is not `application/json` (parameters such as `charset` are \
             allowed), or is missing.",
        ),
        Error::PayloadTooLarge => (
            "PayloadTooLarge",
            "The body is over the size limit, however it is framed (`Content-Length` or \
             chunked).",
        ),
        Error::InvalidApiKey => (
            "InvalidApiKey",
            "The `Authorization: Bearer <Server.API.Key>` header is missing or malformed, or \
             the key is unknown or revoked. Checked before the body is read.",
        ),
        Error::InvalidAccessToken => (
            "InvalidAccessToken",
            "The access token is missing, malformed, expired, wrongly signed, of another \
             issuer or not an access token (a oneTimeToken included).",
        ),
        Error::InvalidOneTimeToken => (
            "InvalidOneTimeToken",
            "The oneTimeToken cannot be redeemed: bad signature, expired, already used, of \
             another app than `X-TechCentrix-App-Id` (or that header is missing or invalid), \
             not a oneTimeToken, or its user is no longer stored.",
        ),
        Error::InvalidRefreshToken => (
            "InvalidRefreshToken",
            "The refresh token is unknown, rotated, revoked or expired. Presenting a rotated \
             one revokes its whole session (reuse detection).",
        ),
        Error::TooManyRequests { .. } => (
            "TooManyRequests",
            "The API key is over its rate limit; retry after `Retry-After` seconds.",
        ),
        Error::Unavailable(_) => (
            "ServiceUnavailable",
            "A store or ledger is unreachable or did not answer within the store timeout; \
             retry after `Retry-After` seconds.",
        ),
        Error::MethodNotAllowed { .. } => (
            "MethodNotAllowed",
            "Another method on this path; `Allow` lists the methods it takes.",
        ),
        Error::Internal(_) => (
            "InternalError",
            "Anything else; the details go to the server's log only.",
        ),
    }
}

/// One value of each variant, in the order of the SPEC's table.
fn errors() -> Vec<Error> {
    vec![
        Error::Malformed(String::new()),
        Error::UnsupportedMediaType,
        Error::PayloadTooLarge,
        Error::InvalidApiKey,
        Error::InvalidAccessToken,
        Error::InvalidOneTimeToken,
        Error::InvalidRefreshToken,
        Error::TooManyRequests {
            retry_after: Duration::from_secs(1),
        },
        Error::Unavailable(StoreError::timeout()),
        Error::MethodNotAllowed { allow: "POST" },
        Error::Internal("internal".into()),
    ]
}

/// The methods of the endpoints' paths, as their `Allow` headers list them.
const ALLOW_POST: &str = "POST";
const ALLOW_GET: &str = "GET, HEAD";

/// The document: the endpoints at `config`'s paths, and the reference routes if asked.
pub(crate) fn document(config: &AuthConfig, routes: Routes) -> Value {
    let mut paths = Map::new();
    paths.insert(config.external_path().to_owned(), external(config));
    paths.insert(config.token_path().to_owned(), token(config));
    paths.insert(config.refresh_path().to_owned(), refresh(config));
    paths.insert(config.sign_out_path().to_owned(), sign_out(config));
    paths.insert(config.jwks_path().to_owned(), jwks());
    if routes == Routes::WithReferenceRoutes {
        paths.insert("/me".to_owned(), me());
        paths.insert("/healthz".to_owned(), healthz());
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "TechCentrix auth",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The TechCentrix external sign-in flow. A partner's backend signs \
                its user up or in with its Server.API.Key and gets a short-lived, single-use \
                oneTimeToken; the TechCentrix SDK redeems it for a session (an access token \
                and a rotating refresh token), refreshes it and signs out.\n\n\
                Every error is `application/json` with exactly the body \
                `{\"message\", \"errorCode\"}` (see the `Error` schema) and \
                `Cache-Control: no-store`. Checks run in this order: path and method (405), \
                credentials (401), `Content-Type` (415), size (413), body (400).",
            "license": { "name": "MIT OR Apache-2.0", "identifier": "MIT OR Apache-2.0" },
        },
        "paths": paths,
        "components": components(config),
    })
}

fn external(config: &AuthConfig) -> Value {
    let ttl = config.one_time_token_ttl().as_secs();
    json!({
        "post": {
            "operationId": "signUpOrIn",
            "summary": "Sign the partner's user up or in; answer a oneTimeToken",
            "description": format!(
                "Called by the partner's backend with its Server.API.Key. Creates the user of \
                 `(app, id)` on first sight and updates its email and first name later; \
                 answers only once the user is stored. The answer is the oneTimeToken: a JWT \
                 (`type: \"one_time\"`, `aud` the key's app) valid for {ttl} s, redeemable \
                 once at the token endpoint.\n\n\
                 The answer's form follows `Accept`: the raw token as `text/plain` by \
                 default; `{{\"oneTimeToken\", \"expiresIn\"}}` as `application/json` when \
                 `Accept` names `application/json` and does not name `text/plain` (wildcards \
                 such as `*/*` name neither)."
            ),
            "security": [{ "partnerApiKey": [] }],
            "requestBody": {
                "required": true,
                "description": body_description(config),
                "content": {
                    "application/json": {
                        "schema": { "$ref": "#/components/schemas/ExternalProfile" },
                        "examples": {
                            "guide": {
                                "summary": "The TechCentrix integration guide's request",
                                "description": "Sent with `Authorization: Bearer \
                                    <Server.API.Key>` and `Content-Type: application/json`.",
                                "value": {
                                    "id": "user1-external",
                                    "email": "user1@techcentrix.com",
                                    "firstName": "User1Name",
                                },
                            },
                        },
                    },
                },
            },
            "responses": {
                "200": {
                    "description": "The user is stored; the oneTimeToken.",
                    "headers": { "Cache-Control": { "$ref": "#/components/headers/NoStore" } },
                    "content": {
                        "text/plain": {
                            "schema": {
                                "type": "string",
                                "pattern": JWT_PATTERN,
                                "description": "The oneTimeToken itself, not JSON-quoted \
                                    (`text/plain; charset=utf-8`).",
                            },
                            "example": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzUxMiIsImtpZCI6IjliYmZlMGY4OWM5ZDc5MmIifQ.eyJqdGkiOiIyM2Q5In0.c2lnbmF0dXJl",
                        },
                        "application/json": {
                            "schema": { "$ref": "#/components/schemas/OneTimeTokenAnswer" },
                        },
                    },
                },
                "400": error_ref("MalformedRequest"),
                "401": error_ref("InvalidApiKey"),
                "405": error_ref("MethodNotAllowedPost"),
                "413": error_ref("PayloadTooLarge"),
                "415": error_ref("UnsupportedMediaType"),
                "429": error_ref("TooManyRequests"),
                "500": error_ref("InternalError"),
                "503": error_ref("ServiceUnavailable"),
            },
        },
    })
}

fn token(config: &AuthConfig) -> Value {
    json!({
        "post": {
            "operationId": "redeemOneTimeToken",
            "summary": "Redeem a oneTimeToken for a session",
            "description": "Called by the TechCentrix SDK. The oneTimeToken must verify with a \
                configured key and algorithm, be a oneTimeToken of this issuer for the app of \
                `X-TechCentrix-App-Id`, be unexpired and unused, and name a stored user; it \
                is accepted once. Every refusal of the token or the header is 401/5.",
            "security": [],
            "parameters": [{
                "name": "X-TechCentrix-App-Id",
                "in": "header",
                "required": true,
                "description": "The app the oneTimeToken was issued to (its `aud`): one \
                    header, 1–128 visible ASCII characters. Missing or invalid: 401/5.",
                "schema": { "type": "string", "pattern": "^[\\x21-\\x7e]{1,128}$" },
                "example": "acme",
            }],
            "requestBody": {
                "required": true,
                "description": body_description(config),
                "content": {
                    "application/json": {
                        "schema": { "$ref": "#/components/schemas/RedeemRequest" },
                    },
                },
            },
            "responses": session_responses("InvalidOneTimeToken", "The session started."),
        },
    })
}

fn refresh(config: &AuthConfig) -> Value {
    json!({
        "post": {
            "operationId": "refreshSession",
            "summary": "Rotate a refresh token: a new access token and refresh token",
            "description": "The presented refresh token is rotated: it stops working and the \
                answer carries its successor. Presenting an already rotated one revokes its \
                whole session (reuse detection); the user's other sessions go on. No app id \
                header is needed.",
            "security": [],
            "requestBody": {
                "required": true,
                "description": body_description(config),
                "content": {
                    "application/json": {
                        "schema": { "$ref": "#/components/schemas/RefreshTokenRequest" },
                    },
                },
            },
            "responses": session_responses("InvalidRefreshToken", "The session, refreshed."),
        },
    })
}

fn session_responses(refusal: &str, ok: &str) -> Value {
    json!({
        "200": {
            "description": ok,
            "headers": { "Cache-Control": { "$ref": "#/components/headers/NoStore" } },
            "content": {
                "application/json": { "schema": { "$ref": "#/components/schemas/Session" } },
            },
        },
        "400": error_ref("MalformedRequest"),
        "401": error_ref(refusal),
        "405": error_ref("MethodNotAllowedPost"),
        "413": error_ref("PayloadTooLarge"),
        "415": error_ref("UnsupportedMediaType"),
        "500": error_ref("InternalError"),
        "503": error_ref("ServiceUnavailable"),
    })
}

fn sign_out(config: &AuthConfig) -> Value {
    json!({
        "post": {
            "operationId": "signOut",
            "summary": "End a session",
            "description": "With `Authorization: Bearer <access token>` (no body needed) the \
                token's session ends; an invalid access token is 401/4. Without that header \
                the body `{\"refreshToken\"}` names the session; an unknown or already \
                revoked refresh token is also 204 (sign-out is idempotent). Either way the \
                session's refresh tokens stop working; access tokens already issued live \
                until their `exp`.",
            "security": [{ "accessToken": [] }, {}],
            "requestBody": {
                "required": false,
                "description": format!(
                    "Read only without an `Authorization` header, and then required. {} \
                     With the header, a body (any body, of any type) is ignored.",
                    body_description(config)
                ),
                "content": {
                    "application/json": {
                        "schema": {
                            "anyOf": [
                                {
                                    "$ref": "#/components/schemas/RefreshTokenRequest",
                                    "description": "Without `Authorization`: the refresh \
                                        token of the session to end.",
                                },
                                {
                                    "description": "With `Authorization: Bearer <access \
                                        token>`: ignored, whatever it is.",
                                },
                            ],
                        },
                    },
                },
            },
            "responses": {
                "204": {
                    "description": "Signed out (or nothing to sign out).",
                    "headers": { "Cache-Control": { "$ref": "#/components/headers/NoStore" } },
                },
                "400": error_ref("MalformedRequest"),
                "401": error_ref("InvalidAccessToken"),
                "405": error_ref("MethodNotAllowedPost"),
                "413": error_ref("PayloadTooLarge"),
                "415": error_ref("UnsupportedMediaType"),
                "500": error_ref("InternalError"),
                "503": error_ref("ServiceUnavailable"),
            },
        },
    })
}

fn jwks() -> Value {
    let headers = json!({
        "Cache-Control": {
            "required": true,
            "schema": { "type": "string", "const": "public, max-age=60" },
        },
    });
    json!({
        "get": {
            "operationId": "getJwks",
            "summary": "The public keys that verify the tokens (JWK set)",
            "description": "The public keys of the asymmetric signing keys (ES256, EdDSA, \
                RS256), each with its `kid`; several while keys rotate. A shared HS512 secret \
                is never published: with one, the set is empty.",
            "security": [],
            "responses": {
                "200": {
                    "description": "The JWK set.",
                    "headers": headers,
                    "content": {
                        "application/json": { "schema": { "$ref": "#/components/schemas/JwkSet" } },
                    },
                },
                "405": error_ref("MethodNotAllowedGet"),
            },
        },
        "head": {
            "operationId": "headJwks",
            "summary": "The headers of the JWK set's answer",
            "security": [],
            "responses": {
                "200": { "description": "As `GET`, without a body.", "headers": headers },
            },
        },
    })
}

/// The marker of the routes that the reference servers serve, not the library's layer.
fn reference_route(operation: &mut Value) {
    operation["x-techcentrix-reference-server"] = json!(true);
}

fn me() -> Value {
    let mut get = json!({
        "operationId": "getMe",
        "summary": "The signed-in user's stored profile (reference servers)",
        "description": "Served by the reference servers (`examples/axum.rs`, \
            `examples/hyper.rs`) behind the access-token guard, not by the library's layer: \
            an example of a guarded route. A missing or invalid access token, or one whose \
            user is no longer stored, is 401/4.",
        "security": [{ "accessToken": [] }],
        "responses": {
            "200": {
                "description": "The profile.",
                "headers": { "Cache-Control": { "$ref": "#/components/headers/NoStore" } },
                "content": {
                    "application/json": { "schema": { "$ref": "#/components/schemas/Me" } },
                },
            },
            "401": error_ref("InvalidAccessToken"),
            "405": error_ref("MethodNotAllowedGet"),
            "500": error_ref("InternalError"),
            "503": error_ref("ServiceUnavailable"),
        },
    });
    let mut head = json!({
        "operationId": "headMe",
        "summary": "The headers of `GET /me`'s answer (reference servers)",
        "security": [{ "accessToken": [] }],
        "responses": {
            "200": { "description": "As `GET`, without a body." },
            "401": {
                "description": "As `GET`'s 401, without a body.",
                "headers": {
                    "WWW-Authenticate": {
                        "required": true,
                        "schema": { "type": "string", "const": "Bearer error=\"invalid_token\"" },
                    },
                },
            },
            "500": { "description": "As `GET`'s 500, without a body." },
            "503": { "description": "As `GET`'s 503, without a body." },
        },
    });
    reference_route(&mut get);
    reference_route(&mut head);
    json!({ "get": get, "head": head })
}

fn healthz() -> Value {
    let mut get = json!({
        "operationId": "healthz",
        "summary": "Liveness (reference servers)",
        "description": "Served by the reference servers, not by the library's layer.",
        "security": [],
        "responses": {
            "200": {
                "description": "The server is up.",
                "content": {
                    "text/plain": { "schema": { "type": "string", "const": "ok" } },
                },
            },
            "405": error_ref("MethodNotAllowedGet"),
        },
    });
    let mut head = json!({
        "operationId": "headHealthz",
        "summary": "Liveness, headers only (reference servers)",
        "security": [],
        "responses": { "200": { "description": "The server is up." } },
    });
    reference_route(&mut get);
    reference_route(&mut head);
    json!({ "get": get, "head": head })
}

fn body_description(config: &AuthConfig) -> String {
    format!(
        "`Content-Type: application/json` (415 otherwise); at most {} bytes (413 past it).",
        config.body_limit()
    )
}

fn error_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

fn components(config: &AuthConfig) -> Value {
    let mut responses = Map::new();
    // errorCode → its status and when it is answered (two variants share 4, two share 5).
    let mut codes: Vec<(u16, u16, String)> = Vec::new();
    for err in errors() {
        let (name, when) = describe(&err);
        match codes
            .iter_mut()
            .find(|(code, _, _)| *code == err.error_code())
        {
            Some((_, _, docs)) => {
                docs.push_str(" Or: ");
                docs.push_str(when);
            }
            None => codes.push((err.error_code(), err.status().as_u16(), when.to_owned())),
        }
        if let Error::MethodNotAllowed { .. } = err {
            for (suffix, allow) in [("Post", ALLOW_POST), ("Get", ALLOW_GET)] {
                let err = Error::MethodNotAllowed { allow };
                responses.insert(format!("{name}{suffix}"), error_response(err, when));
            }
        } else {
            responses.insert(name.to_owned(), error_response(err, when));
        }
    }
    codes.sort();
    let code_list: Vec<u16> = codes.iter().map(|(code, _, _)| *code).collect();
    let mut code_docs = String::from("What went wrong, one code per row of the error table:\n");
    for (code, status, when) in &codes {
        code_docs.push_str(&format!("\n- `{code}` (HTTP {status}): {when}"));
    }

    json!({
        "securitySchemes": {
            "partnerApiKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "The partner's secret Server.API.Key: \
                    `Authorization: Bearer <key>` (the scheme matched case-insensitively, one \
                    space, then exactly the key).",
            },
            "accessToken": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "The session's access token (`accessToken` of the token and \
                    refresh answers): `Authorization: Bearer <access token>`.",
            },
        },
        "headers": {
            "NoStore": {
                "description": "Tokens and errors are never cached.",
                "required": true,
                "schema": { "type": "string", "const": "no-store" },
            },
        },
        "schemas": {
            "Error": {
                "type": "object",
                "description": "Every error's body: exactly these two fields.",
                "required": ["message", "errorCode"],
                "additionalProperties": false,
                "properties": {
                    "message": {
                        "type": "string",
                        "description": "For people; stable per errorCode (see each response).",
                    },
                    "errorCode": {
                        "type": "integer",
                        "enum": code_list,
                        "description": code_docs,
                    },
                },
            },
            "ExternalProfile": {
                "type": "object",
                "description": "The partner's user. Unknown fields are ignored; a duplicated \
                    field, a wrong type or `null` is 400/1. Lengths are in bytes of UTF-8 \
                    (the `maxLength`s count characters, which is the same for ASCII).",
                "required": ["id", "email", "firstName"],
                "properties": {
                    "id": {
                        "type": "string",
                        "description": "The partner's own id of the user: 1–128 bytes, no \
                            control characters. The same `(app, id)` is always the same user.",
                        "minLength": 1,
                        "maxLength": 128,
                        "pattern": NO_CONTROL_PATTERN,
                        "example": "user1-external",
                    },
                    "email": {
                        "type": "string",
                        "description": "`local@domain`: exactly one `@`, both parts \
                            non-empty, at most 254 bytes, the local part at most 64; no \
                            white space or control characters; no further syntax checks.",
                        "maxLength": 254,
                        "pattern": EMAIL_PATTERN,
                        "example": "user1@techcentrix.com",
                    },
                    "firstName": {
                        "type": "string",
                        "description": "At most 128 bytes, no control characters; may be empty.",
                        "maxLength": 128,
                        "pattern": NO_CONTROL_PATTERN,
                        "example": "User1Name",
                    },
                },
            },
            "OneTimeTokenAnswer": {
                "type": "object",
                "description": "The JSON form of the oneTimeToken answer \
                    (`Accept: application/json`).",
                "required": ["oneTimeToken", "expiresIn"],
                "additionalProperties": false,
                "properties": {
                    "oneTimeToken": { "type": "string", "pattern": JWT_PATTERN },
                    "expiresIn": {
                        "type": "integer",
                        "description": "Seconds the token is valid for.",
                        "const": config.one_time_token_ttl().as_secs(),
                    },
                },
            },
            "RedeemRequest": {
                "type": "object",
                "description": "Unknown fields are ignored.",
                "required": ["oneTimeToken"],
                "properties": {
                    "oneTimeToken": {
                        "type": "string",
                        "description": "The oneTimeToken of the sign-up-or-in answer.",
                    },
                },
            },
            "RefreshTokenRequest": {
                "type": "object",
                "description": "Unknown fields are ignored.",
                "required": ["refreshToken"],
                "properties": {
                    "refreshToken": {
                        "type": "string",
                        "description": "The `refreshToken` of the last session answer.",
                    },
                },
            },
            "Session": {
                "type": "object",
                "required": ["accessToken", "refreshToken", "tokenType", "expiresIn", "userId"],
                "additionalProperties": false,
                "properties": {
                    "accessToken": {
                        "type": "string",
                        "pattern": JWT_PATTERN,
                        "description": "A JWT with the oneTimeToken's claims but \
                            `type: \"access\"` and `sid`, the session's id.",
                    },
                    "refreshToken": {
                        "type": "string",
                        "pattern": "^[A-Za-z0-9_-]{43}$",
                        "description": "Opaque: 256 random bits, unpadded base64url. Rotated \
                            at every refresh.",
                    },
                    "tokenType": { "type": "string", "const": "Bearer" },
                    "expiresIn": {
                        "type": "integer",
                        "description": "Seconds the access token is valid for.",
                        "const": config.access_token_ttl().as_secs(),
                    },
                    "userId": {
                        "type": "string",
                        "description": "The service's own stable id of the user (the \
                            tokens' `sub`), not the partner's `id`.",
                    },
                },
            },
            "JwkSet": {
                "type": "object",
                "required": ["keys"],
                "properties": {
                    "keys": {
                        "type": "array",
                        "items": { "$ref": "#/components/schemas/Jwk" },
                    },
                },
            },
            "Jwk": {
                "type": "object",
                "description": "A public key (RFC 7517): EC P-256 (ES256), OKP Ed25519 \
                    (EdDSA) or RSA (RS256).",
                "required": ["kty", "kid"],
                "properties": {
                    "kty": { "type": "string", "enum": ["EC", "OKP", "RSA"] },
                    "kid": { "type": "string" },
                    "alg": { "type": "string", "enum": ["ES256", "EdDSA", "RS256"] },
                    "use": { "type": "string", "const": "sig" },
                },
            },
            "Me": {
                "type": "object",
                "description": "The stored profile of the access token's user.",
                "required": ["userId", "email", "firstName", "app"],
                "additionalProperties": false,
                "properties": {
                    "userId": { "type": "string" },
                    "email": { "type": "string" },
                    "firstName": { "type": "string" },
                    "app": { "type": "string", "description": "The partner's app id." },
                },
            },
        },
        "responses": responses,
    })
}

/// The response of `err`, read off [`Error::into_response`]: its message, `errorCode` and
/// headers.
fn error_response(err: Error, when: &str) -> Value {
    let code = err.error_code();
    // The message of a malformed request ends with a detail: its fixed prefix is checked.
    let message = match &err {
        Error::Malformed(_) => json!({
            "type": "string",
            "pattern": format!("^{}", regex_escape(&err.to_string())),
        }),
        _ => json!({ "type": "string", "const": err.to_string() }),
    };
    let response = err.into_response();
    let mut headers = Map::new();
    let mut media_type = String::new();
    for (name, value) in response.headers() {
        let value = value.to_str().unwrap_or_default();
        if name == CONTENT_TYPE {
            media_type = value.to_owned();
            continue;
        }
        let schema = if name == RETRY_AFTER {
            json!({ "type": "integer", "minimum": 1 })
        } else {
            json!({ "type": "string", "const": value })
        };
        let description = if name == RETRY_AFTER {
            "Seconds to wait before retrying (delta-seconds, at least 1)."
        } else if name == ALLOW {
            "The methods this path takes."
        } else {
            ""
        };
        let mut header = json!({ "required": true, "schema": schema });
        if !description.is_empty() {
            header["description"] = json!(description);
        }
        headers.insert(canonical(name.as_str()), header);
    }
    json!({
        "description": format!(
            "HTTP {} / errorCode {code}: {when}",
            response.status().as_u16()
        ),
        "headers": headers,
        "content": {
            media_type: {
                "schema": {
                    "allOf": [
                        { "$ref": "#/components/schemas/Error" },
                        {
                            "type": "object",
                            "properties": {
                                "message": message,
                                "errorCode": { "const": code },
                            },
                        },
                    ],
                },
            },
        },
    })
}

/// A header name as documents spell it (`www-authenticate` → `WWW-Authenticate`).
fn canonical(name: &str) -> String {
    match name {
        "www-authenticate" => "WWW-Authenticate".to_owned(),
        _ => name
            .split('-')
            .map(|part| {
                let mut chars = part.chars();
                match chars.next() {
                    Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                    None => String::new(),
                }
            })
            .collect::<Vec<_>>()
            .join("-"),
    }
}

/// `text` as a regular expression matching itself.
fn regex_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.^$|?*+()[]{}/".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}
