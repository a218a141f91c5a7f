//! `perfwarden analyze --input FILE [--direction lower|higher]`: change points and drift
//! of any series, without touching the database — for data from other tools.
//!
//! Accepted input (detected from the content):
//! - a JSON array of numbers: `[12.1, 12.3, …]`;
//! - CSV with one value per line;
//! - CSV `timestamp,value` (timestamp: RFC 3339 or Unix seconds), optionally with a header
//!   line such as `timestamp,value`.
//!
//! Blank lines and lines starting with `#` are ignored. Malformed input (an empty file,
//! text in a number column, NaN or infinity, a wrong number of columns) is an error naming
//! the line.

use std::path::PathBuf;

use clap::ValueEnum;

use super::{CommandError, Globals, Outcome};
use crate::detect::history;
use crate::model::metric::Direction;
use crate::report::{AnalysisReport, AnalyzedPoint};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Series file (JSON array, CSV of values, or CSV timestamp,value); `-` reads stdin
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Which way is worse: `lower` if lower values are better (latency), `higher` if higher
    /// values are better (throughput)
    #[arg(long, value_enum, default_value_t = BetterDirection::Lower)]
    pub direction: BetterDirection,
    /// Smallest relative change over the series that counts as a drift, e.g. 5%
    #[arg(long, default_value = "5%")]
    pub tolerance: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BetterDirection {
    /// Lower values are better (durations, latencies)
    Lower,
    /// Higher values are better (throughput)
    Higher,
}

/// A parsed series: values, and times (seconds) with their original text when given.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Series {
    pub values: Vec<f64>,
    pub times: Option<Vec<(f64, String)>>,
}

fn finite(text: &str, line: usize) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("line {line}: \"{}\" is not a number", text.trim()))?;
    if !value.is_finite() {
        return Err(format!(
            "line {line}: \"{}\" is not a finite number",
            text.trim()
        ));
    }
    Ok(value)
}

fn timestamp(text: &str, line: usize) -> Result<f64, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() {
            return Ok(seconds);
        }
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis() as f64 / 1000.0)
        .map_err(|_| {
            format!("line {line}: timestamp \"{text}\" is neither RFC 3339 nor Unix seconds")
        })
}

fn parse_json(text: &str) -> Result<Series, String> {
    let items: Vec<serde_json::Value> = serde_json::from_str(text)
        .map_err(|e| format!("line {}: not a JSON array of numbers: {e}", e.line()))?;
    let lines = json_element_lines(text);
    let mut values = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let line = lines.get(index).copied().unwrap_or(1);
        match item.as_f64() {
            Some(v) if v.is_finite() => values.push(v),
            _ => {
                return Err(format!(
                    "line {line}: element {} ({item}) is not a number",
                    index + 1
                ));
            }
        }
    }
    Ok(Series {
        values,
        times: None,
    })
}

/// Line of each top-level element of a JSON array (for error messages).
fn json_element_lines(text: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    let (mut line, mut depth, mut in_string, mut escaped, mut expecting) =
        (1, 0, false, false, false);
    for c in text.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            if c == '\n' {
                line += 1;
            }
            continue;
        }
        match c {
            '\n' => line += 1,
            '[' | '{' => {
                if depth == 1 && expecting {
                    lines.push(line);
                    expecting = false;
                }
                depth += 1;
                if depth == 1 {
                    expecting = true;
                }
            }
            ']' | '}' => depth -= 1,
            ',' if depth == 1 => expecting = true,
            c if c.is_whitespace() => {}
            _ => {
                if depth == 1 && expecting {
                    lines.push(line);
                    expecting = false;
                }
                if c == '"' {
                    in_string = true;
                }
            }
        }
    }
    lines
}

fn parse_csv(text: &str) -> Result<Series, String> {
    let mut values = Vec::new();
    let mut times: Vec<(f64, String)> = Vec::new();
    let mut columns: Option<usize> = None;
    let mut first_data_line = true;
    for (number, raw) in text.lines().enumerate() {
        let line = number + 1;
        let content = raw.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = content.split(',').map(str::trim).collect();
        let is_header = first_data_line
            && fields.last().is_some_and(|f| f.parse::<f64>().is_err())
            && fields.iter().all(|f| {
                f.chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == ' ')
            });
        first_data_line = false;
        if is_header {
            continue;
        }
        match (columns, fields.len()) {
            (_, n) if n > 2 => {
                return Err(format!(
                    "line {line}: {n} columns; expected `value` or `timestamp,value`"
                ));
            }
            (Some(expected), n) if n != expected => {
                return Err(format!(
                    "line {line}: {n} column(s) where earlier lines have {expected}"
                ));
            }
            _ => {}
        }
        columns = Some(fields.len());
        if fields.len() == 2 {
            let at = timestamp(fields[0], line)?;
            if let Some((previous, previous_text)) = times.last() {
                if at < *previous {
                    return Err(format!(
                        "line {line}: timestamp {} is before the one on the line above it ({previous_text}); timestamps must not go backwards: sort the series by time",
                        fields[0]
                    ));
                }
            }
            times.push((at, fields[0].to_string()));
            values.push(finite(fields[1], line)?);
        } else {
            values.push(finite(fields[0], line)?);
        }
    }
    Ok(Series {
        values,
        times: (columns == Some(2)).then_some(times),
    })
}

/// Parses a series, detecting JSON or CSV.
pub(super) fn parse_series(text: &str) -> Result<Series, String> {
    let series = if text.trim_start().starts_with('[') {
        parse_json(text)?
    } else {
        parse_csv(text)?
    };
    if series.values.is_empty() {
        return Err("no values (the input is empty)".into());
    }
    Ok(series)
}

pub(super) fn run(globals: &Globals, args: Args) -> Result<Outcome, CommandError> {
    let name = args.input.display().to_string();
    let text = if name == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| CommandError::usage(format!("stdin: {e}")))?
    } else {
        std::fs::read_to_string(&args.input)
            .map_err(|e| CommandError::usage(format!("{name}: cannot read: {e}")))?
    };
    let series = parse_series(&text).map_err(|e| CommandError::usage(format!("{name}: {e}")))?;
    let tolerance = crate::model::units::Percent::parse(&args.tolerance)
        .map_err(|e| CommandError::usage(format!("--tolerance: {e}")))?
        .0;
    let direction = match args.direction {
        BetterDirection::Lower => Direction::LowerIsBetter,
        BetterDirection::Higher => Direction::HigherIsBetter,
    };
    let times: Option<Vec<f64>> = series
        .times
        .as_ref()
        .map(|t| t.iter().map(|(s, _)| *s).collect());
    let analysis = history::analyze(&series.values, times.as_deref(), direction, tolerance);
    let report = AnalysisReport {
        input: name,
        points: analysis.points,
        direction,
        tolerance,
        slope_per: if times.is_some() { "second" } else { "point" }.to_string(),
        change_points: analysis
            .change_points
            .into_iter()
            .map(|point| AnalyzedPoint {
                timestamp: series
                    .times
                    .as_ref()
                    .map(|t| t[point.point.index].1.clone()),
                point,
            })
            .collect(),
        trend: analysis.trend,
        noise_scale: analysis.noise_scale,
        autocorrelation: analysis.autocorrelation,
        outliers: analysis.outliers,
    };
    Ok(Outcome::ok(globals.render(&report)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_input_forms_parse() {
        assert_eq!(
            parse_series("[1, 2.5, 3]").unwrap().values,
            vec![1.0, 2.5, 3.0]
        );
        assert_eq!(
            parse_series("1\n2\n\n# note\n3\n").unwrap().values,
            vec![1.0, 2.0, 3.0]
        );
        let s = parse_series("timestamp,value\n2026-01-01T00:00:00Z,5\n2026-01-02T00:00:00Z,6\n")
            .unwrap();
        assert_eq!(s.values, vec![5.0, 6.0]);
        let times = s.times.unwrap();
        assert_eq!(times[1].0 - times[0].0, 86_400.0);
        let s = parse_series("1700000000,1\n1700000060,2\n").unwrap();
        assert_eq!(s.times.unwrap()[1].0, 1_700_000_060.0);
    }

    #[test]
    fn malformed_input_names_the_line() {
        assert_eq!(
            parse_series("").unwrap_err(),
            "no values (the input is empty)"
        );
        assert_eq!(
            parse_series("\n# only a comment\n").unwrap_err(),
            "no values (the input is empty)"
        );
        assert_eq!(
            parse_series("1\n2\nabc\n").unwrap_err(),
            "line 3: \"abc\" is not a number"
        );
        assert_eq!(
            parse_series("1\nNaN\n").unwrap_err(),
            "line 2: \"NaN\" is not a finite number"
        );
        assert_eq!(
            parse_series("t,v\n2026-01-01T00:00:00Z,1\nyesterday,2\n").unwrap_err(),
            "line 3: timestamp \"yesterday\" is neither RFC 3339 nor Unix seconds"
        );
        assert_eq!(
            parse_series("1,2\n3\n").unwrap_err(),
            "line 2: 1 column(s) where earlier lines have 2"
        );
        assert_eq!(
            parse_series("[1,\n 2,\n \"x\"]").unwrap_err(),
            "line 3: element 3 (\"x\") is not a number"
        );
        assert!(
            parse_series("[1, 2,")
                .unwrap_err()
                .starts_with("line 1: not a JSON array")
        );
        assert_eq!(
            parse_series("t,v\n1700000060,1\n\n1700000000,2\n").unwrap_err(),
            "line 4: timestamp 1700000000 is before the one on the line above it (1700000060); timestamps must not go backwards: sort the series by time"
        );
        assert!(
            parse_series("[1, NaN]")
                .unwrap_err()
                .starts_with("line 1: not a JSON array")
        );
    }

    mod fuzz {
        //! Bounded fuzzing of `analyze` input (proptest, fixed seed): numbers of every
        //! magnitude and sign, timestamps in both forms and out of order, JSON and CSV,
        //! headers, blank lines, comments and raw bytes. Parsing never panics and names the
        //! line of what it refuses; what it accepts is analysed without a panic and with
        //! finite findings.

        use super::super::parse_series;
        use crate::detect::history;
        use crate::model::metric::Direction;
        use proptest::prelude::*;
        use proptest::test_runner::{Config as ProptestConfig, RngSeed};

        fn number() -> impl Strategy<Value = String> {
            prop_oneof![
                40 => (-1e6f64..1e6).prop_map(|v| format!("{v}")),
                40 => (-300i32..300, 1.0f64..10.0).prop_map(|(e, m)| format!("{m}e{e}")),
                2 => Just("0".to_string()),
                2 => Just("-0".to_string()),
                1 => Just("1e400".to_string()),
                1 => Just("NaN".to_string()),
                1 => Just("inf".to_string()),
                1 => "[a-z ]{0,6}",
            ]
        }

        fn line() -> impl Strategy<Value = String> {
            prop_oneof![
                60 => number(),
                3 => (1_600_000_000u64..1_800_000_000, number()).prop_map(|(t, v)| format!("{t},{v}")),
                1 => (0u32..28, number()).prop_map(|(d, v)| format!("2026-11-{:02}T00:00:00Z,{v}", d + 1)),
                1 => Just(String::new()),
                1 => Just("# comment".to_string()),
                1 => Just("timestamp,value".to_string()),
                1 => proptest::collection::vec(any::<u8>(), 0..12)
                    .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
            ]
        }

        fn input() -> impl Strategy<Value = String> {
            prop_oneof![
                2 => proptest::collection::vec(line(), 0..80).prop_map(|l| l.join("\n")),
                3 => proptest::collection::vec(number(), 0..120).prop_map(|l| l.join("\n")),
                1 => proptest::collection::vec(number(), 0..60)
                    .prop_map(|n| format!("[{}]", n.join(", "))),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 600,
                rng_seed: RngSeed::Fixed(20_261_204),
                failure_persistence: None,
                ..ProptestConfig::default()
            })]

            #[test]
            fn any_input_is_analysed_or_refused_with_its_line_never_a_panic(text in input()) {
                match parse_series(&text) {
                    Err(message) => prop_assert!(
                        message.starts_with("line ") || message.starts_with("no values"),
                        "{message}"
                    ),
                    Ok(series) => {
                        let times: Option<Vec<f64>> =
                            series.times.as_ref().map(|t| t.iter().map(|(s, _)| *s).collect());
                        let analysis = history::analyze(
                            &series.values,
                            times.as_deref(),
                            Direction::LowerIsBetter,
                            0.05,
                        );
                        prop_assert_eq!(analysis.points, series.values.len());
                        for c in &analysis.change_points {
                            prop_assert!(c.point.index < series.values.len());
                            prop_assert!(c.point.p_value.is_nan() || (0.0..=1.0).contains(&c.point.p_value));
                        }
                    }
                }
            }
        }
    }
}
