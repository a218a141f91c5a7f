//! `[export]`: where the agent's metrics go. For now the Prometheus scrape endpoint
//! (`[export.prometheus] listen`), off by default.

use std::net::SocketAddr;

use super::Problems;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportConfig {
    /// Address of the Prometheus endpoint the daemon serves; `None`: no endpoint.
    pub prometheus_listen: Option<SocketAddr>,
}

/// Validates the merged `[export.prometheus]` table.
pub(super) fn validate(prometheus: toml::Table, problems: &mut Problems) -> ExportConfig {
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
    config
}
