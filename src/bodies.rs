//! The JSON bodies of the endpoints: their fields read (every value checked, duplicates
//! refused) and the external profile validated (SPEC §2).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::Error;
use crate::store::ExternalProfile;

/// Parses a body that must be a JSON object with `seed` (400/1 otherwise).
fn parse_object_with<'a, S: DeserializeSeed<'a>>(
    body: &'a [u8],
    seed: S,
) -> Result<S::Value, Error> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(Error::Malformed("body must be a JSON object".into()));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    seed.deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value))
        .map_err(|e| {
            let detail = e.to_string();
            // serde_json appends " at line L column C"; the position adds nothing for a
            // one-line body and the message reads better without it.
            let detail = match detail.rfind(" at line ") {
                Some(at) => detail[..at].to_owned(),
                None => detail,
            };
            Error::Malformed(detail)
        })
}

/// The token of `{"oneTimeToken": "<jwt>"}`, borrowed from the body.
pub(crate) fn one_time_token(body: &[u8]) -> Result<Cow<'_, str>, Error> {
    string_field("oneTimeToken", fields(body, ["oneTimeToken"])?.take(0))
}

/// The token of `{"refreshToken": "<token>"}`, borrowed from the body.
pub(crate) fn refresh_token(body: &[u8]) -> Result<Cow<'_, str>, Error> {
    string_field("refreshToken", fields(body, ["refreshToken"])?.take(0))
}

/// Parses and checks the body of `POST /user/api/auth/external` (SPEC §2).
pub(crate) fn external_profile(body: &[u8]) -> Result<ExternalProfile, Error> {
    let mut parsed = fields(body, ["id", "email", "firstName"])?;
    let id = string_field("id", parsed.take(0))?.into_owned();
    let email = string_field("email", parsed.take(1))?.into_owned();
    let first_name = string_field("firstName", parsed.take(2))?.into_owned();
    check_id(&id)?;
    check_email(&email)?;
    check_first_name(&first_name)?;
    Ok(ExternalProfile {
        external_id: id,
        email,
        first_name,
    })
}

fn string_field<'a>(name: &str, value: Text<'a>) -> Result<Cow<'a, str>, Error> {
    match value {
        Text::String(s) => Ok(s),
        Text::Absent => Err(Error::Malformed(format!(
            "`{name}` is required and must be a string"
        ))),
        Text::Other => Err(Error::Malformed(format!("`{name}` must be a string"))),
    }
}

/// A body field that must be a string, as found: the string (borrowed from the body unless
/// it has escapes), absent or `null`, or another kind of value (the error names which).
#[derive(Default)]
enum Text<'a> {
    #[default]
    Absent,
    String(Cow<'a, str>),
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor(std::marker::PhantomData))
    }
}

struct TextVisitor<'a>(std::marker::PhantomData<Text<'a>>);

impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
    type Value = Text<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Text<'a>, E> {
        Ok(Text::String(Cow::Borrowed(value)))
    }

    fn visit_str<E>(self, value: &str) -> Result<Text<'a>, E> {
        Ok(Text::String(Cow::Owned(value.to_owned())))
    }

    fn visit_string<E>(self, value: String) -> Result<Text<'a>, E> {
        Ok(Text::String(Cow::Owned(value)))
    }

    fn visit_unit<E>(self) -> Result<Text<'a>, E> {
        Ok(Text::Absent)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Text<'a>, E> {
        Ok(Text::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Text<'a>, E> {
        Ok(Text::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Text<'a>, E> {
        Ok(Text::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Text<'a>, E> {
        Ok(Text::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text<'a>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Text::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text<'a>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Text::Other)
    }
}

/// The known fields `names` of a JSON object body, each read as a [`Text`] (so a missing,
/// `null` or mistyped field gets a message naming it); a duplicated known field is refused.
/// Unknown fields are ignored, but their values are still read in full ([`Checked`]): serde
/// skips an ignored value without checking its strings, and a body that is not valid JSON
/// text (invalid UTF-8, a lone surrogate, a number out of range, nesting past the limit)
/// must be refused wherever it hides.
fn fields<'a, const N: usize>(
    body: &'a [u8],
    names: [&'static str; N],
) -> Result<Fields<'a, N>, Error> {
    parse_object_with(body, FieldsSeed { names })
}

struct Fields<'a, const N: usize>([Text<'a>; N]);

impl<'a, const N: usize> Fields<'a, N> {
    fn take(&mut self, at: usize) -> Text<'a> {
        std::mem::take(&mut self.0[at])
    }
}

struct FieldsSeed<const N: usize> {
    names: [&'static str; N],
}

impl<'de, const N: usize> DeserializeSeed<'de> for FieldsSeed<N> {
    type Value = Fields<'de, N>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for FieldsSeed<N> {
    type Value = Fields<'de, N>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values: [Text<'de>; N] = std::array::from_fn(|_| Text::Absent);
        let mut seen = [false; N];
        while let Some(key) = map.next_key_seed(KeySeed(&self.names))? {
            match key {
                Some(at) if seen[at] => {
                    return Err(serde::de::Error::duplicate_field(self.names[at]));
                }
                Some(at) => {
                    seen[at] = true;
                    values[at] = map.next_value()?;
                }
                None => {
                    map.next_value::<Checked>()?;
                }
            }
        }
        Ok(Fields(values))
    }
}

/// A key: the index of a known name, or `None`.
struct KeySeed<'n>(&'n [&'static str]);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|name| *name == key))
    }
}

/// Any JSON value, read in full and kept nowhere: every string decoded (UTF-8, escapes),
/// every number parsed, every level entered.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Checked)
    }
}

impl<'de> Visitor<'de> for Checked {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_entry::<Checked, Checked>()?.is_some() {}
        Ok(Checked)
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

fn check_id(id: &str) -> Result<(), Error> {
    if id.is_empty() || id.len() > 128 {
        return Err(Error::Malformed("`id` must be 1 to 128 bytes".into()));
    }
    if has_control(id) {
        return Err(Error::Malformed(
            "`id` must not contain control characters".into(),
        ));
    }
    Ok(())
}

fn check_email(email: &str) -> Result<(), Error> {
    let invalid = |why: &str| Err(Error::Malformed(format!("`email` {why}")));
    if email.len() > 254 {
        return invalid("must be at most 254 bytes");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid("must not contain whitespace or control characters");
    }
    let mut parts = email.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return invalid("must be local@domain with exactly one `@`");
    };
    if local.is_empty() || domain.is_empty() {
        return invalid("must be local@domain with both parts non-empty");
    }
    if local.len() > 64 {
        return invalid("local part must be at most 64 bytes");
    }
    Ok(())
}

fn check_first_name(name: &str) -> Result<(), Error> {
    if name.len() > 128 {
        return Err(Error::Malformed(
            "`firstName` must be at most 128 bytes".into(),
        ));
    }
    if has_control(name) {
        return Err(Error::Malformed(
            "`firstName` must not contain control characters".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `profile_differential` fuzz target: a body `serde_json::Value` refuses
    /// (not JSON text) hidden in an unknown field was accepted, as serde skips an ignored
    /// value without checking it. Every body parser refuses them now, as `Value` does.
    #[test]
    fn bodies_that_are_not_json_text_are_refused_even_in_unknown_fields() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let hidden: [&[u8]; 5] = [
            b"\"\xff\"",
            br#""\ud800""#,
            br#""\udc00x""#,
            b"1e400",
            deep.as_bytes(),
        ];
        for value in hidden {
            let join = |known: &[u8]| [br#"{"x":"#.as_slice(), value, b",", known, b"}"].concat();
            let profile = join(br#""id":"a","email":"a@b","firstName":"""#);
            let redeem = join(br#""oneTimeToken":"t""#);
            let refresh = join(br#""refreshToken":"t""#);
            let shown = String::from_utf8_lossy(value).into_owned();
            assert!(
                serde_json::from_slice::<serde_json::Value>(&profile).is_err(),
                "{shown}"
            );
            assert!(
                matches!(external_profile(&profile), Err(Error::Malformed(_))),
                "{shown}"
            );
            assert!(
                matches!(one_time_token(&redeem), Err(Error::Malformed(_))),
                "{shown}"
            );
            assert!(
                matches!(refresh_token(&refresh), Err(Error::Malformed(_))),
                "{shown}"
            );
        }
        // Valid JSON in an unknown field is still ignored, escapes and all.
        let fine = br#"{"x":{"y":["\ud83d\ude00",1.5e300,null,true]},"id":"a","email":"a@b","firstName":""}"#;
        assert_eq!(external_profile(fine).unwrap().external_id, "a");
    }

    #[test]
    fn known_fields_duplicated_or_trailing_text_are_refused() {
        let twice = br#"{"refreshToken":"a","refreshToken":"b"}"#;
        let Err(Error::Malformed(why)) = refresh_token(twice) else {
            panic!("a duplicated field was accepted");
        };
        assert!(why.contains("duplicate field `refreshToken`"), "{why}");
        assert!(refresh_token(br#"{"refreshToken":"a"} {}"#).is_err());
        assert_eq!(refresh_token(br#" {"refreshToken":"a"} "#).unwrap(), "a");
    }
    #[test]
    fn tokens_are_read_borrowed_unless_escaped() {
        let body = br#"{"oneTimeToken":"a.b.c","other":[1,{"x":null}]}"#;
        assert!(matches!(one_time_token(body), Ok(Cow::Borrowed("a.b.c"))));
        let escaped = br#"{"refreshToken":"a\u002eb"}"#;
        assert!(matches!(refresh_token(escaped), Ok(Cow::Owned(t)) if t == "a.b"));
    }

    #[test]
    fn a_token_that_is_not_a_string_is_named() {
        let message = |body: &[u8]| match one_time_token(body) {
            Err(Error::Malformed(message)) => message,
            other => panic!("{other:?}"),
        };
        for body in [&b"{}"[..], br#"{"oneTimeToken":null}"#] {
            assert_eq!(
                message(body),
                "`oneTimeToken` is required and must be a string"
            );
        }
        for body in [
            &br#"{"oneTimeToken":5}"#[..],
            br#"{"oneTimeToken":true}"#,
            br#"{"oneTimeToken":-1.5}"#,
            br#"{"oneTimeToken":["a"]}"#,
            br#"{"oneTimeToken":{"a":"b"}}"#,
        ] {
            assert_eq!(message(body), "`oneTimeToken` must be a string");
        }
        assert!(message(br#"{"oneTimeToken":"a","oneTimeToken":"b"}"#).contains("duplicate"));
        assert!(matches!(one_time_token(b"[]"), Err(Error::Malformed(_))));
    }
    #[test]
    fn emails() {
        for ok in [
            "a@b",
            "user1@techcentrix.com",
            &format!("{}@x", "l".repeat(64)),
        ] {
            assert!(check_email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ab",
            "@b",
            "a@",
            "a@b@c",
            "a b@c",
            "a@b\u{7}",
            &format!("{}@x", "l".repeat(65)),
            &format!("a@{}", "d".repeat(253)),
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn profile_rejects_duplicates_nulls_and_arrays() {
        let dup = br#"{"id":"a","id":"b","email":"a@b","firstName":""}"#;
        assert!(external_profile(dup).is_err());
        let null = br#"{"id":null,"email":"a@b","firstName":""}"#;
        assert!(external_profile(null).is_err());
        let array = br#"["a","a@b",""]"#;
        assert!(external_profile(array).is_err());
        let extra = br#"{"id":"a","email":"a@b","firstName":"","lastName":"x"}"#;
        assert!(external_profile(extra).is_ok());
    }
}
