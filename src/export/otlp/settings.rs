//! The OTLP settings one export uses: `[export.otlp]` first, then the standard `OTEL_*`
//! variables for whatever the config leaves out, then the defaults of the OTLP
//! specification. Header values from the environment, files and systemd credentials are
//! read here, kept in [`Secret`] (which never prints its value) and never logged.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::{OtlpConfig, OtlpProtocol};
use crate::model::secret::{Secret, SecretError, read_header};

/// Default timeout of one export request (OTLP specification: 10 s).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default interval of the daemon's re-export of the persisted state.
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// One signal's destination (metrics or logs).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SignalSettings {
    /// gRPC: the collector's address; HTTP: the full URL of the signal's path.
    pub endpoint: String,
    pub protocol: OtlpProtocol,
    pub headers: Vec<(String, Secret)>,
    pub timeout: Duration,
    pub gzip: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OtlpSettings {
    pub metrics: SignalSettings,
    pub logs: SignalSettings,
    pub interval: Duration,
    /// Resource attributes added to (or replacing) the agent's own: `OTEL_RESOURCE_ATTRIBUTES`,
    /// then `[export.otlp] instance_id` as `service.instance.id`.
    pub resource_overrides: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
#[error("OTLP export settings: {0}")]
pub(crate) struct SettingsError(pub String);

impl From<SecretError> for SettingsError {
    fn from(e: SecretError) -> Self {
        SettingsError(e.0)
    }
}

#[derive(Clone, Copy)]
enum Signal {
    Metrics,
    Logs,
}

impl Signal {
    fn env_infix(self) -> &'static str {
        match self {
            Signal::Metrics => "METRICS_",
            Signal::Logs => "LOGS_",
        }
    }

    fn http_path(self) -> &'static str {
        match self {
            Signal::Metrics => "v1/metrics",
            Signal::Logs => "v1/logs",
        }
    }
}

/// The settings, or `None` when OTLP export is off: no endpoint in the config or the
/// environment, `[export.otlp] enabled = false`, or `OTEL_SDK_DISABLED=true`.
/// `env` reads a variable (the process environment in production, a map in tests).
pub(crate) fn resolve(
    config: &OtlpConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<OtlpSettings>, SettingsError> {
    let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    if config.enabled == Some(false)
        || env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    {
        return Ok(None);
    }
    let configured = config.enabled == Some(true)
        || config.endpoint.is_some()
        || [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        ]
        .iter()
        .any(|v| env(v).is_some());
    if !configured {
        return Ok(None);
    }
    let metrics = signal(config, Signal::Metrics, &env)?;
    let logs = signal(config, Signal::Logs, &env)?;
    let mut resource_overrides = match env("OTEL_RESOURCE_ATTRIBUTES") {
        Some(text) => parse_key_values(&text, "OTEL_RESOURCE_ATTRIBUTES")?,
        None => Vec::new(),
    };
    if let Some(id) = &config.instance_id {
        resource_overrides.push(("service.instance.id".into(), id.clone()));
    }
    Ok(Some(OtlpSettings {
        metrics,
        logs,
        interval: config.interval.unwrap_or(DEFAULT_INTERVAL),
        resource_overrides,
    }))
}

fn signal(
    config: &OtlpConfig,
    signal: Signal,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SignalSettings, SettingsError> {
    // OTEL_EXPORTER_OTLP_<SIGNAL>_<NAME>, else OTEL_EXPORTER_OTLP_<NAME>.
    let var = |name: &str| -> Option<(String, String)> {
        let specific = format!("OTEL_EXPORTER_OTLP_{}{name}", signal.env_infix());
        let general = format!("OTEL_EXPORTER_OTLP_{name}");
        env(&specific)
            .map(|v| (specific, v))
            .or_else(|| env(&general).map(|v| (general, v)))
    };
    let protocol = match (config.protocol, var("PROTOCOL")) {
        (Some(p), _) => p,
        (None, Some((name, value))) => OtlpProtocol::parse(&value).ok_or_else(|| {
            SettingsError(format!(
                "{name}=\"{value}\" is not supported; use \"grpc\" or \"http/protobuf\""
            ))
        })?,
        (None, None) => OtlpProtocol::HttpProtobuf,
    };
    let endpoint = match (&config.endpoint, var("ENDPOINT")) {
        (Some(base), _) => signal_url(base, protocol, signal),
        // A signal-specific variable is the full URL, used as it is.
        (None, Some((name, value))) if name.contains(signal.env_infix()) => value,
        (None, Some((_, base))) => signal_url(&base, protocol, signal),
        (None, None) => match protocol {
            OtlpProtocol::Grpc => "http://localhost:4317".to_string(),
            OtlpProtocol::HttpProtobuf => signal_url("http://localhost:4318", protocol, signal),
        },
    };
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return Err(SettingsError(format!(
            "endpoint \"{endpoint}\" is not an http:// or https:// URL"
        )));
    }
    let timeout = match (config.timeout, var("TIMEOUT")) {
        (Some(t), _) => t,
        (None, Some((name, value))) => value
            .trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| {
                SettingsError(format!(
                    "{name}=\"{value}\" is not a number of milliseconds"
                ))
            })?,
        (None, None) => DEFAULT_TIMEOUT,
    };
    let gzip = match (config.gzip, var("COMPRESSION")) {
        (Some(g), _) => g,
        (None, Some((name, value))) => match value.trim() {
            "gzip" => true,
            "none" => false,
            _ => {
                return Err(SettingsError(format!(
                    "{name}=\"{value}\" is not supported; use \"gzip\" or \"none\""
                )));
            }
        },
        (None, None) => false,
    };
    // Headers: the variable's, then the config's (which win for the same name).
    let mut headers: BTreeMap<String, Secret> = BTreeMap::new();
    if let Some((name, value)) = var("HEADERS") {
        for (key, value) in parse_key_values(&value, &name)? {
            headers.insert(key.to_ascii_lowercase(), Secret::new(value));
        }
    }
    for (name, source) in &config.headers {
        headers.insert(name.clone(), read_header(name, source, env)?);
    }
    // User information in the URL becomes HTTP basic auth, and the URL goes to the
    // exporter without it: the HTTP and gRPC clients log URLs at TRACE level.
    let (endpoint, credentials) = split_user_info(&endpoint);
    if let Some(credentials) = credentials {
        headers
            .entry("authorization".into())
            .or_insert_with(|| Secret::new(credentials));
    }
    Ok(SignalSettings {
        endpoint,
        protocol,
        headers: headers.into_iter().collect(),
        timeout,
        gzip,
    })
}

/// `endpoint` fit for logs and `status`: user information in the URL (`user:pass@`) is
/// replaced by `***@`, so a password written there is never shown.
pub(crate) fn shown_endpoint(endpoint: &str) -> String {
    let Some((scheme, rest)) = endpoint.split_once("://") else {
        return endpoint.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => endpoint.to_string(),
    }
}

/// `endpoint` without its user information (`user:pass@`), and the `Basic …`
/// authorization value it stood for (percent-decoded, as RFC 3986 writes it).
fn split_user_info(endpoint: &str) -> (String, Option<String>) {
    use base64::Engine;
    let Some((scheme, rest)) = endpoint.split_once("://") else {
        return (endpoint.to_string(), None);
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return (endpoint.to_string(), None);
    };
    let user_info = &rest[..at];
    let (user, password) = user_info.split_once(':').unwrap_or((user_info, ""));
    let pair = format!("{}:{}", percent_decode(user), percent_decode(password));
    let value = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    );
    (format!("{scheme}://{}", &rest[at + 1..]), Some(value))
}

/// `base` plus the signal's path for HTTP (`…/v1/metrics`); `base` itself for gRPC.
fn signal_url(base: &str, protocol: OtlpProtocol, signal: Signal) -> String {
    match protocol {
        OtlpProtocol::Grpc => base.to_string(),
        OtlpProtocol::HttpProtobuf => {
            format!("{}/{}", base.trim_end_matches('/'), signal.http_path())
        }
    }
}

/// `key=value,key2=value2` with percent-encoded values (W3C Baggage style), as in
/// `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_RESOURCE_ATTRIBUTES`. Errors name the variable,
/// never the value.
fn parse_key_values(text: &str, variable: &str) -> Result<Vec<(String, String)>, SettingsError> {
    let mut pairs = Vec::new();
    for (index, item) in text.split(',').enumerate() {
        if item.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = item.split_once('=') else {
            return Err(SettingsError(format!(
                "{variable}: entry {} has no '=' (write key=value,key2=value2)",
                index + 1
            )));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(SettingsError(format!(
                "{variable}: entry {} has an empty key",
                index + 1
            )));
        }
        pairs.push((key.to_string(), percent_decode(value.trim())));
    }
    Ok(pairs)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(byte) = text
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::secret::HeaderSource;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn shown_endpoints_hide_user_information() {
        assert_eq!(
            shown_endpoint("https://user:s3cret@otel.example.com:4318/v1/metrics"),
            "https://***@otel.example.com:4318/v1/metrics"
        );
        assert_eq!(
            shown_endpoint("http://127.0.0.1:4317"),
            "http://127.0.0.1:4317"
        );
        assert_eq!(
            shown_endpoint("http://collector:4318/v1/logs?a=b@c"),
            "http://collector:4318/v1/logs?a=b@c"
        );
    }

    #[test]
    fn a_password_in_the_endpoint_url_becomes_basic_auth_and_leaves_the_url() {
        let config = OtlpConfig {
            endpoint: Some("https://alice:p%40ss@otel.example.com:4318".into()),
            ..OtlpConfig::default()
        };
        let settings = resolve(&config, &env_of(&[])).unwrap().unwrap();
        let metrics = &settings.metrics;
        assert_eq!(metrics.endpoint, "https://otel.example.com:4318/v1/metrics");
        let (_, value) = metrics
            .headers
            .iter()
            .find(|(name, _)| name == "authorization")
            .expect("an authorization header");
        // base64("alice:p@ss")
        assert_eq!(value.expose(), "Basic YWxpY2U6cEBzcw==");
        // An explicit authorization header wins.
        let mut config = config;
        config.headers.insert(
            "authorization".into(),
            HeaderSource::Literal("Bearer t".into()),
        );
        let settings = resolve(&config, &env_of(&[])).unwrap().unwrap();
        let (_, value) = settings
            .metrics
            .headers
            .iter()
            .find(|(name, _)| name == "authorization")
            .unwrap();
        assert_eq!(value.expose(), "Bearer t");
        assert_eq!(
            settings.metrics.endpoint,
            "https://otel.example.com:4318/v1/metrics"
        );
    }

    #[test]
    fn nothing_configured_means_no_export() {
        assert!(
            resolve(&OtlpConfig::default(), &env_of(&[]))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn the_standard_variables_fill_what_the_config_leaves_out() {
        let env = env_of(&[
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://otel.example.com:4318/",
            ),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "X-Scope-OrgID=team%20a,api-key=s3cret",
            ),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            (
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                "https://logs.example.com/custom",
            ),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=prod,team=sre",
            ),
        ]);
        let settings = resolve(&OtlpConfig::default(), &env).unwrap().unwrap();
        assert_eq!(settings.metrics.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(
            settings.metrics.endpoint,
            "https://otel.example.com:4318/v1/metrics"
        );
        assert_eq!(settings.logs.endpoint, "https://logs.example.com/custom");
        assert_eq!(settings.metrics.timeout, Duration::from_millis(2500));
        assert!(settings.metrics.gzip);
        assert_eq!(
            settings.metrics.headers,
            vec![
                ("api-key".to_string(), Secret::new("s3cret".into())),
                ("x-scope-orgid".to_string(), Secret::new("team a".into())),
            ]
        );
        assert_eq!(
            settings.resource_overrides,
            vec![
                ("deployment.environment".to_string(), "prod".to_string()),
                ("team".to_string(), "sre".to_string())
            ]
        );
    }

    #[test]
    fn the_config_wins_over_the_variables() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("otlp-token"), "Bearer abc\n").unwrap();
        let config = OtlpConfig {
            endpoint: Some("http://127.0.0.1:4317".into()),
            protocol: Some(OtlpProtocol::Grpc),
            timeout: Some(Duration::from_secs(3)),
            gzip: Some(false),
            instance_id: Some("web-01".into()),
            headers: [
                (
                    "authorization".to_string(),
                    HeaderSource::Credential("otlp-token".into()),
                ),
                ("x-team".to_string(), HeaderSource::Env("TEAM".into())),
            ]
            .into_iter()
            .collect(),
            ..OtlpConfig::default()
        };
        let credentials = dir.path().to_str().unwrap().to_string();
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://elsewhere:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=from-env"),
            ("CREDENTIALS_DIRECTORY", &credentials),
            ("TEAM", "sre"),
        ]);
        let settings = resolve(&config, &env).unwrap().unwrap();
        assert_eq!(settings.metrics.endpoint, "http://127.0.0.1:4317");
        assert_eq!(settings.logs.endpoint, "http://127.0.0.1:4317");
        assert_eq!(settings.metrics.protocol, OtlpProtocol::Grpc);
        assert!(!settings.logs.gzip);
        assert_eq!(settings.logs.timeout, Duration::from_secs(3));
        assert_eq!(
            settings.logs.headers,
            vec![
                (
                    "authorization".to_string(),
                    Secret::new("Bearer abc".into())
                ),
                ("x-team".to_string(), Secret::new("sre".into())),
            ]
        );
        assert_eq!(
            settings.resource_overrides,
            vec![("service.instance.id".to_string(), "web-01".to_string())]
        );
    }

    #[test]
    fn off_switches_win() {
        let config = OtlpConfig {
            endpoint: Some("http://127.0.0.1:4318".into()),
            ..OtlpConfig::default()
        };
        let env = env_of(&[("OTEL_SDK_DISABLED", "true")]);
        assert!(resolve(&config, &env).unwrap().is_none());
        let config = OtlpConfig {
            enabled: Some(false),
            ..OtlpConfig::default()
        };
        let env = env_of(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")]);
        assert!(resolve(&config, &env).unwrap().is_none());
    }

    #[test]
    fn errors_name_the_source_and_never_the_secret() {
        let config = OtlpConfig {
            endpoint: Some("http://127.0.0.1:4318".into()),
            headers: [(
                "authorization".to_string(),
                HeaderSource::Env("MISSING_TOKEN".into()),
            )]
            .into_iter()
            .collect(),
            ..OtlpConfig::default()
        };
        let error = resolve(&config, &env_of(&[])).unwrap_err().to_string();
        assert!(error.contains("MISSING_TOKEN"), "{error}");
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "authorization=topsecret,broken",
            ),
        ]);
        let error = resolve(&OtlpConfig::default(), &env)
            .unwrap_err()
            .to_string();
        assert!(error.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{error}");
        assert!(!error.contains("topsecret"), "{error}");
        let settings = resolve(
            &OtlpConfig::default(),
            &env_of(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
                ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=topsecret"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert!(!format!("{settings:?}").contains("topsecret"));
    }
}
