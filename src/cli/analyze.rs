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
use crate::report::{self, AnalysisReport, AnalyzedPoint};

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
            times.push((timestamp(fields[0], line)?, fields[0].to_string()));
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
    if let Some(times) = &series.times {
        if times.windows(2).any(|w| w[1].0 < w[0].0) {
            return Err("timestamps must not go backwards; sort the series by time".into());
        }
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
    Ok(Outcome::ok(report::render(
        &report,
        globals.format,
        globals.style(),
    )))
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
        assert!(
            parse_series("[1, NaN]")
                .unwrap_err()
                .starts_with("line 1: not a JSON array")
        );
    }
}
