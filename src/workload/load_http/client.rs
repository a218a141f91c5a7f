//! One virtual user's connection to the target: TCP (with `TCP_NODELAY`), TLS through
//! rustls with the system's roots (`SSL_CERT_FILE` / `SSL_CERT_DIR` honoured), and
//! HTTP/1.1 or HTTP/2 through hyper's connection-level API — no pool, so each user owns
//! exactly one keep-alive connection, as with `wrk -c` and `oha -c`.
//!
//! Failures are classified here, because the error ratio is reported by class: a refused
//! or reset connection, a failed DNS lookup or TLS handshake is `connect`; a response that
//! does not arrive in time is `timeout`; an unexpected status is `status`; a body without
//! the expected text (or cut short) is `body`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::workload::traffic::{Failure, FailureClass, LoadTarget};

/// Which HTTP version to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// HTTP/2 when TLS negotiates it (ALPN), else HTTP/1.1.
    Auto,
    Http1,
    /// HTTP/2 only: over TLS through ALPN, over plain TCP with prior knowledge (h2c).
    Http2,
}

/// Everything a connection needs, shared by all users.
pub(crate) struct Target {
    pub host: String,
    pub port: u16,
    pub addrs: Vec<SocketAddr>,
    pub tls: Option<(
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    )>,
    pub version: Version,
    pub request: RequestTemplate,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

/// The request every user sends, built once.
pub(crate) struct RequestTemplate {
    pub method: hyper::Method,
    pub uri: hyper::Uri,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
    /// Statuses that count as success; empty means any 2xx.
    pub expect_status: Vec<u16>,
    pub expect_body: Option<Vec<u8>>,
}

impl RequestTemplate {
    fn build(&self, http2: bool) -> hyper::Request<Full<Bytes>> {
        let mut request = hyper::Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        // HTTP/1.1 sends the origin form and a Host header; HTTP/2 the absolute URI
        // (hyper turns it into :scheme/:authority/:path).
        *request.uri_mut() = if http2 {
            self.uri.clone()
        } else {
            self.uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/")
                .parse()
                .expect("a path taken from a valid URI is valid")
        };
        *request.headers_mut() = self.headers.clone();
        if !http2 {
            request.headers_mut().insert(
                hyper::header::HOST,
                hyper::header::HeaderValue::from_str(&self.host_header())
                    .expect("the host of a valid URI is a valid header value"),
            );
        }
        request
    }

    fn host_header(&self) -> String {
        self.uri
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default()
    }
}

enum Sender {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

/// One open connection.
pub(crate) struct Connection {
    sender: Sender,
}

/// Bytes received in a response (headers are not counted, as in `oha`).
pub(crate) type ResponseBytes = u64;

impl LoadTarget for Target {
    type Connection = Connection;

    /// Opens a connection (TCP, TLS, HTTP handshake) within the connect timeout.
    async fn connect(&self) -> Result<Connection, Failure> {
        match tokio::time::timeout(self.connect_timeout, self.connect_inner()).await {
            Ok(result) => result,
            Err(_) => Err(Failure::new(
                FailureClass::Connect,
                format!(
                    "connecting to {}:{} took longer than {:?} (connect_timeout)",
                    self.host, self.port, self.connect_timeout
                ),
            )),
        }
    }

    /// Sends the request on `connection` and reads the whole response within the request
    /// timeout. On `Err` the connection must be dropped (it may be mid-response).
    async fn send(&self, connection: &mut Connection) -> Result<ResponseBytes, Failure> {
        match tokio::time::timeout(self.request_timeout, self.send_inner(connection)).await {
            Ok(result) => result,
            Err(_) => Err(Failure::new(
                FailureClass::Timeout,
                format!(
                    "no complete response from {} within {:?} (request_timeout)",
                    self.host, self.request_timeout
                ),
            )),
        }
    }
}

impl Target {
    async fn connect_inner(&self) -> Result<Connection, Failure> {
        let mut last_error = None;
        let mut stream = None;
        for addr in &self.addrs {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last_error = Some(format!("cannot connect to {addr}: {e}")),
            }
        }
        let stream = stream.ok_or_else(|| {
            Failure::new(
                FailureClass::Connect,
                last_error.unwrap_or_else(|| format!("{} resolved to no address", self.host)),
            )
        })?;
        let _ = stream.set_nodelay(true);
        match &self.tls {
            None => self.handshake(stream, self.version == Version::Http2).await,
            Some((connector, name)) => {
                let tls = connector.connect(name.clone(), stream).await.map_err(|e| {
                    Failure::new(
                        FailureClass::Connect,
                        format!("TLS handshake with {} failed: {e}", self.host),
                    )
                })?;
                let negotiated_h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                if self.version == Version::Http2 && !negotiated_h2 {
                    return Err(Failure::new(
                        FailureClass::Connect,
                        format!(
                            "{} does not offer HTTP/2 (ALPN); set http = \"auto\" or \"http1\"",
                            self.host
                        ),
                    ));
                }
                self.handshake(tls, negotiated_h2).await
            }
        }
    }

    async fn handshake<S>(&self, stream: S, http2: bool) -> Result<Connection, Failure>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let io = TokioIo::new(stream);
        let failed = |e: hyper::Error| {
            Failure::new(
                FailureClass::Connect,
                format!("HTTP handshake with {} failed: {e}", self.host),
            )
        };
        let sender = if http2 {
            let (sender, connection) = http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(failed)?;
            tokio::spawn(connection);
            Sender::H2(sender)
        } else {
            let (sender, connection) = http1::handshake(io).await.map_err(failed)?;
            tokio::spawn(connection);
            Sender::H1(sender)
        };
        Ok(Connection { sender })
    }

    async fn send_inner(&self, connection: &mut Connection) -> Result<ResponseBytes, Failure> {
        let lost = |e: hyper::Error| {
            Failure::new(
                FailureClass::Connect,
                format!("connection to {} failed: {e}", self.host),
            )
        };
        let stale = |e: hyper::Error| Failure {
            stale: true,
            ..lost(e)
        };
        let response = match &mut connection.sender {
            Sender::H1(sender) => {
                sender.ready().await.map_err(stale)?;
                sender
                    .send_request(self.request.build(false))
                    .await
                    .map_err(lost)?
            }
            Sender::H2(sender) => {
                sender.ready().await.map_err(stale)?;
                sender
                    .send_request(self.request.build(true))
                    .await
                    .map_err(lost)?
            }
        };
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut received: u64 = 0;
        let mut found = self.request.expect_body.is_none();
        let mut kept: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                Failure::new(
                    FailureClass::Body,
                    format!("response body from {} was cut short: {e}", self.host),
                )
            })?;
            if let Ok(data) = frame.into_data() {
                received += data.len() as u64;
                if let (false, Some(needle)) = (found, &self.request.expect_body) {
                    // Keep only what a match across frame boundaries needs.
                    kept.extend_from_slice(&data);
                    found = kept.windows(needle.len()).any(|w| w == needle.as_slice());
                    let keep_from = kept.len().saturating_sub(needle.len());
                    kept.drain(..keep_from);
                }
            }
        }
        let expected = &self.request.expect_status;
        let accepted = if expected.is_empty() {
            (200..300).contains(&status)
        } else {
            expected.contains(&status)
        };
        if !accepted {
            let wanted = if expected.is_empty() {
                "2xx".to_string()
            } else {
                format!("{expected:?}")
            };
            return Err(Failure::new(
                FailureClass::Status,
                format!("{} answered status {status} (expected {wanted})", self.host),
            ));
        }
        if !found {
            return Err(Failure::new(
                FailureClass::Body,
                format!(
                    "the response body from {} lacks the expected text",
                    self.host
                ),
            ));
        }
        Ok(received)
    }
}

/// A TLS connector with the system's roots (and `SSL_CERT_FILE`/`SSL_CERT_DIR`), offering
/// the ALPN protocols that `version` allows.
pub(crate) fn tls_connector(version: Version) -> Result<tokio_rustls::TlsConnector, String> {
    let mut config = crate::tls::client_config(crate::tls::system_roots()?)?;
    config.alpn_protocols = match version {
        Version::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        Version::Http1 => vec![b"http/1.1".to_vec()],
        Version::Http2 => vec![b"h2".to_vec()],
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}
