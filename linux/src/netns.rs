//! Throwaway network namespaces for the demo: created with iproute2,
//! entered per thread with setns(2), and removed when dropped.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

use crate::interface::ip;

/// A named network namespace that is deleted (with every interface in it)
/// when dropped.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `ip netns add NAME`.
    pub fn create(name: &str) -> Result<Self, String> {
        // Owned before `ip` runs: Ctrl-C reaches the whole process group,
        // so `ip` may die after creating the namespace but before saying
        // so, and the drop must still remove it.
        let ns = Self {
            name: name.to_owned(),
        };
        ip(&["netns", "add", name])?;
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME ARGS`.
    pub fn ip(&self, args: &[&str]) -> Result<(), String> {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// Moves the calling thread into this namespace: sockets and devices it
    /// creates from then on, and threads it spawns, live there.
    pub fn enter(&self) -> io::Result<()> {
        let file = File::open(format!("/var/run/netns/{}", self.name))?;
        // SAFETY: setns on an open namespace file; it affects only this thread.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Runs `f` on a new thread inside this namespace and returns its result.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T, String> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    self.enter()
                        .map_err(|e| format!("cannot enter namespace {}: {e}", self.name))?;
                    Ok(f())
                })
                .join()
                .map_err(|_| "a thread in the demo failed".to_string())?
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Never created (`ip netns add` failed first): nothing to remove.
        if !std::path::Path::new("/run/netns").join(&self.name).exists() {
            return;
        }
        if let Err(e) = ip(&["netns", "delete", &self.name]) {
            eprintln!("tacet: could not remove namespace {}: {e}", self.name);
        }
    }
}
