//! Splay: each host waits a stable delay after every scheduled time, derived from its
//! machine id, so a fleet with one config does not start its suites (and load tests against
//! shared services) at the same second. Stable per host, so a host's runs stay a week apart
//! and its results comparable; uniform over `[0, max]` across hosts.

use std::time::Duration;

use sha2::{Digest, Sha256};

/// The host's identity: systemd's machine id, else D-Bus's, else the host name.
pub(crate) fn host_id() -> String {
    for path in ["/etc/machine-id", "/var/lib/dbus/machine-id"] {
        if let Ok(id) = std::fs::read_to_string(path) {
            let id = id.trim();
            if !id.is_empty() {
                return id.to_string();
            }
        }
    }
    sysinfo::System::host_name().unwrap_or_else(|| "unknown-host".into())
}

/// The delay of `host_id` within `[0, max]`, at millisecond resolution.
pub(crate) fn splay_for(host_id: &str, max: Duration) -> Duration {
    let max_ms = max.as_millis().min(u64::MAX as u128) as u64;
    if max_ms == 0 {
        return Duration::ZERO;
    }
    let digest = Sha256::digest(format!("perfwarden-splay:{host_id}").as_bytes());
    let value = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
    Duration::from_millis(value % (max_ms + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splay_is_stable_per_host_and_within_bounds() {
        let max = Duration::from_secs(30 * 60);
        let mut distinct = std::collections::BTreeSet::new();
        let mut sum = 0.0;
        let hosts = 2000;
        for i in 0..hosts {
            let id = format!("{i:032x}");
            let splay = splay_for(&id, max);
            assert!(splay <= max, "{id}: {splay:?} > {max:?}");
            assert_eq!(splay, splay_for(&id, max), "stable for {id}");
            distinct.insert(splay);
            sum += splay.as_secs_f64();
        }
        // Spread over the window: nearly all distinct, mean near the middle.
        assert!(distinct.len() > hosts * 99 / 100);
        let mean = sum / hosts as f64;
        assert!((mean - 900.0).abs() < 60.0, "mean splay {mean}s");
        assert_eq!(splay_for("any", Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn this_host_has_an_id() {
        assert!(!host_id().is_empty());
    }
}
