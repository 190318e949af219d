//! The reference servers as a user runs them: the built example binaries on port 0, real
//! HTTP over loopback. The checks live in `tests/common/server_suite.rs`, which the
//! `servers/` member runs against its own servers too.

mod common;
#[macro_use]
#[path = "common/server_suite.rs"]
mod suite;

server_suite!(axum);
server_suite!(hyper, same_answers_as_axum);

/// Users stored by one server are there for the other on the same SQLite file.
#[tokio::test]
async fn sqlite_users_survive_a_server_restart() {
    suite::users_survive_a_restart("axum", "hyper").await;
}
