//! The techcentrix-auth reference servers on tonic, poem, salvo and actix-web: each is an
//! example of this package (`servers/examples/`), run from the repository root with
//! `cargo run --release -p techcentrix-auth-servers --example NAME`. This library is empty;
//! it exists because a package needs a target.
