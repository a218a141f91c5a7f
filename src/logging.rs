//! Log output through `tracing`, in the form the reader of each place expects: under
//! systemd, one journal entry per message, sent over journald's native protocol so a
//! message of several lines (an error and its `hint:`) stays one entry at one priority;
//! journald adds the timestamp, unit and pid itself. The entry is plain text (no colour
//! codes, which would make `journalctl -g` miss words and show "blob data"): the message,
//! then its fields as `key=value`. Where the journal socket cannot be reached, the same
//! text goes to stderr with a syslog priority prefix (`<4>` = warning) on every line. On a
//! terminal, a timestamp and level; for log shippers, one JSON object per line.
//!
//! `PERFWARDEN_LOG` (an `EnvFilter` directive such as `debug` or `perfwarden=trace`)
//! overrides the level.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// One journal entry per message over journald's socket, no timestamp (journald adds
    /// its own); stderr with a syslog priority prefix where the socket is missing
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

/// journald's socket for native entries.
const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// One native journal entry (systemd's `JOURNAL_NATIVE_PROTOCOL`): the message in the
/// length-prefixed form, so newlines stay inside it.
fn journal_entry(priority: u8, message: &str) -> Vec<u8> {
    let mut entry = Vec::with_capacity(message.len() + 64);
    entry.extend_from_slice(
        format!("PRIORITY={priority}\nSYSLOG_IDENTIFIER=perfwarden\n").as_bytes(),
    );
    entry.extend_from_slice(b"MESSAGE\n");
    entry.extend_from_slice(&(message.len() as u64).to_le_bytes());
    entry.extend_from_slice(message.as_bytes());
    entry.push(b'\n');
    entry
}

/// Splits what [`JournaldFormat`] wrote for one event into its priority and message.
fn parse_formatted(bytes: &[u8]) -> (u8, String) {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_end_matches('\n');
    match text
        .strip_prefix('<')
        .and_then(|rest| rest.split_once('>'))
        .and_then(|(p, message)| Some((p.parse().ok()?, message)))
    {
        Some((priority, message)) => (priority, message.to_string()),
        None => (6, text.to_string()),
    }
}

/// Where journald-format events go: the journal's socket, or, when it cannot take an
/// entry, `fallback` with the priority prefix on every line (journald's stream reader
/// makes each line an entry at that priority).
struct JournalWriter<W: Write> {
    socket: Arc<Option<(UnixDatagram, PathBuf)>>,
    fallback: W,
}

impl<W: Write> Write for JournalWriter<W> {
    /// `buf` is one formatted event: tracing's formatter writes each event whole.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let (priority, message) = parse_formatted(buf);
        if let Some((socket, path)) = self.socket.as_ref() {
            if socket
                .send_to(&journal_entry(priority, &message), path)
                .is_ok()
            {
                return Ok(buf.len());
            }
        }
        let mut lines = String::with_capacity(message.len() + 8);
        for line in message.lines() {
            lines.push_str(&format!("<{priority}>{line}\n"));
        }
        self.fallback.write_all(lines.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.fallback.flush()
    }
}

/// Whether `$JOURNAL_STREAM` (`device:inode`) is stderr's.
fn stderr_is_the_journal() -> bool {
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((device, inode)) = stream.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat(2) fills `stat` for a valid descriptor and is checked before use.
    if unsafe { libc::fstat(2, stat.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: fstat returned 0, so `stat` is initialised.
    let stat = unsafe { stat.assume_init() };
    device.parse::<u64>().ok() == Some(stat.st_dev)
        && inode.parse::<u64>().ok() == Some(stat.st_ino)
}

/// Makes a [`JournalWriter`] to stderr per event, sharing one socket.
struct Journal {
    socket: Arc<Option<(UnixDatagram, PathBuf)>>,
}

impl Journal {
    /// The journal, when stderr is journald's stream (`$JOURNAL_STREAM` names stderr's
    /// device and inode, as systemd documents) and its socket is there; else stderr.
    fn of_this_process() -> Journal {
        if stderr_is_the_journal() {
            Journal::at(Path::new(JOURNAL_SOCKET))
        } else {
            Journal {
                socket: Arc::new(None),
            }
        }
    }

    fn at(path: &Path) -> Journal {
        let socket = path
            .exists()
            .then(|| UnixDatagram::unbound().ok())
            .flatten()
            .map(|socket| (socket, path.to_path_buf()));
        Journal {
            socket: Arc::new(socket),
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Journal {
    type Writer = JournalWriter<std::io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        JournalWriter {
            socket: self.socket.clone(),
            fallback: std::io::stderr(),
        }
    }
}

/// The journald form's layer: [`JournaldFormat`], plain text, to `writer`.
fn journald_layer<S, W>(
    writer: W,
) -> tracing_subscriber::fmt::Layer<
    S,
    tracing_subscriber::fmt::format::DefaultFields,
    JournaldFormat,
    W,
>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + 'static,
{
    tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .event_format(JournaldFormat)
        .with_writer(writer)
}

/// Installs the global subscriber: `default_level` unless `PERFWARDEN_LOG` says otherwise.
pub fn init(format: LogFormat, default_level: &str) {
    let filter =
        EnvFilter::try_from_env("PERFWARDEN_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = |filter: EnvFilter| {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
    };
    // A second init (tests calling into the library) is not an error worth reporting.
    let _ = match format.resolve() {
        LogFormat::Journald => {
            use tracing_subscriber::layer::SubscriberExt;
            use tracing_subscriber::util::SubscriberInitExt;
            let journal = journald_layer(Journal::of_this_process());
            tracing_subscriber::registry()
                .with(filter)
                .with(journal)
                .try_init()
                .map_err(Into::into)
        }
        LogFormat::Json => builder(filter)
            .with_ansi(false)
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text | LogFormat::Auto => builder(filter)
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

    /// journald's side of the native protocol: the fields of one entry.
    fn fields(entry: &[u8]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut rest = entry;
        while !rest.is_empty() {
            let end = rest.iter().position(|b| *b == b'\n').unwrap();
            let head = String::from_utf8(rest[..end].to_vec()).unwrap();
            rest = &rest[end + 1..];
            match head.split_once('=') {
                Some((key, value)) => out.push((key.into(), value.into())),
                None => {
                    let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
                    let value = String::from_utf8(rest[8..8 + len].to_vec()).unwrap();
                    assert_eq!(rest[8 + len], b'\n');
                    rest = &rest[8 + len + 1..];
                    out.push((head, value));
                }
            }
        }
        out
    }

    #[test]
    fn a_message_of_several_lines_is_one_journal_entry_at_its_priority() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.socket");
        let journald = UnixDatagram::bind(&path).unwrap();
        let journal = Journal::at(&path);
        let mut writer = tracing_subscriber::fmt::MakeWriter::make_writer(&journal);
        let event = b"<4>cannot reload the config problem=\"x\"\n  hint: fix it\n";
        assert_eq!(writer.write(event).unwrap(), event.len());
        let mut buf = vec![0u8; 4096];
        let n = journald.recv(&mut buf).unwrap();
        assert_eq!(
            fields(&buf[..n]),
            vec![
                ("PRIORITY".to_string(), "4".to_string()),
                ("SYSLOG_IDENTIFIER".into(), "perfwarden".into()),
                (
                    "MESSAGE".into(),
                    "cannot reload the config problem=\"x\"\n  hint: fix it".into()
                ),
            ]
        );
    }

    #[test]
    fn without_the_journal_every_line_carries_the_priority_on_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::at(&dir.path().join("missing.socket"));
        let mut writer = JournalWriter {
            socket: journal.socket.clone(),
            fallback: Vec::new(),
        };
        writer
            .write_all(b"<3>the store failed\n  hint: free space\n")
            .unwrap();
        assert_eq!(
            String::from_utf8(writer.fallback).unwrap(),
            "<3>the store failed\n<3>  hint: free space\n"
        );
    }

    #[test]
    fn journald_lines_carry_no_colour_codes() {
        use tracing_subscriber::layer::SubscriberExt;
        #[derive(Clone, Default)]
        struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Captured {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let captured = Captured::default();
        let sink = captured.clone();
        let layer = journald_layer(move || sink.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(problem = "`suites.x`: is empty", "the config has problems");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "<4>the config has problems problem=\"`suites.x`: is empty\"\n"
        );
    }
}
