//! The control socket: while the daemon runs it owns the database (redb allows one process
//! per file), so the CLI sends its read commands and `run` here. One JSON request per
//! connection, one JSON response, each on one line. The daemon answers a forwarded command
//! by running the same `cli` code against its open store, so both paths print the same.
//!
//! Access is the socket file's mode: 0600 (the daemon's user only) or 0660 with a group.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::model::status::StatusReport;

/// File name of the socket in whichever directory holds it.
pub(crate) const SOCKET_FILE: &str = "perfwarden.sock";

/// Largest request or response line accepted (a `show` of a big run is well below).
pub(crate) const MAX_MESSAGE_BYTES: usize = 16 << 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub(crate) enum Request {
    Status,
    /// A read command (or `baseline`), given as the client's command line.
    Command {
        argv: Vec<String>,
        color: bool,
        terminal: bool,
        /// The client's terminal width the text must fit, if any.
        #[serde(default)]
        width: Option<usize>,
        /// `--state-dir` of the client, if it gave one: the daemon refuses to answer for
        /// another directory than its own.
        state_dir: Option<PathBuf>,
    },
    /// Queue a run of a suite.
    Run {
        suite: String,
        benches: Vec<String>,
        quick: bool,
        /// Confirm the run's suspicions at once (`run --confirm`).
        #[serde(default)]
        confirm: bool,
        state_dir: Option<PathBuf>,
    },
    /// Where a queued run is.
    Ticket {
        ticket: u64,
    },
    /// `db export` / `db backup`: the daemon answers with the export itself, streamed in
    /// the `model::archive` format (or one `Response` line if it cannot).
    Export {
        state_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "response", rename_all = "snake_case")]
pub(crate) enum Response {
    Status(Box<StatusReport>),
    Output {
        stdout: String,
        code: i32,
    },
    Error {
        message: String,
        code: i32,
    },
    /// The client asked about another state directory; it should open that itself.
    OtherStateDir {
        daemon_state_dir: PathBuf,
    },
    Queued {
        ticket: u64,
        /// Jobs ahead of this one, the running one included.
        ahead: usize,
        /// What runs now, e.g. `weekly (run 42)`.
        running: Option<String>,
    },
    Ticket(TicketState),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub(crate) enum TicketState {
    Queued {
        position: usize,
    },
    Running {
        run_id: Option<u64>,
        benchmark: Option<String>,
        index: usize,
        total: usize,
    },
    Finished {
        run_id: Option<u64>,
        /// Exit code `perfwarden run` would have returned.
        code: i32,
        message: Option<String>,
    },
    /// Not known to this daemon (restarted since, or never issued).
    Unknown,
}

/// Where the control socket lives: `$PERFWARDEN_SOCKET`, `[daemon] socket`,
/// `$RUNTIME_DIRECTORY/perfwarden.sock` (systemd), `/run/perfwarden/perfwarden.sock` when
/// that directory exists, else `perfwarden.sock` in the state directory.
pub(crate) fn socket_path(config: Option<&Config>, state_dir: &Path) -> PathBuf {
    if let Some(path) = std::env::var_os("PERFWARDEN_SOCKET").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    if let Some(path) = config.and_then(|c| c.daemon.socket.clone()) {
        return path;
    }
    if let Some(dirs) = std::env::var_os("RUNTIME_DIRECTORY").filter(|p| !p.is_empty()) {
        // systemd passes a colon-separated list; ours is the first.
        let first = dirs
            .to_string_lossy()
            .split(':')
            .next()
            .unwrap_or("")
            .to_string();
        if !first.is_empty() {
            return Path::new(&first).join(SOCKET_FILE);
        }
    }
    let system = Path::new("/run/perfwarden");
    if system.is_dir() {
        return system.join(SOCKET_FILE);
    }
    state_dir.join(SOCKET_FILE)
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    /// Nothing listens there: the CLI works on the database itself.
    #[error("no daemon listens on {0}")]
    NotRunning(PathBuf),
    #[error(
        "cannot use the daemon's control socket {path}: {source}\n  hint: run as the daemon's user or root, or set [daemon] socket_group and join that group"
    )]
    Denied {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the daemon on {path} did not answer properly: {message}")]
    Protocol { path: PathBuf, message: String },
}

/// A connection target: the socket path of a daemon that answered.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub path: PathBuf,
    pub timeout: Duration,
}

impl Client {
    /// Connects to the daemon at `path`; `NotRunning` when there is none.
    pub(crate) fn connect(path: &Path) -> Result<Client, ClientError> {
        let client = Client {
            path: path.to_path_buf(),
            timeout: Duration::from_secs(120),
        };
        client.stream().map(|_| client)
    }

    fn stream(&self) -> Result<UnixStream, ClientError> {
        match UnixStream::connect(&self.path) {
            Ok(stream) => {
                let _ = stream.set_read_timeout(Some(self.timeout));
                let _ = stream.set_write_timeout(Some(self.timeout));
                Ok(stream)
            }
            // Only a socket we may not use is an error; anything else (no file, nobody
            // listening, a path that cannot exist) means no daemon.
            Err(source) if source.kind() == std::io::ErrorKind::PermissionDenied => {
                Err(ClientError::Denied {
                    path: self.path.clone(),
                    source,
                })
            }
            Err(_) => Err(ClientError::NotRunning(self.path.clone())),
        }
    }

    /// Asks for an export and copies it to `out` as it arrives. `Ok(None)`: the daemon
    /// serves another state directory. The copy is checked to end with the export's end
    /// line, so a daemon stopped half-way is an error, not a short file.
    pub(crate) fn export(
        &self,
        state_dir: Option<PathBuf>,
        out: &mut dyn Write,
    ) -> Result<Option<Response>, ClientError> {
        let protocol = |message: String| ClientError::Protocol {
            path: self.path.clone(),
            message,
        };
        let mut stream = self.stream()?;
        let mut line =
            serde_json::to_vec(&Request::Export { state_dir }).expect("requests serialize");
        line.push(b'\n');
        stream
            .write_all(&line)
            .map_err(|e| protocol(e.to_string()))?;
        let mut reader = BufReader::with_capacity(1 << 16, stream);
        let mut first = String::new();
        reader
            .read_line(&mut first)
            .map_err(|e| protocol(e.to_string()))?;
        if first.is_empty() {
            return Err(protocol("the connection closed without an answer".into()));
        }
        if let Ok(response) = serde_json::from_str::<Response>(&first) {
            return Ok(Some(response));
        }
        let write_failed = |e: std::io::Error| protocol(format!("cannot write the export: {e}"));
        out.write_all(first.as_bytes()).map_err(write_failed)?;
        let mut last = String::new();
        let mut current = String::new();
        loop {
            current.clear();
            match reader.read_line(&mut current) {
                Ok(0) => break,
                Ok(_) => {
                    out.write_all(current.as_bytes()).map_err(write_failed)?;
                    std::mem::swap(&mut last, &mut current);
                }
                Err(e) => return Err(protocol(format!("the export stopped: {e}"))),
            }
        }
        out.flush().map_err(write_failed)?;
        if serde_json::from_str::<crate::model::archive::ExportTrailer>(&last).is_err() {
            return Err(protocol(
                "the export was cut short (the daemon stopped or failed while sending it); run the command again".into(),
            ));
        }
        Ok(None)
    }

    /// Sends one request and reads the response.
    pub(crate) fn request(&self, request: &Request) -> Result<Response, ClientError> {
        let protocol = |message: String| ClientError::Protocol {
            path: self.path.clone(),
            message,
        };
        let mut stream = self.stream()?;
        let mut line = serde_json::to_vec(request).expect("requests serialize");
        line.push(b'\n');
        // A daemon at its connection limit answers without reading the request and closes:
        // its answer is read even when sending the request failed.
        let sent = stream.write_all(&line);
        let mut reader = BufReader::new(stream).take(MAX_MESSAGE_BYTES as u64);
        let mut answer = String::new();
        let read = reader.read_line(&mut answer);
        if answer.is_empty() {
            let failure = match (sent, read) {
                (Err(e), _) | (Ok(()), Err(e)) => e.to_string(),
                (Ok(()), Ok(_)) => "the connection closed without an answer".into(),
            };
            return Err(protocol(failure));
        }
        serde_json::from_str(&answer).map_err(|e| protocol(e.to_string()))
    }
}
