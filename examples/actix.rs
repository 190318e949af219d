//! Run with: cargo run --release --example actix
//!
//! The reference server on actix-web: the endpoints through TechCentrixAuth::serve (actix is not a tower stack).
//! Its code is `servers/examples/actix.rs`, in the workspace member `servers/` (so that the
//! root package's tests do not build its framework); this launcher builds and runs it there
//! (see `examples/member/mod.rs`), with the same environment as every reference server.

use std::process::ExitCode;

mod member;

fn main() -> ExitCode {
    member::run("actix")
}
