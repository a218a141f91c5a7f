//! The hardware identity: what must stay the same for two results to be comparable at all.
//!
//! Only stable fields of the machine are used — CPU model, physical and logical cores,
//! total memory (rounded), architecture, virtualisation. Jittery fields (current MHz,
//! bogomips, free memory, uptime) are left out, and so is the software: a kernel, OS or
//! agent upgrade is a change to *measure* against the old baseline (`super::environment`),
//! not a reason to start a new one. The short hash is the first 12 hex digits of SHA-256
//! over the canonical JSON of the fields.

use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};

use crate::model::records::Fingerprint;

/// Reads the fingerprint of this host.
pub fn collect() -> Fingerprint {
    let system = System::new_with_specifics(
        RefreshKind::nothing()
            .with_cpu(CpuRefreshKind::nothing())
            .with_memory(MemoryRefreshKind::nothing().with_ram()),
    );
    let cpu_model = system
        .cpus()
        .first()
        .map(|cpu| cpu.brand().trim().to_string())
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "unknown".into());
    Fingerprint {
        cpu_model,
        physical_cores: System::physical_core_count().unwrap_or(0),
        logical_cores: system.cpus().len(),
        memory_total_mib: (system.total_memory() / (1024 * 1024)) / 256 * 256,
        arch: System::cpu_arch(),
        virtualization: detect_virtualization(),
    }
}

/// Short stable hash of a fingerprint.
pub(crate) fn hash(fingerprint: &Fingerprint) -> String {
    fingerprint.short_hash()
}

/// Names of the fields that differ between two fingerprints.
pub fn changed_fields(old: &Fingerprint, new: &Fingerprint) -> Vec<String> {
    let old = serde_json::to_value(old).expect("fingerprint serializes");
    let new = serde_json::to_value(new).expect("fingerprint serializes");
    let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else {
        return Vec::new();
    };
    old.iter()
        .filter(|(key, value)| new.get(*key) != Some(value))
        .map(|(key, _)| key.clone())
        .collect()
}

/// Best effort, from files readable without privileges: container markers first, then
/// the DMI vendor strings, then the CPU `hypervisor` flag. Every user must get the same
/// answer (the daemon's user under `ProtectProc=invisible` and root alike), or the two
/// would keep starting new baselines: systemd's world-readable `/run/systemd/container`
/// comes before `/proc/1/environ`, which only root may read.
fn detect_virtualization() -> String {
    virtualization_under(std::path::Path::new("/"))
}

fn virtualization_under(root: &std::path::Path) -> String {
    if root.join(".dockerenv").exists() {
        return "container:docker".into();
    }
    if root.join("run/.containerenv").exists() {
        return "container:podman".into();
    }
    if std::fs::read_to_string(root.join("run/systemd/container"))
        .is_ok_and(|manager| !manager.trim().is_empty())
    {
        return "container".into();
    }
    if let Ok(env) = std::fs::read(root.join("proc/1/environ")) {
        if env.windows(10).any(|w| w == b"container=") {
            return "container".into();
        }
    }
    let dmi = ["sys_vendor", "product_name"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(root.join("sys/class/dmi/id").join(f)).ok())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    for (needle, name) in [
        ("qemu", "kvm"),
        ("kvm", "kvm"),
        ("vmware", "vmware"),
        ("virtualbox", "virtualbox"),
        ("microsoft", "hyperv"),
        ("amazon ec2", "amazon"),
        ("google", "google"),
        ("xen", "xen"),
        ("firecracker", "firecracker"),
        ("cloud hypervisor", "cloud-hypervisor"),
    ] {
        if dmi.contains(needle) {
            return name.into();
        }
    }
    if let Ok(cpuinfo) = std::fs::read_to_string(root.join("proc/cpuinfo")) {
        if cpuinfo
            .lines()
            .any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "hypervisor"))
        {
            return "vm".into();
        }
    }
    "none".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_is_seen_by_every_user_through_systemds_marker() {
        let root = tempfile::tempdir().unwrap();
        let put = |path: &str, text: &str| {
            let file = root.path().join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        };
        put("proc/cpuinfo", "flags\t\t: fpu hypervisor\n");
        assert_eq!(virtualization_under(root.path()), "vm");
        put("sys/class/dmi/id/sys_vendor", "QEMU\n");
        assert_eq!(virtualization_under(root.path()), "kvm");
        // What a user who may not read /proc/1/environ sees inside systemd-nspawn, the
        // same as root, who reads it.
        put("run/systemd/container", "systemd-nspawn\n");
        assert_eq!(virtualization_under(root.path()), "container");
        std::fs::remove_file(root.path().join("run/systemd/container")).unwrap();
        put("proc/1/environ", "container=systemd-nspawn\0");
        assert_eq!(virtualization_under(root.path()), "container");
    }

    #[test]
    fn collection_is_stable_across_calls() {
        let a = collect();
        let b = collect();
        assert_eq!(a, b);
        assert_eq!(hash(&a), hash(&b));
        assert_eq!(hash(&a).len(), 12);
        assert!(a.logical_cores >= 1);
    }

    #[test]
    fn changed_fields_names_the_difference() {
        let a = collect();
        let mut b = a.clone();
        b.cpu_model = "Another CPU".into();
        b.logical_cores += 1;
        let mut changed = changed_fields(&a, &b);
        changed.sort();
        assert_eq!(changed, vec!["cpu_model", "logical_cores"]);
        assert_ne!(hash(&a), hash(&b));
    }
}
