//! `EnvConfig::from_lookup` on variables parsed from the input, never a panic, and no
//! secret in what it shows: the `Display` of an error (and the `Debug` of a config) never
//! contains the value of `TCX_JWT_SECRET` or the key part of a `TCX_API_KEYS` entry when
//! that secret is at least 8 bytes long.
//!
//! Input: lines `NAME=VALUE`, read as UTF-8 (lossily); the last line for a name wins.
//!
//! A secret can be in the output without leaking, when it is also the value of another
//! variable or a piece of a fixed message (`TCX_JWT_SECRET=entry 1: is empty`). So the leak
//! check is differential: the same variables are read a second time with every secret
//! changed character by character (letters and digits rotated, other printable ASCII
//! rotated among itself but for `,` and `:`), which keeps each secret's byte length, its
//! character count and the class of each character, and so every check on it. A secret
//! that shows in the first output and no longer shows in the second came from that
//! secret's variable: a leak.
//!
//! `TCX_SIGNING_KEYS` reads the files it names: its paths are confined to `tests/keys/` of
//! the crate (rewritten to absolute paths) or to plain file names in the working directory,
//! so that no input makes the target read a device such as `/dev/zero` and hang.
//!
//! With `FUZZ_DEBUG` set in the environment, what each reading shows is printed to stderr.
#![no_main]

use libfuzzer_sys::fuzz_target;
use techcentrix_auth::env::EnvConfig;

/// The secrets shorter than this are not checked: a short one is found in any message.
const MIN_SECRET: usize = 8;

/// The variables `NAME=VALUE` lines set, in order.
fn parse(data: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(data);
    text.split('\n')
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

fn lookup<'v>(vars: &'v [(String, String)], name: &str) -> Option<&'v str> {
    vars.iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// `TCX_SIGNING_KEYS` with its paths confined (see the module docs); `None` (unset) when a
/// path would leave them.
fn confine_signing_keys(value: &str) -> Option<String> {
    let keys_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/keys/");
    let mut entries = Vec::new();
    for entry in value.split(',') {
        match entry.split_once(':') {
            None => entries.push(entry.to_owned()),
            Some((kid, path)) => {
                let trimmed = path.trim();
                let (dir, file) = match trimmed.strip_prefix("tests/keys/") {
                    Some(file) => (keys_dir, file),
                    None => ("", trimmed),
                };
                if file.contains('/') || file.starts_with('.') {
                    return None;
                }
                entries.push(format!("{kid}:{dir}{file}"));
            }
        }
    }
    Some(entries.join(","))
}

/// The character a secret's `c` becomes in the second reading.
fn rotate(c: char) -> char {
    const PUNCT: &[u8] = b"!\"#$%&'()*+-./;<=>?@[\\]^_`{|}~";
    let rot =
        |c: char, first: char, n: u8| char::from(first as u8 + ((c as u8 - first as u8 + 1) % n));
    match c {
        'a'..='z' => rot(c, 'a', 26),
        'A'..='Z' => rot(c, 'A', 26),
        '0'..='9' => rot(c, '0', 10),
        _ => match PUNCT.iter().position(|&p| char::from(p) == c) {
            Some(i) => char::from(PUNCT[(i + 1) % PUNCT.len()]),
            None => c,
        },
    }
}

/// The secrets in `vars` (JWT secret, API key parts), and `vars` with each of them
/// rotated.
fn secrets(vars: &[(String, String)]) -> (Vec<String>, Vec<(String, String)>) {
    let mut found = Vec::new();
    let mut rotated = Vec::new();
    for (name, value) in vars {
        let value = match name.as_str() {
            "TCX_JWT_SECRET" => {
                found.push(value.clone());
                value.chars().map(rotate).collect()
            }
            "TCX_API_KEYS" => value
                .split(',')
                .map(|entry| match entry.split_once(':') {
                    Some((app, key)) => {
                        found.push(key.trim().to_owned());
                        format!("{app}:{}", key.chars().map(rotate).collect::<String>())
                    }
                    None => entry.to_owned(),
                })
                .collect::<Vec<_>>()
                .join(","),
            _ => value.clone(),
        };
        rotated.push((name.clone(), value));
    }
    found.retain(|s| s.len() >= MIN_SECRET && s.chars().any(|c| rotate(c) != c));
    (found, rotated)
}

/// What a reading shows: the error's `Display`, or the config's `Debug`.
fn shown(vars: &[(String, String)]) -> String {
    let result = EnvConfig::from_lookup(|name| {
        let value = lookup(vars, name)?;
        if name == "TCX_SIGNING_KEYS" {
            confine_signing_keys(value)
        } else {
            Some(value.to_owned())
        }
    });
    match result {
        Ok(config) => format!("ok: {config:?}"),
        Err(error) => {
            // Every error names a variable.
            assert!(
                error.setting().starts_with("TCX_"),
                "an error that names no variable: {error}"
            );
            format!("error: {error}")
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let vars = parse(data);
    let first = shown(&vars);
    if std::env::var_os("FUZZ_DEBUG").is_some() {
        eprintln!("{first}");
    }
    let (secrets, rotated) = secrets(&vars);
    if secrets.iter().any(|s| first.contains(s.as_str())) {
        let second = shown(&rotated);
        for secret in &secrets {
            assert!(
                !first.contains(secret.as_str()) || second.contains(secret.as_str()),
                "secret {secret:?} leaked: {first:?} (with it rotated: {second:?})"
            );
        }
    }
});
