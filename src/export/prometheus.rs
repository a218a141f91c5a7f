//! The Prometheus scrape endpoint (off by default; `[export.prometheus] listen`). It serves
//! the text exposition format with exactly the names the OTLP translation gives the same
//! points ([`catalog::prometheus_name`]), plus `target_info` carrying the resource
//! attributes, as the Collector does. For hosts whose Prometheus (2.42 in Debian 12) has no
//! OTLP receiver and no Collector in between.
//!
//! The exposition is rendered when the state changes (start, each finished suite, reload)
//! and served from memory, so a scrape costs no database read.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::catalog::{self, Instrument};
use super::state::Point;

/// Content type of the text exposition format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// OpenTelemetry attribute name to Prometheus label name.
fn label_name(attribute: &str) -> String {
    attribute.replace(['.', '-'], "_")
}

fn labels(attributes: &[(&str, String)]) -> String {
    if attributes.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = attributes
        .iter()
        .map(|(k, v)| format!("{}=\"{}\"", label_name(k), escape_label(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Renders `points` (in catalog order) and the resource as the text exposition format.
pub(crate) fn render(points: &[Point], resource: &[(&str, String)]) -> String {
    let mut out = String::new();
    let mut current: Option<&str> = None;
    for p in points {
        let name = catalog::prometheus_name(p.metric);
        if current != Some(p.metric.name) {
            let kind = match p.metric.instrument {
                Instrument::Gauge => "gauge",
                Instrument::Counter => "counter",
            };
            let _ = writeln!(out, "# HELP {name} {}", escape_help(p.metric.description));
            let _ = writeln!(out, "# TYPE {name} {kind}");
            current = Some(p.metric.name);
        }
        let _ = writeln!(out, "{name}{} {}", labels(&p.attributes), p.value);
    }
    // As the Collector does: job and instance come from service.name and
    // service.instance.id (here: from the scrape), every other attribute is on target_info.
    let info: Vec<(&str, String)> = resource
        .iter()
        .filter(|(k, _)| *k != "service.name" && *k != "service.instance.id")
        .cloned()
        .collect();
    let _ = writeln!(out, "# HELP target_info Target metadata");
    let _ = writeln!(out, "# TYPE target_info gauge");
    let _ = writeln!(out, "target_info{} 1", labels(&info));
    out
}

/// The rendered exposition, shared between the daemon (writer) and the server (reader).
pub(crate) type Exposition = Arc<RwLock<String>>;

/// The Prometheus endpoint could not listen; the message names the address and what to do.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot listen on {listen} for the Prometheus endpoint: {source}\n  hint: pick a free port in [export.prometheus] listen, or remove it"
)]
pub(crate) struct BindError {
    pub listen: SocketAddr,
    #[source]
    pub source: std::io::Error,
}

/// Binds the endpoint.
pub(crate) async fn bind(listen: SocketAddr) -> Result<TcpListener, BindError> {
    TcpListener::bind(listen)
        .await
        .map_err(|source| BindError { listen, source })
}

/// Serves `/metrics` (and, given its file, the latest HTML report at `/report`) until the
/// process ends. The report is read from its file on each request: the listener knows
/// where the daemon keeps it, not how it is made.
pub(crate) async fn serve(
    listener: TcpListener,
    exposition: Exposition,
    report: Option<std::path::PathBuf>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "Prometheus endpoint accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let exposition = exposition.clone();
        let report = report.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let exposition = exposition.clone();
                let report = report.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(
                        respond(&request, &exposition, report.as_deref()).await,
                    )
                }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "Prometheus endpoint connection ended");
            }
        });
    }
}

async fn read_off_the_loop(path: std::path::PathBuf) -> std::io::Result<String> {
    tokio::task::spawn_blocking(move || std::fs::read_to_string(path))
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
}

async fn respond(
    request: &Request<Incoming>,
    exposition: &Exposition,
    report: Option<&std::path::Path>,
) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, content_type: &str, body: String| {
        Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .expect("a valid response")
    };
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "only GET\n".into(),
        );
    }
    match request.uri().path() {
        "/metrics" => {
            let body = exposition
                .read()
                .map(|text| text.clone())
                .unwrap_or_else(|p| p.into_inner().clone());
            reply(StatusCode::OK, CONTENT_TYPE, body)
        }
        "/report" => match report {
            None => reply(
                StatusCode::NOT_FOUND,
                "text/plain",
                "the report is not served; set `report = true` under [export.prometheus]\n".into(),
            ),
            Some(path) => match read_off_the_loop(path.to_path_buf()).await {
                Ok(html) => {
                    let mut response = reply(StatusCode::OK, "text/html; charset=utf-8", html);
                    // The page loads nothing; tell the browser to hold it to that.
                    response.headers_mut().insert(
                        "content-security-policy",
                        hyper::header::HeaderValue::from_static(
                            "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
                        ),
                    );
                    response
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => reply(
                    StatusCode::NOT_FOUND,
                    "text/plain",
                    "no report yet: the daemon writes one after each suite\n".into(),
                ),
                Err(e) => reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain",
                    format!("cannot read the report: {e}\n"),
                ),
            },
        },
        "/" => reply(
            StatusCode::OK,
            "text/plain",
            if report.is_some() {
                "perfwarden: metrics at /metrics, the latest report at /report\n".into()
            } else {
                "perfwarden: metrics at /metrics\n".into()
            },
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found; try /metrics\n".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::catalog;

    #[test]
    fn renders_help_type_labels_and_target_info() {
        let points = vec![
            Point {
                metric: &catalog::BENCHMARK_DURATION,
                attributes: vec![
                    ("benchmark", "parse \"json\"".into()),
                    ("suite", "weekly".into()),
                    ("statistic", "median".into()),
                ],
                value: 0.25,
            },
            Point {
                metric: &catalog::SUITE_RUNS,
                attributes: vec![("suite", "weekly".into()), ("outcome", "success".into())],
                value: 3.0,
            },
        ];
        let text = render(
            &points,
            &[
                ("service.name", "perfwarden".into()),
                ("host.name", "db-1".into()),
            ],
        );
        let expected = "\
# HELP perfwarden_benchmark_duration_seconds Time per operation (or the time a command or load test measured) of a benchmark's latest run, by statistic; baseline_low/high bound the band within the effective tolerance of the baseline median
# TYPE perfwarden_benchmark_duration_seconds gauge
perfwarden_benchmark_duration_seconds{benchmark=\"parse \\\"json\\\"\",suite=\"weekly\",statistic=\"median\"} 0.25
# HELP perfwarden_suite_runs_total Runs of each suite that ended, by outcome, since the database was created
# TYPE perfwarden_suite_runs_total counter
perfwarden_suite_runs_total{suite=\"weekly\",outcome=\"success\"} 3
# HELP target_info Target metadata
# TYPE target_info gauge
target_info{host_name=\"db-1\"} 1
";
        assert_eq!(text, expected);
    }
}
