//! Export: the metric catalog (the single source of names), the exported state computed
//! from the store, and the Prometheus scrape endpoint the daemon serves when
//! `[export.prometheus] listen` is set, and OTLP push ([`otlp`]): the same
//! [`state::collect`] points as metrics, and alert [`events`] delivered from a durable
//! outbox.

pub mod catalog;
pub(crate) mod otlp;
pub(crate) mod prometheus;
pub(crate) mod state;

use otlp::settings::{OtlpSettings, SettingsError};

use crate::store::Store;

/// The fingerprint the resource reports: the latest run's, else this host's now.
pub(crate) fn latest_fingerprint(
    store: &crate::store::Store,
) -> Result<String, crate::store::StoreError> {
    Ok(match store.runs(None, None)?.first() {
        Some(run) => run.fingerprint.clone(),
        None => crate::runner::fingerprint::hash(&crate::runner::fingerprint::collect()),
    })
}

/// `[export.otlp]` resolved with the process environment. `Ok(None)`: export is off.
pub(crate) type ResolvedOtlp = Result<Option<OtlpSettings>, SettingsError>;

/// Resolves `[export.otlp]` with the process environment.
pub(crate) fn otlp_settings(config: &crate::config::Config) -> ResolvedOtlp {
    let env = |name: &str| std::env::var(name).ok();
    otlp::settings::resolve(&config.export.otlp, &env)
}

/// Whether alert events are kept in the outbox: when OTLP export is configured, even if a
/// header cannot be read yet (the events wait for a fixed config). An agent without a
/// collector does not collect undeliverable events.
pub(crate) fn keeps_outbox(resolved: &ResolvedOtlp) -> bool {
    match resolved {
        Ok(settings) => settings.is_some(),
        Err(_) => true,
    }
}

/// Where the stored state and the alert events go once a run is judged: the one-shot CLI
/// pushes them once over OTLP ([`PushOnce`]); the daemon wakes its exporter and refreshes
/// its scrape page. A new sink implements this and is handed to the run pipeline.
pub(crate) trait Publish {
    /// Called after the run's verdicts and events are committed. Problems are logged, never
    /// returned: the results are stored, and undelivered events wait in the outbox.
    fn run_judged(&self, store: &Store);
}

/// Pushes the state and the alert events once, when OTLP export is configured.
pub(crate) struct PushOnce(pub ResolvedOtlp);

impl Publish for PushOnce {
    fn run_judged(&self, store: &Store) {
        let settings = match &self.0 {
            Ok(Some(settings)) => settings,
            Ok(None) => return,
            Err(e) => {
                eprintln!("warning: {e}; alert events stay in the outbox");
                return;
            }
        };
        let fingerprint = match latest_fingerprint(store) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("warning: OTLP export skipped: {e}");
                return;
            }
        };
        // Two request timeouts: the metrics and one batch of events, with a little slack.
        let deadline = settings.metrics.timeout * 2 + std::time::Duration::from_secs(1);
        let report = otlp::exporter::export_once(store, settings, &fingerprint, deadline);
        let endpoint = otlp::settings::shown_endpoint(&settings.metrics.endpoint);
        match report.result {
            Ok(()) => tracing::info!(
                endpoint = %endpoint,
                events = report.delivered,
                "exported the metrics and the alert events over OTLP"
            ),
            Err(e) => eprintln!(
                "warning: OTLP export to {endpoint} failed: {e}; {} alert event{} stay in the outbox for the next run or the daemon",
                report.backlog,
                if report.backlog == 1 { "" } else { "s" }
            ),
        }
    }
}

/// The OpenTelemetry resource of this agent (listed in `docs/metrics.md`): who is reporting.
pub fn resource(fingerprint: &str) -> Vec<(&'static str, String)> {
    let host = sysinfo::System::host_name().unwrap_or_else(|| "unknown".into());
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "x86",
        "arm" => "arm32",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        other => other,
    };
    vec![
        ("service.name", "perfwarden".to_string()),
        ("service.version", env!("CARGO_PKG_VERSION").to_string()),
        ("service.instance.id", host.clone()),
        ("host.name", host),
        ("host.arch", arch.to_string()),
        ("os.type", std::env::consts::OS.to_string()),
        (
            "os.version",
            sysinfo::System::kernel_version().unwrap_or_default(),
        ),
        ("perfwarden.fingerprint", fingerprint.to_string()),
        ("host.cpu.model.name", hardware().cpu_model.clone()),
        ("perfwarden.hardware.class", hardware().hardware_class()),
    ]
}

/// This host's hardware, read once: the resource names what the agent runs on now.
fn hardware() -> &'static crate::model::records::Fingerprint {
    static HARDWARE: std::sync::OnceLock<crate::model::records::Fingerprint> =
        std::sync::OnceLock::new();
    HARDWARE.get_or_init(crate::runner::fingerprint::collect)
}
