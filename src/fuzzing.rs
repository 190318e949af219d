//! Entry points for the cargo-fuzz targets in `fuzz/`: thin wrappers that reach functions
//! private to the crate. Compiled only with the feature `fuzzing` (in neither `default` nor
//! `full`) and hidden from the docs: not part of the API, may change at any time.

/// `bytes` as unpadded base64url, as the crate encodes tokens.
pub fn base64url_encode(bytes: &[u8]) -> String {
    crate::util::base64url::encode(bytes)
}

/// Appends `bytes` as unpadded base64url to `out`.
pub fn base64url_encode_append(bytes: &[u8], out: &mut Vec<u8>) {
    crate::util::base64url::encode_append(bytes, out);
}

/// The bytes `text` encodes; `None` if it is not strict unpadded base64url.
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    crate::util::base64url::decode(text)
}

/// Appends the bytes `text` encodes to `out`; `None` if it is not strict unpadded base64url.
pub fn base64url_decode_append(text: &str, out: &mut Vec<u8>) -> Option<()> {
    crate::util::base64url::decode_append(text, out)
}

/// Decodes `text` into `buf`; `None` if it is not strict unpadded base64url or does not fit.
pub fn base64url_decode_into<'b>(text: &str, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    crate::util::base64url::decode_into(text, buf)
}
