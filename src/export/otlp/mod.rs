//! OTLP push: metrics through the OpenTelemetry SDK and alert events as log records with
//! explicit delivery checks, both over gRPC or HTTP/protobuf.
pub mod exporter;
pub mod logs;
pub mod metrics;
pub mod settings;
pub mod transport;
