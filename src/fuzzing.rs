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

// The benches' entry points (`benches/ratios.rs`, the hand-written code against the
// libraries that could replace it).

/// Appends the JSON of a token's claims as the crate writes them when it issues a token
/// (`util::json`, the calls of `ClaimsRef::write_json` in `token/claims.rs`), with `auth`
/// as the roles: the same bytes as `serde_json::to_vec(claims)`.
pub fn claims_json(claims: &crate::token::Claims, auth: &[&str], out: &mut Vec<u8>) {
    use crate::token::TokenKind;
    let kind = match claims.kind {
        TokenKind::OneTime => "one_time",
        TokenKind::Access => "access",
    };
    let mut object = crate::util::json::Object::new(out);
    object
        .string("jti", claims.jti.as_str())
        .string("sub", claims.sub.as_str())
        .strings("auth", auth)
        .string("type", kind)
        .string("iss", &claims.iss)
        .string("aud", claims.aud.as_str())
        .number("iat", claims.iat)
        .number("exp", claims.exp);
    if let Some(sid) = &claims.sid {
        object.string("sid", sid.as_str());
    }
    object.finish();
}

/// Appends the JSON answer of the external endpoint, `{"oneTimeToken":…,"expiresIn":…}`,
/// as the endpoint writes it (`util::json`); `token` is a JWT, which needs no escaping.
pub fn one_time_answer_json(token: &str, expires_in: u64, out: &mut Vec<u8>) {
    let mut object = crate::util::json::Object::new(out);
    object.plain_string_with("oneTimeToken", |out| {
        out.extend_from_slice(token.as_bytes())
    });
    object.number("expiresIn", expires_in);
    object.finish();
}

/// The body of a JSON endpoint as the endpoints read it (`request::read_json`): 415 unless
/// the `Content-Type` is JSON, then 413 as soon as it is known to be over `limit` bytes.
pub async fn read_json<B>(
    headers: &http::HeaderMap,
    body: B,
    limit: usize,
) -> Result<bytes::Bytes, crate::Error>
where
    B: http_body::Body,
    B::Error: Into<crate::BoxError>,
{
    crate::request::read_json(headers, body, limit).await
}

/// Whether the `Content-Type` is `application/json` (parameters allowed), as
/// [`read_json`] checks it.
pub fn is_json(headers: &http::HeaderMap) -> bool {
    crate::request::is_json(headers)
}

/// The maps a redemption writes in the in-memory stores that hash with the crate's
/// uniform hasher (`util::hashing::Uniform`), one shard of each: the replay ledger's used
/// ids, the session store's family table (ids found through a `hashbrown::HashTable` of
/// positions) and its refresh-token index.
#[derive(Clone, Debug)]
pub struct UniformMaps {
    used: std::collections::HashMap<u128, u64, crate::util::hashing::Uniform>,
    families: Vec<u128>,
    by_id: hashbrown::HashTable<u32>,
    tokens: std::collections::HashMap<[u8; 16], u128, crate::util::hashing::Uniform>,
}

impl UniformMaps {
    /// Empty maps with room for `capacity` redemptions.
    pub fn with_capacity(capacity: usize) -> Self {
        UniformMaps {
            used: std::collections::HashMap::with_capacity_and_hasher(capacity, Default::default()),
            families: Vec::with_capacity(capacity),
            by_id: hashbrown::HashTable::with_capacity(capacity),
            tokens: std::collections::HashMap::with_capacity_and_hasher(
                capacity,
                Default::default(),
            ),
        }
    }

    /// What a redemption does to the maps (`MemoryReplayLedger::consume`,
    /// `MemorySessionStore::create`): takes the `jti`'s bits if they are new, adds the
    /// session unless its id is held, and indexes its refresh token (the first 16 bytes of
    /// its digest). Whether the `jti` was new.
    pub fn redeem(&mut self, jti: u128, expires_at: u64, session: u128, token: [u8; 16]) -> bool {
        use std::collections::hash_map::Entry;
        use std::hash::BuildHasher;
        let first = match self.used.entry(jti) {
            Entry::Occupied(_) => false,
            Entry::Vacant(entry) => {
                entry.insert(expires_at);
                true
            }
        };
        let hash = |id: u128| crate::util::hashing::Uniform::default().hash_one(id);
        let families = &self.families;
        if self
            .by_id
            .find(hash(session), |&i| families[i as usize] == session)
            .is_none()
        {
            let at = self.families.len() as u32;
            self.families.push(session);
            let families = &self.families;
            self.by_id
                .insert_unique(hash(session), at, |&i| hash(families[i as usize]));
        }
        self.tokens.insert(token, session);
        first
    }

    /// How many `jti`s, sessions and tokens the maps hold.
    pub fn sizes(&self) -> (usize, usize, usize) {
        (self.used.len(), self.by_id.len(), self.tokens.len())
    }
}
