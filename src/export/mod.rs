//! Export: the metric catalog (the single source of names), the exported state computed
//! from the store, and the Prometheus scrape endpoint the daemon serves when
//! `[export.prometheus] listen` is set, and OTLP push ([`otlp`]): the same
//! [`state::collect`] points as metrics, and alert [`events`] delivered from a durable
//! outbox.

pub mod catalog;
pub mod otlp;
pub mod prometheus;
pub mod state;

/// The fingerprint the resource reports: the latest run's, else this host's now.
pub fn latest_fingerprint(store: &crate::store::Store) -> Result<String, crate::store::StoreError> {
    Ok(match store.runs(None, None)?.first() {
        Some(run) => run.fingerprint.clone(),
        None => crate::runner::fingerprint::hash(&crate::runner::fingerprint::collect()),
    })
}

/// Resolves `[export.otlp]` with the process environment, and turns the store's outbox on
/// when OTLP export is configured (even if a header cannot be read yet: the events wait
/// for a fixed config). `Ok(None)`: export is off.
pub fn otlp_settings(
    config: &crate::config::Config,
    store: Option<&crate::store::Store>,
) -> Result<Option<otlp::settings::OtlpSettings>, otlp::settings::SettingsError> {
    let env = |name: &str| std::env::var(name).ok();
    let resolved = otlp::settings::resolve(&config.export.otlp, &env);
    if let Some(store) = store {
        let on = match &resolved {
            Ok(settings) => settings.is_some(),
            Err(_) => true,
        };
        store.set_outbox_enabled(on);
    }
    resolved
}

/// The OpenTelemetry resource of this agent (`../shared/metrics.md`): who is reporting.
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
    ]
}
