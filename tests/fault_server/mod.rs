//! An HTTP/1.1 server on loopback for the load-test tests: counts the connections and
//! requests it sees, and injects faults on demand — a stall (every response held until a
//! moment), failing statuses, or a slow answer.

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
use hyper_util::rt::TokioIo;

#[derive(Default)]
pub struct Faults {
    /// Responses held until this instant (a server stall).
    pub stall_until: std::sync::Mutex<Option<Instant>>,
    /// Answer 500 to everything.
    pub failing: AtomicBool,
    pub requests: AtomicU64,
    pub connections: AtomicU64,
    /// Requests seen after `failing` was switched on.
    pub requests_while_failing: AtomicU64,
}

pub struct FaultServer {
    pub addr: SocketAddr,
    pub faults: Arc<Faults>,
    _runtime: tokio::runtime::Runtime,
}

impl FaultServer {
    pub fn start() -> FaultServer {
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
                tokio::spawn(async move {
                    let service = service_fn(move |_request: Request<hyper::body::Incoming>| {
                        let faults = faults.clone();
                        async move {
                            faults.requests.fetch_add(1, Ordering::SeqCst);
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
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
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

    pub fn connections(&self) -> u64 {
        self.faults.connections.load(Ordering::SeqCst)
    }
}
