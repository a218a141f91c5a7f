//! `load.http` — an HTTP load test against the team's own endpoint.
//!
//! **Operation:** one request answered in full (status and, if configured, body checked).
//! **Closed model** (default): `users` virtual users, each on its own keep-alive
//! connection, started one by one over `ramp_up`; the sample value is successful
//! requests per second (higher is better). **Open model:** a constant arrival `rate` with
//! latency measured from each request's due time (coordinated omission corrected); the
//! sample value is the 99th percentile of latency over the sample's slice of time (lower is
//! better), because at a fixed rate the throughput says nothing.
//!
//! The load runs continuously from `setup` to `teardown`; the runner's samples are slices
//! of it (`run(n)` waits `n` milliseconds and reads what completed), so the runner's
//! warm-up is the ramp-up and `duration` is its `min_time` (see
//! `config::apply_workload_options`). Per-request latency goes to an HDR histogram (memory
//! bounded however long the test), outcomes to per-class failure counts; both are reported
//! for the measured slices only.
//!
//! Guard rails (`[load]` in the config, checked by `perfwarden check`): the host must be
//! loopback or allowed, users and rate are capped, the duration is bounded, and load tests
//! do not start inside a blackout window. While running, the error guard stops the test
//! when the failed share over `abort_error_ratio`'s window crosses the threshold.

pub(crate) mod client;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use self::client::{RequestTemplate, Target, Version};
use super::traffic::engine::{Pacing, Plan};
use super::traffic::{self, LoadSampling, Meter, Objective};
use crate::model::metric::{MetricDef, ResultDetails};
use crate::model::secret::HeaderSource;
use crate::model::units::{ConfigDuration, Percent};
use crate::workload::{LatencyRecorder, Threads, Workload, WorkloadContext, WorkloadError};

/// A header value: a string, or a secret read at run time from `{ env = "VAR" }`,
/// `{ file = "/path" }` or `{ credential = "name" }` (systemd `LoadCredential=`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HeaderValue {
    Literal(String),
    Env { env: String },
    File { file: PathBuf },
    Credential { credential: String },
}

impl HeaderValue {
    pub(crate) fn source(&self) -> HeaderSource {
        match self {
            HeaderValue::Literal(v) => HeaderSource::Literal(v.clone()),
            HeaderValue::Env { env } => HeaderSource::Env(env.clone()),
            HeaderValue::File { file } => HeaderSource::File(file.clone()),
            HeaderValue::Credential { credential } => HeaderSource::Credential(credential.clone()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    #[default]
    Closed,
    Open,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpVersion {
    #[default]
    Auto,
    Http1,
    Http2,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadHttpConfig {
    /// `http://` or `https://` URL of the endpoint.
    pub url: String,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default)]
    pub headers: BTreeMap<String, HeaderValue>,
    #[serde(default)]
    pub body: Option<String>,
    /// Statuses that count as success; default any 2xx.
    #[serde(default)]
    pub expect_status: Vec<u16>,
    /// Text the response body must contain.
    #[serde(default)]
    pub expect_body: Option<String>,
    #[serde(default)]
    pub model: Model,
    /// Virtual users (closed model) or connections (open model).
    #[serde(default = "default_users")]
    pub users: usize,
    /// Arrival rate of the open model, requests per second.
    #[serde(default)]
    pub rate: Option<f64>,
    /// How long the measured load lasts (after the ramp-up).
    #[serde(default = "traffic::default_duration")]
    pub duration: ConfigDuration,
    /// Stop after this many requests instead (all users together, ramp-up included).
    #[serde(default)]
    pub requests: Option<u64>,
    #[serde(default = "default_ramp_up")]
    pub ramp_up: ConfigDuration,
    #[serde(default = "traffic::default_connect_timeout")]
    pub connect_timeout: ConfigDuration,
    #[serde(default = "default_request_timeout")]
    pub request_timeout: ConfigDuration,
    #[serde(default)]
    pub http: HttpVersion,
    /// The error guard: stop when this share of requests fails within `abort_window`.
    #[serde(default = "traffic::default_abort_ratio")]
    pub abort_error_ratio: Percent,
    #[serde(default = "traffic::default_abort_window")]
    pub abort_window: ConfigDuration,
    /// Worker threads of the load generator (default: every CPU).
    #[serde(default)]
    pub threads: Threads,
    /// `[load] max_rate`, copied here by the config stage (not a benchmark parameter).
    #[serde(skip)]
    pub rate_cap: Option<f64>,
    /// `[load] max_duration`, copied here by the config stage.
    #[serde(skip)]
    pub max_duration: Option<Duration>,
}

fn default_method() -> String {
    "GET".into()
}
fn default_users() -> usize {
    50
}
fn default_ramp_up() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(5))
}
fn default_request_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(10))
}

/// The parts of a URL a load test needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParsedUrl {
    pub uri: hyper::Uri,
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

/// The port written in `uri`'s authority, if any; an error names a port outside 1–65535
/// (which `hyper::Uri` parses as no port at all, so the default would be used silently).
pub(crate) fn explicit_port(url: &str, uri: &hyper::Uri) -> Result<Option<u16>, String> {
    let Some(authority) = uri.authority().map(|a| a.as_str()) else {
        return Ok(None);
    };
    // After an IPv6 literal's `]`, else after the user info.
    let host_port = match authority.rfind(']') {
        Some(end) => &authority[end + 1..],
        None => authority.rsplit('@').next().unwrap_or(authority),
    };
    match host_port.rsplit_once(':') {
        None => Ok(None),
        Some((_, port)) => match port.parse::<u16>() {
            Ok(p) if p != 0 => Ok(Some(p)),
            _ => Err(format!("\"{url}\" has port {port:?}, outside 1–65535")),
        },
    }
}

pub(crate) fn parse_url(url: &str) -> Result<ParsedUrl, String> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| format!("\"{url}\" is not a URL: {e}"))?;
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(format!("\"{url}\" must start with http:// or https://")),
    };
    let host = uri
        .host()
        .ok_or_else(|| format!("\"{url}\" has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = explicit_port(url, &uri)?.unwrap_or(if tls { 443 } else { 80 });
    Ok(ParsedUrl {
        uri,
        tls,
        host,
        port,
    })
}

impl LoadHttpConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if let Err(e) = parse_url(&self.url) {
            problems.push(("url".into(), e));
        }
        if hyper::Method::from_bytes(self.method.as_bytes()).is_err() {
            problems.push((
                "method".into(),
                format!("\"{}\" is not an HTTP method", self.method),
            ));
        }
        for name in self.headers.keys() {
            if hyper::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                problems.push(("headers".into(), format!("\"{name}\" is not a header name")));
            }
        }
        for (name, value) in &self.headers {
            if let HeaderValue::Literal(v) = value {
                if hyper::header::HeaderValue::from_str(v).is_err() {
                    problems.push((
                        "headers".into(),
                        format!(
                            "the value of header \"{name}\" has characters a header cannot carry"
                        ),
                    ));
                }
            }
        }
        if let Some(bad) = self
            .expect_status
            .iter()
            .find(|s| !(100..=599).contains(*s))
        {
            problems.push((
                "expect_status".into(),
                format!("{bad} is not an HTTP status"),
            ));
        }
        if self.users == 0 {
            problems.push(("users".into(), "must be at least 1".into()));
        }
        match (self.model, self.rate) {
            (Model::Open, None) => problems.push((
                "rate".into(),
                "the open model needs an arrival rate, e.g. rate = 500 (requests/s)".into(),
            )),
            (Model::Closed, Some(_)) => problems.push((
                "rate".into(),
                "only the open model takes a rate (set model = \"open\"); the closed model is capped by [load] max_rate".into(),
            )),
            (_, Some(rate)) if !(rate > 0.0 && rate.is_finite()) => {
                problems.push(("rate".into(), "must be a positive number of requests/s".into()))
            }
            _ => {}
        }
        if self.duration.0 < Duration::from_secs(1) {
            problems.push(("duration".into(), "must be at least 1s".into()));
        }
        if self.requests == Some(0) {
            problems.push(("requests".into(), "must be at least 1".into()));
        }
        if !(self.abort_error_ratio.0 > 0.0 && self.abort_error_ratio.0 <= 1.0) {
            problems.push((
                "abort_error_ratio".into(),
                "must be above 0% and at most 100%".into(),
            ));
        }
        if self.abort_window.0 < Duration::from_millis(500) {
            problems.push(("abort_window".into(), "must be at least 500ms".into()));
        }
        if self.connect_timeout.0.is_zero() || self.request_timeout.0.is_zero() {
            problems.push((
                "request_timeout".into(),
                "timeouts must be above zero".into(),
            ));
        }
        if self.threads == Threads::Count(0) {
            problems.push(("threads".into(), "must be at least 1, or \"all\"".into()));
        }
        problems
    }

    fn metric(&self) -> MetricDef {
        match self.model {
            Model::Closed => MetricDef::throughput("request"),
            Model::Open => MetricDef::time("request"),
        }
    }
}

pub(crate) struct LoadHttp {
    config: LoadHttpConfig,
    sampling: LoadSampling,
}

impl LoadHttp {
    pub(crate) fn new(config: LoadHttpConfig) -> Self {
        LoadHttp {
            config,
            sampling: LoadSampling::new("request"),
        }
    }

    fn target(&self) -> Result<Target, WorkloadError> {
        let invalid = WorkloadError::Invalid;
        let url = parse_url(&self.config.url).map_err(invalid)?;
        let version = match self.config.http {
            HttpVersion::Auto => Version::Auto,
            HttpVersion::Http1 => Version::Http1,
            HttpVersion::Http2 => Version::Http2,
        };
        let mut headers = hyper::HeaderMap::new();
        for (name, value) in &self.config.headers {
            let secret = crate::model::secret::read_header(name, &value.source(), &|var| {
                std::env::var(var).ok()
            })
            .map_err(|e| WorkloadError::Invalid(e.0))?;
            let name = hyper::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| invalid(format!("header name {name}: {e}")))?;
            let mut value = hyper::header::HeaderValue::from_str(secret.expose())
                .map_err(|_| invalid(format!("the value of header {name} cannot be sent")))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        // Resolve once, before the clock starts: a DNS failure fails the benchmark here.
        let addrs: Vec<std::net::SocketAddr> =
            std::net::ToSocketAddrs::to_socket_addrs(&(url.host.as_str(), url.port))
                .map_err(|e| invalid(format!("DNS lookup of {} failed: {e}", url.host)))?
                .collect();
        let tls = if url.tls {
            let connector = client::tls_connector(version).map_err(invalid)?;
            let name = rustls::pki_types::ServerName::try_from(url.host.clone())
                .map_err(|e| invalid(format!("{} is not a TLS server name: {e}", url.host)))?;
            Some((connector, name))
        } else {
            None
        };
        Ok(Target {
            host: url.host,
            port: url.port,
            addrs,
            tls,
            version,
            request: RequestTemplate {
                method: hyper::Method::from_bytes(self.config.method.as_bytes())
                    .map_err(|e| invalid(format!("method: {e}")))?,
                uri: url.uri,
                headers,
                body: Bytes::from(self.config.body.clone().unwrap_or_default()),
                expect_status: self.config.expect_status.clone(),
                expect_body: self.config.expect_body.clone().map(String::into_bytes),
            },
            connect_timeout: self.config.connect_timeout.0,
            request_timeout: self.config.request_timeout.0,
        })
    }
}

impl Workload for LoadHttp {
    fn metric(&self) -> MetricDef {
        self.config.metric()
    }

    fn setup(&mut self, ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        let target = Arc::new(self.target()?);
        traffic::probe(target.as_ref())?;

        let pacing = match (self.config.model, self.config.rate, self.config.rate_cap) {
            (Model::Open, Some(rate), _) => Pacing::Open(rate),
            (_, _, Some(cap)) => Pacing::Capped(cap),
            _ => Pacing::Free,
        };
        let ramp_up = self.config.ramp_up.0;
        let plan = Plan {
            users: self.config.users,
            pacing,
            ramp_up,
            requests: self.config.requests,
            max_duration: self
                .config
                .max_duration
                .unwrap_or_else(|| traffic::default_stop_after(ramp_up, self.config.duration.0)),
            abort_error_ratio: self.config.abort_error_ratio.0,
            abort_window: self.config.abort_window.0,
        };
        let threads = self.config.threads.resolve(ctx.available_cpus);
        let objective = match self.config.model {
            Model::Closed => Objective::Throughput,
            Model::Open => Objective::P99Latency,
        };
        self.sampling.start(Meter::start(
            target,
            plan,
            threads,
            objective,
            self.config.request_timeout.0,
        )?);
        Ok(())
    }

    fn run(
        &mut self,
        iterations: u64,
        latencies: &mut LatencyRecorder,
    ) -> Result<f64, WorkloadError> {
        self.sampling.run(iterations, latencies)
    }

    fn warmup_done(&mut self) {
        self.sampling.warmup_done();
    }

    fn details(&mut self) -> Option<ResultDetails> {
        self.sampling.details()
    }

    fn teardown(&mut self) -> Result<(), WorkloadError> {
        self.sampling.stop();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_outside_the_range_is_an_error_not_the_default() {
        let port = |url: &str| parse_url(url).map(|p| p.port);
        assert_eq!(port("http://127.0.0.1/"), Ok(80));
        assert_eq!(port("https://example.com/x"), Ok(443));
        assert_eq!(port("http://127.0.0.1:8080/"), Ok(8080));
        assert_eq!(port("http://[::1]:9000/"), Ok(9000));
        assert_eq!(port("http://[::1]/"), Ok(80));
        assert_eq!(port("http://user:pw@host:81/"), Ok(81));
        for bad in [
            "http://127.0.0.1:99999/",
            "http://127.0.0.1:0/",
            "http://[::1]:70000/",
        ] {
            let error = port(bad).unwrap_err();
            assert!(error.contains("outside 1–65535"), "{bad}: {error}");
        }
    }
}
