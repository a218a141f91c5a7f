//! Log output through `tracing`, in the form the reader of each place expects: under
//! systemd, journald adds the timestamp, unit and pid itself, so lines carry only a syslog
//! priority prefix (`<4>` = warning) that journald turns into the entry's priority; on a
//! terminal, a timestamp and level; for log shippers, one JSON object per line.
//!
//! `PERFWARDEN_LOG` (an `EnvFilter` directive such as `debug` or `perfwarden=trace`)
//! overrides the level.

use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// journald under systemd (`$JOURNAL_STREAM` set), else text
    Auto,
    /// Timestamp, level, message and fields
    Text,
    /// Syslog priority prefix and message, no timestamp (journald adds its own)
    Journald,
    /// One JSON object per line
    Json,
}

impl LogFormat {
    /// `Auto` resolved for this process.
    pub(crate) fn resolve(self) -> LogFormat {
        match self {
            LogFormat::Auto if std::env::var_os("JOURNAL_STREAM").is_some() => LogFormat::Journald,
            LogFormat::Auto => LogFormat::Text,
            other => other,
        }
    }
}

/// `<priority>message key=value…`: what systemd's stderr capture understands.
struct JournaldFormat;

impl<S, N> FormatEvent<S, N> for JournaldFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", syslog_priority(*event.metadata().level()))?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

fn syslog_priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// Installs the global subscriber: `default_level` unless `PERFWARDEN_LOG` says otherwise.
pub fn init(format: LogFormat, default_level: &str) {
    let filter =
        EnvFilter::try_from_env("PERFWARDEN_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests calling into the library) is not an error worth reporting.
    let _ = match format.resolve() {
        LogFormat::Journald => builder.event_format(JournaldFormat).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text | LogFormat::Auto => builder
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_follow_syslog() {
        assert_eq!(syslog_priority(Level::ERROR), 3);
        assert_eq!(syslog_priority(Level::WARN), 4);
        assert_eq!(syslog_priority(Level::INFO), 6);
        assert_eq!(syslog_priority(Level::DEBUG), 7);
    }
}
