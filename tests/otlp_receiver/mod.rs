//! An OTLP receiver inside the test process, built on the official protobuf definitions
//! (`opentelemetry-proto`): a tonic gRPC server with the metrics and logs services, and an
//! HTTP/protobuf server (`/v1/metrics`, `/v1/logs`, gzip aware). It records every request
//! and its headers; [`Receiver::start_on`] starts one on a given port (a collector that
//! comes back).

use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
    logs_service_server::{LogsService, LogsServiceServer},
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
    metrics_service_server::{MetricsService, MetricsServiceServer},
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use prost::Message;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Grpc,
    Http,
}

/// What the receiver got.
#[derive(Default, Debug)]
pub struct Received {
    pub metrics: Vec<ExportMetricsServiceRequest>,
    pub logs: Vec<ExportLogsServiceRequest>,
    /// Headers (lowercase name, value) of every request.
    pub headers: Vec<(String, String)>,
    /// Requests that arrived gzip-compressed.
    pub gzipped: usize,
}

pub struct Receiver {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Received>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _thread: std::thread::JoinHandle<()>,
}

impl Receiver {
    /// Starts on a free loopback port.
    pub fn start(protocol: Protocol) -> Receiver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Receiver::start_on(
            protocol,
            SocketAddr::from(([127, 0, 0, 1], port)),
            Arc::default(),
        )
    }

    /// Starts on `addr`, appending to `received` (to restart a stopped receiver).
    pub fn start_on(
        protocol: Protocol,
        addr: SocketAddr,
        received: Arc<Mutex<Received>>,
    ) -> Receiver {
        Receiver::spawn(protocol, addr, received, None)
    }

    /// A gRPC receiver with TLS: `identity` is the server's (certificate PEM, key PEM).
    pub fn start_grpc_tls(identity: (String, String)) -> Receiver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        Receiver::spawn(Protocol::Grpc, addr, Arc::default(), Some(identity))
    }

    fn spawn(
        protocol: Protocol,
        addr: SocketAddr,
        received: Arc<Mutex<Received>>,
        tls: Option<(String, String)>,
    ) -> Receiver {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let shared = received.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                // The port may still be in TIME_WAIT from the previous receiver.
                let deadline = Instant::now() + Duration::from_secs(10);
                let listener = loop {
                    match tokio::net::TcpListener::bind(addr).await {
                        Ok(l) => break l,
                        Err(e) if Instant::now() < deadline => {
                            let _ = e;
                            tokio::time::sleep(Duration::from_millis(100)).await
                        }
                        Err(e) => panic!("cannot bind {addr}: {e}"),
                    }
                };
                ready_tx.send(()).unwrap();
                match protocol {
                    Protocol::Grpc => {
                        let service = Recorder(shared);
                        let mut server = tonic::transport::Server::builder();
                        if let Some((cert, key)) = tls {
                            server = server
                                .tls_config(
                                    tonic::transport::ServerTlsConfig::new()
                                        .identity(tonic::transport::Identity::from_pem(cert, key)),
                                )
                                .unwrap();
                        }
                        server
                            .add_service(
                                MetricsServiceServer::new(service.clone())
                                    .accept_compressed(tonic::codec::CompressionEncoding::Gzip),
                            )
                            .add_service(
                                LogsServiceServer::new(service)
                                    .accept_compressed(tonic::codec::CompressionEncoding::Gzip),
                            )
                            .serve_with_incoming_shutdown(
                                tonic::transport::server::TcpIncoming::from(listener),
                                async {
                                    let _ = stopped.await;
                                },
                            )
                            .await
                            .unwrap();
                    }
                    Protocol::Http => serve_http(listener, shared, stopped).await,
                }
            });
        });
        ready_rx
            .recv_timeout(Duration::from_secs(15))
            .expect("the receiver listens");
        Receiver {
            addr,
            received,
            stop: Some(stop),
            _thread: thread,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn log_records(&self) -> Vec<LogRecord> {
        log_records(&self.received.lock().unwrap())
    }

    /// The metrics of the latest metrics request.
    pub fn latest_metrics(&self) -> Option<ExportMetricsServiceRequest> {
        self.received.lock().unwrap().metrics.last().cloned()
    }

    pub fn wait_for(&self, what: &str, timeout: Duration, done: impl Fn(&Received) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if done(&self.received.lock().unwrap()) {
                return;
            }
            if Instant::now() >= deadline {
                let (metrics, logs) = {
                    let received = self.received.lock().unwrap();
                    (received.metrics.len(), received.logs.len())
                };
                panic!(
                    "timed out waiting for {what}; received {metrics} metric and {logs} log requests"
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn log_records(received: &Received) -> Vec<LogRecord> {
    received
        .logs
        .iter()
        .flat_map(|r| &r.resource_logs)
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| s.log_records.clone())
        .collect()
}

pub fn metrics_of(request: &ExportMetricsServiceRequest) -> Vec<Metric> {
    request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| s.metrics.clone())
        .collect()
}

pub fn text(value: &Option<AnyValue>) -> Option<String> {
    match value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(n) => Some(n.to_string()),
        any_value::Value::DoubleValue(x) => Some(x.to_string()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| text(&kv.value))
}

#[derive(Clone)]
struct Recorder(Arc<Mutex<Received>>);

impl Recorder {
    fn note<T>(&self, request: &tonic::Request<T>) {
        let mut received = self.0.lock().unwrap();
        for kv in request.metadata().iter() {
            if let tonic::metadata::KeyAndValueRef::Ascii(k, v) = kv {
                received
                    .headers
                    .push((k.to_string(), v.to_str().unwrap_or("").to_string()));
                if k.as_str() == "grpc-encoding" && v.to_str().is_ok_and(|v| v == "gzip") {
                    received.gzipped += 1;
                }
            }
        }
    }
}

#[tonic::async_trait]
impl MetricsService for Recorder {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.note(&request);
        self.0.lock().unwrap().metrics.push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Recorder {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.note(&request);
        self.0.lock().unwrap().logs.push(request.into_inner());
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

async fn serve_http(
    listener: tokio::net::TcpListener,
    received: Arc<Mutex<Received>>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            _ = &mut stopped => return,
        };
        let received = received.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(
                move |request: hyper::Request<hyper::body::Incoming>| {
                    let received = received.clone();
                    async move {
                        let path = request.uri().path().to_string();
                        let headers: Vec<(String, String)> = request
                            .headers()
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                            .collect();
                        let gzip = headers
                            .iter()
                            .any(|(k, v)| k == "content-encoding" && v == "gzip");
                        let mut body = request
                            .into_body()
                            .collect()
                            .await
                            .unwrap()
                            .to_bytes()
                            .to_vec();
                        if gzip {
                            let mut plain = Vec::new();
                            flate2::read::GzDecoder::new(body.as_slice())
                                .read_to_end(&mut plain)
                                .unwrap();
                            body = plain;
                        }
                        let mut r = received.lock().unwrap();
                        r.headers.extend(headers);
                        if gzip {
                            r.gzipped += 1;
                        }
                        let answer = match path.as_str() {
                            "/v1/metrics" => {
                                r.metrics.push(
                                    ExportMetricsServiceRequest::decode(body.as_slice()).unwrap(),
                                );
                                ExportMetricsServiceResponse::default().encode_to_vec()
                            }
                            "/v1/logs" => {
                                r.logs.push(
                                    ExportLogsServiceRequest::decode(body.as_slice()).unwrap(),
                                );
                                ExportLogsServiceResponse::default().encode_to_vec()
                            }
                            _ => {
                                return Ok::<_, std::convert::Infallible>(
                                    hyper::Response::builder()
                                        .status(404)
                                        .body(Full::new(Bytes::new()))
                                        .unwrap(),
                                );
                            }
                        };
                        Ok(hyper::Response::builder()
                            .header("content-type", "application/x-protobuf")
                            .body(Full::new(Bytes::from(answer)))
                            .unwrap())
                    }
                },
            );
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A collector that accepts connections and never answers.
pub struct Silent {
    pub addr: SocketAddr,
    _thread: std::thread::JoinHandle<()>,
}

impl Silent {
    pub fn start() -> Silent {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                // Keep every connection open, read nothing, answer nothing.
                held.push(stream);
            }
        });
        Silent {
            addr,
            _thread: thread,
        }
    }
}
