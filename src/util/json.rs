//! JSON written by hand on the hot paths (token claims, the token and session answers):
//! the same bytes `serde_json` writes, without its per-byte escaping state machine or
//! intermediate buffers. A string with nothing to escape (every token, UUID and app id this
//! crate makes) is copied as is.

/// Writes one JSON object into a byte buffer, field by field, in the order of the calls.
pub(crate) struct Object<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> Object<'a> {
    /// Opens an object at the end of `out`.
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, empty: true }
    }

    /// `"name":`; `name` is one of ours and needs no escaping.
    fn key(&mut self, name: &str) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// A string field.
    pub(crate) fn string(&mut self, name: &str, value: &str) -> &mut Self {
        string(self.key(name), value);
        self
    }

    /// An unsigned number field.
    pub(crate) fn number(&mut self, name: &str, value: u64) -> &mut Self {
        self.key(name)
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        self
    }

    /// An array-of-strings field.
    pub(crate) fn strings(&mut self, name: &str, values: &[&str]) -> &mut Self {
        let out = self.key(name);
        out.push(b'[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, value);
        }
        out.push(b']');
        self
    }

    /// A string field whose characters `write` appends; they must need no escaping
    /// (base64url, as in a JWT).
    pub(crate) fn plain_string_with<T>(
        &mut self,
        name: &str,
        write: impl FnOnce(&mut Vec<u8>) -> T,
    ) -> T {
        let out = self.key(name);
        out.push(b'"');
        let result = write(out);
        out.push(b'"');
        result
    }

    /// Closes the object.
    pub(crate) fn finish(self) {
        self.out.push(b'}');
    }
}

/// Appends `value` as a JSON string, escaped as `serde_json` escapes it.
pub(crate) fn string(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
    let bytes = value.as_bytes();
    // One pass without an early exit (the compiler vectorizes it) settles the usual case.
    if !bytes
        .iter()
        .fold(false, |any, &byte| any | needs_escape(byte))
    {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn written(value: &str) -> String {
        let mut out = Vec::new();
        string(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_what_serde_json_escapes() {
        for value in [
            "",
            "plain",
            "a\"b\\c",
            "\n\r\t\u{8}\u{c}",
            "\u{0}\u{1f}\u{7f}",
            "é☃🦀",
        ] {
            assert_eq!(written(value), serde_json::to_string(value).unwrap());
        }
    }

    #[test]
    fn objects_are_what_serde_json_writes() {
        let mut out = Vec::new();
        let mut object = Object::new(&mut out);
        object
            .string("a", "x\"y")
            .number("n", u64::MAX)
            .strings("list", &["p", "q\n"])
            .strings("none", &[]);
        object.plain_string_with("t", |out| out.extend_from_slice(b"abc.def"));
        object.finish();
        let expected = serde_json::json!({
            "a": "x\"y", "n": u64::MAX, "list": ["p", "q\n"], "none": [], "t": "abc.def"
        });
        let parsed: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(parsed, expected);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":"x\"y","n":18446744073709551615,"list":["p","q\n"],"none":[],"t":"abc.def"}"#
        );
    }

    proptest! {
        #[test]
        fn any_string_is_written_as_serde_json_writes_it(value in any::<String>()) {
            prop_assert_eq!(written(&value), serde_json::to_string(&value).unwrap());
        }
    }
}
