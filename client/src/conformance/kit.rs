//! What every check shares: the client, fresh ids, the secret scan of every answer, and the
//! assertions on SPEC §3 error answers.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;

use super::jwt::Jwt;
use super::{CheckResult, Config, Outcome, Report};
use crate::{Client, RawRequest, RawResponse, RetryPolicy};

/// Why a check did not pass.
#[derive(Debug)]
pub(crate) enum Not {
    Fail(String),
    Skip(String),
}

impl From<&str> for Not {
    fn from(why: &str) -> Self {
        Not::Fail(why.to_owned())
    }
}

impl From<String> for Not {
    fn from(why: String) -> Self {
        Not::Fail(why)
    }
}

/// A change to a token's claims, for forged tokens.
pub(crate) type ClaimsChange = fn(&mut serde_json::Map<String, Value>);

/// A check's result.
pub(crate) type Check = Result<(), Not>;

/// Fails with `why` unless `ok`.
pub(crate) fn ensure(ok: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(why()) }
}

/// Collects results and hands each to the caller's callback.
pub(crate) struct Recorder<F> {
    report: Report,
    on_result: F,
}

impl<F: FnMut(&CheckResult)> Recorder<F> {
    pub(crate) fn new(on_result: F) -> Self {
        Recorder {
            report: Report::default(),
            on_result,
        }
    }

    pub(crate) fn record(&mut self, name: &str, result: Check) {
        let outcome = match result {
            Ok(()) => Outcome::Pass,
            Err(Not::Fail(why)) => Outcome::Fail(why),
            Err(Not::Skip(why)) => Outcome::Skip(why),
        };
        let result = CheckResult {
            name: name.to_owned(),
            outcome,
        };
        (self.on_result)(&result);
        self.report.results.push(result);
    }

    pub(crate) fn finish(self) -> Report {
        self.report
    }
}

/// The recorder as the check modules see it.
pub(crate) trait Record {
    fn record(&mut self, name: &str, result: Check);
}

impl<F: FnMut(&CheckResult)> Record for Recorder<F> {
    fn record(&mut self, name: &str, result: Check) {
        Recorder::record(self, name, result)
    }
}

pub(crate) struct Kit {
    pub(crate) client: Client,
    pub(crate) config: Config,
    run_id: String,
    counter: AtomicU64,
    leaks: Mutex<Vec<String>>,
}

impl Kit {
    pub(crate) fn new(config: &Config) -> Result<Kit, String> {
        let client = Client::builder(&config.url)
            .request_timeout(Duration::from_secs(20))
            .retry(RetryPolicy::none())
            .build()
            .map_err(|err| err.to_string())?;
        Ok(Kit {
            client,
            config: config.clone(),
            run_id: random_hex(),
            counter: AtomicU64::new(0),
            leaks: Mutex::new(Vec::new()),
        })
    }

    /// A partner id no earlier run used.
    pub(crate) fn fresh_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("conformance-{}-{n}", self.run_id)
    }

    pub(crate) fn paths(&self) -> &crate::Paths {
        self.client.paths()
    }

    /// `Bearer <the API key>`.
    pub(crate) fn key_header(&self) -> String {
        format!("Bearer {}", self.config.api_key.expose_secret())
    }

    /// Sends `request`; `label` names it in failures. The answer is searched for the
    /// secrets the SPEC says never appear in a response.
    pub(crate) async fn send(
        &self,
        label: &str,
        request: RawRequest,
    ) -> Result<RawResponse, String> {
        let response = self
            .client
            .raw(&request)
            .await
            .map_err(|err| format!("{label}: {err}"))?;
        self.scan(label, &request, &response);
        Ok(response)
    }

    fn scan(&self, label: &str, request: &RawRequest, response: &RawResponse) {
        let mut secrets: Vec<(String, &str)> = vec![(
            self.config.api_key.expose_secret().to_owned(),
            "the API key",
        )];
        if let Some(secret) = &self.config.jwt_secret {
            secrets.push((secret.expose_secret().to_owned(), "the JWT secret"));
        }
        if request.path() == self.paths().external {
            let presented = request
                .headers()
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split_once(' '))
                .map(|(_, key)| key.trim().to_owned());
            if let Some(key) = presented {
                secrets.push((key, "the presented API key"));
            }
        }
        if let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&request.body_bytes())
            && let Some(token) = body.get("refreshToken").and_then(Value::as_str)
        {
            secrets.push((token.to_owned(), "the presented refresh token"));
        }
        let text = String::from_utf8_lossy(&response.body);
        for (secret, what) in secrets {
            if secret.len() < 8 {
                continue;
            }
            let in_headers = response
                .headers
                .values()
                .any(|v| String::from_utf8_lossy(v.as_bytes()).contains(&secret));
            if text.contains(&secret) || in_headers {
                self.leaks
                    .lock()
                    .expect("not poisoned")
                    .push(format!("the answer to `{label}` contains {what}"));
            }
        }
    }

    pub(crate) fn leaks(&self) -> Vec<String> {
        self.leaks.lock().expect("not poisoned").clone()
    }

    /// A valid sign-in body for `id`.
    pub(crate) fn profile(id: &str, email: &str, first_name: &str) -> String {
        serde_json::json!({ "id": id, "email": email, "firstName": first_name }).to_string()
    }

    /// `POST external` with the key and `body`.
    pub(crate) fn external_request(&self, body: impl Into<bytes::Bytes>) -> RawRequest {
        RawRequest::post(self.paths().external.clone())
            .header("authorization", &self.key_header())
            .json(body)
    }

    /// Signs `id` up or in and answers its oneTimeToken.
    pub(crate) async fn one_time_token(&self, label: &str, id: &str) -> Result<String, String> {
        let body = Kit::profile(id, &format!("{id}@example.com"), "Conformance");
        self.one_time_token_for(label, body).await
    }

    pub(crate) async fn one_time_token_for(
        &self,
        label: &str,
        body: String,
    ) -> Result<String, String> {
        let response = self.send(label, self.external_request(body)).await?;
        ensure(response.status == 200, || {
            format!(
                "{label}: external answered {}, expected 200 ({})",
                response.status,
                snippet(&response)
            )
        })?;
        Ok(response.text())
    }

    /// `POST token` for `token` naming `app` (no header when `None`).
    pub(crate) fn redeem_request(&self, token: &str, app: Option<&str>) -> RawRequest {
        let mut request = RawRequest::post(self.paths().token.clone())
            .json(serde_json::json!({ "oneTimeToken": token }).to_string());
        if let Some(app) = app {
            request = request.header("x-techcentrix-app-id", app);
        }
        request
    }

    /// A new user's session: its JSON answer.
    pub(crate) async fn session(&self, label: &str) -> Result<SessionBody, String> {
        let id = self.fresh_id();
        let token = self.one_time_token(label, &id).await?;
        self.redeem(label, &token).await
    }

    pub(crate) async fn redeem(&self, label: &str, token: &str) -> Result<SessionBody, String> {
        let response = self
            .send(label, self.redeem_request(token, Some(&self.config.app)))
            .await?;
        ensure(response.status == 200, || {
            format!(
                "{label}: redemption answered {}, expected 200 ({})",
                response.status,
                snippet(&response)
            )
        })?;
        SessionBody::parse(&response).map_err(|why| format!("{label}: {why}"))
    }

    pub(crate) fn refresh_request(&self, refresh_token: &str) -> RawRequest {
        RawRequest::post(self.paths().refresh.clone())
            .json(serde_json::json!({ "refreshToken": refresh_token }).to_string())
    }

    pub(crate) fn sign_out_body_request(&self, refresh_token: &str) -> RawRequest {
        RawRequest::post(self.paths().sign_out.clone())
            .json(serde_json::json!({ "refreshToken": refresh_token }).to_string())
    }

    pub(crate) fn skip_without_secret(&self) -> Result<&[u8], Not> {
        self.config
            .jwt_secret
            .as_ref()
            .map(|s| s.expose_secret().as_bytes())
            .ok_or_else(|| Not::Skip("needs --jwt-secret".into()))
    }

    pub(crate) fn protected(&self) -> Result<&str, Not> {
        self.config
            .protected
            .as_deref()
            .ok_or_else(|| Not::Skip("needs --protected".into()))
    }
}

/// A session answer's fields.
#[derive(Clone, Debug)]
pub(crate) struct SessionBody {
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
    pub(crate) token_type: String,
    pub(crate) expires_in: u64,
    pub(crate) user_id: String,
}

impl SessionBody {
    pub(crate) fn parse(response: &RawResponse) -> Result<SessionBody, String> {
        let value: Value = response
            .json()
            .map_err(|_| "the session answer is not JSON".to_string())?;
        let string = |name: &str| {
            value
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("the session answer has no string `{name}`"))
        };
        Ok(SessionBody {
            access_token: string("accessToken")?,
            refresh_token: string("refreshToken")?,
            token_type: string("tokenType")?,
            expires_in: value
                .get("expiresIn")
                .and_then(Value::as_u64)
                .ok_or("the session answer has no integer `expiresIn`")?,
            user_id: string("userId")?,
        })
    }
}

/// How an error's message must read.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Msg {
    Exact(&'static str),
    Prefix(&'static str),
}

/// The SPEC §3 error answer: `status`, `errorCode` `code`, the message, JSON with exactly
/// `message` and `errorCode`, and the headers its row requires (`WWW-Authenticate: Bearer…`
/// on 401, `Allow` on 405, `Retry-After` on 429/503).
pub(crate) fn expect_error(
    response: &RawResponse,
    status: u16,
    code: u64,
    msg: Msg,
) -> Result<(), String> {
    ensure(response.status == status, || {
        format!(
            "status {}, expected {status} ({})",
            response.status.as_u16(),
            snippet(response)
        )
    })?;
    ensure(is_json(response), || {
        format!(
            "Content-Type {:?}, expected application/json",
            response.header("content-type")
        )
    })?;
    let body: Value = response
        .json()
        .map_err(|_| format!("the error body is not JSON: {}", snippet(response)))?;
    let object = body
        .as_object()
        .ok_or("the error body is not a JSON object")?;
    let mut fields: Vec<&str> = object.keys().map(String::as_str).collect();
    fields.sort_unstable();
    ensure(fields == ["errorCode", "message"], || {
        format!("the error body's fields are {fields:?}, expected exactly message and errorCode")
    })?;
    let got = object.get("errorCode").and_then(Value::as_u64);
    ensure(got == Some(code), || {
        format!("errorCode {}, expected {code}", object["errorCode"])
    })?;
    let message = object
        .get("message")
        .and_then(Value::as_str)
        .ok_or("message is not a string")?;
    match msg {
        Msg::Exact(expected) => ensure(message == expected, || {
            format!("message {message:?}, expected {expected:?}")
        })?,
        Msg::Prefix(prefix) => ensure(message.starts_with(prefix), || {
            format!("message {message:?}, expected it to start with {prefix:?}")
        })?,
    }
    match status {
        401 => {
            let challenge = response.header("www-authenticate").unwrap_or_default();
            ensure(challenge.to_ascii_lowercase().starts_with("bearer"), || {
                format!(
                    "WWW-Authenticate {:?}, expected Bearer",
                    response.header("www-authenticate")
                )
            })?;
        }
        405 => ensure(response.headers.contains_key("allow"), || {
            "no Allow header".into()
        })?,
        429 | 503 => {
            let ok = crate::retry::retry_after(&response.headers).is_some_and(|d| d.as_secs() >= 1);
            ensure(ok, || {
                format!(
                    "Retry-After {:?}, expected delta-seconds ≥ 1",
                    response.header("retry-after")
                )
            })?;
        }
        _ => {}
    }
    Ok(())
}

/// The guard's 401/4 with `WWW-Authenticate: Bearer error="invalid_token"`.
pub(crate) fn expect_invalid_token(response: &RawResponse) -> Result<(), String> {
    expect_error(response, 401, 4, Msg::Exact("Invalid access token"))?;
    let challenge = response.header("www-authenticate").unwrap_or_default();
    ensure(challenge.contains("error=\"invalid_token\""), || {
        format!("WWW-Authenticate {challenge:?}, expected Bearer error=\"invalid_token\"")
    })
}

/// `Cache-Control` names `no-store`.
pub(crate) fn expect_no_store(response: &RawResponse) -> Result<(), String> {
    let value = response
        .header("cache-control")
        .unwrap_or_default()
        .to_ascii_lowercase();
    ensure(value.split(',').any(|d| d.trim() == "no-store"), || {
        format!(
            "Cache-Control {:?}, expected no-store",
            response.header("cache-control")
        )
    })
}

/// The status is `status`; the failure shows the start of the body.
pub(crate) fn expect_status(response: &RawResponse, status: u16) -> Result<(), String> {
    ensure(response.status == status, || {
        format!(
            "status {}, expected {status} ({})",
            response.status,
            snippet(response)
        )
    })
}

/// [`is_json`], as a check.
pub(crate) fn expect_json(response: &RawResponse) -> Result<(), String> {
    ensure(is_json(response), || {
        format!(
            "Content-Type {:?}, expected application/json",
            response.header("content-type")
        )
    })
}

/// `Content-Type` is `application/json` (parameters allowed).
pub(crate) fn is_json(response: &RawResponse) -> bool {
    media_type(response).as_deref() == Some("application/json")
}

/// The `Content-Type`'s media type, lower-cased, without parameters.
pub(crate) fn media_type(response: &RawResponse) -> Option<String> {
    let value = response.headers.get(CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
}

/// The start of a body, for failure messages.
pub(crate) fn snippet(response: &RawResponse) -> String {
    let text = response.text();
    let mut cut: String = text.chars().take(120).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    format!("body {cut:?}")
}

/// Decodes a JWT or fails naming `what`.
pub(crate) fn decode(what: &str, token: &str) -> Result<Jwt, String> {
    Jwt::decode(token).map_err(|why| format!("{what}: {why}"))
}

/// Now, in unix seconds.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// 128 random bits as hex, from the standard library's randomly seeded hasher.
fn random_hex() -> String {
    use std::hash::{BuildHasher, Hasher};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut halves = [0u64; 2];
    for (i, half) in halves.iter_mut().enumerate() {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(nanos);
        hasher.write_usize(i);
        hasher.write_u32(std::process::id());
        *half = hasher.finish();
    }
    format!("{:016x}{:016x}", halves[0], halves[1])
}
