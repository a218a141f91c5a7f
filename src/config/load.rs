//! `[load]`: the guard rails of every load test (`load.http`, `cache.redis`). A policy an
//! SRE sets once for the host, apart from the benchmarks, so that a config mistake cannot
//! point 500 users at a production service: only loopback is allowed unless a host is
//! listed, users, rate and duration are capped, and blackout windows keep load tests out
//! of business hours. `perfwarden check` (the unit's `ExecStartPre`) fails on a violation.

use std::time::Duration;

use chrono::{Datelike, Timelike};
use serde::Deserialize;

use super::{Problems, read_value};
use crate::model::units::ConfigDuration;

#[derive(Debug, Clone, PartialEq)]
pub struct LoadPolicy {
    /// Hosts a load test may target besides loopback: exact names or addresses, or
    /// `*.example.com` for every name under a domain.
    pub allowed_hosts: Vec<String>,
    pub max_users: usize,
    /// Requests per second over all users; `None` leaves the closed model unpaced.
    pub max_rate: Option<f64>,
    pub max_duration: Duration,
    pub blackout: Vec<Blackout>,
}

impl Default for LoadPolicy {
    fn default() -> Self {
        LoadPolicy {
            allowed_hosts: Vec::new(),
            max_users: 1000,
            max_rate: None,
            max_duration: Duration::from_secs(600),
            blackout: Vec::new(),
        }
    }
}

/// A weekly window in the daemon's time zone: `Mon-Fri 09:00-17:00`, `Sat 00:00-24:00`,
/// or `12:00-13:00` (every day). A window may cross midnight (`22:00-06:00`).
#[derive(Debug, Clone, PartialEq)]
pub struct Blackout {
    pub text: String,
    /// Days of the week it starts on, Monday = 0.
    days: [bool; 7],
    start_minute: u32,
    end_minute: u32,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Blackout {
    pub fn parse(text: &str) -> Result<Blackout, String> {
        let trimmed = text.trim();
        let (days_text, times) = match trimmed.rsplit_once(' ') {
            Some((days, times)) => (Some(days.trim()), times),
            None => (None, trimmed),
        };
        let mut days = [days_text.is_none(); 7];
        if let Some(days_text) = days_text {
            for part in days_text.split(',') {
                let day = |name: &str| {
                    DAYS.iter()
                        .position(|d| d.eq_ignore_ascii_case(name.trim()))
                        .ok_or_else(|| format!("\"{name}\" is not a day (Mon … Sun)"))
                };
                match part.split_once('-') {
                    Some((from, to)) => {
                        let (from, to) = (day(from)?, day(to)?);
                        let mut d = from;
                        loop {
                            days[d] = true;
                            if d == to {
                                break;
                            }
                            d = (d + 1) % 7;
                        }
                    }
                    None => days[day(part)?] = true,
                }
            }
        }
        let (start, end) = times
            .split_once('-')
            .ok_or_else(|| "expected HH:MM-HH:MM".to_string())?;
        let minute = |t: &str| -> Result<u32, String> {
            let (h, m) = t
                .split_once(':')
                .ok_or_else(|| format!("\"{t}\" is not HH:MM"))?;
            let (h, m): (u32, u32) = (
                h.parse().map_err(|_| format!("\"{t}\" is not HH:MM"))?,
                m.parse().map_err(|_| format!("\"{t}\" is not HH:MM"))?,
            );
            if h > 24 || m > 59 || (h == 24 && m > 0) {
                return Err(format!("\"{t}\" is not a time of day"));
            }
            Ok(h * 60 + m)
        };
        let (start_minute, end_minute) = (minute(start)?, minute(end)?);
        if start_minute == end_minute {
            return Err("the window is empty (start = end)".into());
        }
        Ok(Blackout {
            text: trimmed.to_string(),
            days,
            start_minute,
            end_minute,
        })
    }

    /// Whether `now` (local time of the schedules' zone) is inside the window.
    pub fn contains<T: Datelike + Timelike>(&self, now: &T) -> bool {
        let day = now.weekday().num_days_from_monday() as usize;
        let minute = now.hour() * 60 + now.minute();
        if self.start_minute < self.end_minute {
            self.days[day] && (self.start_minute..self.end_minute).contains(&minute)
        } else {
            // Crosses midnight: the evening part on a listed day, or the morning part on
            // the day after one.
            let yesterday = (day + 6) % 7;
            (self.days[day] && minute >= self.start_minute)
                || (self.days[yesterday] && minute < self.end_minute)
        }
    }
}

impl LoadPolicy {
    /// Whether a load test may target `host`.
    pub fn allows(&self, host: &str) -> bool {
        is_loopback(host)
            || self
                .allowed_hosts
                .iter()
                .any(|allowed| match allowed.strip_prefix("*.") {
                    Some(domain) => host
                        .to_ascii_lowercase()
                        .strip_suffix(&domain.to_ascii_lowercase())
                        .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1),
                    None => allowed.eq_ignore_ascii_case(host),
                })
    }

    /// The blackout window `now` falls in, if any.
    pub(crate) fn blackout_at<T: Datelike + Timelike>(&self, now: &T) -> Option<&Blackout> {
        self.blackout.iter().find(|b| b.contains(now))
    }

    /// The first minute at or after `at` (local time of `timezone`) outside every blackout
    /// window: when a held-back load test may start. Windows that cover the whole week leave
    /// `at` unchanged (the load test is then held back when it is due).
    pub(crate) fn clear_of_blackout(
        &self,
        at: chrono::DateTime<chrono::Utc>,
        timezone: chrono_tz::Tz,
    ) -> chrono::DateTime<chrono::Utc> {
        const WEEK_MINUTES: i64 = 7 * 24 * 60;
        let inside = |t: chrono::DateTime<chrono::Utc>| {
            self.blackout_at(&t.with_timezone(&timezone).naive_local())
                .is_some()
        };
        if !inside(at) {
            return at;
        }
        let minute = at
            .with_second(0)
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(at);
        (1..=WEEK_MINUTES)
            .map(|m| minute + chrono::Duration::minutes(m))
            .find(|t| !inside(*t))
            .unwrap_or(at)
    }
}

/// `localhost`, `127.0.0.0/8` and `::1`.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoad {
    allowed_hosts: Option<Vec<String>>,
    max_users: Option<i64>,
    max_rate: Option<f64>,
    max_duration: Option<ConfigDuration>,
    blackout: Option<Vec<String>>,
}

pub(super) fn validate(table: toml::Table, problems: &mut Problems) -> LoadPolicy {
    let mut policy = LoadPolicy::default();
    let raw: RawLoad =
        read_value(toml::Value::Table(table), &["load"], problems, |_| None).unwrap_or_default();
    if let Some(hosts) = raw.allowed_hosts {
        for host in &hosts {
            let address = host.trim_start_matches('[').trim_end_matches(']');
            let bad = host.is_empty()
                || host.contains('/')
                || (host.contains(':') && address.parse::<std::net::IpAddr>().is_err());
            if bad {
                problems.add(
                    &["load", "allowed_hosts"],
                    format!("\"{host}\" is not a host name or address"),
                    Some("list bare host names (\"api.internal\"), \"*.internal\" or addresses, without scheme or port".into()),
                );
            }
        }
        policy.allowed_hosts = hosts;
    }
    if let Some(users) = raw.max_users {
        if users < 1 {
            problems.add(&["load", "max_users"], "must be at least 1", None);
        } else {
            policy.max_users = users as usize;
        }
    }
    if let Some(rate) = raw.max_rate {
        if rate > 0.0 && rate.is_finite() {
            policy.max_rate = Some(rate);
        } else {
            problems.add(
                &["load", "max_rate"],
                "must be a positive number of requests/s",
                None,
            );
        }
    }
    if let Some(duration) = raw.max_duration {
        if duration.0 < Duration::from_secs(1) {
            problems.add(&["load", "max_duration"], "must be at least 1s", None);
        } else {
            policy.max_duration = duration.0;
        }
    }
    for (index, text) in raw.blackout.unwrap_or_default().iter().enumerate() {
        match Blackout::parse(text) {
            Ok(window) => policy.blackout.push(window),
            Err(message) => problems.add_keyed(
                &["load", "blackout"],
                format!("load.blackout[{index}]"),
                format!("\"{text}\": {message}"),
                Some("write e.g. \"Mon-Fri 09:00-17:00\" or \"22:00-06:00\" (the daemon's time zone)".into()),
            ),
        }
    }
    policy
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(date: (i32, u32, u32), h: u32, m: u32) -> chrono::NaiveDateTime {
        NaiveDate::from_ymd_opt(date.0, date.1, date.2)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    #[test]
    fn blackout_windows_cover_days_times_and_midnight() {
        // 2026-11-23 is a Monday.
        let office = Blackout::parse("Mon-Fri 09:00-17:00").unwrap();
        assert!(office.contains(&at((2026, 11, 23), 9, 0)));
        assert!(office.contains(&at((2026, 11, 27), 16, 59)));
        assert!(!office.contains(&at((2026, 11, 27), 17, 0)));
        assert!(!office.contains(&at((2026, 11, 28), 10, 0)), "Saturday");
        let night = Blackout::parse("Sun 22:00-06:00").unwrap();
        assert!(night.contains(&at((2026, 11, 29), 23, 0)), "Sunday evening");
        assert!(night.contains(&at((2026, 11, 30), 5, 59)), "Monday morning");
        assert!(
            !night.contains(&at((2026, 11, 30), 23, 0)),
            "Monday evening"
        );
        let daily = Blackout::parse("12:00-13:00").unwrap();
        assert!(daily.contains(&at((2026, 11, 28), 12, 30)));
        let wrap = Blackout::parse("Sat-Mon 00:00-24:00").unwrap();
        assert!(wrap.contains(&at((2026, 11, 29), 8, 0)));
        assert!(!wrap.contains(&at((2026, 11, 24), 8, 0)), "Tuesday");
        for bad in ["Mon 9-17", "Xyz 09:00-10:00", "09:00-09:00", "25:00-26:00"] {
            assert!(Blackout::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_held_back_load_test_may_start_when_the_window_ends() {
        use chrono::TimeZone;
        let policy = LoadPolicy {
            blackout: vec![
                Blackout::parse("Mon-Fri 09:00-17:00").unwrap(),
                Blackout::parse("Fri 17:00-20:00").unwrap(),
            ],
            ..LoadPolicy::default()
        };
        let berlin = chrono_tz::Europe::Berlin;
        let local = |d: u32, h: u32, m: u32| {
            berlin
                .with_ymd_and_hms(2026, 11, d, h, m, 0)
                .unwrap()
                .with_timezone(&chrono::Utc)
        };
        // Monday 10:17:30 Berlin → Monday 17:00; Friday 16:00 → Friday 20:00 (two windows).
        let monday = local(23, 10, 17) + chrono::Duration::seconds(30);
        assert_eq!(policy.clear_of_blackout(monday, berlin), local(23, 17, 0));
        assert_eq!(
            policy.clear_of_blackout(local(27, 16, 0), berlin),
            local(27, 20, 0)
        );
        let saturday = local(28, 10, 0);
        assert_eq!(policy.clear_of_blackout(saturday, berlin), saturday);
        let always = LoadPolicy {
            blackout: vec![Blackout::parse("00:00-24:00").unwrap()],
            ..LoadPolicy::default()
        };
        assert_eq!(always.clear_of_blackout(saturday, berlin), saturday);
    }

    #[test]
    fn only_loopback_and_listed_hosts_are_allowed() {
        let policy = LoadPolicy {
            allowed_hosts: vec!["api.internal".into(), "*.staging.example".into()],
            ..LoadPolicy::default()
        };
        for host in [
            "127.0.0.1",
            "127.3.4.5",
            "::1",
            "[::1]",
            "localhost",
            "api.internal",
        ] {
            assert!(policy.allows(host), "{host}");
        }
        assert!(policy.allows("web.staging.example"));
        for host in [
            "staging.example",
            "evilstaging.example",
            "10.0.0.1",
            "example.com",
        ] {
            assert!(!policy.allows(host), "{host}");
        }
        assert!(!LoadPolicy::default().allows("api.internal"));
    }
}
