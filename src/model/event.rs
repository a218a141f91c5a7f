//! Alert events: the OTLP log records perfwarden sends when something an on-call engineer
//! should hear about happens — a regression confirmed, escalated or resolved, a new
//! environment (baseline epoch), a suite run ended. Events are built here from what the
//! detector decided, written to the outbox in redb in the same transaction as the verdicts
//! (`Store::put_verdicts`), and delivered by `super::otlp` until the collector accepts them.
//!
//! Each event carries a stable id (`log.record.uid`): a hash of the host id and what the
//! event is about, so a retry after a crash or a lost answer repeats the same id and a
//! receiver can drop the duplicate.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::records::{EnvironmentDiff, RunRecord};
use crate::model::verdict::{Regression, RegressionState, Severity, Transition, Verdict};

pub(crate) const REGRESSION: &str = "perfwarden.regression";
pub(crate) const ENVIRONMENT_CHANGED: &str = "perfwarden.environment.changed";
pub(crate) const SUITE_FINISHED: &str = "perfwarden.suite.finished";

/// OTLP severity classes used by the events (numbers from the OTLP log data model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EventSeverity {
    Info,
    Warn,
    Error,
    Fatal,
}

impl EventSeverity {
    pub(crate) fn number(self) -> i32 {
        match self {
            EventSeverity::Info => 9,
            EventSeverity::Warn => 13,
            EventSeverity::Error => 17,
            EventSeverity::Fatal => 21,
        }
    }

    pub(crate) fn text(self) -> &'static str {
        match self {
            EventSeverity::Info => "INFO",
            EventSeverity::Warn => "WARN",
            EventSeverity::Error => "ERROR",
            EventSeverity::Fatal => "FATAL",
        }
    }

    fn of(severity: Severity) -> EventSeverity {
        match severity {
            Severity::Minor => EventSeverity::Warn,
            Severity::Major => EventSeverity::Error,
            Severity::Critical => EventSeverity::Fatal,
        }
    }
}

/// An attribute value of an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Value {
    Int(i64),
    Float(f64),
    Text(String),
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::Text(text.to_string())
    }
}
impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::Text(text)
    }
}
impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Int(n as i64)
    }
}
impl From<f64> for Value {
    fn from(x: f64) -> Value {
        Value::Float(x)
    }
}

/// One event, as stored in the outbox and sent as one log record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Event {
    /// Stable id (`log.record.uid`), the same on every retry.
    pub id: String,
    /// Event name (`perfwarden.regression`, …).
    pub name: String,
    pub time: DateTime<Utc>,
    pub severity: EventSeverity,
    /// One line for a human.
    pub body: String,
    pub attributes: Vec<(String, Value)>,
}

impl Event {
    fn new(host_id: &str, name: &str, key: &str, time: DateTime<Utc>) -> Event {
        let mut hash = Sha256::new();
        for part in [host_id, name, key] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        Event {
            id: hex::encode(&hash.finalize()[..16]),
            name: name.to_string(),
            time,
            severity: EventSeverity::Info,
            body: String::new(),
            attributes: Vec::new(),
        }
    }

    fn with(mut self, key: &str, value: impl Into<Value>) -> Event {
        self.attributes.push((key.to_string(), value.into()));
        self
    }

    fn with_opt(self, key: &str, value: Option<f64>) -> Event {
        match value.filter(|v| v.is_finite()) {
            Some(v) => self.with(key, v),
            None => self,
        }
    }
}

/// The regression events of one evaluated run: confirmed (including at once), escalated,
/// and resolved or closed by an environment change when it had been confirmed (a
/// suspected regression never alerted, so its end is not news).
pub(crate) fn regression_events(
    host_id: &str,
    run: &RunRecord,
    verdicts: &[Verdict],
    previous: &[Regression],
    now: DateTime<Utc>,
) -> Vec<Event> {
    let mut events = Vec::new();
    for verdict in verdicts {
        let Some(transition) = verdict.transition else {
            continue;
        };
        let before = previous.iter().find(|r| r.benchmark == verdict.benchmark);
        // A regression's verdicts carry its severity (the highest it reached); a verdict
        // without one falls back to the regression's before this run.
        let severity = verdict.severity.or(before.map(|r| r.severity));
        let (action, state, severity) = match transition {
            Transition::Confirmed => ("confirmed", RegressionState::Confirmed.as_str(), severity),
            Transition::Escalated => ("escalated", RegressionState::Confirmed.as_str(), severity),
            Transition::Resolved | Transition::EnvironmentChanged
                if before.is_some_and(|r| r.state == RegressionState::Confirmed) =>
            {
                let action = if transition == Transition::Resolved {
                    "resolved"
                } else {
                    "closed_environment_changed"
                };
                (action, "resolved", before.map(|r| r.severity))
            }
            _ => continue,
        };
        let Some(severity) = severity else {
            continue;
        };
        let first_run = before.map(|r| r.first_run).unwrap_or(run.id);
        let evidence = verdict.evidence.as_ref();
        let change = evidence.map(|e| e.worse_change);
        let mut event = Event::new(
            host_id,
            REGRESSION,
            &format!(
                "{}/{first_run}/{action}/{}",
                verdict.benchmark, verdict.run_id
            ),
            now,
        )
        .with("benchmark", verdict.benchmark.as_str())
        .with("suite", run.suite.as_str())
        .with("severity", severity.as_str())
        .with("state", state)
        .with("transition", action)
        .with_opt("change", change)
        .with_opt("change_ci_low", evidence.and_then(|e| e.worse_change_low))
        .with_opt("change_ci_high", evidence.and_then(|e| e.worse_change_high))
        .with_opt(
            "baseline",
            evidence
                .map(|e| e.baseline_median)
                .or(before.and_then(|r| r.baseline_median)),
        )
        .with("run_id", verdict.run_id)
        .with("first_run_id", first_run)
        .with("fingerprint", run.fingerprint.as_str());
        let cause = verdict
            .environment_change
            .as_ref()
            .map(|d| d.summary())
            .or_else(|| before.and_then(|r| r.cause.clone()));
        if let Some(cause) = cause {
            event = event.with("cause", cause);
        }
        event.severity = if action == "confirmed" || action == "escalated" {
            EventSeverity::of(severity)
        } else {
            EventSeverity::Info
        };
        let change_text = change
            .map(|c| format!(" ({:+.1}% vs baseline)", c * 100.0))
            .unwrap_or_default();
        event.body = match action {
            "confirmed" => format!(
                "{} regression of {} confirmed in run {}{change_text}",
                severity.as_str(),
                verdict.benchmark,
                verdict.run_id
            ),
            "escalated" => format!(
                "regression of {} escalated to {} in run {}{change_text}",
                verdict.benchmark,
                severity.as_str(),
                verdict.run_id
            ),
            "resolved" => format!(
                "regression of {} resolved in run {}{change_text}",
                verdict.benchmark, verdict.run_id
            ),
            _ => format!(
                "regression of {} closed: the environment changed in run {}",
                verdict.benchmark, verdict.run_id
            ),
        };
        events.push(event);
    }
    events
}

/// The software environment changed since the previous run: a notice, since the run was
/// judged against the baselines from before the change; `stepped` names the benchmarks
/// that regressed at it.
pub(crate) fn software_changed(
    host_id: &str,
    run: &RunRecord,
    diff: &EnvironmentDiff,
    stepped: &[&str],
    now: DateTime<Utc>,
) -> Event {
    let fields: Vec<&str> = diff.changes.iter().map(|c| c.field.as_str()).collect();
    let mut event = Event::new(
        host_id,
        ENVIRONMENT_CHANGED,
        &format!(
            "{}/software/{}",
            run.id,
            run.environment.as_deref().unwrap_or("")
        ),
        now,
    )
    .with("suite", run.suite.as_str())
    .with("run_id", run.id)
    .with("kind", "software")
    .with("since_run_id", diff.since_run)
    .with("changed_fields", fields.join(","))
    .with("changes", diff.summary())
    .with("regressed_benchmarks", stepped.join(","));
    event.severity = if stepped.is_empty() {
        EventSeverity::Info
    } else {
        EventSeverity::Warn
    };
    event.body = format!(
        "software changed since run {} ({}): run {} was judged against the baselines from before; {}",
        diff.since_run,
        diff.summary(),
        run.id,
        if stepped.is_empty() {
            "no benchmark stepped".to_string()
        } else {
            format!("regressed at it: {}", stepped.join(", "))
        }
    );
    event
}

/// The hardware identity changed and a new baseline lineage began for the run's benchmarks.
pub(crate) fn environment_changed(
    host_id: &str,
    run: &RunRecord,
    old_fingerprint: &str,
    changed_fields: &[String],
    now: DateTime<Utc>,
) -> Event {
    let mut event = Event::new(
        host_id,
        ENVIRONMENT_CHANGED,
        &format!("{}/{old_fingerprint}/{}", run.id, run.fingerprint),
        now,
    )
    .with("suite", run.suite.as_str())
    .with("run_id", run.id)
    .with("kind", "hardware")
    .with("old_fingerprint", old_fingerprint)
    .with("new_fingerprint", run.fingerprint.as_str())
    .with("changed_fields", changed_fields.join(","));
    event.body = format!(
        "hardware changed ({}): a new baseline lineage starts at run {}",
        if changed_fields.is_empty() {
            "fingerprint".to_string()
        } else {
            changed_fields.join(", ")
        },
        run.id
    );
    event
}

/// A suite run ended (success, failed, interrupted or skipped).
pub(crate) fn suite_finished(
    host_id: &str,
    run: &RunRecord,
    health_score: Option<f64>,
    now: DateTime<Utc>,
) -> Event {
    let outcome = run.status.as_str();
    let mut event = Event::new(
        host_id,
        SUITE_FINISHED,
        &format!("{}/{}", run.id, outcome),
        now,
    )
    .with("suite", run.suite.as_str())
    .with("outcome", outcome)
    .with("run_id", run.id)
    .with_opt("duration", run.duration_secs())
    .with_opt("health_score", health_score);
    event.severity = if outcome == "success" {
        EventSeverity::Info
    } else {
        EventSeverity::Warn
    };
    event.body = format!("suite {} run {} ended: {outcome}", run.suite, run.id);
    event
}

/// A confirmed regression closed by an operator (`baseline accept`, `reset`): the alert it
/// raised must resolve too. `None` for a suspected one (it never alerted).
pub(crate) fn regression_closed(
    host_id: &str,
    regression: &Regression,
    how: &str,
    now: DateTime<Utc>,
) -> Option<Event> {
    if regression.state != RegressionState::Confirmed {
        return None;
    }
    let run_id = regression.ended_run.unwrap_or(regression.last_run);
    let mut event = Event::new(
        host_id,
        REGRESSION,
        &format!(
            "{}/{}/{how}/{run_id}",
            regression.benchmark, regression.first_run
        ),
        now,
    )
    .with("benchmark", regression.benchmark.as_str())
    .with("suite", regression.suite.as_str())
    .with("severity", regression.severity.as_str())
    .with("state", "resolved")
    .with("transition", how)
    .with_opt("baseline", regression.baseline_median)
    .with("run_id", run_id)
    .with("first_run_id", regression.first_run)
    .with("fingerprint", regression.fingerprint.as_str());
    event.body = format!(
        "regression of {} closed by an operator ({how})",
        regression.benchmark
    );
    Some(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::records::{RunStatus, Trigger};
    use crate::model::verdict::Outcome;

    fn run() -> RunRecord {
        let mut run = RunRecord::started(
            "weekly",
            false,
            Utc::now(),
            "h",
            "f".into(),
            None,
            vec!["b".into()],
            Trigger::Scheduled,
            None,
        );
        run.id = 8;
        run.status = RunStatus::Success;
        run
    }

    fn regression(state: RegressionState) -> Regression {
        Regression {
            benchmark: "b".into(),
            suite: "weekly".into(),
            config_hash: "c".into(),
            fingerprint: "f".into(),
            state,
            severity: Severity::Major,
            first_run: 7,
            last_run: 7,
            runs: vec![7],
            worse_change: Some(0.2),
            worse_change_low: Some(0.16),
            baseline_median: Some(1.0),
            current_median: Some(1.2),
            explanation: String::new(),
            ended: None,
            ended_run: None,
            recovering_runs: 0,
            cause: Some("kernel 6.1.0-26 → 6.1.0-28".into()),
            changes: vec![0.2],
        }
    }

    fn verdict(transition: Transition, severity: Option<Severity>) -> Verdict {
        Verdict {
            run_id: 8,
            benchmark: "b".into(),
            outcome: Outcome::Regression,
            severity,
            state: Some(RegressionState::Confirmed),
            transition: Some(transition),
            evidence: None,
            explanation: String::new(),
            slo: Vec::new(),
            noise: None,
            change_points: Vec::new(),
            drift: None,
            drift_window: None,
            environment_change: None,
        }
    }

    #[test]
    fn a_run_that_only_agrees_confirms_with_the_regressions_severity_and_cause() {
        let events = regression_events(
            "host",
            &run(),
            &[verdict(Transition::Confirmed, None)],
            &[regression(RegressionState::Suspected)],
            Utc::now(),
        );
        assert_eq!(events.len(), 1, "{events:?}");
        let attribute = |key: &str| {
            events[0]
                .attributes
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(attribute("severity"), Some(Value::from("major")));
        assert_eq!(attribute("transition"), Some(Value::from("confirmed")));
        assert_eq!(
            attribute("cause"),
            Some(Value::from("kernel 6.1.0-26 → 6.1.0-28"))
        );
        assert_eq!(events[0].severity, EventSeverity::Error);
    }

    #[test]
    fn resolving_a_confirmed_regression_is_an_event_and_a_suspicion_is_not() {
        let resolved = |state| {
            regression_events(
                "host",
                &run(),
                &[verdict(Transition::Resolved, None)],
                &[regression(state)],
                Utc::now(),
            )
        };
        assert_eq!(resolved(RegressionState::Confirmed).len(), 1);
        assert!(resolved(RegressionState::Suspected).is_empty());
    }
}
