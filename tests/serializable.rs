//! PostgreSQL at `SERIALIZABLE` (every transaction, through the connection's
//! `default_transaction_isolation`): concurrent sign-ups of the same users and concurrent
//! refreshes of the same tokens answer only 200, 401 or 503, never a 500.

#![cfg(feature = "postgres")]

mod common;

use std::sync::Arc;

use common::*;
use techcentrix_auth::store::postgres::{
    self, PostgresReplayLedger, PostgresSessionStore, PostgresUserStore,
};
use techcentrix_auth::token::SigningKeys;
use techcentrix_auth::{AuthConfig, JwtSecret, TechCentrixAuth};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serializable_sign_ups_and_refreshes_answer_200_401_or_503() {
    let Some(mut schema) = common::services::PgSchema::new() else {
        return;
    };
    let separator = if schema.url.contains('?') { '&' } else { '?' };
    schema.url = format!(
        "{}{separator}options=-c%20default_transaction_isolation%3Dserializable",
        schema.url
    );
    let pool = postgres::connect(&schema.options()).await.unwrap();
    let level: String = sqlx::query_scalar("SHOW transaction_isolation")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(level, "serializable");
    let auth = TechCentrixAuth::builder()
        .api_keys(keys())
        .user_store(PostgresUserStore::new(pool.clone()))
        .replay_ledger(PostgresReplayLedger::new(pool.clone()))
        .session_store(PostgresSessionStore::new(pool))
        .signing_keys(SigningKeys::hs512(JwtSecret::new(SECRET.to_vec()).unwrap()))
        .config(AuthConfig::default())
        .build()
        .unwrap();

    // Sessions to refresh, each refreshed by several callers at once.
    let mut refresh_tokens = Vec::new();
    for _ in 0..8 {
        let session = start_session(&auth, "acme", KEY).await;
        refresh_tokens.push(session["refreshToken"].as_str().unwrap().to_owned());
    }
    let refresh_tokens = Arc::new(refresh_tokens);

    let mut calls = Vec::new();
    for round in 0..240usize {
        let auth = auth.clone();
        let tokens = refresh_tokens.clone();
        calls.push(tokio::spawn(async move {
            let answer = if round % 2 == 0 {
                // Eight users, each signed up or in with a changing email: conflicting writes.
                let body = serde_json::json!({
                    "id": format!("user-{}", round % 8),
                    "email": format!("u{round}@x.io"),
                    "firstName": "F",
                })
                .to_string();
                call(&auth, guide_request(KEY, &body)).await
            } else {
                call(&auth, refresh_request(&tokens[round % 8])).await
            };
            (round, answer)
        }));
    }
    let mut counts = std::collections::BTreeMap::new();
    for handle in calls {
        let (round, answer) = handle.await.unwrap();
        let status = answer.status.as_u16();
        assert!(
            matches!(status, 200 | 401 | 503),
            "round {round}: {status} {}",
            answer.text()
        );
        if status != 200 {
            let code = if status == 503 { 7 } else { 5 };
            answer.assert_error(status, code);
        }
        *counts.entry(status).or_insert(0) += 1;
    }
    eprintln!("statuses: {counts:?}");
    assert!(counts.get(&200).copied().unwrap_or(0) >= 8, "{counts:?}");
}
