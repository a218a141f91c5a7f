//! The memory this process may use, read the way the kernel enforces it, so a probe that
//! allocates a large block stays inside it.
//!
//! A service's `MemoryHigh=` and `MemoryMax=` are `memory.high` and `memory.max` of its
//! cgroup (cgroup v2 at `/sys/fs/cgroup`, or the `unified` hierarchy of a hybrid host);
//! with the v1 memory controller, `MemoryMax=` is `memory.limit_in_bytes`. A parent's
//! limit binds as well, so the tightest one on the path from the process's cgroup to the
//! root counts. Above `memory.high` the kernel throttles the whole process (every thread,
//! the event loop that pings systemd's watchdog among them), so exceeding it does not fail
//! a probe: it stalls the daemon until the watchdog kills it. Hence the probes check
//! before they allocate, and `check` refuses a cap the service cannot hold.

use std::path::{Path, PathBuf};

/// What the probe leaves free below the limit for the rest of the process (its database
/// cache, the runtime, the page cache its cgroup is charged for).
pub(crate) const HEADROOM_BYTES: u64 = 128 * 1024 * 1024;

/// The tightest memory limit on this process's cgroup path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MemoryLimit {
    pub bytes: u64,
    /// Where it comes from, e.g. `memory.high of /system.slice/perfwarden.service`.
    pub source: String,
    /// What the cgroup uses now (`memory.current`, `memory.usage_in_bytes`), if readable.
    pub used: Option<u64>,
}

impl MemoryLimit {
    /// The largest block a probe may allocate now: below the limit, after what is in use
    /// and the headroom.
    pub(crate) fn room(&self) -> u64 {
        self.bytes
            .saturating_sub(self.used.unwrap_or(0))
            .saturating_sub(HEADROOM_BYTES)
    }
}

/// This process's memory limit; `None` when no cgroup on its path sets one.
pub(crate) fn memory_limit() -> Option<MemoryLimit> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    memory_limit_from(&cgroups, Path::new("/sys/fs/cgroup"), |path| {
        std::fs::read_to_string(path).ok()
    })
}

/// A value read from a limit file: a byte count, or `None` for `max` and v1's "no limit"
/// (a page-rounded `i64::MAX`).
fn limit_value(text: &str) -> Option<u64> {
    let value: u64 = text.trim().parse().ok()?;
    (value < 1 << 62).then_some(value)
}

/// [`memory_limit`] over `/proc/self/cgroup`'s text, a cgroup file system root and a file
/// reader (so tests give each layout).
pub(crate) fn memory_limit_from(
    cgroups: &str,
    root: &Path,
    read: impl Fn(&Path) -> Option<String>,
) -> Option<MemoryLimit> {
    let mut candidates: Vec<(PathBuf, &str, &[&str], &str)> = Vec::new();
    for line in cgroups.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if controllers.is_empty() {
            // v2: at the root on a unified host, under `unified` on a hybrid one.
            for base in [root.to_path_buf(), root.join("unified")] {
                candidates.push((base, path, &["memory.high", "memory.max"], "memory.current"));
            }
        } else if controllers.split(',').any(|c| c == "memory") {
            candidates.push((
                root.join("memory"),
                path,
                &["memory.limit_in_bytes"],
                "memory.usage_in_bytes",
            ));
        }
    }
    let mut tightest: Option<MemoryLimit> = None;
    for (base, path, files, usage) in candidates {
        let leaf = base.join(path.trim_start_matches('/'));
        let used = read(&leaf.join(usage)).and_then(|t| t.trim().parse().ok());
        let mut dir = leaf.as_path();
        loop {
            for file in files {
                if let Some(bytes) = read(&dir.join(file)).as_deref().and_then(limit_value)
                    && tightest.as_ref().is_none_or(|t| bytes < t.bytes)
                {
                    let shown = dir.strip_prefix(&base).unwrap_or(dir);
                    tightest = Some(MemoryLimit {
                        bytes,
                        source: format!("{file} of /{}", shown.display()),
                        used,
                    });
                }
            }
            match dir.parent() {
                Some(parent) if dir != base => dir = parent,
                _ => break,
            }
        }
    }
    tightest
}

/// A `/proc/meminfo` field (`MemTotal`, `MemAvailable`), in bytes.
pub(crate) fn meminfo_bytes(field: &str) -> Result<u64, String> {
    let text = std::fs::read_to_string("/proc/meminfo")
        .map_err(|e| format!("cannot read /proc/meminfo: {e}"))?;
    text.lines()
        .find(|l| {
            l.strip_prefix(field)
                .is_some_and(|rest| rest.starts_with(':'))
        })
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| format!("/proc/meminfo has no {field}"))
}

/// `MemTotal`, in bytes.
pub(crate) fn host_memory_bytes() -> Option<u64> {
    meminfo_bytes("MemTotal").ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn files(entries: &[(&str, &str)]) -> impl Fn(&Path) -> Option<String> {
        let map: HashMap<PathBuf, String> = entries
            .iter()
            .map(|(p, v)| (PathBuf::from(p), v.to_string()))
            .collect();
        move |path| map.get(path).cloned()
    }

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn a_v2_service_gets_its_memory_high_with_what_it_uses() {
        let read = files(&[
            (
                "/cg/system.slice/perfwarden.service/memory.high",
                "1610612736\n",
            ),
            (
                "/cg/system.slice/perfwarden.service/memory.max",
                "2147483648\n",
            ),
            (
                "/cg/system.slice/perfwarden.service/memory.current",
                "52428800\n",
            ),
            ("/cg/system.slice/memory.high", "max\n"),
        ]);
        let limit = memory_limit_from(
            "0::/system.slice/perfwarden.service\n",
            Path::new("/cg"),
            read,
        )
        .unwrap();
        assert_eq!(limit.bytes, 1536 * MIB);
        assert_eq!(
            limit.source,
            "memory.high of /system.slice/perfwarden.service"
        );
        assert_eq!(limit.used, Some(50 * MIB));
        assert_eq!(limit.room(), (1536 - 50 - 128) * MIB);
    }

    #[test]
    fn a_parent_slice_that_is_tighter_binds() {
        let read = files(&[
            ("/cg/system.slice/perfwarden.service/memory.high", "max"),
            (
                "/cg/system.slice/perfwarden.service/memory.max",
                "2147483648",
            ),
            ("/cg/system.slice/memory.max", "536870912"),
        ]);
        let limit = memory_limit_from(
            "0::/system.slice/perfwarden.service",
            Path::new("/cg"),
            read,
        )
        .unwrap();
        assert_eq!(limit.bytes, 512 * MIB);
        assert_eq!(limit.source, "memory.max of /system.slice");
    }

    #[test]
    fn hybrid_and_v1_layouts_are_read() {
        let cgroups = "4:memory:/system.slice/perfwarden.service\n1:name=systemd:/system.slice/perfwarden.service\n0::/system.slice/perfwarden.service\n";
        let hybrid = files(&[(
            "/cg/unified/system.slice/perfwarden.service/memory.high",
            "1610612736",
        )]);
        let limit = memory_limit_from(cgroups, Path::new("/cg"), hybrid).unwrap();
        assert_eq!(limit.bytes, 1536 * MIB);
        let v1 = files(&[
            (
                "/cg/memory/system.slice/perfwarden.service/memory.limit_in_bytes",
                "2147483648",
            ),
            (
                "/cg/memory/system.slice/perfwarden.service/memory.usage_in_bytes",
                "1048576",
            ),
            // v1's "no limit".
            (
                "/cg/memory/system.slice/memory.limit_in_bytes",
                "9223372036854771712",
            ),
        ]);
        let limit = memory_limit_from(cgroups, Path::new("/cg"), v1).unwrap();
        assert_eq!(limit.bytes, 2048 * MIB);
        assert_eq!(
            limit.source,
            "memory.limit_in_bytes of /system.slice/perfwarden.service"
        );
        assert_eq!(limit.used, Some(MIB));
    }

    #[test]
    fn no_limit_anywhere_is_none() {
        let read = files(&[
            ("/cg/user.slice/memory.max", "max"),
            ("/cg/user.slice/memory.high", "max"),
        ]);
        assert_eq!(
            memory_limit_from("0::/user.slice", Path::new("/cg"), read),
            None
        );
        assert_eq!(memory_limit_from("", Path::new("/cg"), files(&[])), None);
    }

    #[test]
    fn room_never_goes_below_zero() {
        let limit = MemoryLimit {
            bytes: 100 * MIB,
            source: String::new(),
            used: Some(90 * MIB),
        };
        assert_eq!(limit.room(), 0);
    }
}
