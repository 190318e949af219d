//! What the reference servers share: logging, the environment, the listener and the
//! shutdown signal. Each server is then only its serve loop.

use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http_body_util::Full;
use techcentrix_auth::env::EnvConfig;
use techcentrix_auth::events::TracingEvents;
use techcentrix_auth::token::Claims;
use techcentrix_auth::{Error, TechCentrixAuth};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// The longest a graceful shutdown may take before the process exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(9);

/// Sets up logging (to stderr, `RUST_LOG` or `info`), reads the environment, opens the
/// stores and binds the listener. On a bad setting it prints the error naming the variable
/// and returns the exit code to stop with.
pub(crate) async fn start() -> Result<(TechCentrixAuth, TcpListener), ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let fail = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(2)
    };
    let config = EnvConfig::from_env().map_err(|e| fail(e.to_string()))?;
    let server = config
        .build(TracingEvents)
        .await
        .map_err(|e| fail(e.to_string()))?;
    for warning in &server.warnings {
        tracing::warn!("{warning}");
    }
    if let Some(key) = &server.demo_key {
        // The one place a secret is shown: the generated demo key, once, at start.
        eprintln!(
            "TCX_API_KEYS is unset: generated API key for app `demo`: {}",
            key.expose()
        );
    }
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| fail(format!("TCX_LISTEN: cannot bind {}: {e}", config.listen)))?;
    let address = listener
        .local_addr()
        .map_err(|e| fail(format!("TCX_LISTEN: {e}")))?;
    println!("listening on http://{address}");
    Ok((server.auth, listener))
}

/// Resolves on SIGINT or SIGTERM; from then on the process exits by itself after
/// [`SHUTDOWN_GRACE`] even if connections linger.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
    std::thread::spawn(|| {
        std::thread::sleep(SHUTDOWN_GRACE);
        tracing::warn!("connections still open after the grace period; exiting");
        std::process::exit(0);
    });
}

/// `GET /me` behind the guard: the stored profile of the access token's user.
pub(crate) async fn me(auth: &TechCentrixAuth, claims: &Claims) -> Response<Full<Bytes>> {
    let user = match auth.user_store().find(&claims.sub).await {
        Ok(Some(user)) => user,
        // A valid token for a user the store no longer holds.
        Ok(None) => return Error::InvalidAccessToken.into_response(),
        Err(err) => return Error::from(err).into_response(),
    };
    let body = serde_json::json!({
        "userId": user.id,
        "email": user.email,
        "firstName": user.first_name,
        "app": user.app,
    });
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, "application/json".parse().unwrap());
    response
        .headers_mut()
        .insert(CACHE_CONTROL, "no-store".parse().unwrap());
    response
}
