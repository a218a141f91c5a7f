//! An HTTP server on loopback for the load-test tests: counts the connections and
//! requests it sees (and which of them came over HTTP/2), and injects faults on demand —
//! a stall (every response held until a moment), failing statuses, or a slow answer.
//! Plain TCP serves HTTP/1.1 (`start`) or HTTP/1.1 and HTTP/2 with prior knowledge
//! (`start_h2c`); `start_tls` serves TLS with the ALPN protocols it is given.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};

#[derive(Default)]
pub struct Faults {
    /// Responses held until this instant (a server stall).
    pub stall_until: std::sync::Mutex<Option<Instant>>,
    /// Answer 500 to everything.
    pub failing: AtomicBool,
    pub requests: AtomicU64,
    /// Requests that arrived over HTTP/2.
    pub http2_requests: AtomicU64,
    pub connections: AtomicU64,
    /// Requests seen after `failing` was switched on.
    pub requests_while_failing: AtomicU64,
}

/// How the server speaks.
enum Serve {
    Http1,
    Http1OrH2c,
    Tls(tokio_rustls::TlsAcceptor),
}

pub struct FaultServer {
    pub addr: SocketAddr,
    pub faults: Arc<Faults>,
    _runtime: tokio::runtime::Runtime,
}

impl FaultServer {
    /// HTTP/1.1 over plain TCP.
    pub fn start() -> FaultServer {
        Self::serve(Serve::Http1)
    }

    /// HTTP/1.1, or HTTP/2 with prior knowledge (h2c), over plain TCP.
    pub fn start_h2c() -> FaultServer {
        Self::serve(Serve::Http1OrH2c)
    }

    /// TLS with this certificate chain and key (PEM), offering `alpn` (`h2`, `http/1.1`);
    /// HTTP/2 or HTTP/1.1 as negotiated.
    pub fn start_tls(cert_pem: &str, key_pem: &str, alpn: &[&str]) -> FaultServer {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .unwrap();
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Self::serve(Serve::Tls(tokio_rustls::TlsAcceptor::from(Arc::new(
            config,
        ))))
    }

    fn serve(serve: Serve) -> FaultServer {
        let serve = Arc::new(serve);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let faults = Arc::new(Faults::default());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = faults.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let faults = shared.clone();
                let serve = serve.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let faults = faults.clone();
                        async move {
                            faults.requests.fetch_add(1, Ordering::SeqCst);
                            if request.version() == hyper::Version::HTTP_2 {
                                faults.http2_requests.fetch_add(1, Ordering::SeqCst);
                            }
                            let until = *faults.stall_until.lock().unwrap();
                            if let Some(until) = until {
                                let now = Instant::now();
                                if until > now {
                                    tokio::time::sleep(until - now).await;
                                }
                            }
                            let status = if faults.failing.load(Ordering::SeqCst) {
                                faults.requests_while_failing.fetch_add(1, Ordering::SeqCst);
                                500
                            } else {
                                200
                            };
                            Ok::<_, Infallible>(
                                Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::from_static(b"{\"status\":\"ok\"}")))
                                    .unwrap(),
                            )
                        }
                    });
                    let auto =
                        || hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let _ = match &*serve {
                        Serve::Http1 => hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await
                            .map_err(|e| e.into()),
                        Serve::Http1OrH2c => {
                            auto().serve_connection(TokioIo::new(stream), service).await
                        }
                        Serve::Tls(acceptor) => match acceptor.accept(stream).await {
                            Ok(tls) => auto().serve_connection(TokioIo::new(tls), service).await,
                            Err(e) => Err(e.into()),
                        },
                    };
                });
            }
        });
        FaultServer {
            addr,
            faults,
            _runtime: runtime,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Holds every response (arriving or in flight) for `length`, starting `after` from now.
    pub fn stall_later(&self, after: Duration, length: Duration) {
        let faults = self.faults.clone();
        std::thread::spawn(move || {
            std::thread::sleep(after);
            *faults.stall_until.lock().unwrap() = Some(Instant::now() + length);
        });
    }

    pub fn fail_later(&self, after: Duration) {
        let faults = self.faults.clone();
        std::thread::spawn(move || {
            std::thread::sleep(after);
            faults.failing.store(true, Ordering::SeqCst);
        });
    }

    pub fn requests(&self) -> u64 {
        self.faults.requests.load(Ordering::SeqCst)
    }

    pub fn http2_requests(&self) -> u64 {
        self.faults.http2_requests.load(Ordering::SeqCst)
    }

    pub fn connections(&self) -> u64 {
        self.faults.connections.load(Ordering::SeqCst)
    }
}
