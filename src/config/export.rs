//! `[export]`: where the agent's findings go. `[export.prometheus] listen` serves a scrape
//! endpoint (off by default); `[export.otlp]` pushes metrics and alert events to an
//! OpenTelemetry Collector (off unless an endpoint is set here or in
//! `OTEL_EXPORTER_OTLP_ENDPOINT`). What is written here wins over the `OTEL_*` variables;
//! the variables fill in what is left out (`crate::export::otlp::settings`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::units::ConfigDuration;
use super::{Problems, read_value};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportConfig {
    /// Address of the Prometheus endpoint the daemon serves; `None`: no endpoint.
    pub prometheus_listen: Option<SocketAddr>,
    pub otlp: OtlpConfig,
}

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    Grpc,
    HttpProtobuf,
}

impl OtlpProtocol {
    pub fn parse(text: &str) -> Option<OtlpProtocol> {
        match text.trim() {
            "grpc" => Some(OtlpProtocol::Grpc),
            "http/protobuf" => Some(OtlpProtocol::HttpProtobuf),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OtlpProtocol::Grpc => "grpc",
            OtlpProtocol::HttpProtobuf => "http/protobuf",
        }
    }
}

/// Where a header's value comes from. Values from the environment or a file are read when
/// the exporter starts, and are never logged or shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderSource {
    /// Written in the config (fine for a tenant id, not for a token).
    Literal(String),
    /// The named environment variable.
    Env(String),
    /// A file's content without the trailing newline.
    File(PathBuf),
    /// A systemd credential: `$CREDENTIALS_DIRECTORY/<name>` (`LoadCredential=`).
    Credential(String),
}

/// `[export.otlp]` as written; every field optional so the `OTEL_*` variables can fill it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OtlpConfig {
    pub endpoint: Option<String>,
    pub protocol: Option<OtlpProtocol>,
    /// `header name → value source`, added to every request (and to `OTEL_EXPORTER_OTLP_HEADERS`).
    pub headers: BTreeMap<String, HeaderSource>,
    pub timeout: Option<Duration>,
    pub gzip: Option<bool>,
    /// How often the daemon re-exports the persisted state.
    pub interval: Option<Duration>,
    /// `service.instance.id` (Prometheus' `instance`); default the host name.
    pub instance_id: Option<String>,
    /// `false` turns OTLP off even when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
    pub enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOtlp {
    enabled: Option<bool>,
    endpoint: Option<String>,
    protocol: Option<String>,
    timeout: Option<ConfigDuration>,
    compression: Option<String>,
    interval: Option<ConfigDuration>,
    instance_id: Option<String>,
    headers: Option<BTreeMap<String, RawHeader>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawHeader {
    Literal(String),
    Source(RawHeaderSource),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeaderSource {
    env: Option<String>,
    file: Option<PathBuf>,
    credential: Option<String>,
}

const HEADER_HINT: &str = "write a string, { env = \"VAR\" }, { file = \"/path\" } or { credential = \"name\" } (systemd LoadCredential=)";

/// Validates the merged `[export.prometheus]` and `[export.otlp]` tables.
pub(super) fn validate(
    prometheus: toml::Table,
    otlp: toml::Table,
    problems: &mut Problems,
) -> ExportConfig {
    let mut config = ExportConfig::default();
    for (key, value) in prometheus {
        match (key.as_str(), value) {
            ("listen", toml::Value::String(text)) => match text.parse::<SocketAddr>() {
                Ok(addr) => config.prometheus_listen = Some(addr),
                Err(_) => problems.add(
                    &["export", "prometheus", "listen"],
                    format!("\"{text}\" is not an address with a port"),
                    Some(
                        "e.g. \"127.0.0.1:9464\" (loopback) or \"0.0.0.0:9464\" (every interface)"
                            .into(),
                    ),
                ),
            },
            ("listen", _) => problems.add(
                &["export", "prometheus", "listen"],
                "must be a string",
                Some("e.g. listen = \"127.0.0.1:9464\"".into()),
            ),
            (other, _) => problems.add(
                &["export", "prometheus", other],
                "unknown key",
                Some("[export.prometheus] has only `listen`".into()),
            ),
        }
    }
    config.otlp = validate_otlp(otlp, problems);
    config
}

fn validate_otlp(table: toml::Table, problems: &mut Problems) -> OtlpConfig {
    let raw: RawOtlp = read_value(
        toml::Value::Table(table),
        &["export", "otlp"],
        problems,
        |message| {
            message
                .contains("untagged enum RawHeader")
                .then(|| HEADER_HINT.to_string())
        },
    )
    .unwrap_or_default();
    let mut config = OtlpConfig {
        enabled: raw.enabled,
        timeout: raw.timeout.map(|d| d.0),
        interval: raw.interval.map(|d| d.0),
        ..OtlpConfig::default()
    };
    if let Some(endpoint) = raw.endpoint {
        if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
            config.endpoint = Some(endpoint);
        } else {
            problems.add(
                &["export", "otlp", "endpoint"],
                format!("\"{endpoint}\" is not an http:// or https:// URL"),
                Some("e.g. \"http://127.0.0.1:4317\" (gRPC) or \"https://otel.example.com:4318\" (HTTP); https uses the system's CA roots".into()),
            );
        }
    }
    if let Some(protocol) = raw.protocol {
        match OtlpProtocol::parse(&protocol) {
            Some(p) => config.protocol = Some(p),
            None => problems.add(
                &["export", "otlp", "protocol"],
                format!("\"{protocol}\" is not an OTLP protocol"),
                Some("\"grpc\" (port 4317) or \"http/protobuf\" (port 4318)".into()),
            ),
        }
    }
    match raw.compression.as_deref() {
        None => {}
        Some("gzip") => config.gzip = Some(true),
        Some("none") => config.gzip = Some(false),
        Some(other) => problems.add(
            &["export", "otlp", "compression"],
            format!("\"{other}\" is not a compression"),
            Some("\"gzip\" or \"none\"".into()),
        ),
    }
    if let Some(timeout) = config.timeout {
        if timeout < Duration::from_millis(100) || timeout > Duration::from_secs(300) {
            problems.add(
                &["export", "otlp", "timeout"],
                "must be between 100ms and 5m",
                Some("the time one export may take, e.g. \"10s\"".into()),
            );
            config.timeout = None;
        }
    }
    if let Some(interval) = config.interval {
        if interval < Duration::from_secs(1) || interval > Duration::from_secs(3600) {
            problems.add(
                &["export", "otlp", "interval"],
                "must be between 1s and 1h",
                Some("keep it below Prometheus' 5-minute staleness, e.g. \"60s\"".into()),
            );
            config.interval = None;
        }
    }
    if let Some(id) = raw.instance_id {
        if id.trim().is_empty() {
            problems.add(
                &["export", "otlp", "instance_id"],
                "must not be empty",
                Some("leave it out to use the host name".into()),
            );
        } else {
            config.instance_id = Some(id);
        }
    }
    for (name, header) in raw.headers.unwrap_or_default() {
        let path = ["export", "otlp", "headers", name.as_str()];
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            problems.add(
                &path,
                format!("\"{name}\" is not a header name"),
                Some("letters, digits, '-' and '_', e.g. authorization or x-scope-orgid".into()),
            );
            continue;
        }
        let source = match header {
            RawHeader::Literal(value) => Some(HeaderSource::Literal(value)),
            RawHeader::Source(RawHeaderSource {
                env: Some(var),
                file: None,
                credential: None,
            }) => Some(HeaderSource::Env(var)),
            RawHeader::Source(RawHeaderSource {
                env: None,
                file: Some(file),
                credential: None,
            }) => Some(HeaderSource::File(file)),
            RawHeader::Source(RawHeaderSource {
                env: None,
                file: None,
                credential: Some(name),
            }) => Some(HeaderSource::Credential(name)),
            RawHeader::Source(_) => None,
        };
        match source {
            Some(source) => {
                config.headers.insert(name.to_ascii_lowercase(), source);
            }
            None => problems.add(
                &path,
                "needs exactly one of env, file or credential",
                Some(HEADER_HINT.into()),
            ),
        }
    }
    config
}
