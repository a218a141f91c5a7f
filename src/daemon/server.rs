//! The daemon's side of the control socket: bind it with the right mode, accept
//! connections, answer one request each.

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::control::{MAX_MESSAGE_BYTES, Request, Response};
use super::{Daemon, status_report, ticket_state};
use crate::exit;

/// Binds the socket: refuses if another daemon answers there, replaces a stale socket
/// (only a socket: anything else at the path is refused, never removed),
/// creates it 0600 (umask, so it is never briefly open) and, with a group, hands it to that
/// group with mode 0660.
pub(super) fn bind(path: &Path, group: Option<&str>) -> Result<UnixListener, BindError> {
    let at = |step: BindStep| {
        let path = path.to_path_buf();
        move |source| BindError::Io { step, path, source }
    };
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(BindError::InUse(path.to_path_buf()));
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) => {
            std::fs::remove_file(path).map_err(at(BindStep::RemoveStale))?;
            tracing::info!(socket = %path.display(), "removed a stale socket");
        }
        Ok(_) => return Err(BindError::NotASocket(path.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(at(BindStep::RemoveStale)(e)),
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| BindError::Io {
            step: BindStep::CreateParent,
            path: parent.to_path_buf(),
            source,
        })?;
    }
    // The umask is process-wide: two binds at once (tests, or a bind beside another
    // thread's) would restore each other's mask, so the swap is serialised.
    static UMASK_SWAP: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let bound = {
        let _only_one = UMASK_SWAP
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // SAFETY: umask only swaps the process's file-mode mask; no memory is involved.
        let previous = unsafe { libc::umask(0o177) };
        let bound = UnixListener::bind(path);
        // SAFETY: as above, restoring the previous mask.
        unsafe { libc::umask(previous) };
        bound
    };
    let listener = bound.map_err(at(BindStep::Create))?;
    // The mask already made it 0600; the mode is stated once more, and with a group the
    // file is handed over and opened to that group.
    let mode = match group {
        None => 0o600,
        Some(group) => {
            give_to_group(path, group)?;
            0o660
        }
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(at(BindStep::SetMode))?;
    Ok(listener)
}

/// Hands `path` to `group`, keeping its owner.
fn give_to_group(path: &Path, group: &str) -> Result<(), BindError> {
    let gid = group_id(group).ok_or_else(|| BindError::NoGroup(group.to_string()))?;
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| BindError::NulInPath)?;
    // SAFETY: c_path is a valid NUL-terminated string; -1 keeps the owner.
    if unsafe { libc::chown(c_path.as_ptr(), u32::MAX, gid) } != 0 {
        return Err(BindError::Chown {
            path: path.to_path_buf(),
            group: group.to_string(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Whether this process could give its socket to `group`, as the daemon does at start:
/// the group exists and a file can be handed to it (under systemd, the unit must add the
/// group with `SupplementaryGroups=` and map it with `PrivateUsers=no`). `check` asks
/// this, in the unit's environment when run as its `ExecStartPre`.
pub(crate) fn can_give_socket_to(group: &str) -> Result<(), String> {
    let probe = std::env::temp_dir().join(format!(
        "perfwarden-group-check-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&probe)
        .map_err(|e| format!("cannot create {} to try it on: {e}", probe.display()))?;
    let given = give_to_group(&probe, group);
    let _ = std::fs::remove_file(&probe);
    given.map_err(|e| match e {
        BindError::Chown { group, source, .. } => format!(
            "this process cannot give the control socket to group \"{group}\" ({source}), so the daemon would not start\n  hint: under systemd add SupplementaryGroups={group} and PrivateUsers=no to the unit (a drop-in, as the unit's comments say), or remove the key"
        ),
        other => other.to_string(),
    })
}

/// Why the control socket could not be bound; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub(super) enum BindError {
    #[error(
        "another perfwarden daemon is listening on {}; stop it first (systemctl stop perfwarden)",
        .0.display()
    )]
    InUse(PathBuf),
    #[error("{}", step.describe(path, source))]
    Io {
        step: BindStep,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "[daemon] socket_group: no group named \"{0}\" on this host; create it (groupadd {0}) or remove the key"
    )]
    NoGroup(String),
    #[error(
        "the control socket path {} is taken by something that is not a socket; it was left alone\n  hint: set [daemon] socket or $PERFWARDEN_SOCKET to a free path, or move that file away",
        .0.display()
    )]
    NotASocket(PathBuf),
    #[error("socket path contains a NUL byte")]
    NulInPath,
    #[error(
        "cannot give the socket {} to group \"{group}\": {source}\n  hint: under systemd add SupplementaryGroups={group} to the unit",
        path.display()
    )]
    Chown {
        path: PathBuf,
        group: String,
        #[source]
        source: std::io::Error,
    },
}

/// The file-system step of binding that failed.
#[derive(Debug, Clone, Copy)]
pub(super) enum BindStep {
    RemoveStale,
    CreateParent,
    Create,
    SetMode,
}

impl BindStep {
    fn describe(self, path: &Path, error: &std::io::Error) -> String {
        let path = path.display();
        match self {
            BindStep::RemoveStale => format!("cannot remove the stale socket {path}: {error}"),
            BindStep::CreateParent => format!("cannot create {path}: {error}"),
            BindStep::Create => format!(
                "cannot create the control socket {path}: {error}\n  hint: set [daemon] socket or $PERFWARDEN_SOCKET to a writable path"
            ),
            BindStep::SetMode => format!("cannot set the mode of {path}: {error}"),
        }
    }
}

fn group_id(name: &str) -> Option<libc::gid_t> {
    let c_name = std::ffi::CString::new(name).ok()?;
    let mut group: libc::group = unsafe { std::mem::zeroed() };
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; getgrnam_r writes only into `group` and
    // `buffer` (of the length passed).
    let rc = unsafe {
        libc::getgrnam_r(
            c_name.as_ptr(),
            &mut group,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut result,
        )
    };
    (rc == 0 && !result.is_null()).then_some(group.gr_gid)
}

/// Connections served at once; beyond them a client is told so at once and disconnected,
/// so a flood of idle connections cannot make `status` or `run` hang.
pub(super) const MAX_CONNECTIONS: usize = 64;
/// A client must send its request line within this long of connecting; a silent
/// connection is closed.
pub(super) const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Writing the response may take this long (a client that stopped reading is dropped).
const RESPONSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub(super) async fn accept_loop(listener: UnixListener, daemon: Arc<Daemon>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        match listener.accept().await {
            Ok((stream, _)) => match slots.clone().try_acquire_owned() {
                Ok(slot) => {
                    let daemon = daemon.clone();
                    tokio::spawn(async move {
                        handle(stream, daemon).await;
                        drop(slot);
                    });
                }
                Err(_) => {
                    tracing::warn!(
                        limit = MAX_CONNECTIONS,
                        "control socket: too many connections at once; refusing one"
                    );
                    tokio::spawn(refuse(stream));
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "control socket accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// Tells a client over the connection limit so, without reading its request.
async fn refuse(mut stream: UnixStream) {
    let response = Response::Error {
        message: format!(
            "the daemon is serving {MAX_CONNECTIONS} connections at once; try again in a few seconds"
        ),
        code: exit::STATE,
    };
    let _ = tokio::time::timeout(RESPONSE_TIMEOUT, write_response(&mut stream, &response)).await;
}

async fn write_response(
    write: &mut (impl AsyncWriteExt + Unpin),
    response: &Response,
) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(response).expect("responses serialize");
    bytes.push(b'\n');
    write.write_all(&bytes).await
}

async fn handle(stream: UnixStream, daemon: Arc<Daemon>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read).take(MAX_MESSAGE_BYTES as u64);
    let mut line = String::new();
    let Ok(read) = tokio::time::timeout(REQUEST_TIMEOUT, reader.read_line(&mut line)).await else {
        tracing::debug!("control client sent no request in time; closed");
        return;
    };
    let response = match read {
        Ok(0) => return,
        Ok(_) => match serde_json::from_str::<Request>(&line) {
            Ok(Request::Export { state_dir }) => {
                if same_state_dir(&daemon, state_dir.as_deref()) {
                    return stream_export(&daemon, write).await;
                }
                Response::OtherStateDir {
                    daemon_state_dir: daemon.state_dir.clone(),
                }
            }
            Ok(request) => respond(&daemon, request).await,
            Err(e) => Response::Error {
                message: format!("bad request: {e}"),
                code: exit::USAGE,
            },
        },
        Err(e) => Response::Error {
            message: format!("cannot read the request: {e}"),
            code: exit::USAGE,
        },
    };
    match tokio::time::timeout(RESPONSE_TIMEOUT, write_response(&mut write, &response)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, "control client went away"),
        Err(_) => tracing::debug!("control client stopped reading; closed"),
    }
}

/// Export chunks handed from the blocking export to the socket writer.
struct ChunkWriter {
    chunks: tokio::sync::mpsc::Sender<Vec<u8>>,
    pending: Vec<u8>,
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(data);
        if self.pending.len() >= 1 << 16 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.chunks
            .blocking_send(std::mem::take(&mut self.pending))
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
            })
    }
}

/// Streams `db export` to the client: the export runs on a blocking thread in one read
/// transaction (suites go on writing beside it), its chunks are written here, each within
/// [`RESPONSE_TIMEOUT`]; a client that stops reading ends the export.
async fn stream_export(daemon: &Arc<Daemon>, mut write: tokio::net::unix::OwnedWriteHalf) {
    let (chunks, mut received) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
    let store = daemon.store.clone();
    let exporting = tokio::task::spawn_blocking(move || {
        let mut writer = ChunkWriter {
            chunks,
            pending: Vec::new(),
        };
        store.export(&mut writer)
    });
    while let Some(chunk) = received.recv().await {
        match tokio::time::timeout(RESPONSE_TIMEOUT, write.write_all(&chunk)).await {
            Ok(Ok(())) => {}
            _ => {
                tracing::debug!("control client stopped reading the export; closed");
                break;
            }
        }
    }
    drop(received);
    match exporting.await {
        Ok(Ok(tally)) => tracing::info!(
            records = tally.end.records,
            unreadable = tally.end.unreadable.len(),
            "served an export of the database"
        ),
        Ok(Err(e)) => tracing::warn!(error = %e, "the export for a client stopped"),
        Err(e) => tracing::warn!(error = %e, "the export for a client panicked"),
    }
}

/// Whether the client's `--state-dir` (if any) is the daemon's.
fn same_state_dir(daemon: &Daemon, asked: Option<&Path>) -> bool {
    let Some(asked) = asked else { return true };
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canonical(asked) == canonical(&daemon.state_dir)
}

async fn respond(daemon: &Arc<Daemon>, request: Request) -> Response {
    match request {
        Request::Status => Response::Status(Box::new(status_report(daemon))),
        // Streamed by `handle`, never answered in one line.
        Request::Export { .. } => Response::Error {
            message: "an export is streamed, not answered here".into(),
            code: exit::STATE,
        },
        Request::Ticket { ticket } => Response::Ticket(ticket_state(daemon, ticket)),
        Request::Command {
            argv,
            color,
            terminal,
            width,
            state_dir,
        } => {
            if !same_state_dir(daemon, state_dir.as_deref()) {
                return Response::OtherStateDir {
                    daemon_state_dir: daemon.state_dir.clone(),
                };
            }
            let store = daemon.store.clone();
            let config = daemon.lock().config.clone();
            let style = crate::report::Style {
                color,
                terminal,
                width,
            };
            let serve = daemon.options.serve_command.clone();
            let (response, may_write) =
                tokio::task::spawn_blocking(move || serve(argv, style, store, config))
                    .await
                    .unwrap_or_else(|e| {
                        let message = format!("the command panicked: {e}");
                        let code = exit::STATE;
                        (Response::Error { message, code }, false)
                    });
            if may_write {
                super::refresh_exposition(daemon);
            }
            response
        }
        Request::Run {
            suite,
            benches,
            quick,
            confirm,
            state_dir,
        } => {
            if !same_state_dir(daemon, state_dir.as_deref()) {
                return Response::OtherStateDir {
                    daemon_state_dir: daemon.state_dir.clone(),
                };
            }
            let mut shared = daemon.lock();
            // Reject unknown suites and benchmarks now, not when the run would start.
            if let Err(error) = crate::pipeline::plan(&shared.config, &suite, &benches, quick) {
                return Response::Error {
                    message: error.to_string(),
                    code: exit::USAGE,
                };
            }
            let running = shared.current.as_ref().map(|c| match c.run_id {
                Some(id) => format!("{} (run {id})", c.suite),
                None => c.suite.clone(),
            });
            let (ticket, ahead) =
                shared
                    .agenda
                    .enqueue_manual(&suite, benches, quick, confirm, chrono::Utc::now());
            drop(shared);
            tracing::info!(suite = %suite, ticket, ahead, "run requested over the control socket");
            daemon.wake.notify_one();
            daemon.gate_wake.notify_one();
            Response::Queued {
                ticket,
                ahead,
                running,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[tokio::test]
    async fn a_regular_file_or_a_directory_at_the_socket_path_is_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("notes.txt");
        std::fs::write(&file, "keep me").unwrap();
        let error = bind(&file, None).unwrap_err();
        assert!(matches!(error, BindError::NotASocket(_)), "{error}");
        assert!(error.to_string().contains("left alone"), "{error}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        assert!(matches!(bind(&sub, None), Err(BindError::NotASocket(_))));
        assert!(sub.is_dir());
        // A stale socket (nobody listening) is replaced.
        let stale = dir.path().join("stale.sock");
        drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
        let _listener = bind(&stale, None).unwrap();
    }

    #[tokio::test]
    async fn the_socket_is_0600_or_0660_with_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("private.sock");
        let _listener = bind(&private, None).unwrap();
        let meta = std::fs::metadata(&private).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);

        // A group this process belongs to: its own primary group.
        // SAFETY: getgid has no preconditions.
        let gid = unsafe { libc::getgid() };
        // SAFETY: getgrgid returns a pointer into static storage or null.
        let name = unsafe {
            let group = libc::getgrgid(gid);
            assert!(!group.is_null());
            std::ffi::CStr::from_ptr((*group).gr_name)
                .to_string_lossy()
                .into_owned()
        };
        let shared = dir.path().join("shared.sock");
        let _listener = bind(&shared, Some(&name)).unwrap();
        let meta = std::fs::metadata(&shared).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o660);
        assert_eq!(meta.gid(), gid);

        let error = bind(&dir.path().join("x.sock"), Some("no-such-group-here"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("no group named"), "{error}");
    }

    #[tokio::test]
    async fn a_live_socket_is_not_taken_over_and_a_stale_one_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sock");
        let listener = bind(&path, None).unwrap();
        let error = bind(&path, None).unwrap_err().to_string();
        assert!(error.contains("another perfwarden daemon"), "{error}");
        drop(listener); // the file stays behind, like after SIGKILL
        assert!(path.exists());
        bind(&path, None).expect("a stale socket is replaced");
    }
}
