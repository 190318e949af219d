//! Run with: cargo run --release --example poem
//!
//! The reference server on poem: the endpoints through poem's tower compatibility, the guard as a poem middleware.
//! Its code is `servers/examples/poem.rs`, in the workspace member `servers/` (so that the
//! root package's tests do not build its framework); this launcher builds and runs it there
//! (see `examples/member/mod.rs`), with the same environment as every reference server.

use std::process::ExitCode;

mod member;

fn main() -> ExitCode {
    member::run("poem")
}
