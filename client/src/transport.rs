//! The HTTP/1.1 connection pool (hyper-util's legacy client) with its deadlines.

use std::time::Duration;

use http::Uri;
use http::header::HOST;
use http_body_util::{BodyExt, Limited};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::error::{Error, Timeout};
use crate::raw::{RawRequest, RawResponse, RequestBody};

#[cfg(feature = "rustls")]
type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
#[cfg(not(feature = "rustls"))]
type Connector = HttpConnector;

/// The deadlines and limits of one transport.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) max_response_bytes: usize,
}

/// A base URL and a pool of connections to it.
#[derive(Clone)]
pub(crate) struct Transport {
    client: HyperClient<Connector, RequestBody>,
    /// `scheme://authority`, no trailing slash.
    origin: String,
    /// The base URL's path without its trailing slash ("" for the root).
    prefix: String,
    limits: Limits,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base_url", &format_args!("{}{}", self.origin, self.prefix))
            .field("limits", &self.limits)
            .finish()
    }
}

impl Transport {
    pub(crate) fn new(base_url: &str, limits: Limits) -> Result<Transport, Error> {
        let uri: Uri = base_url
            .parse()
            .map_err(|err| Error::InvalidUrl(format!("{base_url:?}: {err}")))?;
        let scheme = uri.scheme_str().unwrap_or_default();
        match scheme {
            "http" => {}
            "https" if cfg!(feature = "rustls") => {}
            "https" => {
                return Err(Error::InvalidUrl(
                    "https URLs need the crate feature `rustls`".into(),
                ));
            }
            _ => {
                return Err(Error::InvalidUrl(format!(
                    "{base_url:?}: not an http(s) URL"
                )));
            }
        }
        let authority = uri
            .authority()
            .ok_or_else(|| Error::InvalidUrl(format!("{base_url:?}: no host")))?;
        if authority.as_str().contains('@') {
            return Err(Error::InvalidUrl(
                "credentials in the URL are not supported".into(),
            ));
        }
        if uri.query().is_some() {
            return Err(Error::InvalidUrl(format!(
                "{base_url:?}: a base URL takes no query"
            )));
        }
        let prefix = uri.path().trim_end_matches('/').to_owned();

        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(limits.connect_timeout));
        http.set_nodelay(true);
        #[cfg(feature = "rustls")]
        let connector = {
            http.enforce_http(false);
            hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
                .map_err(|err| Error::Transport(Box::new(err)))?
                .https_or_http()
                .enable_http1()
                .wrap_connector(http)
        };
        #[cfg(not(feature = "rustls"))]
        let connector = http;

        let client = HyperClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Transport {
            client,
            origin: format!("{scheme}://{authority}"),
            prefix,
            limits,
        })
    }

    /// The base URL as given (without a trailing slash).
    pub(crate) fn base_url(&self) -> String {
        format!("{}{}", self.origin, self.prefix)
    }

    /// Sends `request` once, within the request timeout.
    pub(crate) async fn send(&self, request: &RawRequest) -> Result<RawResponse, Error> {
        if !request.path.starts_with('/') {
            return Err(Error::InvalidUrl(format!(
                "path {:?} does not start with /",
                request.path
            )));
        }
        let uri: Uri = format!("{}{}{}", self.origin, self.prefix, request.path)
            .parse()
            .map_err(|err| Error::InvalidUrl(format!("path {:?}: {err}", request.path)))?;
        let mut builder = http::Request::builder()
            .method(request.method.clone())
            .uri(uri);
        if let Some(headers) = builder.headers_mut() {
            *headers = request.headers.clone();
            if !headers.contains_key(HOST) {
                // hyper-util would add it too; set here so every request names its host.
                if let Ok(host) = self.origin.split("://").nth(1).unwrap_or_default().parse() {
                    headers.insert(HOST, host);
                }
            }
        }
        let http_request = builder
            .body(request.to_body())
            .map_err(|err| Error::InvalidUrl(err.to_string()))?;

        let exchange = async {
            let response = self.client.request(http_request).await.map_err(classify)?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, self.limits.max_response_bytes)
                .collect()
                .await
                .map_err(Error::Transport)?
                .to_bytes();
            Ok(RawResponse {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        match tokio::time::timeout(self.limits.request_timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout(Timeout::Request)),
        }
    }
}

/// A connect error whose cause is a timeout is [`Timeout::Connect`]; the rest are transport
/// errors.
fn classify(err: hyper_util::client::legacy::Error) -> Error {
    if err.is_connect() {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
        while let Some(cause) = source {
            if let Some(io) = cause.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::TimedOut
            {
                return Error::Timeout(Timeout::Connect);
            }
            source = cause.source();
        }
    }
    Error::Transport(Box::new(err))
}
