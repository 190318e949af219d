//! Property tests: whatever a client sends, the answer is never a 5xx and never a panic.

mod common;

use bytes::Bytes;
use common::*;
use http::{HeaderName, HeaderValue, Request};
use http_body_util::Full;
use proptest::prelude::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// JSON-ish bodies: mutations of the guide's body, arbitrary JSON values and raw bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let json_value = any::<String>().prop_map(|s| serde_json::json!(s));
    let field = prop_oneof![
        json_value,
        Just(serde_json::Value::Null),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
        "[a-z@.]{0,300}".prop_map(|s| serde_json::json!(s)),
    ];
    prop_oneof![
        (field.clone(), field.clone(), field).prop_map(|(id, email, first_name)| {
            serde_json::json!({ "id": id, "email": email, "firstName": first_name })
                .to_string()
                .into_bytes()
        }),
        proptest::collection::vec(any::<u8>(), 0..2048),
        (0..GUIDE_BODY.len(), any::<u8>()).prop_map(|(at, byte)| {
            let mut bytes = GUIDE_BODY.as_bytes().to_vec();
            bytes[at] = byte;
            bytes
        }),
        (0..GUIDE_BODY.len()).prop_map(|cut| GUIDE_BODY.as_bytes()[..cut].to_vec()),
    ]
}

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(32u8..127, 0..80),
        proptest::collection::vec(any::<u8>(), 0..80),
        Just(format!("Bearer {KEY}").into_bytes()),
        Just(b"application/json".to_vec()),
    ]
}

fn headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let name = prop_oneof![
        Just("authorization".to_owned()),
        Just("content-type".to_owned()),
        Just("content-length".to_owned()),
        Just("accept".to_owned()),
        "[a-z-]{1,20}",
    ];
    proptest::collection::vec((name, header_value()), 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_input_yields_a_5xx(
        method in prop_oneof![Just("POST"), Just("GET"), Just("PUT"), Just("DELETE")],
        with_key in any::<bool>(),
        with_json in any::<bool>(),
        extra in headers(),
        body in body(),
    ) {
        let auth = auth();
        let mut builder = Request::builder().method(method).uri("/user/api/auth/external");
        if with_key {
            builder = builder.header("authorization", format!("Bearer {KEY}"));
        }
        if with_json {
            builder = builder.header("content-type", "application/json");
        }
        let mut request = builder.body(Full::new(Bytes::from(body))).unwrap();
        for (name, value) in extra {
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::from_bytes(&value)) {
                request.headers_mut().append(name, value);
            }
        }
        let answer = runtime().block_on(call(&auth, request));
        prop_assert!(answer.status.as_u16() < 500, "{} {:?}", answer.status, answer.body);
        if answer.status != 200 {
            answer.assert_error(answer.status.as_u16(), answer.json()["errorCode"].as_u64().unwrap());
        }
    }
}
