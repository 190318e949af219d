//! Run with: cargo run --example conformance -- --url http://127.0.0.1:8080 --app acme --key KEY
//!     [--jwt-secret SECRET] [--protected /me] [--one-time-ttl 60] [--access-ttl 900]
//!     [--issuer ISS] [--body-limit 16384] [--concurrency 10]
//!
//! Checks a running TechCentrix auth host against SPEC §2–§4: one line per check
//! (`PASS name`, `FAIL name: why`, `SKIP name: why`), then `N passed, M failed`; exits 1 on
//! any failure, 2 on a usage error. The key and secret may come from TCX_CONFORMANCE_KEY and
//! TCX_CONFORMANCE_JWT_SECRET instead (out of the process list).

use std::process::ExitCode;

fn main() -> ExitCode {
    techcentrix_auth_client::conformance::command_line(std::env::args().skip(1))
}
