//! This member's reference servers as a user runs them (the built example binaries on port
//! 0, real HTTP over loopback), through the root package's suite: every check the axum and
//! hyper servers pass, plus the same answers as the axum server on a list of requests.

#[path = "../../tests/common/process.rs"]
mod common;
#[macro_use]
#[path = "../../tests/common/server_suite.rs"]
mod suite;

server_suite!(tonic_server, same_answers_as_axum);
server_suite!(poem_server, same_answers_as_axum);
server_suite!(salvo_server, same_answers_as_axum);
server_suite!(actix_server, same_answers_as_axum);

/// Users stored by one server are there for another on the same SQLite file.
#[tokio::test]
async fn sqlite_users_survive_a_restart_on_another_server() {
    suite::users_survive_a_restart("tonic_server", "actix_server").await;
}
