//! How the database file is opened, and the wall between redb's panics and the agent.
//!
//! - **Writable** ([`Database`]): `run`, the daemon and the commands that change state take
//!   redb's exclusive lock and may write (redb repairs a file a crash left unclean).
//! - **Read-only** ([`ReadOnlyDatabase`]): the read commands take a shared lock and never
//!   write, so they work on a read-only copy, a read-only mount or a full disk, and cost no
//!   `fdatasync`.
//! - **Private copy**: a file that needs redb's crash repair but may not be written (a
//!   read-only copy of a crashed agent's file, `db check`) is read into memory and repaired
//!   there; the file itself is never touched. It costs memory the size of the file.
//!
//! redb trusts its file: a damaged page can make it panic ("entered unreachable code",
//! "range end index out of range") instead of returning an error. Every call into redb goes
//! through [`contain`], which turns such a panic into a [`Damaged`] error that says what to
//! do, without printing the panic; the handle is dropped after one so the next access opens
//! the file afresh.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Once;

use redb::backends::InMemoryBackend;
use redb::{Database, ReadOnlyDatabase, ReadTransaction, StorageBackend};

/// A panic inside redb, with its message and where it happened.
#[derive(Debug, Clone)]
pub(crate) struct Damaged(pub String);

thread_local! {
    /// Set while this thread runs code inside [`contain`]: its panics are not printed.
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
    /// The message of the last contained panic of this thread.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

static QUIET_HOOK: Once = Once::new();

/// Runs `body`, turning a panic into [`Damaged`]. The process's panic hook still prints
/// every panic outside `contain` (and in other threads) as before.
pub(crate) fn contain<T>(body: impl FnOnce() -> T) -> Result<T, Damaged> {
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CONTAINED.with(Cell::get) {
                let location = info
                    .location()
                    .map(|l| format!(" (at {}:{})", l.file(), l.line()))
                    .unwrap_or_default();
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into());
                LAST_PANIC.with(|last| *last.borrow_mut() = Some(format!("{message}{location}")));
            } else {
                previous(info)
            }
        }));
    });
    let outer = CONTAINED.with(|c| c.replace(true));
    let result = catch_unwind(AssertUnwindSafe(body));
    CONTAINED.with(|c| c.set(outer));
    result.map_err(|_| {
        Damaged(
            LAST_PANIC
                .with(|last| last.borrow_mut().take())
                .unwrap_or_else(|| "redb panicked".into()),
        )
    })
}

/// The open database in one of the three modes (see the module doc).
pub(crate) enum Handle {
    Writable(Database),
    ReadOnly(ReadOnlyDatabase),
    PrivateCopy(Database),
}

impl Handle {
    pub(crate) fn begin_read(&self) -> Result<ReadTransaction, redb::TransactionError> {
        use redb::ReadableDatabase;
        match self {
            Handle::Writable(db) | Handle::PrivateCopy(db) => db.begin_read(),
            Handle::ReadOnly(db) => db.begin_read(),
        }
    }

    /// The database if this handle may change the file.
    pub(crate) fn writable(&self) -> Option<&Database> {
        match self {
            Handle::Writable(db) => Some(db),
            Handle::ReadOnly(_) | Handle::PrivateCopy(_) => None,
        }
    }
}

/// How a store was asked to open its file; a reopen after an I/O error uses the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Writable,
    ReadOnly,
    PrivateCopy,
}

/// Bytes of page cache redb may keep (its default is 1 GiB): the agent reads each
/// benchmark's history once per run, so a small cache costs little time and keeps the
/// daemon small.
pub(crate) const CACHE_BYTES: usize = 16 << 20;

fn builder() -> redb::Builder {
    let mut builder = Database::builder();
    builder.set_cache_size(CACHE_BYTES);
    builder
}

/// Why a file could not be opened, before the store attaches its path.
pub(crate) enum OpenFailure {
    Redb(redb::DatabaseError),
    Io(std::io::Error),
    Damaged(Damaged),
}

impl From<redb::DatabaseError> for OpenFailure {
    fn from(error: redb::DatabaseError) -> Self {
        OpenFailure::Redb(error)
    }
}

/// Opens the file at `path` in `access` mode (creating it only in writable mode).
pub(crate) fn open(path: &Path, access: Access) -> Result<Handle, OpenFailure> {
    let opened = contain(|| -> Result<Handle, OpenFailure> {
        Ok(match access {
            Access::Writable => Handle::Writable(builder().create(path)?),
            Access::ReadOnly => Handle::ReadOnly(builder().open_read_only(path)?),
            Access::PrivateCopy => {
                let bytes = std::fs::read(path).map_err(OpenFailure::Io)?;
                let backend = InMemoryBackend::new();
                let copied = backend
                    .set_len(bytes.len() as u64)
                    .and_then(|()| backend.write(0, &bytes));
                copied.map_err(|e| OpenFailure::Io(std::io::Error::other(e.to_string())))?;
                Handle::PrivateCopy(builder().create_with_backend(backend)?)
            }
        })
    });
    opened.map_err(OpenFailure::Damaged)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contained_panic_is_an_error_with_its_message() {
        let result: Result<(), Damaged> = contain(|| panic!("range end index 9 out of range"));
        let Damaged(message) = result.unwrap_err();
        assert!(message.contains("range end index 9"), "{message}");
        assert!(message.contains("handle.rs"), "{message}");
        assert_eq!(contain(|| 7).unwrap(), 7);
    }
}
