//! `parse.config` — configuration and API payload parsing speed.
//!
//! **Operation:** parse one embedded document into a generic tree (`serde_json::Value`,
//! `toml::Table`, or a `serde_yaml_ng::Value` per YAML document) — what agents, CI tools and
//! services do at start-up and per request. The corpus (in `corpus/`, generated once by a
//! seeded script and committed so it never changes) is realistic in shape:
//! - `json`: a 40 KB service-registry API response (nested objects, arrays, numbers);
//! - `toml`: a 28 KB Cargo.lock-style dependency lock file;
//! - `yaml`: 16 KB of Kubernetes manifests (36 documents, flow maps, block scalars).
//!
//! Like `simdjson`'s and `serde-rs/json-benchmark`'s figures, the unit is input bytes
//! parsed per second. **Direction:** higher is better.

use std::hint::black_box;

use serde::{Deserialize, Serialize};

use crate::model::metric::MetricDef;
use crate::workload::{LatencyRecorder, Workload, WorkloadError};

pub(crate) const JSON_CORPUS: &str = include_str!("corpus/services.json");
pub(crate) const TOML_CORPUS: &str = include_str!("corpus/Cargo.lock.toml");
pub(crate) const YAML_CORPUS: &str = include_str!("corpus/manifests.yaml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigFormat {
    Json,
    Toml,
    Yaml,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParseConfigConfig {
    pub format: ConfigFormat,
}

impl ParseConfigConfig {
    /// Every format serde accepts is valid: nothing more to check.
    pub fn validate(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

pub(crate) struct ParseConfig {
    config: ParseConfigConfig,
}

impl ParseConfig {
    pub(crate) fn new(config: ParseConfigConfig) -> Self {
        ParseConfig { config }
    }
}

fn parse_once(format: ConfigFormat) -> Result<usize, WorkloadError> {
    let invalid = |e: String| WorkloadError::Invalid(format!("embedded corpus: {e}"));
    match format {
        ConfigFormat::Json => {
            let value: serde_json::Value =
                serde_json::from_str(JSON_CORPUS).map_err(|e| invalid(e.to_string()))?;
            black_box(value);
            Ok(JSON_CORPUS.len())
        }
        ConfigFormat::Toml => {
            let value: toml::Table =
                toml::from_str(TOML_CORPUS).map_err(|e| invalid(e.to_string()))?;
            black_box(value);
            Ok(TOML_CORPUS.len())
        }
        ConfigFormat::Yaml => {
            for document in serde_yaml_ng::Deserializer::from_str(YAML_CORPUS) {
                let value = serde_yaml_ng::Value::deserialize(document)
                    .map_err(|e| invalid(e.to_string()))?;
                black_box(value);
            }
            Ok(YAML_CORPUS.len())
        }
    }
}

impl Workload for ParseConfig {
    fn metric(&self) -> MetricDef {
        MetricDef::bandwidth()
    }

    fn run(&mut self, iterations: u64, _: &mut LatencyRecorder) -> Result<f64, WorkloadError> {
        let mut bytes = 0usize;
        for _ in 0..iterations {
            bytes += parse_once(self.config.format)?;
        }
        Ok(bytes as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_corpus_parses_to_the_expected_shape() {
        let json: serde_json::Value = serde_json::from_str(JSON_CORPUS).unwrap();
        assert_eq!(json["items"].as_array().unwrap().len(), 60);
        let toml: toml::Table = toml::from_str(TOML_CORPUS).unwrap();
        assert_eq!(toml["package"].as_array().unwrap().len(), 120);
        let docs = serde_yaml_ng::Deserializer::from_str(YAML_CORPUS).count();
        assert_eq!(docs, 36);
        for format in [ConfigFormat::Json, ConfigFormat::Toml, ConfigFormat::Yaml] {
            assert!(parse_once(format).unwrap() > 10_000);
        }
    }
}
