//! Run with: cargo run --release --example salvo
//!
//! The reference server on salvo: the layer as a service-wide hoop, the guard as a salvo hoop.
//! Its code is `servers/examples/salvo.rs`, in the workspace member `servers/` (so that the
//! root package's tests do not build its framework); this launcher builds and runs it there
//! (see `examples/member/mod.rs`), with the same environment as every reference server.

use std::process::ExitCode;

mod member;

fn main() -> ExitCode {
    member::run("salvo")
}
