//! Config problems, each with the file, the key path, the line and what to do.

use std::fmt;

/// One problem found in a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The file (or `<embedded default>`).
    pub file: String,
    /// Dotted key path, e.g. `benchmarks.cpu-primes-1t.samples`.
    pub key: String,
    /// 1-based line, when the key is in the file.
    pub line: Option<usize>,
    pub message: String,
    pub hint: Option<String>,
}

/// `text` with its control characters escaped (`\u{1b}`): a value from a config may hold
/// terminal escape sequences, which a message must show, not send to the terminal. Line
/// breaks are kept when `keep_lines`.
pub(crate) fn printable(text: &str, keep_lines: bool) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() && !(keep_lines && c == '\n'))
    {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| {
            if c.is_control() && !(keep_lines && c == '\n') {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

impl ConfigProblem {
    /// The problem with control characters escaped in everything it prints.
    pub(crate) fn printable(&self) -> ConfigProblem {
        ConfigProblem {
            file: printable(&self.file, false).into_owned(),
            key: printable(&self.key, false).into_owned(),
            line: self.line,
            message: printable(&self.message, true).into_owned(),
            hint: self
                .hint
                .as_deref()
                .map(|h| printable(h, true).into_owned()),
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.printable();
        match shown.line {
            Some(line) => write!(f, "{}:{}: ", shown.file, line)?,
            None => write!(f, "{}: ", shown.file)?,
        }
        if shown.key.is_empty() {
            write!(f, "{}", shown.message)?;
        } else {
            write!(f, "`{}`: {}", shown.key, shown.message)?;
        }
        if let Some(hint) = &shown.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found in one config, reported together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        writeln!(
            f,
            "{count} problem{} in the configuration:",
            if count == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            writeln!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
