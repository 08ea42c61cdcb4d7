//! The two error types of the FFI: the rich internal `Error`, and the small
//! public [`FirewallError`] the shells see, with only the cases a caller acts
//! on. `From<Error> for FirewallError` is the one place they meet.

use std::fmt;

use tacet_runtime::RuntimeError;
use tacet_store::StoreError;

/// What went wrong, as the Android and iOS shells see it. Each case is one
/// thing the app can do something about; `reason` is a plain sentence to
/// show or log (it never carries a queried name above what the caller gave).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Error)]
pub enum FirewallError {
    /// The TUN file descriptor handed over is not open or not a usable
    /// tunnel: ask the OS for the VPN interface again.
    BadFileDescriptor {
        /// The descriptor as given.
        fd: i32,
        /// What was wrong with it.
        reason: String,
    },
    /// The configuration cannot be used (an upstream that is not an IP
    /// address, an unknown list id, no upstream at start): fix it and retry.
    InvalidConfig {
        /// Which setting, and why.
        reason: String,
    },
    /// An argument cannot be used: a name that is not a DNS name, a journal
    /// cursor or filter address that does not parse, a list URL that is not
    /// https or is subscribed to already, an unknown list id.
    InvalidInput {
        /// Which argument, and why.
        reason: String,
    },
    /// No upstream resolver has a route from here (the network is down or
    /// changed): start again once the network is back, with its resolvers.
    /// One without a route among others that have one is left out (and
    /// logged), not an error: an IPv6 resolver during a handover to a
    /// network without IPv6 does not stop filtering.
    UpstreamUnreachable {
        /// Which resolver, and what the system said.
        reason: String,
    },
    /// The store directory cannot be opened, read or written (missing, no
    /// space, or already written by another process).
    StoreUnavailable {
        /// What failed.
        reason: String,
    },
    /// Something that should not happen did (an I/O thread lost, a bug):
    /// report it; the firewall is stopped if it was the runtime.
    Internal {
        /// What failed.
        reason: String,
    },
}

impl fmt::Display for FirewallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadFileDescriptor { fd, reason } => {
                write!(f, "bad TUN file descriptor {fd}: {reason}")
            }
            Self::InvalidConfig { reason } => write!(f, "invalid configuration: {reason}"),
            Self::InvalidInput { reason } => write!(f, "invalid input: {reason}"),
            Self::UpstreamUnreachable { reason } => write!(f, "upstream unreachable: {reason}"),
            Self::StoreUnavailable { reason } => write!(f, "store unavailable: {reason}"),
            Self::Internal { reason } => write!(f, "internal error: {reason}"),
        }
    }
}

impl std::error::Error for FirewallError {}

/// What a foreign listener threw that is not a `FirewallError` (any
/// exception), so that it comes back as an error instead of a panic.
impl From<uniffi::UnexpectedUniFFICallbackError> for FirewallError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Internal { reason: e.reason }
    }
}

/// Everything that can fail inside tacet-ffi, with its cause.
#[derive(Debug)]
pub(crate) enum Error {
    /// Starting or running the firewall failed.
    Runtime(RuntimeError),
    /// The store failed.
    Store(StoreError),
    /// No store directory is configured, but the call needs one.
    NoStore,
    /// A setting is not usable.
    Config(String),
    /// An argument is not usable.
    Input(String),
    /// A file outside the store (an export target) could not be written.
    File(std::path::PathBuf, std::io::Error),
    /// The rule set could not be compiled (never expected).
    Rules(String),
}

impl From<RuntimeError> for Error {
    fn from(e: RuntimeError) -> Self {
        Self::Runtime(e)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<Error> for FirewallError {
    fn from(error: Error) -> Self {
        match error {
            Error::Runtime(RuntimeError::BadFd(fd)) => Self::BadFileDescriptor {
                fd,
                reason: RuntimeError::BadFd(fd).to_string(),
            },
            Error::Runtime(e @ RuntimeError::Tun(_)) => Self::BadFileDescriptor {
                fd: -1,
                reason: e.to_string(),
            },
            Error::Runtime(
                e @ (RuntimeError::NoUpstream
                | RuntimeError::UpstreamIsFirewall(_)
                | RuntimeError::Tls(_)),
            ) => Self::InvalidConfig {
                reason: e.to_string(),
            },
            Error::Runtime(e @ RuntimeError::UpstreamUnreachable(..)) => {
                Self::UpstreamUnreachable {
                    reason: e.to_string(),
                }
            }
            Error::Runtime(RuntimeError::Store(e)) => Error::Store(e).into(),
            Error::Runtime(RuntimeError::NoStore) => Error::NoStore.into(),
            Error::Runtime(e @ (RuntimeError::Io(_) | RuntimeError::ThreadLost)) => {
                Self::Internal {
                    reason: e.to_string(),
                }
            }
            Error::Store(
                e @ (StoreError::InvalidName { .. }
                | StoreError::InvalidCursor { .. }
                | StoreError::Subscription { .. }),
            ) => Self::InvalidInput {
                reason: e.to_string(),
            },
            Error::Store(e) => Self::StoreUnavailable {
                reason: e.to_string(),
            },
            Error::NoStore => Self::StoreUnavailable {
                reason: "no store directory is configured (FirewallConfig.storeDir)".into(),
            },
            Error::Config(reason) => Self::InvalidConfig { reason },
            Error::Input(reason) => Self::InvalidInput { reason },
            Error::File(path, e) => Self::StoreUnavailable {
                reason: format!("cannot write {}: {e}", path.display()),
            },
            Error::Rules(reason) => Self::Internal { reason },
        }
    }
}

/// The result of an exported call.
pub type Result<T, E = FirewallError> = std::result::Result<T, E>;
