//! Export: the metric catalog (the single source of names), the exported state computed
//! from the store, and the Prometheus scrape endpoint the daemon serves when
//! `[export.prometheus] listen` is set. OTLP push (metrics and regression events with a
//! durable outbox) is the next stage and will export the same [`state::collect`] points.

pub mod catalog;
pub mod prometheus;
pub mod state;

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
