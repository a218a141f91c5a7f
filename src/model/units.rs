//! Values with units in the config: durations (`"30s"`, `"500ms"`, `"7d"`) and percentages
//! (`"5%"`). A bare number is rejected with a hint, so no one has to guess whether
//! `timeout = 30` means seconds or milliseconds.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written with its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigDuration(pub Duration);

impl ConfigDuration {
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if trimmed.starts_with('-') {
            return Err(format!(
                "\"{text}\" is negative; durations must be zero or positive, e.g. \"30s\""
            ));
        }
        if !trimmed.is_empty() && trimmed.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(format!(
                "\"{text}\" has no unit; write e.g. \"{trimmed}s\", \"{trimmed}ms\" or \"{trimmed}m\""
            ));
        }
        humantime::parse_duration(trimmed)
            .map(ConfigDuration)
            .map_err(|e| {
                format!("\"{text}\" is not a duration ({e}); write e.g. \"500ms\", \"30s\", \"5m\", \"7d\"")
            })
    }
}

impl fmt::Display for ConfigDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ConfigDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration string with a unit, e.g. \"30s\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                ConfigDuration::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "{v} has no unit; durations are strings with a unit, e.g. \"{}s\"",
                    v.unsigned_abs()
                )))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                self.visit_i64(v as i64)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "{v} has no unit; durations are strings with a unit, e.g. \"{}ms\"",
                    (v.abs() * 1000.0).round()
                )))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Serialize for ConfigDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

/// A percentage written as `"5%"`, stored as a fraction (0.05).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Percent(pub f64);

impl Percent {
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let Some(number) = trimmed.strip_suffix('%') else {
            return Err(format!(
                "\"{text}\" is not a percentage; write it with a % sign, e.g. \"5%\""
            ));
        };
        let value: f64 = number
            .trim()
            .parse()
            .map_err(|_| format!("\"{text}\" is not a percentage; write e.g. \"5%\""))?;
        if !value.is_finite() || value < 0.0 {
            return Err(format!(
                "\"{text}\" must be a positive percentage, e.g. \"5%\""
            ));
        }
        Ok(Percent(value / 100.0))
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0 * 100.0)
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Percent;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a percentage string, e.g. \"5%\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Percent::parse(v).map_err(E::custom)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "{v} is ambiguous; write the percentage as a string, e.g. \"{}%\"",
                    if v < 1.0 { v * 100.0 } else { v }
                )))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                self.visit_f64(v as f64)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                self.visit_f64(v as f64)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_units() {
        assert_eq!(
            ConfigDuration::parse("30s").unwrap().0,
            Duration::from_secs(30)
        );
        assert_eq!(
            ConfigDuration::parse("7d").unwrap().0,
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(
            ConfigDuration::parse("500ms").unwrap().0,
            Duration::from_millis(500)
        );
        assert!(ConfigDuration::parse("30").unwrap_err().contains("no unit"));
        assert!(
            ConfigDuration::parse("-5s")
                .unwrap_err()
                .contains("negative")
        );
        assert!(ConfigDuration::parse("soon").is_err());
    }

    #[test]
    fn percentages_need_the_sign() {
        assert_eq!(Percent::parse("5%").unwrap().0, 0.05);
        assert!(Percent::parse("5").is_err());
        assert!(Percent::parse("-1%").is_err());
    }
}
