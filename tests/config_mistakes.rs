//! Configuration mistakes fail loudly, naming the variable or setting, and no message quotes
//! any part of a secret.

#[path = "../examples/common/env/mod.rs"]
mod env;

use env::EnvConfig;
use techcentrix_auth::token::SigningKeys;
use techcentrix_auth::{ConfigError, JwtSecret};

fn config(vars: &[(&str, &str)]) -> Result<EnvConfig, ConfigError> {
    EnvConfig::from_lookup(|name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    })
}

fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(format!("tests/keys/{name}")).unwrap()
}

/// No 6-byte window of `secret` appears in the error's `Display` or `Debug`.
fn quotes_none_of(err: &ConfigError, secret: &str) {
    let shown = format!("{err} {err:?}");
    let bytes = secret.as_bytes();
    for window in bytes.windows(6.min(bytes.len())) {
        let window = String::from_utf8_lossy(window);
        assert!(
            !shown.contains(&*window),
            "`{window}` of the secret shown in: {shown}"
        );
    }
}

const KEY_A: &str = "Zq7rK2vN9xW4mP8sT1yU6bC3dF5gH0jL";
const KEY_B: &str = "Xa1Sb2Dc3Fd4Ge5Hf6Jg7Kh8Li9Mj0Nk";

#[test]
fn the_same_api_key_under_two_apps_is_refused() {
    let err = config(&[("TCX_API_KEYS", &format!("acme:{KEY_A},other:{KEY_A}"))]).unwrap_err();
    assert_eq!(err.setting(), "TCX_API_KEYS");
    assert!(err.to_string().contains("entry 2"), "{err}");
    assert!(err.to_string().contains("entry 1"), "{err}");
    quotes_none_of(&err, KEY_A);
    // One app with two keys (rotation) is fine.
    assert!(config(&[("TCX_API_KEYS", &format!("acme:{KEY_A},acme:{KEY_B}"))]).is_ok());
}

#[test]
fn a_misplaced_colon_never_echoes_the_key() {
    for entries in [
        format!("acme{KEY_A}:"),
        format!("{KEY_A}:acme"),
        format!("{KEY_A}acme"),
        format!("acme:{}", &KEY_A[..20]),
        format!("acme :{KEY_A}"),
        format!("acme:{} {}", &KEY_A[..16], &KEY_A[16..]),
        format!("acme:{KEY_B},{KEY_A}"),
    ] {
        let err = config(&[("TCX_API_KEYS", &entries)]).unwrap_err();
        assert_eq!(err.setting(), "TCX_API_KEYS", "{entries}");
        quotes_none_of(&err, KEY_A);
    }
}

#[test]
fn secrets_in_other_variables_are_not_echoed() {
    let short = "shortSecretValue";
    let err = config(&[("TCX_JWT_SECRET", short)]).unwrap_err();
    assert_eq!(err.setting(), "TCX_JWT_SECRET");
    quotes_none_of(&err, short);

    let password = "pgPassw0rdSecret";
    let err = config(&[(
        "TCX_DATABASE_URL",
        &format!("mysql://app:{password}@db/auth"),
    )])
    .unwrap_err();
    assert_eq!(err.setting(), "TCX_DATABASE_URL");
    quotes_none_of(&err, password);

    let err = config(&[("TCX_REDIS_URL", &format!("http://:{password}@cache:6379"))]);
    if let Err(err) = err {
        assert_eq!(err.setting(), "TCX_REDIS_URL");
        quotes_none_of(&err, password);
    }
}

#[test]
fn a_key_id_reused_in_rotation_is_refused() {
    let a = SigningKeys::from_pem("2026-11", &key_file("ec-a.pem")).unwrap();
    let b = SigningKeys::from_pem("2026-11", &key_file("ec-b.pem")).unwrap();
    let err = b.clone().with_previous(a).unwrap_err();
    assert!(err.to_string().contains("2026-11"), "{err}");
    let other = SigningKeys::from_pem("2026-10", &key_file("ec-a.pem")).unwrap();
    assert_eq!(b.with_previous(other).unwrap().kids().count(), 2);

    // The same through the environment: two TCX_SIGNING_KEYS entries under one kid.
    let entries = "k1:tests/keys/ec-a.pem,k1:tests/keys/ec-b.pem";
    let err = config(&[("TCX_SIGNING_KEYS", entries)]).unwrap_err();
    assert_eq!(err.setting(), "TCX_SIGNING_KEYS");
    assert!(err.to_string().contains("k1"), "{err}");

    // Two HS512 secrets alike: the same derived kid.
    let secret = || SigningKeys::hs512(JwtSecret::new(vec![7u8; 32]).unwrap());
    assert!(secret().with_previous(secret()).is_err());
}

#[test]
fn rsa_keys_below_2048_bits_are_refused_by_exact_length() {
    for (file, bits) in [("rsa-2047.pem", 2047), ("rsa-weak.pem", 1024)] {
        let err = SigningKeys::from_pem("r", &key_file(file)).unwrap_err();
        assert!(
            err.to_string().contains(&format!("has {bits})")),
            "{file}: {err}"
        );
        let err = config(&[("TCX_SIGNING_KEYS", &format!("r:tests/keys/{file}"))]).unwrap_err();
        assert_eq!(err.setting(), "TCX_SIGNING_KEYS");
    }
    assert!(SigningKeys::from_pem("r", &key_file("rsa-a.pem")).is_ok());
}

#[test]
fn verification_only_keys_are_held_to_the_same_rules() {
    let signer = || SigningKeys::from_pem("now", &key_file("ec-a.pem")).unwrap();
    for file in [
        "ec-p384.pub.pem",
        "ec-p384.pem",
        "rsa-2047.pub.pem",
        "rsa-weak.pub.pem",
    ] {
        assert!(
            signer()
                .with_verification_pem("old", &key_file(file))
                .is_err(),
            "{file} accepted for verification"
        );
    }
    for file in ["ec-b.pem", "ec-a.pub.pem", "rsa-a.pub.pem", "ed-a.pem"] {
        let keys = signer()
            .with_verification_pem("old", &key_file(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(keys.kids().count(), 2);
    }
}
