//! The firewall under test: `tacet run` inside a lab's phone namespace.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::dnsmasq::TEST_BLOCKLIST;
use crate::lab::{Lab, UPSTREAM_V4};
use crate::process::Spawned;
use crate::scratch::ScratchDir;

/// The TUN device name the harness gives `tacet run --tun`.
pub const TUN_NAME: &str = "tacet0";

/// How long `tacet run` may take to print `tacet: ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// The `tacet` binary under test: `$TACET_BIN` if set, else the newer of
/// `target/release/tacet` and `target/debug/tacet` in this workspace.
pub fn tacet_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("TACET_BIN") {
        let bin = PathBuf::from(bin);
        assert!(bin.is_file(), "TACET_BIN={} is not a file", bin.display());
        return bin;
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("target");
    let newest = ["release", "debug"]
        .iter()
        .map(|profile| target.join(profile).join("tacet"))
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .max();
    match newest {
        Some((_, bin)) => bin,
        None => panic!(
            "the tacet binary was not found in {}/{{release,debug}}/tacet: build it with \
             `cargo build --release -p tacet`, or point TACET_BIN at it",
            target.display()
        ),
    }
}

/// How to run the firewall. The default is what most tests want: the lab's
/// dnsmasq as the only upstream, the curated lists off, and
/// [`TEST_BLOCKLIST`] as the one blocklist.
#[derive(Clone, Debug)]
pub struct FirewallOptions {
    /// `--upstream` values.
    pub upstreams: Vec<String>,
    /// Contents of the file passed with `--blocklist`, if any.
    pub blocklist: Option<String>,
    /// Whether the built-in curated lists stay on (no `--no-curated`).
    pub curated: bool,
    /// Further arguments, e.g. `--block-mode nxdomain`.
    pub extra: Vec<String>,
    /// The `--store` directory; by default a fresh one per firewall.
    pub store: Option<PathBuf>,
}

impl Default for FirewallOptions {
    fn default() -> Self {
        Self {
            upstreams: vec![UPSTREAM_V4.to_owned()],
            blocklist: Some(TEST_BLOCKLIST.to_owned()),
            curated: false,
            extra: Vec::new(),
            store: None,
        }
    }
}

impl FirewallOptions {
    /// Adds further command-line arguments.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.extra.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// Replaces the upstreams.
    pub fn upstreams(mut self, upstreams: &[&str]) -> Self {
        self.upstreams = upstreams.iter().map(|u| (*u).to_owned()).collect();
        self
    }

    /// Sets the store directory (`--store`), e.g. to read the journal
    /// after the firewall stopped.
    pub fn store(mut self, dir: &Path) -> Self {
        self.store = Some(dir.to_owned());
        self
    }

    /// Writes the blocklist file (if any) into a new scratch directory and
    /// returns the `run` arguments after the TUN selection, with the
    /// directory, which must live as long as the firewall.
    ///
    /// Without [`FirewallOptions::store`], the store goes into the scratch
    /// directory too: tests never touch the machine's `/var/lib/tacet`, and
    /// parallel firewalls never share (and lock each other out of) a store.
    pub fn run_args(&self) -> (Vec<String>, ScratchDir) {
        let scratch = ScratchDir::new("fw");
        let mut args = Vec::new();
        for up in &self.upstreams {
            args.extend(["--upstream".to_owned(), up.clone()]);
        }
        if let Some(text) = &self.blocklist {
            let path = scratch.write("blocklist.txt", text);
            args.extend(["--blocklist".to_owned(), path.display().to_string()]);
        }
        let store = self
            .store
            .clone()
            .unwrap_or_else(|| scratch.path().join("store"));
        args.extend(["--store".to_owned(), store.display().to_string()]);
        if !self.curated {
            args.push("--no-curated".to_owned());
        }
        args.extend(self.extra.iter().cloned());
        (args, scratch)
    }
}

/// The counters of the final `tacet: stats {json}` line.
#[derive(Clone, Debug)]
pub struct Stats {
    /// DNS queries received from the phone.
    pub queries: u64,
    /// Queries answered with a block answer.
    pub blocked: u64,
    /// Distinct names blocked.
    pub unique_blocked: u64,
    /// Queries let through.
    pub allowed: u64,
    /// Allowed queries sent upstream.
    pub forwarded: u64,
    /// Allowed queries answered SERVFAIL because the upstream failed.
    pub upstream_failures: u64,
    /// Packets or messages that could not be parsed.
    pub malformed: u64,
    /// The whole JSON object, for keys beyond the contract.
    pub raw: serde_json::Value,
}

impl Stats {
    /// Parses the JSON object of a `tacet: stats` line.
    pub fn parse(json: &str) -> Self {
        let raw: serde_json::Value = serde_json::from_str(json)
            .unwrap_or_else(|e| panic!("stats line is not JSON ({e}): {json}"));
        let get = |key: &str| {
            raw.get(key)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or_else(|| panic!("stats JSON lacks integer key {key:?}: {json}"))
        };
        Self {
            queries: get("queries"),
            blocked: get("blocked"),
            unique_blocked: get("unique_blocked"),
            allowed: get("allowed"),
            forwarded: get("forwarded"),
            upstream_failures: get("upstream_failures"),
            malformed: get("malformed"),
            raw,
        }
    }
}

/// A running `tacet run`, ready to serve. Dropping it without [`stop`]
/// kills it.
///
/// [`stop`]: Firewall::stop
#[derive(Debug)]
pub struct Firewall {
    process: Spawned,
    /// Declared after `process`, so the files outlive the firewall's process.
    _scratch: ScratchDir,
}

impl Firewall {
    /// Runs `tacet run --tun tacet0 …` in the lab's phone namespace and
    /// waits for `tacet: ready`.
    pub fn start(lab: &Lab, opts: &FirewallOptions) -> Self {
        let (args, scratch) = opts.run_args();
        let mut cmd = lab.phone.command(tacet_bin());
        cmd.args(["run", "--tun", TUN_NAME]).args(&args);
        crate::process::die_with_parent(&mut cmd);
        Self::spawn(cmd, scratch)
    }

    /// Spawns `cmd` (a `tacet run` command line) and waits until ready.
    /// `scratch` holds its files and is deleted after the firewall is.
    pub fn spawn(mut cmd: Command, scratch: ScratchDir) -> Self {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("RUST_BACKTRACE", "1");
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
        let mut fw = Self {
            process: Spawned::new(format!("{cmd:?}"), child),
            _scratch: scratch,
        };
        if fw
            .process
            .wait_line(READY_TIMEOUT, |l| l.starts_with("tacet: ready"))
            .is_none()
        {
            let status = fw.process.try_status();
            panic!(
                "tacet did not print `tacet: ready` within {READY_TIMEOUT:?} (exit: {status:?}); \
                 stdout: {:?}; {}",
                fw.process.stdout_lines(),
                fw.process.describe()
            );
        }
        fw
    }

    /// Same as [`Self::start`], with default options plus `args`.
    pub fn start_with(lab: &Lab, args: &[&str]) -> Self {
        Self::start(lab, &FirewallOptions::default().args(args))
    }

    /// The process id of `tacet`.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Sends `signal` to `tacet run`, e.g. SIGHUP to reload its lists.
    pub fn signal(&self, signal: libc::c_int) {
        self.process.signal(signal);
    }

    /// What tacet wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.process.stderr()
    }

    /// Sends `signal` (SIGTERM or SIGINT), waits for a clean exit and returns
    /// the counters of the final `tacet: stats` line.
    pub fn stop_with(mut self, signal: libc::c_int) -> Stats {
        self.process.signal(signal);
        let status = self.process.wait_exit(Duration::from_secs(10));
        let lines = self.process.stdout_lines();
        assert!(
            status.is_some_and(|s| s.success()),
            "tacet did not exit 0 within 10 s of signal {signal} (status {status:?}); \
             stdout: {lines:?}; {}",
            self.process.describe()
        );
        let json = lines
            .iter()
            .find_map(|l| l.strip_prefix("tacet: stats "))
            .unwrap_or_else(|| {
                panic!(
                    "no `tacet: stats` line on stdout: {lines:?}; {}",
                    self.process.describe()
                )
            });
        Stats::parse(json)
    }

    /// SIGTERM, clean exit, final counters.
    pub fn stop(self) -> Stats {
        self.stop_with(libc::SIGTERM)
    }
}
