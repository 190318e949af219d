//! Run with: cargo run --example conformance -- --url http://127.0.0.1:8080 --app acme --key KEY
//!     [--jwt-secret SECRET] [--protected /me] [--one-time-ttl 60] [--access-ttl 900]
//!     [--issuer ISS] [--body-limit 16384] [--concurrency 10]
//!
//! Checks a running TechCentrix auth host against SPEC §2–§4: one line per check
//! (`PASS name`, `FAIL name: why`, `SKIP name: why`), then `N passed, M failed`; exits 1 on
//! any failure, 2 on a usage error. The key and secret may come from TCX_CONFORMANCE_KEY and
//! TCX_CONFORMANCE_JWT_SECRET instead (out of the process list).

use std::process::ExitCode;

use techcentrix_auth_client::conformance::{self, Config};

fn main() -> ExitCode {
    let config = match Config::from_args(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(why) => {
            eprintln!("{why}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let report = runtime.block_on(conformance::run_with(&config, |result| {
        println!("{result}")
    }));
    println!("{}", report.summary());
    if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
