//! The quiet-host gate: a benchmark run on a busy host measures the neighbours, not the
//! host, and would open false regressions. Before a scheduled suite the daemon reads the
//! load average per CPU, the CPU busy share over a short window, the available memory and
//! the frequency governor; a busy host postpones the suite with exponential backoff up to
//! `max_delay`, after which the suite runs flagged noisy or is skipped (config). A run that
//! nobody scheduled (`perfwarden run`, a manual run through the daemon) does not wait: one
//! reading ([`one_reading`]) is recorded with it, and a busy host flags it noisy, so its
//! verdicts know the noise they were measured in.
//!
//! Readings come from `/proc/loadavg`, `/proc/stat`, `/proc/meminfo` and
//! `/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor` (the unit must not use
//! `ProcSubset=pid`, which hides the first three). Parsing is separate from reading so the
//! decisions are tested on fixed text.

use std::time::Duration;

use crate::config::QuietConfig;
use crate::model::records::{GateOutcome, HostReadings, QuietGateRecord};

/// Cumulative CPU times from the `cpu` line of `/proc/stat`: (busy, total) in ticks.
pub(crate) fn parse_stat_totals(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<Vec<u64>>>()?;
    if fields.len() < 4 {
        return None;
    }
    // user nice system idle iowait irq softirq steal guest guest_nice; guest time is
    // already counted in user, so only the first eight add up to the total.
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields[3] + fields.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// The 1-minute load average from `/proc/loadavg`.
pub(crate) fn parse_loadavg(text: &str) -> Option<f64> {
    text.split_whitespace().next()?.parse().ok()
}

/// `MemAvailable / MemTotal` from `/proc/meminfo`.
pub(crate) fn parse_available_memory(meminfo: &str) -> Option<f64> {
    let field = |name: &str| -> Option<f64> {
        meminfo
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let total = field("MemTotal:")?;
    let available = field("MemAvailable:")?;
    (total > 0.0).then(|| available / total)
}

/// The busy share between two `/proc/stat` readings.
pub(crate) fn busy_share(before: (u64, u64), after: (u64, u64)) -> f64 {
    let busy = after.0.saturating_sub(before.0) as f64;
    let total = after.1.saturating_sub(before.1) as f64;
    if total > 0.0 { busy / total } else { 0.0 }
}

/// Reads the host; blocks for `cpu_sample` to measure the CPU busy share.
/// Why the host's load could not be read (the gate is then skipped, and says why).
#[derive(Debug, thiserror::Error)]
pub(crate) enum HostReadError {
    #[error("cannot read {path}: {source} (does the unit set ProcSubset=pid? it hides this file)")]
    Unreadable {
        path: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot parse {0}")]
    Unparsable(&'static str),
}

pub(crate) fn read_host(cpu_sample: Duration) -> Result<HostReadings, HostReadError> {
    let read = |path: &'static str| {
        std::fs::read_to_string(path).map_err(|source| HostReadError::Unreadable { path, source })
    };
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    let unparsable = HostReadError::Unparsable;
    let load = parse_loadavg(&read("/proc/loadavg")?).ok_or(unparsable("/proc/loadavg"))?;
    let before = parse_stat_totals(&read("/proc/stat")?).ok_or(unparsable("/proc/stat"))?;
    std::thread::sleep(cpu_sample);
    let after = parse_stat_totals(&read("/proc/stat")?).ok_or(unparsable("/proc/stat"))?;
    let available =
        parse_available_memory(&read("/proc/meminfo")?).ok_or(unparsable("/proc/meminfo"))?;
    let governor = std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
        .ok()
        .map(|g| g.trim().to_string())
        .filter(|g| !g.is_empty());
    Ok(HostReadings {
        load_per_cpu: load / cpus,
        cpu_busy: busy_share(before, after),
        available_memory: available,
        governor,
    })
}

/// The longest CPU sample of a one-shot reading: a manual run should not wait for it.
pub(crate) const ONE_SHOT_CPU_SAMPLE: Duration = Duration::from_secs(1);

/// One reading of the host before a run that does not wait for a quiet host: `quiet` when
/// it is, `noisy` (with the reasons) when it is busy, `quiet` with the error as reason
/// when the host cannot be read.
pub(crate) fn one_reading(config: &QuietConfig) -> QuietGateRecord {
    match read_host(config.cpu_sample.min(ONE_SHOT_CPU_SAMPLE)) {
        Ok(readings) => {
            let reasons = busy_reasons(&readings, config);
            QuietGateRecord {
                outcome: if reasons.is_empty() {
                    GateOutcome::Quiet
                } else {
                    GateOutcome::Noisy
                },
                postponed_secs: 0.0,
                checks: 1,
                reasons,
                readings: Some(readings),
            }
        }
        Err(error) => QuietGateRecord {
            outcome: GateOutcome::Quiet,
            postponed_secs: 0.0,
            checks: 1,
            reasons: vec![error.to_string()],
            readings: None,
        },
    }
}

/// Why the host counts as busy; empty when it is quiet.
pub(crate) fn busy_reasons(readings: &HostReadings, config: &QuietConfig) -> Vec<String> {
    let mut reasons = Vec::new();
    if readings.load_per_cpu > config.max_load_per_cpu {
        reasons.push(format!(
            "load {:.2} per CPU > {:.2}",
            readings.load_per_cpu, config.max_load_per_cpu
        ));
    }
    if readings.cpu_busy > config.max_cpu_busy {
        reasons.push(format!(
            "CPU {:.0}% busy > {:.0}%",
            readings.cpu_busy * 100.0,
            config.max_cpu_busy * 100.0
        ));
    }
    if readings.available_memory < config.min_available_memory {
        reasons.push(format!(
            "{:.0}% memory available < {:.0}%",
            readings.available_memory * 100.0,
            config.min_available_memory * 100.0
        ));
    }
    if !config.governors.is_empty() {
        match &readings.governor {
            Some(g) if !config.governors.iter().any(|allowed| allowed == g) => reasons.push(
                format!("CPU governor \"{g}\" not in {:?}", config.governors),
            ),
            _ => {}
        }
    }
    reasons
}

/// The wait after the `attempt`-th busy reading (0-based): `initial_backoff` doubling up to
/// `max_backoff`.
pub(crate) fn backoff(attempt: u32, config: &QuietConfig) -> Duration {
    let factor = 2u32.saturating_pow(attempt.min(20));
    config
        .initial_backoff
        .saturating_mul(factor)
        .min(config.max_backoff)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\n";
    const STAT_LATER: &str = "cpu  250 0 100 850 50 0 0 0 0 0\n";
    const MEMINFO: &str =
        "MemTotal:       16000000 kB\nMemFree:         1000000 kB\nMemAvailable:    4000000 kB\n";

    #[test]
    fn parses_proc_files() {
        assert_eq!(parse_stat_totals(STAT), Some((150, 1000)));
        assert_eq!(parse_loadavg("0.52 0.40 0.31 2/345 6789\n"), Some(0.52));
        assert_eq!(parse_available_memory(MEMINFO), Some(0.25));
        // 200 busy ticks of 250: 80% busy.
        let share = busy_share(
            parse_stat_totals(STAT).unwrap(),
            parse_stat_totals(STAT_LATER).unwrap(),
        );
        assert!((share - 0.8).abs() < 1e-12, "{share}");
        assert_eq!(parse_stat_totals("intr 1 2 3\n"), None);
    }

    fn readings(load: f64, busy: f64, memory: f64, governor: Option<&str>) -> HostReadings {
        HostReadings {
            load_per_cpu: load,
            cpu_busy: busy,
            available_memory: memory,
            governor: governor.map(str::to_string),
        }
    }

    #[test]
    fn each_threshold_makes_the_host_busy_with_a_reason() {
        let config = QuietConfig::default();
        assert!(busy_reasons(&readings(0.1, 0.05, 0.8, Some("powersave")), &config).is_empty());
        let reasons = busy_reasons(&readings(1.9, 0.95, 0.1, None), &config);
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].starts_with("load 1.90 per CPU"));
        assert!(reasons[1].starts_with("CPU 95% busy"));
        assert!(reasons[2].starts_with("10% memory available"));
        let strict = QuietConfig {
            governors: vec!["performance".into()],
            ..QuietConfig::default()
        };
        assert_eq!(
            busy_reasons(&readings(0.1, 0.05, 0.8, Some("powersave")), &strict).len(),
            1
        );
        // An unreadable governor (VMs, containers) does not block the gate.
        assert!(busy_reasons(&readings(0.1, 0.05, 0.8, None), &strict).is_empty());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let config = QuietConfig::default();
        let waits: Vec<u64> = (0..7).map(|a| backoff(a, &config).as_secs()).collect();
        assert_eq!(waits, vec![60, 120, 240, 480, 900, 900, 900]);
        assert_eq!(backoff(u32::MAX, &config).as_secs(), 900);
    }

    #[test]
    fn reads_this_host() {
        let r = read_host(Duration::from_millis(100)).expect("proc is readable");
        assert!(r.load_per_cpu >= 0.0);
        assert!((0.0..=1.0).contains(&r.cpu_busy));
        assert!((0.0..=1.0).contains(&r.available_memory));
    }
}
