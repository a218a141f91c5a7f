//! The Grafana dashboards: classic JSON model without `__inputs`, a `datasource` variable
//! and host, suite (and benchmark) variables, and every panel query valid PromQL that names
//! only series the metric catalog produces.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use perfwarden::export::catalog::{METRICS, prometheus_name};
use serde_json::Value;

fn dashboards() -> Vec<(PathBuf, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards");
    let mut out: Vec<(PathBuf, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (p, value)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        out.len() >= 2,
        "an overview and a benchmark detail dashboard"
    );
    out
}

/// The catalog's series, the resource series and what the shipped recording rules write.
fn catalog_names() -> BTreeSet<String> {
    let rules: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("alerts/perfwarden.rules.yml"),
        )
        .unwrap(),
    )
    .unwrap();
    let recorded: Vec<String> = rules["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_sequence().unwrap())
        .filter_map(|r| r["record"].as_str().map(str::to_string))
        .collect();
    METRICS
        .iter()
        .map(prometheus_name)
        .chain(["target_info".to_string()])
        .chain(recorded)
        .collect()
}

/// Grafana's template variables replaced by values PromQL accepts.
fn expand(expr: &str) -> String {
    expr.replace("$__rate_interval", "5m")
        .replace("$__interval", "1m")
        .replace("$__range", "1d")
        .replace("$host", ".*")
        .replace("$suite", ".*")
        .replace("$benchmark", ".*")
}

fn metric_names(expr: &str) -> BTreeSet<String> {
    common::promql_metric_names(&expand(expr))
}

#[test]
fn every_panel_query_is_promql_over_catalog_series() {
    let allowed = catalog_names();
    for (path, dashboard) in dashboards() {
        let mut queries = 0;
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                let expr = target["expr"].as_str().unwrap();
                let names = metric_names(expr);
                assert!(
                    !names.is_empty(),
                    "{}: {expr} selects nothing",
                    path.display()
                );
                for name in names {
                    assert!(
                        allowed.contains(&name),
                        "{}: panel \"{}\" queries {name}, which the catalog does not produce",
                        path.display(),
                        panel["title"]
                    );
                }
                assert_eq!(target["datasource"]["uid"], "${datasource}");
                queries += 1;
            }
        }
        assert!(queries > 0);
    }
}

#[test]
fn every_dashboard_annotates_regressions_change_points_and_environment_changes() {
    let allowed = catalog_names();
    for (path, dashboard) in dashboards() {
        let list = dashboard["annotations"]["list"].as_array().unwrap();
        let names: Vec<&str> = list.iter().map(|a| a["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "Regression suspected",
                "Regression confirmed",
                "Regression resolved",
                "Change points",
                "Environment changes"
            ],
            "{}",
            path.display()
        );
        for annotation in list {
            let expr = annotation["expr"].as_str().unwrap();
            let names = metric_names(expr);
            assert_eq!(names.len(), 1, "{}: {expr}", path.display());
            for name in names {
                assert!(allowed.contains(&name), "{}: {expr}", path.display());
                assert!(
                    name.ends_with("_timestamp_seconds"),
                    "{}: {expr}",
                    path.display()
                );
            }
            // The series value is the event's time, in the milliseconds Grafana reads.
            assert_eq!(annotation["useValueForTime"], true, "{}", path.display());
            assert!(expr.ends_with("* 1000"), "{}: {expr}", path.display());
            assert_eq!(annotation["datasource"]["uid"], "${datasource}");
            assert!(
                annotation["titleFormat"]
                    .as_str()
                    .is_some_and(|t| t.contains("{{"))
            );
        }
    }
}

#[test]
fn dashboards_use_a_datasource_variable_and_host_suite_variables() {
    let allowed = catalog_names();
    for (path, dashboard) in dashboards() {
        assert!(dashboard.get("__inputs").is_none(), "{}", path.display());
        assert!(
            dashboard["uid"]
                .as_str()
                .is_some_and(|u| u.starts_with("perfwarden-"))
        );
        let variables = dashboard["templating"]["list"].as_array().unwrap();
        let named = |n: &str| variables.iter().find(|v| v["name"] == n);
        assert_eq!(named("datasource").unwrap()["type"], "datasource");
        assert_eq!(named("datasource").unwrap()["query"], "prometheus");
        for name in ["host", "suite"] {
            assert!(named(name).is_some(), "{}: no ${name}", path.display());
        }
        for variable in variables.iter().filter(|v| v["type"] == "query") {
            // label_values(METRIC{...}, label): the metric must be a catalog series.
            let query = variable["definition"].as_str().unwrap();
            let inner = query
                .strip_prefix("label_values(")
                .and_then(|q| q.rsplit_once(','))
                .map(|(selector, _)| selector)
                .unwrap_or_else(|| panic!("{}: {query}", path.display()));
            for name in metric_names(inner) {
                assert!(allowed.contains(&name), "{}: {query}", path.display());
            }
        }
    }
    let detail = dashboards()
        .into_iter()
        .find(|(p, _)| p.ends_with("perfwarden-benchmark.json"))
        .unwrap()
        .1;
    assert!(
        detail["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "benchmark")
    );
}

#[test]
fn the_provisioning_example_points_at_a_dashboard_folder() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards/provisioning/perfwarden.yml");
    let yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(yaml["apiVersion"], serde_yaml_ng::Value::from(1));
    assert_eq!(yaml["providers"][0]["type"], "file");
    assert!(yaml["providers"][0]["options"]["path"].as_str().is_some());
}
