//! The connection to the collector, shared by both signals: one tonic channel (gRPC) or one
//! reqwest client (HTTP), with TLS from the system's roots for `https://` endpoints (read
//! only for them: [`crate::tls`]).
//!
//! Alert events are sent here by hand rather than through the SDK's log pipeline: the SDK
//! reports neither which batch failed nor a receiver's partial rejection, and an outbox
//! may only drop an event once the collector has accepted it. [`Transport::send_logs`]
//! returns `Ok` only for a full acceptance.

use std::time::Duration;

use flate2::Compression as GzipLevel;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse, logs_service_client::LogsServiceClient,
};
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use super::settings::SignalSettings;
use crate::config::OtlpProtocol;

/// Why an export did not go through. Messages never contain header values.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub(crate) enum ExportError {
    #[error("cannot set up the exporter: {0}")]
    Setup(String),
    #[error("the collector did not answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Transport(String),
    #[error("the collector answered {0}")]
    Status(String),
    #[error("the collector rejected {rejected} of the records: {message}")]
    Rejected { rejected: i64, message: String },
}

/// A built connection for one signal.
#[derive(Clone)]
pub(crate) enum Transport {
    Grpc {
        channel: Channel,
        metadata: MetadataMap,
        settings: SignalSettings,
    },
    Http {
        client: reqwest::Client,
        settings: SignalSettings,
    },
}

impl Transport {
    /// Builds the connection. Must run inside a tokio runtime (the gRPC channel starts its
    /// worker there); nothing connects until the first request.
    pub(crate) fn new(settings: &SignalSettings) -> Result<Transport, ExportError> {
        match settings.protocol {
            OtlpProtocol::Grpc => {
                let mut endpoint = Endpoint::from_shared(settings.endpoint.clone())
                    .map_err(|e| ExportError::Setup(format!("endpoint: {e}")))?
                    .timeout(settings.timeout)
                    .connect_timeout(settings.timeout);
                if settings.endpoint.starts_with("https://") {
                    // tonic reads the same roots; asking first gives the clear error.
                    crate::tls::system_roots().map_err(ExportError::Setup)?;
                    endpoint = endpoint
                        .tls_config(ClientTlsConfig::new().with_native_roots())
                        .map_err(|e| ExportError::Setup(format!("TLS: {e}")))?;
                }
                Ok(Transport::Grpc {
                    channel: endpoint.connect_lazy(),
                    metadata: metadata(settings)?,
                    settings: settings.clone(),
                })
            }
            OtlpProtocol::HttpProtobuf => {
                // The system's roots only for https: an http endpoint works on a host
                // without a CA bundle.
                let roots = if settings.endpoint.starts_with("https://") {
                    crate::tls::system_roots().map_err(ExportError::Setup)?
                } else {
                    rustls::RootCertStore::empty()
                };
                let mut tls = crate::tls::client_config(roots).map_err(ExportError::Setup)?;
                tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
                let client = reqwest::Client::builder()
                    .timeout(settings.timeout)
                    .connect_timeout(settings.timeout)
                    .tls_backend_preconfigured(tls)
                    .build()
                    .map_err(|e| ExportError::Setup(format!("HTTP client: {e}")))?;
                Ok(Transport::Http {
                    client,
                    settings: settings.clone(),
                })
            }
        }
    }

    pub(crate) fn settings(&self) -> &SignalSettings {
        match self {
            Transport::Grpc { settings, .. } | Transport::Http { settings, .. } => settings,
        }
    }

    /// Sends one batch of log records; `Ok` only when the collector accepted all of them.
    pub(crate) async fn send_logs(
        &self,
        request: ExportLogsServiceRequest,
    ) -> Result<(), ExportError> {
        let timeout = self.settings().timeout;
        // The transports time out on their own; this also bounds a stalled TLS handshake.
        let response = tokio::time::timeout(timeout + Duration::from_secs(1), async {
            match self {
                Transport::Grpc {
                    channel,
                    metadata,
                    settings,
                } => send_grpc(channel, metadata, settings, request).await,
                Transport::Http { client, settings } => send_http(client, settings, request).await,
            }
        })
        .await
        .map_err(|_| ExportError::Timeout(timeout))??;
        match response.partial_success {
            Some(partial) if partial.rejected_log_records > 0 => Err(ExportError::Rejected {
                rejected: partial.rejected_log_records,
                message: partial.error_message,
            }),
            _ => Ok(()),
        }
    }
}

fn metadata(settings: &SignalSettings) -> Result<MetadataMap, ExportError> {
    let mut map = MetadataMap::new();
    for (name, value) in &settings.headers {
        let key = MetadataKey::from_bytes(name.as_bytes())
            .map_err(|_| ExportError::Setup(format!("header {name}: not a valid gRPC key")))?;
        let value = MetadataValue::try_from(value.expose())
            .map_err(|_| ExportError::Setup(format!("header {name}: invalid characters")))?;
        map.insert(key, value);
    }
    Ok(map)
}

async fn send_grpc(
    channel: &Channel,
    metadata: &MetadataMap,
    settings: &SignalSettings,
    body: ExportLogsServiceRequest,
) -> Result<ExportLogsServiceResponse, ExportError> {
    let mut client = LogsServiceClient::new(channel.clone());
    if settings.gzip {
        client = client
            .send_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Gzip);
    }
    let mut request = tonic::Request::new(body);
    *request.metadata_mut() = metadata.clone();
    request.set_timeout(settings.timeout);
    match client.export(request).await {
        Ok(response) => Ok(response.into_inner()),
        // The status message may echo a token back: only the code and tonic's own cause.
        Err(status) => Err(match std::error::Error::source(&status) {
            Some(cause) => ExportError::Transport(format!("{:?}: {cause}", status.code())),
            None => ExportError::Status(format!("gRPC {:?}", status.code())),
        }),
    }
}

async fn send_http(
    client: &reqwest::Client,
    settings: &SignalSettings,
    body: ExportLogsServiceRequest,
) -> Result<ExportLogsServiceResponse, ExportError> {
    let mut bytes = body.encode_to_vec();
    let mut request = client
        .post(&settings.endpoint)
        .header("content-type", "application/x-protobuf");
    if settings.gzip {
        use std::io::Write;
        let mut encoder = GzEncoder::new(Vec::new(), GzipLevel::default());
        encoder
            .write_all(&bytes)
            .and_then(|_| encoder.finish())
            .map(|compressed| bytes = compressed)
            .map_err(|e| ExportError::Setup(format!("gzip: {e}")))?;
        request = request.header("content-encoding", "gzip");
    }
    for (name, value) in &settings.headers {
        request = request.header(name.as_str(), value.expose());
    }
    let response = request.body(bytes).send().await.map_err(|e| {
        if e.is_timeout() {
            ExportError::Timeout(settings.timeout)
        } else {
            // Without the URL's query (never holds secrets here, but keep it short).
            ExportError::Transport(format!("{}", e.without_url()))
        }
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(ExportError::Status(format!("HTTP {status}")));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| ExportError::Transport(e.without_url().to_string()))?;
    // An empty body is a full success; a body that is not the response message is not an
    // acceptance we can trust.
    ExportLogsServiceResponse::decode(body.as_ref())
        .map_err(|e| ExportError::Status(format!("HTTP {status} with an unreadable body: {e}")))
}
