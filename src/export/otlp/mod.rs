//! OTLP push: metrics through the OpenTelemetry SDK and alert events as log records with
//! explicit delivery checks, both over gRPC or HTTP/protobuf.
pub(crate) mod exporter;
pub(crate) mod logs;
pub(crate) mod metrics;
pub(crate) mod settings;
pub(crate) mod transport;
