//! Run with: cargo run --example partner -- --url http://127.0.0.1:8080 --app demo --key KEY
//!     [--protected /me]
//!
//! The partner's side of the whole flow against a running reference server, with the typed
//! client (`client/`): the partner backend signs a user in with its API key and gets a
//! oneTimeToken; the app redeems it once for a session, calls a guarded route, refreshes and
//! signs out. Each step prints one line; any failure stops with its SPEC `errorCode` and a
//! non-zero exit. The key may come from TCX_PARTNER_KEY instead (out of the process list).

use std::process::ExitCode;

use techcentrix_auth_client::{ApiKey, Client, Error, Profile};

struct Args {
    url: String,
    app: String,
    key: String,
    protected: String,
}

fn args() -> Result<Args, String> {
    let mut url = None;
    let mut app = None;
    let mut key = std::env::var("TCX_PARTNER_KEY").ok();
    let mut protected = "/me".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(name) = args.next() {
        let mut value = || args.next().ok_or(format!("{name} needs a value"));
        match name.as_str() {
            "--url" => url = Some(value()?),
            "--app" => app = Some(value()?),
            "--key" => key = Some(value()?),
            "--protected" => protected = value()?,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let usage = "usage: partner --url URL --app APP --key KEY [--protected /me]";
    Ok(Args {
        url: url.ok_or(usage)?,
        app: app.ok_or(usage)?,
        key: key.ok_or(usage)?,
        protected,
    })
}

async fn flow(args: &Args) -> Result<(), Error> {
    let client = Client::new(&args.url)?;
    let partner = client.partner(ApiKey::new(args.key.clone()));
    let id = format!("partner-example-{}", std::process::id());
    let profile = Profile::new(id.as_str(), "user1@techcentrix.com", "User1Name");
    let token = partner.external(&profile).await?;
    println!("external: a oneTimeToken for {id}");

    let session = client.redeem(&args.app, &token).await?;
    println!(
        "token: a session for user {} (access token for {} s)",
        session.user_id, session.expires_in
    );
    match client.redeem(&args.app, &token).await {
        Err(Error::Api(refused)) => println!("token again: refused, {refused}"),
        other => println!("token again: unexpected {other:?}"),
    }

    let me = client.get(&args.protected, &session.access_token).await?;
    println!(
        "GET {}: {} {}",
        args.protected,
        me.status,
        String::from_utf8_lossy(&me.body)
    );

    let refreshed = client.refresh(&session.refresh_token).await?;
    println!("refresh: a new access token and a new refresh token");
    client.sign_out(&refreshed.access_token).await?;
    println!("sign-out: done");
    match client.refresh(&refreshed.refresh_token).await {
        Err(Error::Api(refused)) => println!("refresh after sign-out: refused, {refused}"),
        other => println!("refresh after sign-out: unexpected {other:?}"),
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match args() {
        Ok(args) => args,
        Err(why) => {
            eprintln!("{why}");
            return ExitCode::from(2);
        }
    };
    match flow(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("failed: {err}");
            ExitCode::FAILURE
        }
    }
}
