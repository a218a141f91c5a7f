//! Schema upgrades that rewrite records (the others only add tables, created at open).
//!
//! **4 → 5: the fingerprint split.** Until schema 4 one hash covered the hardware *and* the
//! kernel, OS and agent version, so every upgrade started new baselines. From 5 the
//! lineage hash covers the hardware only and the software is recorded per run. The upgrade
//! maps each old combined fingerprint onto its hardware lineage in place: the hardware
//! fields of the old record are hashed anew, the kernel, OS and agent version become the
//! run's software environment (every other field unknown), and every run, result and
//! regression is rewritten to the new hashes. Runs that differed only in their software
//! now share one lineage, so their baselines join. Results also get their run's `quick`
//! flag, which baselines now read. It all happens in the open's one write transaction: a
//! crash half-way leaves the version-4 file as it was.

use std::collections::HashMap;

use redb::{ReadableTable, WriteTransaction};

use super::schema::{ENVIRONMENTS, FINGERPRINTS, OPEN_REGRESSIONS, REGRESSION_LOG, RESULTS, RUNS};
use super::{TxnError, from_json, to_json};
use crate::model::records::{BenchmarkResult, Fingerprint, RunRecord, SoftwareEnvironment};
use crate::model::verdict::Regression;

/// The record schema 4 stored under each fingerprint hash.
#[derive(serde::Deserialize)]
struct CombinedFingerprint {
    cpu_model: String,
    physical_cores: usize,
    logical_cores: usize,
    memory_total_mib: u64,
    arch: String,
    os: String,
    os_version: String,
    kernel: String,
    virtualization: String,
    agent_version: String,
}

fn known(value: String) -> Option<String> {
    (value != "unknown" && !value.is_empty()).then_some(value)
}

/// Old hash → (hardware hash, environment hash).
type Mapping = HashMap<String, (String, String)>;

/// The 4 → 5 upgrade (see the module doc). Returns how many results were rewritten.
pub(super) fn split_fingerprints(txn: &WriteTransaction) -> Result<usize, TxnError> {
    let mut mapping: Mapping = HashMap::new();
    {
        let mut fingerprints = txn.open_table(FINGERPRINTS)?;
        let mut environments = txn.open_table(ENVIRONMENTS)?;
        let mut old = Vec::new();
        for entry in fingerprints.iter()? {
            let (hash, bytes) = entry?;
            old.push((hash.value().to_string(), bytes.value().to_vec()));
        }
        for (hash, bytes) in old {
            let Ok(combined) = serde_json::from_slice::<CombinedFingerprint>(&bytes) else {
                // Already a hardware record (written by a newer release, then downgraded
                // and upgraded again): keep it.
                continue;
            };
            let hardware = Fingerprint {
                cpu_model: combined.cpu_model,
                physical_cores: combined.physical_cores,
                logical_cores: combined.logical_cores,
                memory_total_mib: combined.memory_total_mib,
                arch: combined.arch,
                virtualization: combined.virtualization,
            };
            let software = SoftwareEnvironment {
                kernel: known(combined.kernel),
                os: known(combined.os),
                os_version: known(combined.os_version),
                agent_version: known(combined.agent_version),
                ..SoftwareEnvironment::default()
            };
            let hardware_hash = hardware.short_hash();
            let software_hash = software.short_hash();
            fingerprints.remove(hash.as_str())?;
            fingerprints.insert(hardware_hash.as_str(), to_json(&hardware).as_slice())?;
            environments.insert(software_hash.as_str(), to_json(&software).as_slice())?;
            mapping.insert(hash, (hardware_hash, software_hash));
        }
    }

    let mut quick_runs = HashMap::new();
    {
        let mut runs = txn.open_table(RUNS)?;
        let mut rewritten = Vec::new();
        for entry in runs.iter()? {
            let (id, bytes) = entry?;
            let mut run: RunRecord = from_json(bytes.value(), format_args!("runs {}", id.value()))?;
            quick_runs.insert(run.id, run.quick);
            if let Some((hardware, software)) = mapping.get(&run.fingerprint) {
                run.fingerprint = hardware.clone();
                run.environment.get_or_insert_with(|| software.clone());
                rewritten.push((id.value(), run));
            }
        }
        for (id, run) in rewritten {
            runs.insert(id, to_json(&run).as_slice())?;
        }
    }

    let mut count = 0;
    {
        let mut results = txn.open_table(RESULTS)?;
        let mut rewritten = Vec::new();
        for entry in results.iter()? {
            let (key, bytes) = entry?;
            let (run_id, benchmark) = key.value();
            let mut result: BenchmarkResult = from_json(
                bytes.value(),
                format_args!("results ({run_id}, {benchmark:?})"),
            )?;
            if let Some((hardware, _)) = mapping.get(&result.fingerprint) {
                result.fingerprint = hardware.clone();
            }
            result.quick = quick_runs.get(&run_id).copied().unwrap_or(false);
            rewritten.push(((run_id, benchmark.to_string()), result));
        }
        for ((run_id, benchmark), result) in rewritten {
            results.insert((run_id, benchmark.as_str()), to_json(&result).as_slice())?;
            count += 1;
        }
    }

    let remap = |r: &mut Regression| {
        if let Some((hardware, _)) = mapping.get(&r.fingerprint) {
            r.fingerprint = hardware.clone();
        }
    };
    {
        let mut open = txn.open_table(OPEN_REGRESSIONS)?;
        let mut rewritten = Vec::new();
        for entry in open.iter()? {
            let (key, bytes) = entry?;
            let mut regression: Regression = from_json(
                bytes.value(),
                format_args!("open_regressions {:?}", key.value()),
            )?;
            remap(&mut regression);
            rewritten.push((key.value().to_string(), regression));
        }
        for (key, regression) in rewritten {
            open.insert(key.as_str(), to_json(&regression).as_slice())?;
        }
    }
    {
        let mut log = txn.open_table(REGRESSION_LOG)?;
        let mut rewritten = Vec::new();
        for entry in log.iter()? {
            let (key, bytes) = entry?;
            let (benchmark, first) = key.value();
            let mut regression: Regression = from_json(
                bytes.value(),
                format_args!("regression_log ({benchmark:?}, {first})"),
            )?;
            remap(&mut regression);
            rewritten.push(((benchmark.to_string(), first), regression));
        }
        for ((benchmark, first), regression) in rewritten {
            log.insert((benchmark.as_str(), first), to_json(&regression).as_slice())?;
        }
    }
    Ok(count)
}
