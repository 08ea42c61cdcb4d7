//! `tacet demo` shows the firewall working on its own and leaves the
//! machine as it found it: no namespace, link or process behind, whether it
//! runs to the end or is interrupted with Ctrl-C.
//!
//! The demo runs inside an empty namespace of the test's own (loopback
//! only), which also proves it needs no network but what it builds: a demo
//! that reached for the machine's resolver would fail here.

// Test code: helpers outside #[test] fns fail the test loudly, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tacet_e2e::netns::{self, PREFIX};
use tacet_e2e::process::Spawned;
use tacet_e2e::{require_root, tacet_bin, Netns};

/// Demos may use fixed names for what they create; two at once would
/// collide, and each test must see only its own demo's namespaces.
static ONE_DEMO_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Namespaces not created by this harness.
fn foreign_namespaces() -> BTreeSet<String> {
    netns::list_all()
        .into_iter()
        .filter(|n| !n.starts_with(PREFIX))
        .collect()
}

/// Processes whose process group is `pgid`.
fn processes_in_group(pgid: u32) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the command name, which is in parentheses and may
        // itself contain spaces: state, ppid, pgrp, …
        let Some((head, tail)) = stat.rsplit_once(')') else {
            continue;
        };
        let pgrp = tail.split_whitespace().nth(2);
        if pgrp == Some(pgid.to_string().as_str()) {
            found.push(format!("{head})"));
        }
    }
    found
}

/// One demo run: its host namespace and the state before it started.
struct Demo {
    process: Spawned,
    host: Netns,
    before: BTreeSet<String>,
}

impl Demo {
    fn spawn() -> Self {
        let host = Netns::new("demo");
        let before = foreign_namespaces();
        let child = host.enter(|| {
            Command::new(tacet_bin())
                .arg("demo")
                // Its own process group, as a shell gives a foreground job:
                // Ctrl-C goes to the group, and leftovers are found by it.
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        });
        Self {
            process: Spawned::new("tacet demo", child),
            host,
            before,
        }
    }

    fn new_namespaces(&self) -> Vec<String> {
        foreign_namespaces()
            .difference(&self.before)
            .cloned()
            .collect()
    }

    /// Everything the demo left behind; removes it, so a failing demo does
    /// not dirty the machine for the next test.
    fn leftovers(&self) -> Vec<String> {
        // Give stragglers (children that got the signal too) a moment.
        std::thread::sleep(Duration::from_millis(300));
        let mut left = Vec::new();
        let pgid = self.process.pid();
        for p in processes_in_group(pgid) {
            left.push(format!("process {p}"));
        }
        if !processes_in_group(pgid).is_empty() {
            // SAFETY: kill has no memory-safety preconditions; the group is
            // the one our demo child leads.
            unsafe { libc::kill(-libc::pid_t::try_from(pgid).unwrap(), libc::SIGKILL) };
        }
        for ns in self.new_namespaces() {
            left.push(format!("namespace {ns}"));
            let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        }
        let links = self.host.ip(&["-o", "link", "show"]);
        for line in String::from_utf8_lossy(&links.stdout).lines() {
            let name = line.split(':').nth(1).unwrap_or("").trim();
            if name != "lo" {
                left.push(format!("link {name}"));
            }
        }
        left
    }
}

#[test]
fn the_demo_runs_to_completion_and_leaves_nothing_behind() {
    if !require_root() {
        return;
    }
    let _one = ONE_DEMO_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut demo = Demo::spawn();
    let status = demo.process.wait_exit(Duration::from_secs(90));
    let stdout = demo.process.stdout_lines().join("\n");
    let leftovers = demo.leftovers();
    assert!(
        status.is_some_and(|s| s.success()),
        "demo exit {status:?}\nstdout:\n{stdout}\n{}",
        demo.process.describe()
    );
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    // It shows each query's fate and the counters.
    let lower = stdout.to_lowercase();
    assert!(lower.contains("blocked"), "{stdout}");
    assert!(lower.lines().count() >= 3, "{stdout}");
}

#[test]
fn ctrl_c_in_the_middle_of_the_demo_still_cleans_up() {
    if !require_root() {
        return;
    }
    let _one = ONE_DEMO_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut demo = Demo::spawn();
    // The middle: the demo has built at least one namespace.
    let deadline = Instant::now() + Duration::from_secs(30);
    while demo.new_namespaces().is_empty() && demo.process.try_status().is_none() {
        assert!(
            Instant::now() < deadline,
            "the demo created no namespace in 30 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let still_running = demo.process.try_status().is_none();
    // Ctrl-C: SIGINT to the whole foreground process group.
    let pgid = libc::pid_t::try_from(demo.process.pid()).unwrap();
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(-pgid, libc::SIGINT) };
    let status = demo.process.wait_exit(Duration::from_secs(30));
    let leftovers = demo.leftovers();
    assert!(
        still_running,
        "the demo finished before it could be interrupted"
    );
    assert!(status.is_some(), "demo still running 30 s after Ctrl-C");
    assert!(
        leftovers.is_empty(),
        "left behind after Ctrl-C: {leftovers:?}; demo {}",
        demo.process.describe()
    );
}
