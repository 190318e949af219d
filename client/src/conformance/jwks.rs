//! SPEC §4: `GET /.well-known/jwks.json` publishes public keys only.

use serde_json::Value;

use super::kit::{Check, Kit, Not, Record, decode, ensure, expect_status, snippet};
use crate::RawRequest;

pub(super) async fn run(kit: &Kit, r: &mut dyn Record) {
    let keys = fetch(kit).await;
    r.record(
        "jwks: 200 JSON with a keys array",
        keys.as_ref()
            .map(|_| ())
            .map_err(|why| Not::Fail(why.clone())),
    );
    let Ok(keys) = keys else {
        r.record(
            "jwks: no symmetric key published",
            Err(Not::Fail("no key set".into())),
        );
        return;
    };
    r.record("jwks: no symmetric key published", no_secret(&keys));
    r.record(
        "jwks: the signing key is published (asymmetric algorithms)",
        signing_key(kit, &keys).await,
    );
}

async fn fetch(kit: &Kit) -> Result<Vec<Value>, String> {
    let response = kit
        .send("jwks", RawRequest::get(kit.paths().jwks.clone()))
        .await?;
    expect_status(&response, 200)?;
    let body: Value = response
        .json()
        .map_err(|_| format!("not JSON: {}", snippet(&response)))?;
    body.get("keys")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| "no `keys` array".into())
}

fn no_secret(keys: &[Value]) -> Check {
    for key in keys {
        let kid = key.get("kid").cloned().unwrap_or(Value::Null);
        ensure(key.get("k").is_none(), || {
            format!("key {kid} has a `k` member (a shared secret)")
        })?;
        let kty = key.get("kty").and_then(Value::as_str).unwrap_or_default();
        ensure(kty != "oct", || {
            format!("key {kid} is symmetric (kty \"oct\")")
        })?;
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            ensure(key.get(private).is_none(), || {
                format!("key {kid} has the private member `{private}`")
            })?;
        }
    }
    Ok(())
}

async fn signing_key(kit: &Kit, keys: &[Value]) -> Check {
    let token = kit.one_time_token("external", &kit.fresh_id()).await?;
    let jwt = decode("oneTimeToken", &token)?;
    let alg = jwt
        .header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if alg.starts_with("HS") {
        return Err(Not::Skip(format!(
            "the host signs with {alg}: nothing to publish"
        )));
    }
    let kid = jwt
        .header
        .get("kid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    ensure(
        keys.iter()
            .any(|k| k.get("kid").and_then(Value::as_str) == Some(kid)),
        || format!("the signing key {kid:?} is not in the key set"),
    )?;
    Ok(())
}
