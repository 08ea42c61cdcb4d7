//! What can go wrong when opening, reading or changing the store.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// An operation on the store failed; each variant says what, in plain words.
#[derive(Debug)]
pub enum StoreError {
    /// The store directory could not be created or read.
    Dir {
        /// The directory.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// Another process (or another `Store` in this one) already writes to this store.
    Locked {
        /// The lock file that is held.
        path: PathBuf,
    },
    /// A file of the store could not be read, written or synced.
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// A name given for a custom rule is not a valid DNS name.
    InvalidName {
        /// The name as given.
        name: String,
        /// Why it was refused.
        why: &'static str,
    },
    /// A journal cursor string could not be understood.
    InvalidCursor {
        /// The cursor as given.
        cursor: String,
    },
    /// A subscription cannot be added or changed as asked (a URL that is
    /// not https, a list subscribed to already, too many lists, an id that
    /// is not one).
    Subscription {
        /// Why, in plain words.
        why: String,
    },
    /// Writing an export to the caller's writer failed.
    Export {
        /// What the writer said.
        source: io::Error,
    },
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Dir { path, source } => {
                write!(f, "cannot use store directory {}: {source}", path.display())
            }
            StoreError::Locked { path } => write!(
                f,
                "the store is already open for writing by another process (lock {} is held)",
                path.display()
            ),
            StoreError::Io { path, source } => {
                write!(f, "cannot read or write {}: {source}", path.display())
            }
            StoreError::InvalidName { name, why } => {
                write!(f, "'{name}' is not a usable name for a rule: {why}")
            }
            StoreError::InvalidCursor { cursor } => {
                write!(f, "'{cursor}' is not a journal cursor")
            }
            StoreError::Subscription { why } => f.write_str(why),
            StoreError::Export { source } => write!(f, "writing the export failed: {source}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Dir { source, .. }
            | StoreError::Io { source, .. }
            | StoreError::Export { source } => Some(source),
            _ => None,
        }
    }
}
