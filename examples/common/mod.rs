//! What the reference servers share: logging, the environment, the listener, the shutdown
//! signal and the serve loop, with its defences against hostile clients (a header-read
//! timeout, a body-read timeout and a connection cap). Each server is then only its service.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use techcentrix_auth::events::TracingEvents;
use techcentrix_auth::token::Claims;
use techcentrix_auth::{AuthBody, BoxError, Error, TechCentrixAuth};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Sleep;
use tower::{Service, ServiceExt};
use tracing_subscriber::EnvFilter;

mod connections;
pub(crate) mod env;
mod log;
mod log_clock;
mod log_format;

use connections::{Answering, Connections, Control, Ended};

use env::EnvConfig;

/// The longest a graceful shutdown may take before the process exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(9);

/// How long the accept loop pauses after an error that is not one connection's own (such as
/// running out of file descriptors), so that it does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The serve loop's own settings (the server's, not the library's), from the environment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Limits {
    /// `TCX_HEADER_READ_TIMEOUT`: how long a client has to send a whole request head, counted
    /// from the connection's start or the end of the previous response. Default 10 s.
    pub(crate) header_read_timeout: Duration,
    /// `TCX_BODY_READ_TIMEOUT`: how long a client has to send a whole request body, counted
    /// from when the service starts waiting for it. Default 10 s.
    pub(crate) body_read_timeout: Duration,
    /// `TCX_MAX_CONNECTIONS`: connections served at once; more wait in the listen backlog.
    /// Default 1024.
    pub(crate) max_connections: usize,
}

impl Limits {
    const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
    const DEFAULT_MAX_CONNECTIONS: usize = 1024;
    const MAX_TIMEOUT_SECS: f64 = 3600.0;
    const MAX_CONNECTIONS: usize = 1_000_000;

    /// Reads the variables through `lookup`; a variable set to the empty string counts as
    /// unset, as for the library's settings. The error names the variable at fault.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Limits, String> {
        let var = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let timeout = |name: &str| match var(name) {
            None => Ok(Self::DEFAULT_TIMEOUT),
            Some(v) => v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0 && *s <= Self::MAX_TIMEOUT_SECS)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| {
                    format!("{name}: `{v}` is not a number of seconds from 0 (excluded) to 3600")
                }),
        };
        let max_connections = match var("TCX_MAX_CONNECTIONS") {
            None => Self::DEFAULT_MAX_CONNECTIONS,
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=Self::MAX_CONNECTIONS).contains(n))
                .ok_or_else(|| {
                    format!("TCX_MAX_CONNECTIONS: `{v}` is not a whole number from 1 to 1000000")
                })?,
        };
        Ok(Limits {
            header_read_timeout: timeout("TCX_HEADER_READ_TIMEOUT")?,
            body_read_timeout: timeout("TCX_BODY_READ_TIMEOUT")?,
            max_connections,
        })
    }
}

/// The bound listener and the limits the serve loop applies to its connections.
#[derive(Debug)]
pub(crate) struct Listener {
    tcp: TcpListener,
    limits: Limits,
}

impl Listener {
    /// The bound socket and the limits: for servers whose framework runs its own accept
    /// loop (the `servers/` member's tonic, poem, salvo and actix-web examples).
    pub(crate) fn into_parts(self) -> (TcpListener, Limits) {
        (self.tcp, self.limits)
    }
}

/// How often the servers delete what has expired from the ledger and the session store.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(60);

/// The log writer: lines gathered in memory and written by a thread of its own.
static LOG: log::BatchedStderr = log::BatchedStderr::new();

/// Writes out the log lines still waiting and stops the log writer's thread: called when the
/// server has finished its last request (and before an exit forced after the grace period).
pub(crate) fn flush_logs() {
    LOG.close();
}

/// Sets up logging (to stderr, `RUST_LOG` or `info`), reads the environment, opens the
/// stores and binds the listener. On a bad setting it prints the error naming the variable
/// and returns the exit code to stop with.
///
/// Log lines go to stderr through a writer thread of their own ([`log::BatchedStderr`]): a
/// request that logs (a sign-up's audit line at `info`, a rejected key's at `warn`) appends
/// its line to a buffer, the thread writes the buffer out about every 0.1 s, and under a
/// flood that fills it (8 MiB) lines are dropped and counted rather than slowing requests.
pub(crate) async fn start() -> Result<(TechCentrixAuth, Listener), ExitCode> {
    if let Err(e) = LOG.start() {
        eprintln!("error: cannot start the log writer's thread: {e}");
        return Err(ExitCode::FAILURE);
    }
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(&LOG)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .fmt_fields(log_format::LineFields)
        .event_format(log_format::LineFormat::new())
        .init();
    let fail = |message: String| {
        flush_logs();
        eprintln!("error: {message}");
        ExitCode::from(2)
    };
    let config = EnvConfig::from_env().map_err(|e| fail(e.to_string()))?;
    let limits = Limits::from_lookup(|name| std::env::var(name).ok()).map_err(fail)?;
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
    // Expired ledger entries and sessions are deleted here, never inside a request.
    tokio::spawn(server.auth.clone().run_housekeeping(HOUSEKEEPING_EVERY));
    let listener = Listener {
        tcp: listener,
        limits,
    };
    Ok((server.auth, listener))
}

/// Serves HTTP/1.1 on `listener` with `service` until SIGINT or SIGTERM, then finishes the
/// requests in flight and returns the exit code (0).
///
/// Against hostile clients:
/// - a connection that has not sent a whole request head within `TCX_HEADER_READ_TIMEOUT`
///   (from its start, or from the end of the previous answer when kept alive) is closed, at
///   most a quarter of the timeout later (its watchdog: `connections`);
/// - a request whose body is not whole within `TCX_BODY_READ_TIMEOUT` of when the service
///   starts waiting for it has its connection closed without an answer ([`TimedBody`]);
/// - at most `TCX_MAX_CONNECTIONS` connections are served at once: at the cap the loop stops
///   accepting, so new connections wait in the kernel's listen backlog (they are not refused)
///   and are served as soon as a slot frees.
pub(crate) async fn serve<S, B>(listener: Listener, service: S) -> ExitCode
where
    S: Service<Request<TimedBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let (tcp, limits) = listener.into_parts();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    // No timer for hyper: the connections' watchdog keeps the header-read timeout.
    let builder = http1::Builder::new();
    let connections = Arc::new(Connections::default());
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        // A free slot before the next accept: at the cap, connections wait in the backlog.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = tcp.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed");
                    if !is_connection_error(&err) {
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let opened = connections.open();
        let hyper_service = {
            let control = opened.control.clone();
            let service = service.clone();
            let timeout = limits.body_read_timeout;
            hyper::service::service_fn(move |request: Request<Incoming>| {
                let in_flight = control.request();
                let request = request.map(|body| TimedBody::new(body, timeout, control.clone()));
                Answering::new(in_flight, service.clone().oneshot(request))
            })
        };
        let connection = opened.run(
            builder.serve_connection(TokioIo::new(stream), hyper_service),
            limits.header_read_timeout,
        );
        tokio::spawn(async move {
            let _slot = slot;
            match connection.await {
                Ended::CutOff => {
                    tracing::debug!(%peer, "request body not received in time; connection closed");
                }
                Ended::Idle => {
                    tracing::debug!(%peer, "no request head in time; connection closed");
                }
                Ended::Closed(Err(err)) => {
                    tracing::debug!(%peer, error = %err, "connection error");
                }
                Ended::Closed(Ok(())) => {}
            }
        });
    }
    drop(tcp);
    // Each connection's task holds a slot until it ends: all the slots free, all have ended.
    connections.finish_all();
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    flush_logs();
    ExitCode::SUCCESS
}

/// Accept errors that concern one connection only (the next accept may succeed at once).
fn is_connection_error(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}

pin_project_lite::pin_project! {
    /// A request body that must be whole within `TCX_BODY_READ_TIMEOUT` of the first time
    /// the service waits for it (not of the end of the head: time the service spends before
    /// reading, such as a slow store at the key check, is not the client's). Past that, instead
    /// of the next frame, it cuts the connection off through its [`Control`] and stays
    /// pending: the service never answers a request it did not receive. A body that is there
    /// when read (most are, sent with their head) never starts a timer, so the timer is boxed
    /// when it starts: a `Sleep` in place made the body 160 bytes, and the handlers' futures
    /// hold the body.
    #[derive(Debug)]
    pub(crate) struct TimedBody {
        #[pin]
        inner: Incoming,
        timeout: Duration,
        timer: Option<Pin<Box<Sleep>>>,
        control: Arc<Control>,
    }
}

impl TimedBody {
    fn new(inner: Incoming, timeout: Duration, control: Arc<Control>) -> TimedBody {
        TimedBody {
            inner,
            timeout,
            timer: None,
            control,
        }
    }
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.project();
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            return Poll::Ready(frame);
        }
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(*this.timeout)));
        if timer.as_mut().poll(cx).is_ready() {
            this.control.cut();
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
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
        flush_logs();
        std::process::exit(0);
    });
}

/// `GET /me` behind the guard: the stored profile of the access token's user.
pub(crate) async fn me(auth: &TechCentrixAuth, claims: &Claims) -> Response<AuthBody> {
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
    let mut response = Response::new(AuthBody::new(body.to_string()));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, "application/json".parse().unwrap());
    response
        .headers_mut()
        .insert(CACHE_CONTROL, "no-store".parse().unwrap());
    response
}

/// `GET /openapi.json`: the OpenAPI document of what this server serves (the endpoints at
/// their configured paths, `/me` and `/healthz`), built by the library from its code.
pub(crate) fn openapi(auth: &TechCentrixAuth) -> Response<AuthBody> {
    // A JSON value always serializes.
    let body = serde_json::to_vec(&auth.openapi_with_reference_routes()).unwrap_or_default();
    let mut response = Response::new(AuthBody::new(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, "application/json".parse().unwrap());
    response
}

/// The serve loop's settings: a server whose framework runs its own accept loop warns at
/// start ([`warn_unapplied`]) for each one the operator set and it does not apply, rather
/// than ignoring it silently (the README's framework table lists which server applies which).
#[allow(dead_code)]
pub(crate) const SERVE_LOOP_SETTINGS: [&str; 3] = [
    "TCX_HEADER_READ_TIMEOUT",
    "TCX_BODY_READ_TIMEOUT",
    "TCX_MAX_CONNECTIONS",
];

/// See [`SERVE_LOOP_SETTINGS`]; the warning names the variable and the server.
#[allow(dead_code)]
pub(crate) fn warn_unapplied(server: &str, unapplied: &[&str]) {
    for name in unapplied {
        if std::env::var_os(name).is_some_and(|v| !v.is_empty()) {
            tracing::warn!("{name} is set, but the {server} server does not apply it");
        }
    }
}
