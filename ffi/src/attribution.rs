//! Which app sent a query or made a connection, for the journal: the shell
//! knows (Android 10 and later: `ConnectivityManager.getConnectionOwnerUid`),
//! the firewall asks it.
//!
//! Unlike the listener, the resolver is called on the firewall's I/O thread,
//! synchronously, because the OS can only tell while the app's socket is
//! open: the answer to the app waits for it. So it is asked only for what
//! the journal records (blocked attempts; allowed queries in discovery
//! mode), its answers are reused for a few seconds, and it must be quick
//! and must not call the `Firewall` (that would wait on the thread it runs
//! on, until a 5 s timeout).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use parking_lot::Mutex;
use tacet_engine::Protocol;
use tacet_runtime::Connection;

use crate::error::FirewallError;

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Transport {
    /// TCP (Android: `OsConstants.IPPROTO_TCP`).
    Tcp,
    /// UDP (Android: `OsConstants.IPPROTO_UDP`).
    Udp,
}

/// Names the app behind a connection in the tunnel. Called on the
/// firewall's I/O thread: return quickly, never call the `Firewall`.
#[uniffi::export(callback_interface)]
pub trait AppResolver: Send + Sync {
    /// The app that owns the `transport` socket at `local` talking to
    /// `remote` (both `address:port`, IPv6 as `[address]:port`; `local` is
    /// the app's side), as the name the journal shows (Android: the
    /// package), or null when the platform cannot tell. A thrown exception
    /// counts as null.
    fn app_for(
        &self,
        transport: Transport,
        local: String,
        remote: String,
    ) -> Result<Option<String>, FirewallError>;
}

/// The resolver in force, shared by the `Firewall` and the observer of
/// each run, so that setting it takes effect on a running firewall.
#[derive(Default, Clone)]
pub(crate) struct ResolverCell(Arc<Mutex<Option<Arc<dyn AppResolver>>>>);

impl ResolverCell {
    pub(crate) fn set(&self, resolver: Option<Arc<dyn AppResolver>>) {
        *self.0.lock() = resolver;
    }

    /// Asks the resolver, if any; the lock is released before the call.
    pub(crate) fn app_of(&self, connection: &Connection) -> Option<String> {
        let resolver = self.0.lock().clone()?;
        let transport = match connection.protocol {
            Protocol::Tcp => Transport::Tcp,
            Protocol::Udp => Transport::Udp,
        };
        let call = || {
            resolver.app_for(
                transport,
                connection.local.to_string(),
                connection.remote.to_string(),
            )
        };
        match catch_unwind(AssertUnwindSafe(call)) {
            Ok(Ok(app)) => app.filter(|a| !a.trim().is_empty()),
            Ok(Err(e)) => {
                log::debug!("the app resolver failed: {e}");
                None
            }
            Err(_) => None,
        }
    }
}
