//! Command-line mistakes get a clear message and a non-zero exit, never a
//! half-started firewall.

// Test code: helpers outside #[test] fns fail the test loudly, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Output;
use std::time::{Duration, Instant};

use tacet_e2e::{require_root, tacet_bin, Netns};

/// Runs `tacet ARGS…` in a fresh empty namespace, with a time limit.
fn tacet_in_fresh_ns(args: &[&str]) -> Output {
    let ns = Netns::new("cli");
    let mut child = ns
        .command(tacet_bin())
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!("tacet {args:?} still running after 10 s: {out:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn assert_clear_error(out: &Output, mentions: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "exit 0: {out:?}");
    assert!(
        stderr.contains(mentions),
        "stderr does not name {mentions:?}: {stderr}"
    );
    assert!(!stdout.contains("tacet: ready"), "{stdout}");
    // A clear message, not a panic with a backtrace.
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_upstream_that_is_not_an_address_is_a_clear_error() {
    if !require_root() {
        return;
    }
    let out = tacet_in_fresh_ns(&["run", "--tun", "tacet0", "--upstream", "not-an-ip"]);
    assert_clear_error(&out, "not-an-ip");
}

#[test]
fn a_missing_blocklist_file_is_a_clear_error() {
    if !require_root() {
        return;
    }
    let path = "/nonexistent/tacet-e2e/blocklist.txt";
    let out = tacet_in_fresh_ns(&[
        "run",
        "--tun",
        "tacet0",
        "--upstream",
        "10.200.0.2",
        "--no-curated",
        "--blocklist",
        path,
    ]);
    assert_clear_error(&out, path);
}

#[test]
fn an_unknown_block_mode_is_a_clear_error() {
    if !require_root() {
        return;
    }
    let out = tacet_in_fresh_ns(&[
        "run",
        "--tun",
        "tacet0",
        "--upstream",
        "10.200.0.2",
        "--block-mode",
        "sinkhole",
    ]);
    assert_clear_error(&out, "sinkhole");
}

/// Runs `tacet check --no-curated --blocklist <test list> NAME` (no root
/// needed) and returns its stdout.
fn check(name: &str) -> String {
    let dir = tacet_e2e::ScratchDir::new("check");
    let list = dir.write("list.txt", tacet_e2e::dnsmasq::TEST_BLOCKLIST);
    let out = std::process::Command::new(tacet_bin())
        .args(["check", "--no-curated", "--blocklist"])
        .arg(&list)
        .arg(name)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn check_names_the_rule_that_blocks_or_allows() {
    // TEST_BLOCKLIST: line 2 `blocked.test`, line 4 `0.0.0.0 exact.hosts.test`,
    // line 6 `@@||ok.blocked.test^`.
    let blocked = check("tracker.blocked.test");
    assert!(
        blocked.contains("blocked by") && blocked.contains("line 2"),
        "{blocked}"
    );
    let exact = check("exact.hosts.test");
    assert!(
        exact.contains("blocked by") && exact.contains("line 4"),
        "{exact}"
    );
    let allowed = check("ok.blocked.test");
    assert!(
        allowed.contains("allowed by") && allowed.contains("line 6"),
        "{allowed}"
    );
    let free = check("sub.exact.hosts.test");
    // Wording aside, it must not claim a rule matched.
    assert!(
        free.starts_with("sub.exact.hosts.test") && !free.contains(" by "),
        "{free}"
    );
}

/// Runs `tacet ARGS…` in a fresh namespace where every address has a route
/// (default routes over a veth pair inside it), so an upstream can only be
/// refused for what it is, not because nothing leads there. `Err` holds the
/// output of a tacet that was still running after `limit` and was killed.
fn tacet_where_everything_is_routed(args: &[&str], limit: Duration) -> Result<Output, Output> {
    let ns = Netns::new("cli");
    ns.ip(&["link", "add", "d0", "type", "veth", "peer", "name", "d1"]);
    ns.ip(&["addr", "add", "10.9.9.1/24", "dev", "d0"]);
    ns.ip(&["-6", "addr", "add", "fd09::1/64", "dev", "d0", "nodad"]);
    ns.ip(&["link", "set", "d1", "up"]);
    ns.ip(&["link", "set", "d0", "up"]);
    ns.ip(&["route", "add", "default", "via", "10.9.9.2"]);
    ns.ip(&["-6", "route", "add", "default", "via", "fd09::2"]);
    let store = tacet_e2e::ScratchDir::new("cli-store");
    let mut child = ns
        .command(tacet_bin())
        .args(args)
        .args(["--no-curated", "--store"])
        .arg(store.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            return Err(child.wait_with_output().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(child.wait_with_output().unwrap())
}

#[test]
fn the_firewalls_own_resolver_or_tunnel_as_upstream_is_a_clear_error() {
    if !require_root() {
        return;
    }
    // Each would send every query back into the firewall, round and round
    // until the pending table is full.
    let cases = [
        ("10.111.222.53", "10.111.222.53"),
        ("10.111.222.53:5353", "10.111.222.53"),
        ("10.111.222.1", "10.111.222.1"),
        ("10.111.222.200", "10.111.222.200"),
        ("fd74:6163:6574::53", "fd74:6163:6574::53"),
        ("[fd74:6163:6574::1234]:53", "fd74:6163:6574::1234"),
    ];
    std::thread::scope(|scope| {
        let runs: Vec<_> = cases
            .iter()
            .map(|&(upstream, named)| {
                scope.spawn(move || {
                    let args = ["run", "--tun", "tacet0", "--upstream", upstream];
                    (
                        upstream,
                        named,
                        tacet_where_everything_is_routed(&args, Duration::from_secs(8)),
                    )
                })
            })
            .collect();
        for run in runs {
            let (upstream, named, out) = run.join().unwrap();
            match out {
                Ok(out) => assert_clear_error(&out, named),
                Err(out) => panic!(
                    "--upstream {upstream}: tacet started instead of refusing its own tunnel as \
                     upstream: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            }
        }
    });
}
