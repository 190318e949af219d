//! Run with: cargo run --release --example tonic
//!
//! The reference server on tonic: the endpoints over HTTP/1 on the gRPC port, and a gRPC method behind an interceptor.
//! Its code is `servers/examples/tonic.rs`, in the workspace member `servers/` (so that the
//! root package's tests do not build its framework); this launcher builds and runs it there
//! (see `examples/member/mod.rs`), with the same environment as every reference server.

use std::process::ExitCode;

mod member;

fn main() -> ExitCode {
    member::run("tonic")
}
