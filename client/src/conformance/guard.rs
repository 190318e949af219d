//! SPEC §4: the access-token guard on the given protected path.

use super::jwt;
use super::kit::{
    Check, ClaimsChange, Kit, Record, decode, expect_invalid_token, expect_status, now,
};
use crate::RawRequest;

pub(super) async fn run(kit: &Kit, r: &mut dyn Record) {
    const NAMES: [&str; 11] = [
        "guard: valid access token",
        "guard: no token",
        "guard: garbage token",
        "guard: tampered signature",
        "guard: alg none",
        "guard: expired-looking token",
        "guard: oneTimeToken instead of access token",
        "guard: refresh token instead of access token",
        "guard: Basic scheme",
        "guard: expired (signed)",
        "guard: other issuer (signed)",
    ];
    let Some(path) = kit.config.protected.clone() else {
        for name in NAMES {
            r.record(name, Err(super::kit::Not::Skip("needs --protected".into())));
        }
        return;
    };
    let setup = async {
        let id = kit.fresh_id();
        let one_time = kit.one_time_token("external", &id).await?;
        let session = kit
            .redeem("redemption", &kit.one_time_token("external", &id).await?)
            .await?;
        Ok::<_, String>((one_time, session))
    };
    let (one_time, session) = match setup.await {
        Ok(both) => both,
        Err(why) => {
            r.record("guard: setup", Err(why.into()));
            return;
        }
    };
    let access = session.access_token.clone();
    let get = |authorization: Option<String>| {
        let request = RawRequest::get(path.clone());
        match authorization {
            Some(value) => request.header("authorization", &value),
            None => request,
        }
    };

    let check = async {
        let response = kit
            .send("protected path", get(Some(format!("Bearer {access}"))))
            .await?;
        expect_status(&response, 200)?;
        Ok(())
    };
    r.record(NAMES[0], check.await);

    let claims = decode("accessToken", &access)
        .map(|j| j.claims)
        .unwrap_or_default();
    let mut expired = claims.clone();
    expired.insert("exp".into(), (now() - 3600).into());
    expired.insert("iat".into(), (now() - 4500).into());
    let rejected = [
        (NAMES[1], None),
        (NAMES[2], Some("Bearer not-a-token".to_owned())),
        (NAMES[3], Some(format!("Bearer {}", jwt::tampered(&access)))),
        (NAMES[4], Some(format!("Bearer {}", jwt::unsigned(&claims)))),
        (
            NAMES[5],
            Some(format!("Bearer {}", jwt::repayloaded(&access, &expired))),
        ),
        (NAMES[6], Some(format!("Bearer {one_time}"))),
        (NAMES[7], Some(format!("Bearer {}", session.refresh_token))),
        (NAMES[8], Some(format!("Basic {access}"))),
    ];
    for (name, authorization) in rejected {
        let check = async {
            Ok(expect_invalid_token(
                &kit.send(name, get(authorization)).await?,
            )?)
        };
        r.record(name, check.await);
    }

    let forged: [(&str, ClaimsChange); 2] = [
        (NAMES[9], |c| {
            c.insert("exp".into(), (now() - 3600).into());
            c.insert("iat".into(), (now() - 4500).into());
        }),
        (NAMES[10], |c| {
            c.insert("iss".into(), "conformance-other-issuer".into());
        }),
    ];
    for (name, change) in forged {
        let check = async {
            let secret = kit.skip_without_secret()?;
            let jwt = decode("accessToken", &access)?;
            let mut claims = jwt.claims.clone();
            change(&mut claims);
            let token = jwt::sign_hs512(&jwt.header, &claims, secret);
            Ok(expect_invalid_token(
                &kit.send(name, get(Some(format!("Bearer {token}")))).await?,
            )?)
        };
        let check: Check = check.await;
        r.record(name, check);
    }
}
