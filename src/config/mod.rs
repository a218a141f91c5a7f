//! Configuration: TOML, in two stages.
//!
//! Stage one reads each section into raw serde structs with `deny_unknown_fields`; stage
//! two checks what serde cannot (ranges, cross references, cron syntax, paths) and builds
//! the validated [`Config`] the rest of the program uses. Each entry is read on its own so
//! that *every* problem is collected and reported at once, each with file, key path, line
//! and a hint — `perfwarden check` runs before the daemon starts and an SRE should fix a
//! file in one pass, not one error per restart.
//!
//! With no file, the embedded default (`default.toml`, printed by `perfwarden config
//! default`) is used, so everything works out of the box. A file is laid over the default:
//! `[agent]` and `[defaults]` keys replace one by one, `[suites.X]` and `[benchmarks.X]`
//! replace or add whole entries.

mod daemon;
mod error;
mod export;
pub(crate) mod load;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::model::options::{BenchOptions, default_critical, default_major};
use crate::model::units::{ConfigDuration, Percent};
pub use daemon::{CatchUp, DaemonConfig, QuietConfig, WhenBusy};
pub use error::{ConfigErrors, ConfigProblem};
pub use export::{ExportConfig, OtlpConfig, OtlpProtocol};
pub use load::LoadPolicy;

use crate::workload::{KINDS, ProbeKind, WorkloadConfig, probe_kind};

/// The embedded default config, annotated.
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");
/// Name used in messages for problems in the embedded default.
pub(crate) const EMBEDDED_NAME: &str = "<embedded default>";
/// Conventional location of the config file.
pub(crate) const SYSTEM_CONFIG_PATH: &str = "/etc/perfwarden/perfwarden.toml";

/// A suite name the config does not define, with the ones it does.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "no suite named \"{name}\" in {config}{} (suites: {})",
    did_you_mean.as_ref().map(|m| format!("; {m}")).unwrap_or_default(),
    suites.join(", ")
)]
pub struct UnknownSuite {
    pub name: String,
    /// Where the config came from (a file, or the embedded default).
    pub config: String,
    pub did_you_mean: Option<String>,
    pub suites: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BenchmarkConfig {
    pub name: String,
    pub description: Option<String>,
    pub workload: WorkloadConfig,
    pub options: BenchOptions,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SuiteConfig {
    pub name: String,
    pub description: Option<String>,
    /// Cron expression (validated), used by the daemon.
    pub schedule: String,
    pub enabled: bool,
    pub benchmarks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    pub state_dir: Option<PathBuf>,
    pub retention: Duration,
    /// Packages whose installed version is recorded with every run's software environment.
    pub packages: Vec<String>,
}

/// Where the config came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    Embedded,
    File(PathBuf),
}

impl std::fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigSource::Embedded => f.write_str(EMBEDDED_NAME),
            ConfigSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub source: ConfigSource,
    pub agent: AgentConfig,
    pub daemon: DaemonConfig,
    pub export: ExportConfig,
    /// Guard rails of the load tests.
    pub load: LoadPolicy,
    pub suites: BTreeMap<String, SuiteConfig>,
    pub benchmarks: BTreeMap<String, BenchmarkConfig>,
}

// ---------------------------------------------------------------- stage one: raw structs

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    state_dir: Option<PathBuf>,
    retention: Option<ConfigDuration>,
    packages: Option<Vec<String>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOptions {
    samples: Option<i64>,
    warmup: Option<ConfigDuration>,
    min_time: Option<ConfigDuration>,
    time_budget: Option<ConfigDuration>,
    timeout: Option<ConfigDuration>,
    tolerance: Option<Percent>,
    major: Option<Percent>,
    critical: Option<Percent>,
    slo: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    description: Option<String>,
    schedule: String,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    benchmarks: Vec<String>,
}

fn enabled_by_default() -> bool {
    true
}

/// Keys of a `[benchmarks.X]` table that are options, not workload parameters.
const OPTION_KEYS: &[&str] = &[
    "samples",
    "warmup",
    "min_time",
    "time_budget",
    "timeout",
    "tolerance",
    "major",
    "critical",
    "slo",
];
const TOP_LEVEL_KEYS: &[&str] = &[
    "agent",
    "daemon",
    "export",
    "load",
    "defaults",
    "suites",
    "benchmarks",
];

/// A parsed TOML document plus what is needed to point at lines in it.
struct Layer {
    name: String,
    text: String,
    spans: toml_edit::Document<String>,
    table: toml::Table,
}

impl Layer {
    fn parse(name: &str, text: &str) -> Result<Layer, ConfigProblem> {
        let spans = toml_edit::Document::parse(text.to_string()).map_err(|e| {
            let line = e.span().map(|span| line_of(text, span.start));
            let duplicate = e
                .message()
                .contains("duplicate key")
                .then(|| e.span().and_then(|span| duplicate_key(text, span.start)))
                .flatten();
            if let Some((key, first)) = duplicate {
                return ConfigProblem {
                    file: name.to_string(),
                    key,
                    line,
                    message: match first {
                        Some(first) => format!("is set twice (first on line {first})"),
                        None => "is set twice".to_string(),
                    },
                    hint: Some("keep one of the two".into()),
                };
            }
            ConfigProblem {
                file: name.to_string(),
                key: String::new(),
                line,
                message: format!("not valid TOML: {}", e.message().trim()),
                hint: Some("fix the syntax at that line; `perfwarden config default` prints a valid example".into()),
            }
        })?;
        let table: toml::Table = toml::from_str(text).map_err(|e| ConfigProblem {
            file: name.to_string(),
            key: String::new(),
            line: e.span().map(|span| line_of(text, span.start)),
            message: format!("not valid TOML: {}", e.message().trim()),
            hint: None,
        })?;
        Ok(Layer {
            name: name.to_string(),
            text: text.to_string(),
            spans,
            table,
        })
    }

    /// Line of the key at `path` (the deepest part of it that exists).
    fn line(&self, path: &[&str]) -> Option<usize> {
        let mut item: &toml_edit::Item = self.spans.as_item();
        let mut best = None;
        for segment in path {
            let table = item.as_table_like()?;
            let (key, next) = table.get_key_value(segment)?;
            if let Some(span) = key.span().or_else(|| next.span()) {
                best = Some(line_of(&self.text, span.start));
            }
            item = next;
        }
        best
    }

    fn has(&self, path: &[&str]) -> bool {
        let mut value: Option<&toml::Value> = None;
        let mut table = &self.table;
        for segment in path {
            value = table.get(*segment);
            match value {
                Some(toml::Value::Table(t)) => table = t,
                Some(_) => {}
                None => return false,
            }
        }
        value.is_some()
    }
}

/// The problem of a file that is not UTF-8: the line and key of the first bad byte.
fn not_utf8(name: &str, bytes: &[u8], valid_up_to: usize) -> ConfigProblem {
    let before = String::from_utf8_lossy(&bytes[..valid_up_to]);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let on_line = &before[line_start..];
    let header = before[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    let key = on_line
        .split_once('=')
        .map(|(key, _)| key.trim())
        .filter(|key| !key.is_empty())
        .map(|key| match &header {
            Some(table) => format!("{table}.{key}"),
            None => key.to_string(),
        })
        .unwrap_or_default();
    ConfigProblem {
        file: name.to_string(),
        key,
        line: Some(line),
        message: format!(
            "byte 0x{:02x} at column {} is not UTF-8",
            bytes[valid_up_to],
            on_line.chars().count() + 1
        ),
        hint: Some("save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)".into()),
    }
}

/// The dotted key a "duplicate key" error at `offset` is about, and the line it was first
/// set on.
fn duplicate_key(text: &str, offset: usize) -> Option<(String, Option<usize>)> {
    let line_start = text[..offset.min(text.len())]
        .rfind('\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let line_text = text[line_start..].lines().next()?;
    let trimmed = line_text.trim();
    let (key, header_line) = if trimmed.starts_with('[') {
        (
            trimmed
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string(),
            true,
        )
    } else {
        (trimmed.split_once('=')?.0.trim().to_string(), false)
    };
    let before = &text[..line_start];
    if header_line {
        let first = before
            .lines()
            .position(|l| l.trim().trim_matches(|c| c == '[' || c == ']').trim() == key)
            .map(|i| i + 1);
        return Some((key, first));
    }
    // The table the key is in, and where that table starts.
    let lines: Vec<&str> = before.lines().collect();
    let header = lines.iter().rposition(|l| l.trim().starts_with('['));
    let table = header.map(|i| {
        lines[i]
            .trim()
            .trim_matches(|c| c == '[' || c == ']')
            .trim()
            .to_string()
    });
    let first = lines
        .iter()
        .enumerate()
        .skip(header.map(|i| i + 1).unwrap_or(0))
        .find(|(_, l)| l.split_once('=').is_some_and(|(k, _)| k.trim() == key))
        .map(|(i, _)| i + 1);
    let full = match table {
        Some(table) => format!("{table}.{key}"),
        None => key,
    };
    Some((full, first))
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Collects problems, attributing each key to the layer that defines it.
struct Problems<'a> {
    layers: &'a [Layer],
    found: Vec<ConfigProblem>,
}

impl Problems<'_> {
    fn add(&mut self, path: &[&str], message: impl Into<String>, hint: Option<String>) {
        self.add_keyed(path, path.join("."), message, hint);
    }

    /// Like `add`, with a key shown differently from the path used to find the line
    /// (e.g. `slo[1]` inside the `slo` array).
    fn add_keyed(
        &mut self,
        path: &[&str],
        key: String,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        // The topmost layer that has the deepest existing prefix of the path.
        let mut chosen: Option<&Layer> = None;
        'search: for depth in (1..=path.len()).rev() {
            for layer in self.layers.iter().rev() {
                if layer.has(&path[..depth]) {
                    chosen = Some(layer);
                    break 'search;
                }
            }
        }
        let layer = chosen.unwrap_or_else(|| self.layers.last().expect("at least one layer"));
        self.found.push(ConfigProblem {
            file: layer.name.clone(),
            key,
            line: layer.line(path),
            message: message.into(),
            hint,
        });
    }
}

/// Most bad keys of one value reported before giving up on it.
const MAX_READ_PROBLEMS: usize = 32;

/// Deserializes one value, reporting the exact nested key that failed. A key serde cannot
/// read is reported and taken out, and the rest is read again, so every bad key of a table
/// is reported at once and the keys that read are still checked (the value returned then
/// lacks the bad keys; the config is invalid anyway).
fn read_value<T: DeserializeOwned>(
    value: toml::Value,
    path: &[&str],
    problems: &mut Problems,
    hint: impl Fn(&str) -> Option<String>,
) -> Option<T> {
    read_reporting_every_key(value, path, problems, hint, |value| {
        serde_path_to_error::deserialize::<_, T>(value)
    })
}

/// [`read_value`] with the reader given (a probe kind's own).
fn read_reporting_every_key<T>(
    mut value: toml::Value,
    path: &[&str],
    problems: &mut Problems,
    hint: impl Fn(&str) -> Option<String>,
    read: impl Fn(toml::Value) -> Result<T, serde_path_to_error::Error<toml::de::Error>>,
) -> Option<T> {
    let mut removed: Vec<Vec<String>> = Vec::new();
    for _ in 0..MAX_READ_PROBLEMS {
        let error = match read(value.clone()) {
            Ok(parsed) => return Some(parsed),
            Err(error) => error,
        };
        let (inner, message) = read_error_key(error);
        // A key taken out for its type is not also "missing".
        if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            let mut missing = inner.clone();
            missing.push(field.to_string());
            if removed.contains(&missing) {
                return None;
            }
        }
        let mut full: Vec<&str> = path.to_vec();
        full.extend(inner.iter().map(String::as_str));
        let shown_hint = hint(&message);
        problems.add(&full, message, shown_hint);
        if inner.is_empty() || !remove_key(&mut value, &inner) {
            return None;
        }
        removed.push(inner);
    }
    None
}

/// The key (inside the value read) that `error` is about, and its message. An unknown
/// field is reported at the unknown key itself.
fn read_error_key(error: serde_path_to_error::Error<toml::de::Error>) -> (Vec<String>, String) {
    let mut inner: Vec<String> = error
        .path()
        .iter()
        .filter_map(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => Some(key.clone()),
            serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
            serde_path_to_error::Segment::Enum { variant } => Some(variant.clone()),
            serde_path_to_error::Segment::Unknown => None,
        })
        .collect();
    // toml appends "in `key`" on a new line; the key path is reported separately.
    let raw = error.into_inner().to_string();
    let message = raw
        .split("\nin `")
        .next()
        .unwrap_or(&raw)
        .trim()
        .to_string();
    if let Some(key) = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
    {
        if inner.last().map(String::as_str) != Some(key) {
            inner.push(key.to_string());
        }
    }
    (inner, message)
}

/// Removes the key at `path` from `value`; false when there is none.
fn remove_key(value: &mut toml::Value, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut current = value;
    for segment in parents {
        current = match current {
            toml::Value::Table(table) => match table.get_mut(segment) {
                Some(next) => next,
                None => return false,
            },
            toml::Value::Array(items) => {
                match segment.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                    Some(next) => next,
                    None => return false,
                }
            }
            _ => return false,
        };
    }
    match current {
        toml::Value::Table(table) => table.remove(last).is_some(),
        toml::Value::Array(items) => match last.parse::<usize>() {
            Ok(i) if i < items.len() => {
                items.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

fn did_you_mean(candidate: &str, known: &[&str]) -> Option<String> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(candidate, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!("did you mean `{k}`?"))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Checks a load test against the `[load]` guard rails and copies the caps it must obey
/// at run time into it. Each problem is `(parameter, message, hint)`.
fn apply_load_policy(
    workload: &mut WorkloadConfig,
    policy: &LoadPolicy,
) -> Vec<(&'static str, String, String)> {
    let mut problems = Vec::new();
    let Some(rails) = workload.rails() else {
        return problems;
    };
    if let Ok(host) = &rails.host {
        if !policy.allows(host) {
            problems.push((
                "url",
                format!("host \"{host}\" is not allowed for load tests"),
                format!(
                    "only loopback is allowed by default; if this is your own service, add \"{host}\" to [load] allowed_hosts"
                ),
            ));
        }
    }
    if rails.users > policy.max_users {
        problems.push((
            rails.users_key,
            format!(
                "{} {} exceed [load] max_users = {}",
                rails.users, rails.users_key, policy.max_users
            ),
            format!("lower {} or raise [load] max_users", rails.users_key),
        ));
    }
    if let (Some(rate), Some(cap)) = (rails.rate, policy.max_rate) {
        if rate > cap {
            problems.push((
                "rate",
                format!("{rate} requests/s exceed [load] max_rate = {cap}"),
                "lower rate or raise [load] max_rate".into(),
            ));
        }
    }
    if rails.duration + rails.ramp_up > policy.max_duration {
        problems.push((
            "duration",
            format!(
                "duration {} plus ramp_up {} exceed [load] max_duration = {}",
                ConfigDuration(rails.duration),
                ConfigDuration(rails.ramp_up),
                ConfigDuration(policy.max_duration)
            ),
            "shorten the test or raise [load] max_duration".into(),
        ));
    }
    *rails.rate_cap = policy.max_rate;
    *rails.max_duration = Some(policy.max_duration);
    problems
}

/// Workloads that run for a set time (load tests) set the runner's clock: the ramp-up is
/// the warm-up, `duration` the sampling time, and the budget and timeout leave room for
/// both (and for the work before and after the load: the first request, Redis' keys).
fn fit_options_to_workload(
    mut options: BenchOptions,
    workload: &mut WorkloadConfig,
) -> BenchOptions {
    let Some(rails) = workload.rails() else {
        return options;
    };
    options.warmup = rails.ramp_up.max(Duration::from_millis(200));
    options.min_time = rails.duration;
    if rails.counted {
        // A request count ends the test at an unknown time: slices of about 100 ms (the
        // runner aims for 4 × samples within min_time) so even a short test has enough.
        let slices = (rails.duration.as_secs_f64() / 0.4).ceil() as usize;
        options.samples = options.samples.max(slices);
    }
    let needed = options.warmup + options.min_time + Duration::from_secs(5);
    options.time_budget = options.time_budget.max(needed);
    options.timeout = options
        .timeout
        .max(needed * 2 + rails.connect_timeout + rails.request_timeout + Duration::from_secs(30));
    options
}

/// Parses a cron schedule as the daemon will: 5 fields, 6 with seconds, or a nickname.
pub(crate) fn parse_schedule(expression: &str) -> Result<croner::Cron, ScheduleError> {
    let trimmed = expression.trim();
    if trimmed.starts_with('@') && !SCHEDULE_NICKNAMES.contains(&trimmed.to_lowercase().as_str()) {
        return Err(ScheduleError::UnknownNickname(expression.to_string()));
    }
    let fields = expression.split_whitespace().count();
    if !expression.trim_start().starts_with('@') && !(5..=6).contains(&fields) {
        return Err(ScheduleError::FieldCount {
            expression: expression.to_string(),
            fields,
        });
    }
    let cron = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .year(croner::parser::Year::Disallowed)
        .build()
        .parse(expression)
        .map_err(|source| ScheduleError::Invalid {
            expression: expression.to_string(),
            source,
        })?;
    // A valid expression may name no time at all (February 31st): the daemon would never
    // run the suite.
    if cron
        .find_next_occurrence(&chrono::Utc::now(), false)
        .is_err()
    {
        return Err(ScheduleError::NeverFires(expression.to_string()));
    }
    Ok(cron)
}

const SCHEDULE_NICKNAMES: &[&str] = &[
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// Why a `schedule` is not a cron expression perfwarden runs.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScheduleError {
    #[error(
        "\"{0}\" is not a known schedule nickname; use one of {nicknames}",
        nicknames = SCHEDULE_NICKNAMES.join(", ")
    )]
    UnknownNickname(String),
    #[error(
        "\"{expression}\" has {fields} fields; a schedule has 5 (minute hour day month weekday), 6 (with seconds first), or is @daily, @weekly, @monthly"
    )]
    FieldCount { expression: String, fields: usize },
    #[error(
        "\"{0}\" names no time that ever comes (such as February 31st): the suite would never run"
    )]
    NeverFires(String),
    #[error("\"{expression}\" is not a valid cron schedule: {source}")]
    Invalid {
        expression: String,
        #[source]
        source: croner::errors::CronError,
    },
}

// ---------------------------------------------------------------- stage two: validation

impl Config {
    /// The embedded default config.
    pub fn embedded() -> Config {
        Config::from_layers(vec![
            Layer::parse(EMBEDDED_NAME, DEFAULT_CONFIG).expect("embedded default parses"),
        ])
        .expect("embedded default config is valid")
    }

    /// Parses `text` (named `name` in messages) over the embedded default.
    pub(crate) fn from_toml(name: &str, text: &str) -> Result<Config, ConfigErrors> {
        let default = Layer::parse(EMBEDDED_NAME, DEFAULT_CONFIG).expect("embedded default parses");
        let user = Layer::parse(name, text).map_err(|problem| ConfigErrors {
            problems: vec![problem],
        })?;
        let mut config = Config::from_layers(vec![default, user])?;
        config.source = ConfigSource::File(PathBuf::from(name));
        Ok(config)
    }

    /// Reads and parses a config file over the embedded default.
    pub(crate) fn from_file(path: &Path) -> Result<Config, ConfigErrors> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| ConfigErrors {
            problems: vec![ConfigProblem {
                file: name.clone(),
                key: String::new(),
                line: None,
                message: format!("cannot read the config file: {e}"),
                hint: Some(
                    "check the path and permissions, or leave out --config to use the embedded default"
                        .into(),
                ),
            }],
        })?;
        let text = String::from_utf8(bytes).map_err(|e| ConfigErrors {
            problems: vec![not_utf8(&name, e.as_bytes(), e.utf8_error().valid_up_to())],
        })?;
        Config::from_toml(&name, &text)
    }

    /// `--config FILE`, else `$PERFWARDEN_CONFIG`, else `$CONFIGURATION_DIRECTORY/perfwarden.toml`
    /// (systemd), else `/etc/perfwarden/perfwarden.toml` when it exists, else the embedded
    /// default.
    pub(crate) fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
        if let Some(path) = explicit {
            return Some(path.to_path_buf());
        }
        if let Some(path) = std::env::var_os("PERFWARDEN_CONFIG").filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(path));
        }
        if let Some(dir) = std::env::var_os("CONFIGURATION_DIRECTORY").filter(|v| !v.is_empty()) {
            let first = std::env::split_paths(&dir).next()?;
            let candidate = first.join("perfwarden.toml");
            if candidate.exists() {
                return Some(candidate);
            }
        }
        let system = PathBuf::from(SYSTEM_CONFIG_PATH);
        system.exists().then_some(system)
    }

    /// Loads the config found by [`Config::locate`].
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigErrors> {
        match Config::locate(explicit) {
            Some(path) => Config::from_file(&path),
            None => Ok(Config::embedded()),
        }
    }

    fn from_layers(layers: Vec<Layer>) -> Result<Config, ConfigErrors> {
        let mut problems = Problems {
            layers: &layers,
            found: Vec::new(),
        };

        // Top-level keys.
        for layer in &layers {
            for key in layer.table.keys() {
                if !TOP_LEVEL_KEYS.contains(&key.as_str()) {
                    let hint = did_you_mean(key, TOP_LEVEL_KEYS).or_else(|| {
                        Some(format!(
                            "the top-level sections are {}",
                            TOP_LEVEL_KEYS.join(", ")
                        ))
                    });
                    problems.add(&[key], "unknown section", hint);
                }
            }
        }

        // Merge: [agent] and [defaults] key by key, suites and benchmarks entry by entry.
        let mut agent_table = toml::Table::new();
        let mut daemon_table = toml::Table::new();
        let mut quiet_table = toml::Table::new();
        let mut prometheus_table = toml::Table::new();
        let mut otlp_table = toml::Table::new();
        let mut defaults_table = toml::Table::new();
        let mut load_table = toml::Table::new();
        let mut suite_tables: BTreeMap<String, toml::Value> = BTreeMap::new();
        let mut bench_tables: BTreeMap<String, toml::Value> = BTreeMap::new();
        for layer in &layers {
            match layer.table.get("daemon") {
                Some(toml::Value::Table(t)) => {
                    for (key, value) in t {
                        match (key.as_str(), value) {
                            ("quiet", toml::Value::Table(q)) => quiet_table.extend(q.clone()),
                            ("quiet", _) => {
                                problems.add(&["daemon", "quiet"], "must be a table", None)
                            }
                            _ => {
                                daemon_table.insert(key.clone(), value.clone());
                            }
                        }
                    }
                }
                Some(_) => problems.add(&["daemon"], "must be a table", None),
                None => {}
            }
            match layer.table.get("export") {
                Some(toml::Value::Table(t)) => {
                    for (key, value) in t {
                        match (key.as_str(), value) {
                            ("prometheus", toml::Value::Table(p)) => {
                                prometheus_table.extend(p.clone())
                            }
                            ("otlp", toml::Value::Table(o)) => {
                                for (k, v) in o {
                                    // Header tables of later files add to earlier ones.
                                    match (otlp_table.get_mut(k), v) {
                                        (
                                            Some(toml::Value::Table(old)),
                                            toml::Value::Table(new),
                                        ) if k == "headers" => old.extend(new.clone()),
                                        _ => {
                                            otlp_table.insert(k.clone(), v.clone());
                                        }
                                    }
                                }
                            }
                            _ => problems.add(
                                &["export", key],
                                "unknown export section",
                                Some(
                                    "the sections are [export.prometheus] and [export.otlp]".into(),
                                ),
                            ),
                        }
                    }
                }
                Some(_) => problems.add(&["export"], "must be a table", None),
                None => {}
            }
            for (section, target) in [
                ("agent", &mut agent_table),
                ("defaults", &mut defaults_table),
                ("load", &mut load_table),
            ] {
                match layer.table.get(section) {
                    Some(toml::Value::Table(t)) => target.extend(t.clone()),
                    Some(_) => problems.add(&[section], "must be a table", None),
                    None => {}
                }
            }
            for (section, target) in [
                ("suites", &mut suite_tables),
                ("benchmarks", &mut bench_tables),
            ] {
                match layer.table.get(section) {
                    Some(toml::Value::Table(t)) => {
                        for (name, entry) in t {
                            let entry = match (section, entry, target.get(name)) {
                                // `[suites.weekly] enabled = false` (or a new schedule
                                // alone) keeps the rest of the suite it names.
                                (
                                    "suites",
                                    toml::Value::Table(new),
                                    Some(toml::Value::Table(old)),
                                ) if !new.contains_key("benchmarks")
                                    || !new.contains_key("schedule") =>
                                {
                                    let mut merged = old.clone();
                                    merged.extend(new.clone());
                                    toml::Value::Table(merged)
                                }
                                _ => entry.clone(),
                            };
                            target.insert(name.clone(), entry);
                        }
                    }
                    Some(_) => problems.add(
                        &[section],
                        "must be a table of named entries",
                        Some(format!("write [{section}.NAME] tables")),
                    ),
                    None => {}
                }
            }
        }

        let agent: RawAgent = read_value(
            toml::Value::Table(agent_table),
            &["agent"],
            &mut problems,
            |_| None,
        )
        .unwrap_or_default();
        let retention = agent
            .retention
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(400 * 86_400));
        if retention < Duration::from_secs(86_400) {
            problems.add(
                &["agent", "retention"],
                "must be at least 1 day",
                Some("keep at least the baseline window, e.g. \"400d\"".into()),
            );
        }

        let packages = agent.packages.unwrap_or_default();
        for (i, name) in packages.iter().enumerate() {
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-._:".contains(c));
            if !valid {
                problems.add_keyed(
                    &["agent", "packages"],
                    format!("agent.packages[{i}]"),
                    format!("`{name}` is not a package name"),
                    Some("use the name dpkg or rpm knows, e.g. \"openssl\" or \"libc6\"".into()),
                );
            }
        }

        let daemon = daemon::validate(daemon_table, quiet_table, &mut problems);
        let export = export::validate(prometheus_table, otlp_table, &mut problems);
        let load = load::validate(load_table, &mut problems);

        let defaults: RawOptions = read_value(
            toml::Value::Table(defaults_table),
            &["defaults"],
            &mut problems,
            |_| None,
        )
        .unwrap_or_default();
        let base_options = BenchOptions {
            samples: 10,
            warmup: Duration::from_secs(1),
            min_time: Duration::from_secs(5),
            time_budget: Duration::from_secs(30),
            timeout: Duration::from_secs(120),
            tolerance: 0.05,
            major: default_major(),
            critical: default_critical(),
            slo: Vec::new(),
        };
        let default_options = apply_options(&base_options, &defaults, &["defaults"], &mut problems);

        // Every well-named entry counts as defined for suites, even when it has errors of
        // its own, so one mistake is reported once and not again by every suite using it.
        let defined: Vec<String> = bench_tables
            .keys()
            .filter(|n| valid_name(n))
            .cloned()
            .collect();
        let mut benchmarks = BTreeMap::new();
        for (name, value) in bench_tables {
            let path = ["benchmarks", name.as_str()];
            if !valid_name(&name) {
                problems.add(
                    &path,
                    "benchmark names use lowercase letters, digits, '-' and '_' (at most 64)",
                    None,
                );
                continue;
            }
            let toml::Value::Table(mut table) = value else {
                problems.add(
                    &path,
                    "must be a table",
                    Some(format!("write [benchmarks.{name}] with a `kind`")),
                );
                continue;
            };
            let description = match table.remove("description") {
                Some(toml::Value::String(s)) => Some(s),
                Some(_) => {
                    problems.add(
                        &["benchmarks", &name, "description"],
                        "must be a string",
                        None,
                    );
                    None
                }
                None => None,
            };
            let mut option_table = toml::Table::new();
            for key in OPTION_KEYS {
                if let Some(v) = table.remove(*key) {
                    option_table.insert(key.to_string(), v);
                }
            }
            let raw_options: Option<RawOptions> = read_value(
                toml::Value::Table(option_table),
                &path,
                &mut problems,
                |_| None,
            );
            let options =
                raw_options.map(|raw| apply_options(&default_options, &raw, &path, &mut problems));
            let kind = match table.get("kind") {
                Some(toml::Value::String(kind)) => kind.clone(),
                Some(_) => {
                    problems.add(
                        &["benchmarks", &name, "kind"],
                        "must be a string",
                        Some(format!("one of: {}", KINDS.join(", "))),
                    );
                    continue;
                }
                None => {
                    problems.add(
                        &path,
                        "has no `kind`",
                        Some(format!("add kind = \"...\", one of: {}", KINDS.join(", "))),
                    );
                    continue;
                }
            };
            let Some(probe) = probe_kind(&kind) else {
                let hint = did_you_mean(&kind, KINDS)
                    .map(|m| format!("{m} The kinds are: {}", KINDS.join(", ")))
                    .or_else(|| Some(format!("the kinds are: {}", KINDS.join(", "))));
                problems.add(
                    &["benchmarks", &name, "kind"],
                    format!("unknown benchmark kind \"{kind}\""),
                    hint,
                );
                continue;
            };
            table.remove("kind");
            let hint = |message: &str| {
                message.starts_with("unknown field").then(|| {
                    format!(
                        "`{kind}` takes {}; sampling options are {}",
                        parameter_list(probe),
                        OPTION_KEYS.join(", ")
                    )
                })
            };
            let read = read_reporting_every_key(
                toml::Value::Table(table),
                &path,
                &mut problems,
                hint,
                |value| probe.read(value),
            );
            let Some(mut workload) = read else {
                continue;
            };
            for (param, message) in workload.validate() {
                problems.add(&["benchmarks", &name, &param], message, None);
            }
            for (param, message, hint) in apply_load_policy(&mut workload, &load) {
                problems.add(&["benchmarks", &name, param], message, Some(hint));
            }
            let options = options.map(|options| fit_options_to_workload(options, &mut workload));
            if let Some(options) = &options {
                let metric = workload.metric();
                let records = workload.records();
                for (index, expression) in options.slo.iter().enumerate() {
                    if let Err(e) = crate::model::slo::parse(expression, &metric, records) {
                        problems.add_keyed(
                            &["benchmarks", &name, "slo"],
                            format!("benchmarks.{name}.slo[{index}]"),
                            format!("`{expression}` column {}: {}", e.column, e.message),
                            Some("write e.g. \"median > 3000/s\", \"latency_p99 < 5ms\" or \"cv < 5%\"".into()),
                        );
                    }
                }
            }
            if let Some(options) = options {
                benchmarks.insert(
                    name.clone(),
                    BenchmarkConfig {
                        name: name.clone(),
                        description,
                        workload,
                        options,
                    },
                );
            }
        }

        let mut suites = BTreeMap::new();
        let bench_names: Vec<&str> = defined.iter().map(String::as_str).collect();
        for (name, value) in suite_tables {
            let path = ["suites", name.as_str()];
            if !valid_name(&name) {
                problems.add(
                    &path,
                    "suite names use lowercase letters, digits, '-' and '_' (at most 64)",
                    None,
                );
                continue;
            }
            let Some(raw): Option<RawSuite> = read_value(value, &path, &mut problems, |_| None)
            else {
                continue;
            };
            if let Err(error) = parse_schedule(&raw.schedule) {
                problems.add(
                    &["suites", &name, "schedule"],
                    error.to_string(),
                    Some("e.g. \"0 3 * * MON\" (Mondays 03:00) or \"@weekly\"".into()),
                );
            }
            if raw.benchmarks.is_empty() {
                problems.add(
                    &["suites", &name, "benchmarks"],
                    "is empty",
                    Some("list at least one benchmark name from [benchmarks]".into()),
                );
            }
            for bench in &raw.benchmarks {
                if !bench_names.contains(&bench.as_str()) {
                    let hint = did_you_mean(bench, &bench_names).or_else(|| {
                        Some("define it as [benchmarks.NAME] or remove it from the list".into())
                    });
                    problems.add(
                        &["suites", &name, "benchmarks"],
                        format!("names benchmark \"{bench}\", which is not defined"),
                        hint,
                    );
                }
            }
            suites.insert(
                name.clone(),
                SuiteConfig {
                    name: name.clone(),
                    description: raw.description,
                    schedule: raw.schedule,
                    enabled: raw.enabled,
                    benchmarks: raw.benchmarks,
                },
            );
        }

        if !problems.found.is_empty() {
            let mut found = problems.found;
            // The user's file first, then in line order.
            found.sort_by_key(|p| (p.file == EMBEDDED_NAME, p.line.unwrap_or(0)));
            return Err(ConfigErrors { problems: found });
        }
        Ok(Config {
            source: ConfigSource::Embedded,
            agent: AgentConfig {
                state_dir: agent.state_dir,
                retention,
                packages,
            },
            daemon,
            export,
            load,
            suites,
            benchmarks,
        })
    }

    /// The suite named `name`, or an error listing the suites there are.
    pub fn suite(&self, name: &str) -> Result<&SuiteConfig, UnknownSuite> {
        self.suites.get(name).ok_or_else(|| {
            let names: Vec<&str> = self.suites.keys().map(String::as_str).collect();
            UnknownSuite {
                name: name.to_string(),
                config: self.source.to_string(),
                did_you_mean: did_you_mean(name, &names),
                suites: names.iter().map(|n| n.to_string()).collect(),
            }
        })
    }
}

/// The parameters of a kind as a hint lists them.
fn parameter_list(probe: &ProbeKind) -> String {
    match probe.parameters() {
        [] => "no parameters".to_string(),
        names => names.join(", "),
    }
}

fn apply_options(
    base: &BenchOptions,
    raw: &RawOptions,
    path: &[&str],
    problems: &mut Problems,
) -> BenchOptions {
    let key = |k: &'static str| -> Vec<&str> {
        let mut p = path.to_vec();
        p.push(k);
        p
    };
    let mut options = base.clone();
    if let Some(samples) = raw.samples {
        if samples < 2 {
            problems.add(
                &key("samples"),
                format!("is {samples}; at least 2 samples are needed for any statistic"),
                Some("use 10 or more for a useful confidence interval".into()),
            );
        } else if samples > 100_000 {
            problems.add(
                &key("samples"),
                format!("is {samples}; at most 100000"),
                None,
            );
        } else {
            options.samples = samples as usize;
        }
    }
    if let Some(d) = raw.warmup {
        options.warmup = d.0;
    }
    if let Some(d) = raw.min_time {
        options.min_time = d.0;
    }
    if let Some(d) = raw.time_budget {
        if d.0.is_zero() {
            problems.add(&key("time_budget"), "must be more than 0s", None);
        }
        options.time_budget = d.0;
    }
    if let Some(d) = raw.timeout {
        if d.0.is_zero() {
            problems.add(&key("timeout"), "must be more than 0s", None);
        }
        options.timeout = d.0;
    }
    if let Some(p) = raw.tolerance {
        if !(p.0 > 0.0 && p.0 <= 1.0) {
            problems.add(&key("tolerance"), "must be between 0% and 100%", None);
        }
        options.tolerance = p.0;
    }
    if let Some(p) = raw.major {
        options.major = p.0;
    }
    if let Some(p) = raw.critical {
        options.critical = p.0;
    }
    if let Some(slo) = &raw.slo {
        options.slo = slo.clone();
    }
    if !(options.tolerance <= options.major && options.major <= options.critical) {
        let which = if raw.critical.is_some() {
            "critical"
        } else if raw.major.is_some() {
            "major"
        } else {
            "tolerance"
        };
        problems.add(
            &key(which),
            format!(
                "severity thresholds must rise: tolerance {} ≤ major {} ≤ critical {}",
                Percent(options.tolerance),
                Percent(options.major),
                Percent(options.critical)
            ),
            Some("defaults are tolerance 5%, major 15%, critical 30%".into()),
        );
    }
    if options.min_time + options.warmup > options.time_budget {
        problems.add(
            &key(if raw.time_budget.is_some() {
                "time_budget"
            } else {
                "min_time"
            }),
            format!(
                "warmup ({}) plus min_time ({}) exceed time_budget ({})",
                ConfigDuration(options.warmup),
                ConfigDuration(options.min_time),
                ConfigDuration(options.time_budget)
            ),
            Some("raise time_budget or lower min_time/warmup".into()),
        );
    }
    if options.time_budget > options.timeout {
        problems.add(
            &key(if raw.timeout.is_some() {
                "timeout"
            } else {
                "time_budget"
            }),
            format!(
                "time_budget ({}) exceeds timeout ({})",
                ConfigDuration(options.time_budget),
                ConfigDuration(options.timeout)
            ),
            Some("the timeout is the hard limit; keep it above the time budget".into()),
        );
    }
    options
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid_and_complete() {
        let config = Config::embedded();
        assert!(config.suites.contains_key("weekly"));
        assert!(config.suites.contains_key("monthly"));
        // Kinds aimed at the user's own services have no target to use by default; the
        // annotated example shows them instead.
        let example = Config::from_toml(
            "config/example.toml",
            include_str!("../../config/example.toml"),
        )
        .expect("the example config is valid");
        for kind in KINDS {
            let has = |config: &Config| {
                config
                    .benchmarks
                    .values()
                    .any(|b| b.workload.kind() == *kind)
            };
            if crate::workload::probe_kind(kind).unwrap().traits.targeted {
                assert!(has(&example), "config/example.toml has no {kind} benchmark");
            } else {
                assert!(has(&config), "default config has no {kind} benchmark");
            }
        }
    }

    /// A kind's `load_test` trait and its guard-rail view agree, so the `[load]` rails
    /// apply to every load test and to nothing else.
    #[test]
    fn load_tests_are_the_kinds_with_guard_rails() {
        let example = Config::from_toml(
            "config/example.toml",
            include_str!("../../config/example.toml"),
        )
        .expect("the example config is valid");
        for benchmark in example
            .benchmarks
            .values()
            .chain(Config::embedded().benchmarks.values())
        {
            let mut workload = benchmark.workload.clone();
            assert_eq!(
                workload.is_load_test(),
                workload.rails().is_some(),
                "{}",
                benchmark.name
            );
        }
    }

    #[test]
    fn a_file_overlays_the_default() {
        let config = Config::from_toml(
            "test.toml",
            "[defaults]\nsamples = 20\n[suites.weekly]\nschedule = \"@daily\"\nbenchmarks = [\"cpu-primes-1t\"]\n",
        )
        .unwrap();
        assert_eq!(config.suites["weekly"].benchmarks, vec!["cpu-primes-1t"]);
        assert_eq!(config.benchmarks["cpu-sha256"].options.samples, 20);
        assert!(config.suites.contains_key("monthly"));
    }

    #[test]
    fn a_suite_is_turned_off_or_rescheduled_without_repeating_the_rest() {
        let config = Config::from_toml(
            "test.toml",
            "[suites.monthly]\nenabled = false\n[suites.weekly]\nschedule = \"0 4 * * SUN\"\n",
        )
        .unwrap();
        let default = Config::embedded();
        assert!(!config.suites["monthly"].enabled);
        assert_eq!(
            config.suites["monthly"].benchmarks,
            default.suites["monthly"].benchmarks
        );
        assert_eq!(config.suites["weekly"].schedule, "0 4 * * SUN");
        assert_eq!(
            config.suites["weekly"].benchmarks,
            default.suites["weekly"].benchmarks
        );
        // A new suite still needs both.
        let errors =
            Config::from_toml("test.toml", "[suites.extra]\nenabled = false\n").unwrap_err();
        assert!(
            errors.problems.iter().any(|p| p.key == "suites.extra"),
            "{errors:?}"
        );
    }

    #[test]
    fn every_problem_is_reported_at_once_with_lines() {
        let text = "[defaults]\nsamples = 0\n\n[benchmarks.x]\nkind = \"cpu.prime\"\n\n[benchmarks.y]\nkind = \"cpu.primes\"\ntimeout = 30\n";
        let errors = Config::from_toml("bad.toml", text).unwrap_err();
        let keys: Vec<(String, Option<usize>)> = errors
            .problems
            .iter()
            .map(|p| (p.key.clone(), p.line))
            .collect();
        assert!(
            keys.contains(&("defaults.samples".into(), Some(2))),
            "{keys:?}"
        );
        assert!(
            keys.contains(&("benchmarks.x.kind".into(), Some(5))),
            "{keys:?}"
        );
        assert!(
            keys.contains(&("benchmarks.y.timeout".into(), Some(9))),
            "{keys:?}"
        );
    }

    #[test]
    fn an_endpoint_or_url_port_outside_the_range_is_a_problem_of_its_key() {
        let text = "[export.otlp]\nendpoint = \"http://127.0.0.1:99999\"\n[suites.s]\nschedule = \"@daily\"\nbenchmarks = [\"w\"]\n[benchmarks.w]\nkind = \"load.http\"\nurl = \"http://127.0.0.1:65536/\"\nusers = 1\nduration = \"1s\"\n";
        let errors = Config::from_toml("t.toml", text).unwrap_err().to_string();
        assert!(errors.contains("export.otlp.endpoint"), "{errors}");
        assert!(errors.contains("benchmarks.w.url"), "{errors}");
        assert_eq!(errors.matches("outside 1–65535").count(), 2, "{errors}");
    }

    #[test]
    fn schedules_accept_five_six_fields_and_nicknames() {
        assert!(parse_schedule("0 3 * * MON").is_ok());
        assert!(parse_schedule("0 0 3 * * MON").is_ok());
        assert!(parse_schedule("@weekly").is_ok());
        assert!(parse_schedule("@monthly").is_ok());
        assert!(parse_schedule("61 3 * * *").is_err());
        assert!(parse_schedule("0 3 * *").is_err());
        let never = parse_schedule("0 0 31 2 *").unwrap_err().to_string();
        assert!(never.contains("never run"), "{never}");
        assert!(parse_schedule("0 0 29 2 *").is_ok(), "leap days come");
    }

    #[test]
    fn quick_options_are_bounded() {
        let quick = Config::embedded().benchmarks["cpu-primes-1t"]
            .options
            .quick();
        assert!(quick.min_time <= Duration::from_millis(500));
        assert!(quick.warmup <= Duration::from_millis(200));
    }
}
