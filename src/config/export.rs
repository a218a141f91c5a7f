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

use super::{Problems, did_you_mean, read_value};
use crate::model::secret::HeaderSource;
use crate::model::units::ConfigDuration;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportConfig {
    /// Address of the Prometheus endpoint the daemon serves; `None`: no endpoint.
    pub prometheus_listen: Option<SocketAddr>,
    /// The endpoint also serves the latest HTML report at `/report`.
    pub serve_report: bool,
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
            ("report", toml::Value::Boolean(on)) => config.serve_report = on,
            ("report", _) => problems.add(
                &["export", "prometheus", "report"],
                "must be true or false",
                Some("report = true serves the latest HTML report at /report".into()),
            ),
            (other, _) => problems.add(
                &["export", "prometheus", other],
                "unknown key",
                Some("[export.prometheus] has only `listen` and `report`".into()),
            ),
        }
    }
    config.otlp = validate_otlp(otlp, problems);
    config
}

fn validate_otlp(table: toml::Table, problems: &mut Problems) -> OtlpConfig {
    let mut config = OtlpConfig::default();
    // Key by key, so that every mistake is reported, not only the first.
    for (key, value) in table {
        let path = ["export", "otlp", key.as_str()];
        let read = |problems: &mut Problems| -> Option<String> {
            match value.as_str() {
                Some(text) => Some(text.to_string()),
                None => {
                    problems.add(&path, "must be a string", None);
                    None
                }
            }
        };
        match key.as_str() {
            "enabled" => match value.as_bool() {
                Some(on) => config.enabled = Some(on),
                None => problems.add(&path, "must be true or false", None),
            },
            "endpoint" => {
                let Some(endpoint) = read(problems) else {
                    continue;
                };
                if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
                    match endpoint_problem(&endpoint) {
                        None => config.endpoint = Some(endpoint),
                        Some(problem) => problems.add(
                            &path,
                            problem,
                            Some("e.g. \"http://127.0.0.1:4318\"".into()),
                        ),
                    }
                } else {
                    problems.add(
                        &path,
                        format!("\"{endpoint}\" is not an http:// or https:// URL"),
                        Some("e.g. \"http://127.0.0.1:4317\" (gRPC) or \"https://otel.example.com:4318\" (HTTP); https uses the system's CA roots".into()),
                    );
                }
            }
            "protocol" => {
                let Some(protocol) = read(problems) else {
                    continue;
                };
                match OtlpProtocol::parse(&protocol) {
                    Some(p) => config.protocol = Some(p),
                    None => problems.add(
                        &path,
                        format!("\"{protocol}\" is not a supported OTLP protocol"),
                        Some("\"grpc\" (port 4317) or \"http/protobuf\" (port 4318)".into()),
                    ),
                }
            }
            "compression" => match read(problems).as_deref() {
                None => {}
                Some("gzip") => config.gzip = Some(true),
                Some("none") => config.gzip = Some(false),
                Some(other) => problems.add(
                    &path,
                    format!("\"{other}\" is not a supported compression"),
                    Some("\"gzip\" or \"none\"".into()),
                ),
            },
            "timeout" | "interval" => {
                let Some(duration) = read_value::<ConfigDuration>(value, &path, problems, |_| None)
                else {
                    continue;
                };
                let (low, high, hint) = if key == "timeout" {
                    (
                        Duration::from_millis(100),
                        Duration::from_secs(300),
                        "the time one export may take, e.g. \"10s\"",
                    )
                } else {
                    (
                        Duration::from_secs(1),
                        Duration::from_secs(300),
                        "keep it below Prometheus' 5-minute staleness, e.g. \"60s\"",
                    )
                };
                if duration.0 < low || duration.0 > high {
                    problems.add(
                        &path,
                        format!(
                            "must be between {} and {}",
                            humantime::format_duration(low),
                            humantime::format_duration(high)
                        ),
                        Some(hint.into()),
                    );
                } else if key == "timeout" {
                    config.timeout = Some(duration.0);
                } else {
                    config.interval = Some(duration.0);
                }
            }
            "instance_id" => {
                let Some(id) = read(problems) else { continue };
                if id.trim().is_empty() {
                    problems.add(
                        &path,
                        "must not be empty",
                        Some("leave it out to use the host name".into()),
                    );
                } else {
                    config.instance_id = Some(id);
                }
            }
            "headers" => match value {
                toml::Value::Table(headers) => {
                    for (name, header) in headers {
                        if let Some(source) = validate_header(&name, header, problems) {
                            config.headers.insert(name.to_ascii_lowercase(), source);
                        }
                    }
                }
                _ => problems.add(
                    &path,
                    "must be a table of header names",
                    Some("write [export.otlp.headers] with one key per header".into()),
                ),
            },
            other => problems.add(
                &path,
                "unknown key",
                did_you_mean(
                    other,
                    &[
                        "enabled",
                        "endpoint",
                        "protocol",
                        "compression",
                        "timeout",
                        "interval",
                        "instance_id",
                        "headers",
                    ],
                ),
            ),
        }
    }
    config
}

fn validate_header(
    name: &str,
    value: toml::Value,
    problems: &mut Problems,
) -> Option<HeaderSource> {
    let path = ["export", "otlp", "headers", name];
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
        return None;
    }
    match value {
        toml::Value::String(text) => Some(HeaderSource::Literal(text)),
        toml::Value::Table(_) => {
            let raw: RawHeaderSource =
                read_value(value, &path, problems, |_| Some(HEADER_HINT.into()))?;
            match raw {
                RawHeaderSource {
                    env: Some(var),
                    file: None,
                    credential: None,
                } => Some(HeaderSource::Env(var)),
                RawHeaderSource {
                    env: None,
                    file: Some(file),
                    credential: None,
                } => Some(HeaderSource::File(file)),
                RawHeaderSource {
                    env: None,
                    file: None,
                    credential: Some(credential),
                } => Some(HeaderSource::Credential(credential)),
                _ => {
                    problems.add(
                        &path,
                        "needs exactly one of env, file or credential",
                        Some(HEADER_HINT.into()),
                    );
                    None
                }
            }
        }
        _ => {
            problems.add(
                &path,
                "must be a string or a table",
                Some(HEADER_HINT.into()),
            );
            None
        }
    }
}

/// What is wrong with an http(s) endpoint URL beyond its scheme: no host, or a port
/// outside 1–65535.
fn endpoint_problem(endpoint: &str) -> Option<String> {
    let uri: hyper::Uri = match endpoint.parse() {
        Ok(uri) => uri,
        Err(e) => return Some(format!("\"{endpoint}\" is not a URL: {e}")),
    };
    if uri.host().is_none_or(str::is_empty) {
        return Some(format!("\"{endpoint}\" has no host"));
    }
    crate::workload::load_http::explicit_port(endpoint, &uri).err()
}
