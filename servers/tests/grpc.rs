//! The tonic server's gRPC method `techcentrix.demo.Profile/Me` called by a tonic client
//! over HTTP/2 on the port that serves the auth endpoints over HTTP/1: the interceptor
//! refuses a missing or bad access token with `UNAUTHENTICATED` and lets a valid one through.

#[path = "../../tests/common/process.rs"]
mod common;

use common::*;
use http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

/// The server's messages (the same file).
#[path = "../examples/grpc/mod.rs"]
mod grpc;

use grpc::{MeReply, MeRequest};

/// One call of `Profile/Me` with `authorization` as the metadata, if any.
async fn call_me(server: &Server, authorization: Option<&str>) -> Result<MeReply, Status> {
    let channel = Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.unwrap();
    let mut request = Request::new(MeRequest {});
    if let Some(value) = authorization {
        request
            .metadata_mut()
            .insert("authorization", value.parse().unwrap());
    }
    let path = PathAndQuery::from_static(grpc::PROFILE_ME);
    let codec = tonic_prost::ProstCodec::default();
    Ok(client.unary(request, path, codec).await?.into_inner())
}

fn start(dir: &std::path::Path) -> Server {
    let keys = format!("acme:{KEY},other:{OTHER_KEY}");
    let secret = std::str::from_utf8(SECRET).unwrap();
    let env = [
        ("TCX_API_KEYS", keys.as_str()),
        ("TCX_JWT_SECRET", secret),
        ("TCX_DATABASE_URL", "memory:"),
    ];
    Server::start("tonic_server", &env, dir)
}

#[tokio::test]
async fn grpc_without_a_token_is_unauthenticated() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let refused = call_me(&server, None).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert_eq!(refused.message(), "Invalid access token");
    let refused = call_me(&server, Some("Bearer not-a-token"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    // A oneTimeToken is not an access token.
    let ott = http_external(server.addr, KEY, GUIDE_BODY).await;
    let authorization = format!("Bearer {}", ott.text());
    let refused = call_me(&server, Some(&authorization)).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
}

// Two threads: the channel's connection closes while the test blocks on the server's exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_with_a_valid_access_token_answers_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    // The sign-in and the redemption over HTTP/1 on the same port.
    let ott = http_external(server.addr, KEY, GUIDE_BODY).await;
    assert_eq!(ott.status, 200, "{}", ott.text());
    let session = http_redeem(server.addr, ott.text()).await;
    assert_eq!(session.status, 200, "{}", session.text());
    let session = session.json();
    let access = session["accessToken"].as_str().unwrap();
    let reply = call_me(&server, Some(&format!("Bearer {access}")))
        .await
        .unwrap();
    assert_eq!(reply.user_id, session["userId"].as_str().unwrap());
    assert_eq!(reply.email, "user1@techcentrix.com");
    assert_eq!(reply.first_name, "User1Name");
    assert_eq!(reply.app, "acme");
    assert!(server.terminate().success(), "exits 0 on SIGTERM");
}
