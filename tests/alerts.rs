//! The alert rules name only series perfwarden produces (the catalog's Prometheus names,
//! plus Prometheus' own `up`, the `target_info` resource series and what the file's own
//! recording rules write before), and every alert has a summary, a description and a
//! runbook that exists in the repository. The rules'
//! behaviour is tested by promtool (`scripts/check-alerts.sh`).

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use perfwarden::export::catalog::{METRICS, prometheus_name};

fn rules() -> serde_yaml_ng::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("alerts/perfwarden.rules.yml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A rule's name: the alert's, or the series a recording rule writes.
fn rule_name(rule: &serde_yaml_ng::Value) -> &str {
    rule["alert"]
        .as_str()
        .or_else(|| rule["record"].as_str())
        .unwrap()
}

#[test]
fn rules_name_only_series_the_catalog_produces() {
    // Catalog names, Prometheus' own, and what a recording rule above has written.
    let mut allowed: BTreeSet<String> = METRICS
        .iter()
        .map(prometheus_name)
        .chain(["up".to_string(), "target_info".to_string()])
        .collect();
    let mut used = BTreeSet::new();
    for group in rules()["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let expr = rule["expr"].as_str().unwrap();
            for name in common::promql_metric_names(expr) {
                assert!(
                    allowed.contains(&name),
                    "{} uses {name}, which neither perfwarden nor an earlier recording rule produces",
                    rule_name(rule)
                );
                used.insert(name);
            }
            if let Some(record) = rule["record"].as_str() {
                // level:metric:operations, the recording rule naming convention.
                assert_eq!(record.split(':').count(), 3, "{record}");
                assert!(
                    allowed.insert(record.to_string()),
                    "{record} recorded twice"
                );
            }
        }
    }
    assert!(used.contains("perfwarden_regression_active"));
    assert!(used.contains("instance:perfwarden_benchmark_peer:zscore"));
}

#[test]
fn every_rule_has_a_summary_a_description_and_an_existing_runbook() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for group in rules()["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let Some(name) = rule["alert"].as_str() else {
                continue;
            };
            let annotations = &rule["annotations"];
            assert!(annotations["summary"].as_str().is_some(), "{name}");
            assert!(annotations["description"].as_str().is_some(), "{name}");
            let url = annotations["runbook_url"].as_str().unwrap();
            let path = url
                .split("/blob/main/")
                .nth(1)
                .unwrap_or_else(|| panic!("{name}: {url}"));
            assert!(root.join(path).is_file(), "{name}: no runbook at {path}");
            let severity = rule["labels"]["severity"].as_str().unwrap();
            assert!(["critical", "major", "minor"].contains(&severity), "{name}");
        }
    }
}

#[test]
fn the_expression_scanner_finds_metric_names() {
    let names = common::promql_metric_names(
        "up{job=\"perfwarden\"} == 0 or (group by (job, instance) (max_over_time(target_info{job=\"x\"}[1d])) unless on (job, instance) target_info)",
    );
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(names, vec!["target_info", "up"]);
    let names = common::promql_metric_names(
        "time() - perfwarden_suite_last_success_timestamp_seconds{suite=\"weekly\"} > 8 * 86400",
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        vec!["perfwarden_suite_last_success_timestamp_seconds".to_string()]
    );
}
