//! Launches a reference server of the workspace member `servers/` from the repository root,
//! so that `cargo run --release --example tonic` (poem, salvo, actix) works as it does for
//! axum and hyper, while the root package's tests never build those frameworks.
//!
//! It replaces itself (`exec`) with `cargo run -p techcentrix-auth-servers --example
//! NAME_server` (the member's name for it: both packages build into one target directory),
//! passing on the profile, the backend features this launcher was built with, the
//! arguments and the environment; cargo in turn replaces itself with the server, so the
//! process a user or a supervisor started is the server: it prints the `listening on` line
//! and receives SIGTERM itself.

use std::process::{Command, ExitCode};

pub(crate) fn run(name: &str) -> ExitCode {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let features: Vec<&str> = [
        ("sqlite", cfg!(feature = "sqlite")),
        ("postgres", cfg!(feature = "postgres")),
        ("redis", cfg!(feature = "redis")),
    ]
    .into_iter()
    .filter_map(|(feature, on)| on.then_some(feature))
    .collect();
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.args(["run", "--quiet", "--manifest-path", manifest]);
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let example = format!("{name}_server");
    command.args(["-p", "techcentrix-auth-servers", "--example", &example]);
    command.args(["--no-default-features", "--features", &features.join(",")]);
    command.arg("--").args(std::env::args_os().skip(1));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let err = command.exec();
        eprintln!("error: cannot run cargo for the {name} server: {err}");
        ExitCode::from(2)
    }
    #[cfg(not(unix))]
    match command.status() {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => ExitCode::from(status.code().unwrap_or(1).clamp(1, 255) as u8),
        Err(err) => {
            eprintln!("error: cannot run cargo for the {name} server: {err}");
            ExitCode::from(2)
        }
    }
}
