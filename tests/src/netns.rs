//! One throwaway network namespace, deleted on drop.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// The prefix of every namespace the harness creates, so a leftover from a
/// killed run is recognisable (and told apart from what `tacet demo` makes).
pub const PREFIX: &str = "te-";

/// A name no other test in this or any concurrent run uses:
/// `te-<role>-<pid>-<n>`.
pub fn unique_name(role: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{PREFIX}{role}-{}-{n}", std::process::id())
}

/// A named network namespace (`ip netns add`), with loopback up.
///
/// Dropping it deletes the namespace and its `/etc/netns/NAME` directory.
/// Processes still inside keep it alive, so owners of processes (dnsmasq,
/// the firewall) must be dropped first.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates a namespace named [`unique_name`]`(role)` with `lo` up.
    pub fn new(role: &str) -> Self {
        let name = unique_name(role);
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        // Guard first: if bringing lo up fails, the namespace is still deleted.
        let ns = Self { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// The namespace's name, as `ip netns list` shows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A command that runs `program` inside this namespace (`ip netns exec`).
    ///
    /// `ip netns exec` replaces itself with `program`, so the child's pid is
    /// the program's own: signals sent to it reach the program.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// Runs `ip -n NAME ARGS…` and panics with its stderr if it fails.
    pub fn ip(&self, args: &[&str]) -> Output {
        run_ok(Command::new("ip").args(["-n", &self.name]).args(args))
    }

    /// Writes `/etc/netns/NAME/resolv.conf`, which `ip netns exec` mounts
    /// over `/etc/resolv.conf`: how `getent` inside finds its resolver.
    pub fn write_resolv_conf(&self, nameservers: &[&str]) {
        let dir = self.etc_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let text: String = nameservers
            .iter()
            .map(|ns| format!("nameserver {ns}\n"))
            .chain(std::iter::once("options timeout:2 attempts:1\n".to_owned()))
            .collect();
        std::fs::write(dir.join("resolv.conf"), text).unwrap();
    }

    /// Writes `/etc/netns/NAME/hosts`, which `ip netns exec` mounts over
    /// `/etc/hosts`: names found there without any DNS query (a list
    /// server's name, for its certificate).
    pub fn write_hosts(&self, entries: &[(&str, &str)]) {
        let dir = self.etc_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let text: String = std::iter::once("127.0.0.1 localhost\n".to_owned())
            .chain(
                entries
                    .iter()
                    .map(|(addr, name)| format!("{addr} {name}\n")),
            )
            .collect();
        std::fs::write(dir.join("hosts"), text).unwrap();
    }

    /// Runs `f` on a new thread whose network namespace is this one.
    ///
    /// `setns` changes only the calling thread, so sockets opened, TUN
    /// devices created and children spawned inside `f` all belong to this
    /// namespace, while the rest of the test process stays where it was.
    pub fn enter<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        let path = PathBuf::from("/run/netns").join(&self.name);
        let file = File::open(&path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    // SAFETY: `file` is an open namespace file for the whole call.
                    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                    assert_eq!(
                        rc,
                        0,
                        "setns into {}: {}",
                        self.name,
                        std::io::Error::last_os_error()
                    );
                    f()
                })
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }

    fn etc_dir(&self) -> PathBuf {
        PathBuf::from("/etc/netns").join(&self.name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.etc_dir());
        let out = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!(
                "warning: ip netns del {}: {}",
                self.name,
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => eprintln!("warning: ip netns del {}: {e}", self.name),
        }
    }
}

/// Runs `cmd`, panicking with its command line and stderr when it fails.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The namespaces `ip netns list` shows right now, by name.
pub fn list_all() -> Vec<String> {
    let out = run_ok(Command::new("ip").args(["netns", "list"]));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}
