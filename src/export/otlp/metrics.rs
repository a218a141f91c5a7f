//! Metrics through the OpenTelemetry SDK: one observable instrument per catalog entry
//! (gauges, and a cumulative counter for the run counts) whose callbacks read the latest
//! [`Point`]s computed from the store. A manual reader collects when the exporter loop asks,
//! so the loop decides when to export (every interval and right after a suite), bounds
//! each export with a timeout, and sees whether it succeeded.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{
    MetricExporter, Protocol, RetryPolicy, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{
    InstrumentKind, ManualReader, Pipeline, SdkMeterProvider, Temporality,
};

use super::transport::{ExportError, Transport};
use crate::export::catalog::{self, Instrument};
use crate::export::state::Point;

/// The manual reader, shared between the meter provider (which registers with it) and the
/// exporter loop (which collects from it).
#[derive(Debug, Clone)]
struct SharedReader(Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline)
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

pub(crate) struct MetricsPipeline {
    /// Kept alive: dropping it unregisters the instruments.
    _provider: SdkMeterProvider,
    reader: SharedReader,
    exporter: MetricExporter,
    points: Arc<Mutex<Vec<Point>>>,
    timeout: Duration,
}

impl MetricsPipeline {
    /// Builds the SDK pipeline on `transport`'s connection. Runs inside a tokio runtime.
    pub(crate) fn new(
        transport: &Transport,
        resource: &[(String, String)],
    ) -> Result<MetricsPipeline, ExportError> {
        let settings = transport.settings();
        let exporter = match transport {
            Transport::Grpc {
                channel, metadata, ..
            } => {
                let mut builder = MetricExporter::builder()
                    .with_tonic()
                    .with_channel(channel.clone())
                    .with_metadata(metadata.clone())
                    .with_timeout(settings.timeout)
                    .with_retry_policy(RetryPolicy::disabled());
                if settings.gzip {
                    builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
                }
                builder.with_temporality(Temporality::Cumulative).build()
            }
            Transport::Http { client, .. } => {
                let mut builder = MetricExporter::builder()
                    .with_http()
                    .with_http_client(client.clone())
                    .with_endpoint(settings.endpoint.clone())
                    .with_protocol(Protocol::HttpBinary)
                    .with_headers(
                        settings
                            .headers
                            .iter()
                            .map(|(k, v)| (k.clone(), v.expose().to_string()))
                            .collect(),
                    )
                    .with_timeout(settings.timeout)
                    .with_retry_policy(RetryPolicy::disabled());
                if settings.gzip {
                    builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
                }
                builder.with_temporality(Temporality::Cumulative).build()
            }
        }
        .map_err(|e| ExportError::Setup(e.to_string()))?;

        let reader = SharedReader(Arc::new(
            ManualReader::builder()
                .with_temporality(Temporality::Cumulative)
                .build(),
        ));
        let provider = SdkMeterProvider::builder()
            .with_reader(reader.clone())
            .with_resource(
                Resource::builder_empty()
                    .with_attributes(
                        resource
                            .iter()
                            .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
                    )
                    .build(),
            )
            .build();
        let meter = provider.meter_with_scope(
            InstrumentationScope::builder("perfwarden")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        );
        let points: Arc<Mutex<Vec<Point>>> = Arc::default();
        for spec in catalog::METRICS {
            let source = points.clone();
            let name = spec.name;
            let observe = move |observe: &dyn Fn(f64, &[KeyValue])| {
                let points = source.lock().unwrap_or_else(|e| e.into_inner());
                for point in points.iter().filter(|p| p.metric.name == name) {
                    let attributes: Vec<KeyValue> = point
                        .attributes
                        .iter()
                        .map(|(k, v)| KeyValue::new(*k, v.clone()))
                        .collect();
                    observe(point.value, &attributes);
                }
            };
            match spec.instrument {
                Instrument::Gauge => {
                    meter
                        .f64_observable_gauge(spec.name)
                        .with_unit(spec.unit)
                        .with_description(spec.description)
                        .with_callback(move |o| observe(&|v, a| o.observe(v, a)))
                        .build();
                }
                Instrument::Counter => {
                    meter
                        .f64_observable_counter(spec.name)
                        .with_unit(spec.unit)
                        .with_description(spec.description)
                        .with_callback(move |o| observe(&|v, a| o.observe(v, a)))
                        .build();
                }
            }
        }
        Ok(MetricsPipeline {
            _provider: provider,
            reader,
            exporter,
            points,
            timeout: settings.timeout,
        })
    }

    /// Runs the instruments' callbacks over `points`: what an export sends.
    fn collect(&self, points: Vec<Point>) -> Result<ResourceMetrics, ExportError> {
        *self.points.lock().unwrap_or_else(|e| e.into_inner()) = points;
        let mut collected = ResourceMetrics::default();
        self.reader
            .collect(&mut collected)
            .map_err(|e| ExportError::Setup(format!("collecting metrics: {e}")))?;
        Ok(collected)
    }

    /// Exports `points` as the current state.
    pub(crate) async fn export(&self, points: Vec<Point>) -> Result<(), ExportError> {
        let collected = self.collect(points)?;
        tokio::time::timeout(
            self.timeout + Duration::from_secs(1),
            self.exporter.export(&collected),
        )
        .await
        .map_err(|_| ExportError::Timeout(self.timeout))?
        .map_err(|e| ExportError::Transport(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OtlpProtocol;
    use crate::export::otlp::settings::SignalSettings;
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};

    fn active(benchmark: &str) -> Point {
        Point {
            metric: &catalog::REGRESSION_ACTIVE,
            attributes: vec![
                ("benchmark", benchmark.to_string()),
                ("suite", "weekly".to_string()),
                ("severity", "critical".to_string()),
                ("state", "confirmed".to_string()),
            ],
            value: 1.0,
        }
    }

    /// Benchmarks with a `regression.active` point in one collection.
    fn active_benchmarks(collected: &ResourceMetrics) -> Vec<String> {
        let mut out = Vec::new();
        for scope in collected.scope_metrics() {
            for metric in scope.metrics() {
                if metric.name() != catalog::REGRESSION_ACTIVE.name {
                    continue;
                }
                if let AggregatedMetrics::F64(MetricData::Gauge(gauge)) = metric.data() {
                    for point in gauge.data_points() {
                        for kv in point.attributes() {
                            if kv.key.as_str() == "benchmark" {
                                out.push(kv.value.to_string());
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// A resolved regression must disappear from the next export, not linger as a stale
    /// attribute set of the long-lived daemon pipeline (Prometheus would keep alerting).
    #[test]
    fn a_point_gone_from_the_state_is_not_exported_again() {
        let settings = SignalSettings {
            endpoint: "http://127.0.0.1:9/v1/metrics".into(),
            protocol: OtlpProtocol::HttpProtobuf,
            headers: Vec::new(),
            timeout: Duration::from_secs(1),
            gzip: false,
        };
        let transport = Transport::new(&settings).unwrap();
        let pipeline = MetricsPipeline::new(&transport, &[]).unwrap();
        let first = pipeline.collect(vec![active("a"), active("b")]).unwrap();
        let mut seen = active_benchmarks(&first);
        seen.sort();
        assert_eq!(seen, ["a", "b"]);
        let second = pipeline.collect(vec![active("b")]).unwrap();
        assert_eq!(active_benchmarks(&second), ["b"]);
        let third = pipeline.collect(Vec::new()).unwrap();
        assert!(active_benchmarks(&third).is_empty());
    }
}
