//! `perfwarden check`: validate the config and print every problem (the unit's
//! `ExecStartPre`), including OTLP header values that cannot be read in this environment.

use super::{CommandError, Globals, Outcome, exit};
use crate::config::{Config, ConfigSource};
use crate::daemon::control::socket_path;
use crate::model::secret::HeaderSource;
use crate::report::{CheckReport, ProblemView};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub(super) fn run(globals: &Globals, _args: Args) -> Result<Outcome, CommandError> {
    let path = Config::locate(globals.config.as_deref());
    let source = path
        .as_ref()
        .map(|p| ConfigSource::File(p.clone()))
        .unwrap_or(ConfigSource::Embedded)
        .to_string();
    let loaded = match &path {
        Some(p) => Config::from_file(p),
        None => Ok(Config::embedded()),
    };
    let mut notes = Vec::new();
    let report = match &loaded {
        Ok(config) => {
            // What only the running environment can tell: the OTEL_* variables and the
            // header values from variables, files and systemd credentials (under the
            // unit's ExecStartPre, the same environment the daemon gets). Outside any
            // systemd service (no $INVOCATION_ID, e.g. `sudo perfwarden check`) there is
            // no $CREDENTIALS_DIRECTORY: a credential header is left to the unit's own
            // check, not reported as missing. Under the unit a missing one still fails.
            let outside_unit = std::env::var_os("CREDENTIALS_DIRECTORY").is_none()
                && std::env::var_os("INVOCATION_ID").is_none();
            let checked = if outside_unit {
                let mut checked = config.clone();
                for (name, source) in checked.export.otlp.headers.iter_mut() {
                    if let HeaderSource::Credential(credential) = source {
                        notes.push(format!(
                            "note: header {name} comes from the systemd credential \"{credential}\", which only the unit can read; its ExecStartPre check verifies it"
                        ));
                        *source = HeaderSource::Literal(String::new());
                    }
                }
                std::borrow::Cow::Owned(checked)
            } else {
                std::borrow::Cow::Borrowed(config)
            };
            let mut problems: Vec<ProblemView> = match crate::export::otlp_settings(&checked) {
                Ok(Some(otlp))
                    if [&otlp.metrics, &otlp.logs]
                        .iter()
                        .any(|signal| signal.endpoint.starts_with("https://")) =>
                {
                    // TLS needs the host's CA roots, which this host may not have.
                    match crate::tls::system_roots() {
                        Ok(_) => Vec::new(),
                        Err(message) => vec![ProblemView {
                            file: source.clone(),
                            key: "export.otlp.endpoint".into(),
                            line: None,
                            message: format!("the endpoint is https, but {message}"),
                            hint: Some(
                                "install the ca-certificates package (or use an http:// endpoint on a trusted network); the daemon would keep alert events in the outbox".into(),
                            ),
                        }],
                    }
                }
                Ok(_) => Vec::new(),
                Err(e) => vec![ProblemView {
                    file: source.clone(),
                    key: "export.otlp".into(),
                    line: None,
                    message: e.0,
                    hint: Some(
                        "set the variable, create the file, or add LoadCredential= to the unit; the daemon would run without OTLP export and keep alert events in the outbox".into(),
                    ),
                }],
            };
            // The daemon binds its socket only where nothing else is: a file there stays.
            let socket = socket_path(Some(config), &globals.state_dir(Some(config)));
            if let Ok(meta) = std::fs::symlink_metadata(&socket)
                && !std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type())
            {
                problems.push(ProblemView {
                    file: source.clone(),
                    key: "daemon.socket".into(),
                    line: None,
                    message: format!(
                        "the control socket path {} is taken by something that is not a socket: the daemon would refuse to start (it removes nothing but a stale socket)",
                        socket.display()
                    ),
                    hint: Some(
                        "set [daemon] socket (or $PERFWARDEN_SOCKET) to a free path, or move that file away".into(),
                    ),
                });
            }
            if let Some(group) = &config.daemon.socket_group
                && let Err(message) = crate::daemon::can_give_socket_to(group)
            {
                let (message, hint) = match message.split_once("\n  hint: ") {
                    Some((message, hint)) => (message.to_string(), Some(hint.to_string())),
                    None => (message, None),
                };
                problems.push(ProblemView {
                    file: source.clone(),
                    key: "daemon.socket_group".into(),
                    line: None,
                    message,
                    hint,
                });
            }
            // Memory caps against this host and this process's cgroup (under the unit's
            // ExecStartPre, the unit's MemoryHigh=/MemoryMax=).
            let limit = crate::workload::limits::memory_limit();
            let host_bytes = crate::workload::limits::host_memory_bytes();
            for (name, benchmark) in &config.benchmarks {
                if let crate::workload::WorkloadConfig::MemoryPressure(pressure) =
                    &benchmark.workload
                {
                    for (message, hint) in pressure.unfit(limit.as_ref(), host_bytes) {
                        problems.push(ProblemView {
                            file: source.clone(),
                            key: format!("benchmarks.{name}.cap_mib"),
                            line: None,
                            message,
                            hint: Some(hint),
                        });
                    }
                }
            }
            CheckReport {
                source,
                valid: problems.is_empty(),
                suites: config.suites.keys().cloned().collect(),
                benchmarks: config.benchmarks.len(),
                problems,
            }
        }
        Err(errors) => CheckReport {
            source,
            valid: false,
            suites: Vec::new(),
            benchmarks: 0,
            problems: errors.problems.iter().map(ProblemView::from).collect(),
        },
    };
    let stdout = globals.render(&report)?;
    for note in notes {
        eprintln!("{note}");
    }
    Ok(Outcome {
        stdout,
        code: if report.valid { exit::OK } else { exit::USAGE },
        ..Outcome::default()
    })
}
