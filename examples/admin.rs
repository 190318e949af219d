//! Run with: cargo run --example admin -- COMMAND
//!
//! Manages what is stored in TCX_DATABASE_URL (and TCX_DATABASE_SCHEMA):
//!
//! ```text
//! keys add --app APP [--label TEXT]   prints `id: <key id>` then `key: <the new key>` (shown once)
//! keys list [--app APP]               one line a key: id, app, label, created-at, state (tab-separated)
//! keys rotate ID                      a new key beside ID (same app and label): `id:`, `key:` as for add
//! keys revoke ID                      prints `revoked: ID`
//! users count [--app APP]             prints the number alone
//! users sessions USER_ID              one line a live session: id, app, expires-at (tab-separated)
//! users sign-out USER_ID              revokes all the user's sessions; prints `revoked: N`
//! users erase USER_ID                 deletes the user and its sessions; prints `erased: USER_ID`
//! ```
//!
//! Errors go to stderr with a non-zero exit. A revoked key stops working on every instance
//! sharing the database within 5 seconds.

use std::process::ExitCode;

#[path = "common/env/mod.rs"]
mod env;

use env::EnvConfig;
use techcentrix_auth::{AppId, KeyId, UserId};

const USAGE: &str = "usage: admin keys add --app APP [--label TEXT]
       admin keys list [--app APP]
       admin keys rotate ID
       admin keys revoke ID
       admin users count [--app APP]
       admin users sessions USER_ID
       admin users sign-out USER_ID
       admin users erase USER_ID";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: &[String]) -> Result<(), String> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let (command, rest) = match words.as_slice() {
        [a, b, rest @ ..] => ((*a, *b), rest),
        _ => return Err(USAGE.to_owned()),
    };
    let config = EnvConfig::from_env().map_err(|e| e.to_string())?;
    let admin = config.open_admin().await.map_err(|e| e.to_string())?;
    match command {
        ("keys", "add") => {
            let options = options(rest, &["--app", "--label"])?;
            let app = options.get("--app").ok_or("keys add needs --app APP")?;
            let app = app_id(app)?;
            let label = options.get("--label").map_or("", String::as_str);
            let (id, key) = admin
                .keys
                .add_key(&app, label)
                .await
                .map_err(|e| e.to_string())?;
            println!("id: {id}");
            println!("key: {}", key.expose());
        }
        ("keys", "list") => {
            let options = options(rest, &["--app"])?;
            let app = options.get("--app").map(|a| app_id(a)).transpose()?;
            let keys = admin
                .keys
                .list_keys(app.as_ref())
                .await
                .map_err(|e| e.to_string())?;
            for key in keys {
                let state = if key.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}\t{}\t{state}",
                    key.id,
                    key.app,
                    key.label.replace(['\t', '\n'], " "),
                    rfc3339(key.created_at)
                );
            }
        }
        ("keys", "rotate") => {
            let [id] = rest else {
                return Err("keys rotate takes one key id".to_owned());
            };
            let Some((new_id, key)) = admin
                .keys
                .rotate_key(&KeyId::from(*id))
                .await
                .map_err(|e| e.to_string())?
            else {
                return Err(format!("no active key with id `{id}`"));
            };
            println!("id: {new_id}");
            println!("key: {}", key.expose());
        }
        ("keys", "revoke") => {
            let [id] = rest else {
                return Err("keys revoke takes one key id".to_owned());
            };
            if !admin
                .keys
                .revoke_key(&KeyId::from(*id))
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!("no active key with id `{id}`"));
            }
            println!("revoked: {id}");
        }
        ("users", "count") => {
            let options = options(rest, &["--app"])?;
            let app = options.get("--app").map(|a| app_id(a)).transpose()?;
            let count = admin
                .users
                .count_users(app.as_ref())
                .await
                .map_err(|e| e.to_string())?;
            println!("{count}");
        }
        ("users", "sessions") => {
            let user = user_id(rest, "sessions")?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let sessions = admin
                .sessions
                .list_user(&user, now)
                .await
                .map_err(|e| e.to_string())?;
            for session in sessions {
                println!(
                    "{}\t{}\t{}",
                    session.id,
                    session.app,
                    rfc3339(session.expires_at)
                );
            }
        }
        ("users", "sign-out") => {
            let user = user_id(rest, "sign-out")?;
            let revoked = admin
                .sessions
                .revoke_user(&user)
                .await
                .map_err(|e| e.to_string())?;
            println!("revoked: {revoked}");
        }
        ("users", "erase") => {
            let user = user_id(rest, "erase")?;
            let erased =
                techcentrix_auth::store::erase_user(&*admin.user_store, &*admin.sessions, &user)
                    .await
                    .map_err(|e| e.to_string())?;
            if !erased {
                return Err(format!("no user with id `{user}`"));
            }
            println!("erased: {user}");
        }
        _ => return Err(USAGE.to_owned()),
    }
    Ok(())
}

/// The one USER_ID argument of `users COMMAND`.
fn user_id(rest: &[&str], command: &str) -> Result<UserId, String> {
    let [id] = rest else {
        return Err(format!("users {command} takes one user id"));
    };
    Ok(UserId::from(*id))
}

fn app_id(app: &str) -> Result<AppId, String> {
    if app.is_empty()
        || app
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == ':')
    {
        return Err(format!("`{app}` is not an app id"));
    }
    Ok(AppId::from(app))
}

/// `--name value` pairs, each at most once, only the `allowed` names.
fn options(
    args: &[&str],
    allowed: &[&'static str],
) -> Result<std::collections::HashMap<&'static str, String>, String> {
    let mut found = std::collections::HashMap::new();
    let mut args = args.iter();
    while let Some(name) = args.next() {
        let Some(known) = allowed.iter().find(|a| *a == name) else {
            return Err(format!("unknown argument `{name}`\n{USAGE}"));
        };
        let value = args.next().ok_or(format!("{name} needs a value"))?;
        if found.insert(*known, (*value).to_owned()).is_some() {
            return Err(format!("{name} given twice"));
        }
    }
    Ok(found)
}

/// Unix seconds as RFC 3339 in UTC (`2026-11-25T17:04:05Z`).
fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}
