//! The crate's base64url (through `base64-simd`) against the `base64` crate's strict
//! URL-safe engine without padding, on every input:
//! - `decode`, `decode_append` and `decode_into` (with room enough) accept exactly the
//!   texts the reference accepts, with the same bytes; `decode_into` with a buffer of any
//!   size never panics and never answers other bytes than the reference's;
//! - `encode` and `encode_append` write what the reference writes, and decoding that gives
//!   the input back.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as REFERENCE;
use libfuzzer_sys::fuzz_target;
use techcentrix_auth::fuzzing::{
    base64url_decode, base64url_decode_append, base64url_decode_into, base64url_encode,
    base64url_encode_append,
};

fuzz_target!(|data: &[u8]| {
    // Decoding: the input as text (not UTF-8: lossily, so every input decodes something).
    let (small, text_bytes) = data.split_first().map_or((0, data), |(b, rest)| (*b, rest));
    let text = String::from_utf8_lossy(text_bytes);
    let expected = REFERENCE.decode(text.as_bytes()).ok();
    assert_eq!(base64url_decode(&text), expected, "decode({text:?})");

    let mut out = b"kept".to_vec();
    let appended = base64url_decode_append(&text, &mut out).map(|()| out[4..].to_vec());
    assert_eq!(appended, expected, "decode_append({text:?})");
    if appended.is_none() {
        // A refused text may leave `out` as it was or extended; the prefix stays.
        assert!(
            out.starts_with(b"kept"),
            "decode_append dropped what was in the buffer"
        );
    }

    let mut roomy = vec![0u8; text.len() / 4 * 3 + 3];
    let decoded = base64url_decode_into(&text, &mut roomy).map(<[u8]>::to_vec);
    assert_eq!(decoded, expected, "decode_into({text:?}) with room enough");

    let mut tight = vec![0u8; usize::from(small) % 96];
    if let Some(bytes) = base64url_decode_into(&text, &mut tight) {
        assert_eq!(
            Some(bytes.to_vec()),
            expected,
            "decode_into({text:?}) in {small} bytes"
        );
    }

    // Encoding: the whole input as bytes.
    let encoded = base64url_encode(data);
    assert_eq!(encoded, REFERENCE.encode(data));
    assert_eq!(
        base64url_decode(&encoded).as_deref(),
        Some(data),
        "round trip"
    );
    let mut out = b"prefix.".to_vec();
    base64url_encode_append(data, &mut out);
    assert_eq!(&out[7..], encoded.as_bytes());
});
