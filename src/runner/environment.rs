//! The software environment a run is measured under: kernel release and command line, OS
//! release, CPU microcode, the kernel's CPU vulnerability mitigations, SMT, the frequency
//! governor, transparent huge pages, a few scheduler and VM sysctls, the C library, the
//! agent's version and the packages the config names.
//!
//! Kernel and microcode updates are among the most common causes of host-wide regressions,
//! so each run records these and a change between two runs of a benchmark is *measured*:
//! the run after it is judged against the baseline from before, and its report and events
//! name the change (`kernel 6.1.0-26 → 6.1.0-28`). Nothing here splits baselines.
//!
//! Every field is read best effort from files any user can read; a field that cannot be
//! read is `None` ("unknown"), never an error: a host without `/sys` still runs its suites.
//! Packages come from dpkg's status file or, on rpm hosts, `rpm -q`; a listed package that
//! is not installed is `absent`, and with no package database it is `unknown`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::model::records::{EnvironmentDiff, FieldChange, PackageState, SoftwareEnvironment};

/// Sysctls recorded with every run: scheduler and memory settings that move results.
pub(crate) const SYSCTLS: &[&str] = &[
    "kernel.numa_balancing",
    "kernel.sched_autogroup_enabled",
    "vm.swappiness",
    "vm.overcommit_memory",
    "vm.dirty_ratio",
    "vm.dirty_background_ratio",
    "vm.zone_reclaim_mode",
];

/// Where the readings come from: the real root, or a fixture tree in tests.
#[derive(Debug, Clone)]
pub(crate) struct Sources<'a> {
    /// Prefix of `/proc`, `/sys` and `/var/lib/dpkg` (`/` on a real host).
    pub root: &'a Path,
    /// The `rpm` program to ask when there is no dpkg database but an rpm one
    /// (`var/lib/rpm` under `root`); `None`: never ask.
    pub rpm: Option<&'a Path>,
}

impl Sources<'static> {
    /// This host.
    pub(crate) fn host() -> Sources<'static> {
        Sources {
            root: Path::new("/"),
            rpm: Some(Path::new("rpm")),
        }
    }
}

fn read(sources: &Sources, path: &str) -> Option<String> {
    let full = sources.root.join(path.trim_start_matches('/'));
    std::fs::read_to_string(full)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Reads the software environment of this host; `packages` are the names to look up.
pub fn collect(packages: &[String]) -> SoftwareEnvironment {
    let mut environment = collect_from(&Sources::host(), packages);
    environment.os = sysinfo::System::name();
    environment.os_version = sysinfo::System::os_version();
    environment
}

/// [`collect`] from `sources` (the OS release is read from `etc/os-release` there).
pub(crate) fn collect_from(sources: &Sources, packages: &[String]) -> SoftwareEnvironment {
    let os_release = read(sources, "etc/os-release").unwrap_or_default();
    let os_field = |key: &str| {
        os_release.lines().find_map(|line| {
            line.strip_prefix(key)
                .and_then(|rest| rest.strip_prefix('='))
                .map(|v| v.trim_matches('"').to_string())
        })
    };
    SoftwareEnvironment {
        kernel: read(sources, "proc/sys/kernel/osrelease"),
        kernel_cmdline: read(sources, "proc/cmdline"),
        os: os_field("NAME"),
        os_version: os_field("VERSION_ID"),
        microcode: read(sources, "proc/cpuinfo").and_then(|c| microcode(&c)),
        mitigations: mitigations(sources),
        smt: read(sources, "sys/devices/system/cpu/smt/control"),
        governor: read(
            sources,
            "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor",
        ),
        transparent_hugepages: read(sources, "sys/kernel/mm/transparent_hugepage/enabled")
            .map(|t| selected(&t)),
        sysctls: SYSCTLS
            .iter()
            .filter_map(|name| {
                read(sources, &format!("proc/sys/{}", name.replace('.', "/")))
                    .map(|v| (name.to_string(), v))
            })
            .collect(),
        libc: libc_version(),
        agent_version: Some(env!("CARGO_PKG_VERSION").to_string()),
        packages: package_states(sources, packages),
    }
}

/// The `microcode` line of the first CPU in `/proc/cpuinfo` (x86; other architectures
/// have none).
pub(crate) fn microcode(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "microcode").then(|| value.trim().to_string())
    })
}

/// The bracketed choice of a kernel selector file: `always [madvise] never` → `madvise`.
fn selected(text: &str) -> String {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix('[').and_then(|w| w.strip_suffix(']')))
        .unwrap_or(text)
        .to_string()
}

fn mitigations(sources: &Sources) -> Option<BTreeMap<String, String>> {
    let dir = sources.root.join("sys/devices/system/cpu/vulnerabilities");
    let entries = std::fs::read_dir(dir).ok()?;
    let mut out = BTreeMap::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Ok(text) = std::fs::read_to_string(entry.path()) {
            out.insert(name, text.trim().to_string());
        }
    }
    Some(out)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn libc_version() -> Option<String> {
    // SAFETY: gnu_get_libc_version returns a pointer to a static NUL-terminated string.
    let version = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
    version.to_str().ok().map(|v| format!("glibc {v}"))
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn libc_version() -> Option<String> {
    None
}

/// The state of each of `names` in dpkg's status file, else from `rpm -q`.
fn package_states(sources: &Sources, names: &[String]) -> BTreeMap<String, PackageState> {
    if names.is_empty() {
        return BTreeMap::new();
    }
    if let Some(status) = read(sources, "var/lib/dpkg/status") {
        let installed = dpkg_installed(&status);
        return names
            .iter()
            .map(|name| {
                let state = installed
                    .get(name.as_str())
                    .map(|v| PackageState::Installed(v.clone()))
                    .unwrap_or(PackageState::Absent);
                (name.clone(), state)
            })
            .collect();
    }
    names
        .iter()
        .map(|name| {
            let state = match sources.rpm {
                Some(program) if sources.root.join("var/lib/rpm").is_dir() => {
                    rpm_state(program, name)
                }
                _ => PackageState::Unknown,
            };
            (name.clone(), state)
        })
        .collect()
}

/// Installed packages of a dpkg status file: name → version (architecture-qualified
/// duplicates keep the first).
pub(crate) fn dpkg_installed(status: &str) -> BTreeMap<&str, String> {
    let mut out = BTreeMap::new();
    for stanza in status.split("\n\n") {
        let mut package = None;
        let mut version = None;
        let mut installed = false;
        for line in stanza.lines() {
            if let Some(v) = line.strip_prefix("Package: ") {
                package = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Version: ") {
                version = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("Status: ") {
                installed = v.trim().ends_with(" installed");
            }
        }
        if let (Some(package), Some(version), true) = (package, version, installed) {
            out.entry(package).or_insert(version);
        }
    }
    out
}

/// `rpm -q NAME`: its version-release (several installed versions, as kernels are, joined
/// with ", "), absent when rpm says it is not installed, unknown when rpm cannot answer.
fn rpm_state(program: &Path, name: &str) -> PackageState {
    let output = std::process::Command::new(program)
        .args(["-q", "--qf", "%{VERSION}-%{RELEASE}\\n", name])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    match output {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let versions: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            if versions.is_empty() {
                PackageState::Unknown
            } else {
                PackageState::Installed(versions.join(", "))
            }
        }
        // rpm answers 1 for "package … is not installed".
        Ok(out) if out.status.code() == Some(1) => PackageState::Absent,
        _ => PackageState::Unknown,
    }
}

/// Short stable hash of an environment.
pub(crate) fn hash(environment: &SoftwareEnvironment) -> String {
    environment.short_hash()
}

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "unknown".into())
}

fn package_text(state: Option<&PackageState>) -> String {
    match state {
        Some(PackageState::Installed(version)) => version.clone(),
        Some(PackageState::Absent) => "absent".into(),
        Some(PackageState::Unknown) | None => "unknown".into(),
    }
}

/// What changed from `old` to `new`, field by field, in a fixed order (kernel first). A
/// field unknown before is not a change (it was not recorded, e.g. in runs stored before
/// the field existed, or it became readable); one that became unknown is.
pub(crate) fn differences(
    old: &SoftwareEnvironment,
    new: &SoftwareEnvironment,
) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let mut field = |name: &str, before: String, after: String| {
        if before != after && before != "unknown" {
            out.push(FieldChange {
                field: name.to_string(),
                before,
                after,
            });
        }
    };
    field("kernel", text(&old.kernel), text(&new.kernel));
    field("microcode", text(&old.microcode), text(&new.microcode));
    field(
        "kernel_cmdline",
        text(&old.kernel_cmdline),
        text(&new.kernel_cmdline),
    );
    field("os", text(&old.os), text(&new.os));
    field("os_version", text(&old.os_version), text(&new.os_version));
    match (&old.mitigations, &new.mitigations) {
        (Some(a), Some(b)) => {
            let names: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for name in names {
                field(
                    &format!("mitigations.{name}"),
                    a.get(name).cloned().unwrap_or_else(|| "unknown".into()),
                    b.get(name).cloned().unwrap_or_else(|| "unknown".into()),
                );
            }
        }
        (Some(_), None) => field("mitigations", "read".into(), "unknown".into()),
        _ => {}
    }
    field("smt", text(&old.smt), text(&new.smt));
    field("governor", text(&old.governor), text(&new.governor));
    field(
        "transparent_hugepages",
        text(&old.transparent_hugepages),
        text(&new.transparent_hugepages),
    );
    let sysctls: std::collections::BTreeSet<&String> =
        old.sysctls.keys().chain(new.sysctls.keys()).collect();
    for name in sysctls {
        field(
            &format!("sysctl.{name}"),
            text(&old.sysctls.get(name).cloned()),
            text(&new.sysctls.get(name).cloned()),
        );
    }
    field("libc", text(&old.libc), text(&new.libc));
    field(
        "agent_version",
        text(&old.agent_version),
        text(&new.agent_version),
    );
    let packages: std::collections::BTreeSet<&String> =
        old.packages.keys().chain(new.packages.keys()).collect();
    for name in packages {
        field(
            &format!("package.{name}"),
            package_text(old.packages.get(name)),
            package_text(new.packages.get(name)),
        );
    }
    out
}

/// The difference between two stored environments as a [`EnvironmentDiff`]; `None` when
/// nothing differs.
pub(crate) fn diff(
    since_run: u64,
    old: &SoftwareEnvironment,
    new: &SoftwareEnvironment,
) -> Option<EnvironmentDiff> {
    let changes = differences(old, new);
    (!changes.is_empty()).then_some(EnvironmentDiff { since_run, changes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }

    #[test]
    fn reads_a_host_tree() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "proc/sys/kernel/osrelease", "6.1.0-28-amd64\n");
        write(
            root,
            "proc/cmdline",
            "BOOT_IMAGE=/vmlinuz root=/dev/sda1 mitigations=auto\n",
        );
        write(
            root,
            "proc/cpuinfo",
            "processor\t: 0\nvendor_id\t: AuthenticAMD\nmicrocode\t: 0xa0011d5\n\nprocessor\t: 1\nmicrocode\t: 0xa0011d5\n",
        );
        write(
            root,
            "sys/devices/system/cpu/vulnerabilities/spectre_v2",
            "Mitigation: Retpolines\n",
        );
        write(
            root,
            "sys/devices/system/cpu/vulnerabilities/mds",
            "Not affected\n",
        );
        write(root, "sys/devices/system/cpu/smt/control", "on\n");
        write(
            root,
            "sys/kernel/mm/transparent_hugepage/enabled",
            "always [madvise] never\n",
        );
        write(root, "proc/sys/vm/swappiness", "60\n");
        write(
            root,
            "etc/os-release",
            "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n",
        );
        write(
            root,
            "var/lib/dpkg/status",
            "Package: openssl\nStatus: install ok installed\nVersion: 3.0.15-1~deb12u1\n\nPackage: nginx\nStatus: deinstall ok config-files\nVersion: 1.22.1-9\n",
        );
        let sources = Sources { root, rpm: None };
        let env = collect_from(
            &sources,
            &["openssl".into(), "nginx".into(), "redis".into()],
        );
        assert_eq!(env.kernel.as_deref(), Some("6.1.0-28-amd64"));
        assert_eq!(env.microcode.as_deref(), Some("0xa0011d5"));
        assert_eq!(env.transparent_hugepages.as_deref(), Some("madvise"));
        assert_eq!(env.smt.as_deref(), Some("on"));
        assert_eq!(env.os.as_deref(), Some("Debian GNU/Linux"));
        assert_eq!(env.os_version.as_deref(), Some("12"));
        assert_eq!(
            env.sysctls.get("vm.swappiness").map(String::as_str),
            Some("60")
        );
        let mitigations = env.mitigations.clone().unwrap();
        assert_eq!(mitigations["spectre_v2"], "Mitigation: Retpolines");
        assert_eq!(
            env.packages["openssl"],
            PackageState::Installed("3.0.15-1~deb12u1".into())
        );
        assert_eq!(
            env.packages["nginx"],
            PackageState::Absent,
            "removed, config kept"
        );
        assert_eq!(env.packages["redis"], PackageState::Absent);
    }

    #[test]
    fn an_empty_host_records_unknowns_and_never_fails() {
        let dir = tempfile::tempdir().unwrap();
        let sources = Sources {
            root: dir.path(),
            rpm: None,
        };
        let env = collect_from(&sources, &["openssl".into()]);
        assert_eq!(env.kernel, None);
        assert_eq!(env.microcode, None);
        assert_eq!(env.mitigations, None);
        assert!(env.sysctls.is_empty());
        assert_eq!(env.packages["openssl"], PackageState::Unknown);
        assert!(env.agent_version.is_some());
    }

    #[test]
    fn an_rpm_host_is_asked_through_rpm_q() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("var/lib/rpm")).unwrap();
        // A stand-in for rpm(8): two kernels, openssl, "not installed" (exit 1) for the
        // rest, and a broken database (exit 2) for one name.
        let rpm = root.join("rpm");
        std::fs::write(
            &rpm,
            "#!/bin/sh\n[ \"$1 $2\" = \"-q --qf\" ] || exit 3\ncase \"$4\" in\n  kernel) printf '5.14.0-427.el9\\n5.14.0-503.el9\\n' ;;\n  openssl) printf '3.0.7-27.el9\\n' ;;\n  broken) echo 'error: rpmdb open failed' >&2; exit 2 ;;\n  *) echo \"package $4 is not installed\"; exit 1 ;;\nesac\n",
        )
        .unwrap();
        std::fs::set_permissions(&rpm, std::fs::Permissions::from_mode(0o755)).unwrap();
        let sources = Sources {
            root,
            rpm: Some(&rpm),
        };
        let names = ["kernel", "openssl", "nginx", "broken"].map(String::from);
        let env = collect_from(&sources, &names);
        assert_eq!(
            env.packages["kernel"],
            PackageState::Installed("5.14.0-427.el9, 5.14.0-503.el9".into())
        );
        assert_eq!(
            env.packages["openssl"],
            PackageState::Installed("3.0.7-27.el9".into())
        );
        assert_eq!(env.packages["nginx"], PackageState::Absent);
        assert_eq!(env.packages["broken"], PackageState::Unknown);
        // No rpm database: rpm is not asked.
        let bare = tempfile::tempdir().unwrap();
        let sources = Sources {
            root: bare.path(),
            rpm: Some(&rpm),
        };
        assert_eq!(
            collect_from(&sources, &names).packages["openssl"],
            PackageState::Unknown
        );
        // A missing rpm program: unknown, never a failed run.
        let sources = Sources {
            root,
            rpm: Some(Path::new("/nonexistent/rpm")),
        };
        assert_eq!(
            collect_from(&sources, &names).packages["openssl"],
            PackageState::Unknown
        );
    }

    #[test]
    fn differences_name_each_field_with_both_values() {
        let mut old = SoftwareEnvironment {
            kernel: Some("6.1.0-26-amd64".into()),
            microcode: Some("0xa0011d1".into()),
            agent_version: Some("0.1.0".into()),
            ..SoftwareEnvironment::default()
        };
        old.packages
            .insert("openssl".into(), PackageState::Installed("3.0.14".into()));
        let mut new = old.clone();
        new.kernel = Some("6.1.0-28-amd64".into());
        new.microcode = Some("0xa0011d5".into());
        new.packages.insert("openssl".into(), PackageState::Absent);
        let diff = diff(7, &old, &new).unwrap();
        assert_eq!(
            diff.summary(),
            "kernel 6.1.0-26-amd64 → 6.1.0-28-amd64; microcode 0xa0011d1 → 0xa0011d5; package.openssl 3.0.14 → absent"
        );
        assert_eq!(super::diff(7, &old, &old), None);
        // Fields not recorded before (a database from before they existed) are no change.
        let mut more = new.clone();
        more.smt = Some("on".into());
        more.sysctls.insert("vm.swappiness".into(), "60".into());
        assert_eq!(super::diff(8, &new, &more), None);
        assert_eq!(
            super::diff(9, &more, &new).unwrap().summary(),
            "smt on → unknown; sysctl.vm.swappiness 60 → unknown"
        );
    }

    #[test]
    fn this_host_reads_without_error() {
        let env = collect(&["definitely-not-a-package-name".into()]);
        assert!(env.kernel.is_some(), "{env:?}");
        assert_ne!(
            env.packages["definitely-not-a-package-name"],
            PackageState::Installed(String::new())
        );
    }
}
