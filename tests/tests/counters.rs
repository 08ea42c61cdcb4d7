//! The counters a user sees (the blocked-attempts counter and friends)
//! match what the phone actually asked.

// Test code: helpers outside #[test] fns fail the test loudly, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Duration;

use tacet_e2e::burst::send_raw;
use tacet_e2e::{require_root, Testbed, RESOLVER_V4};

#[test]
fn final_stats_count_exactly_what_was_asked() {
    if !require_root() {
        return;
    }
    let mut bed = Testbed::with_args(&[]);
    // 7 blocked queries for 4 distinct names.
    let blocked = [
        ("tracker.blocked.test", "A"),
        ("tracker.blocked.test", "AAAA"),
        ("tracker.blocked.test", "TXT"),
        ("blocked.test", "A"),
        ("blocked.test", "A"),
        ("exact.hosts.test", "A"),
        ("n1.wild.blocked.test", "A"),
    ];
    for (name, qtype) in blocked {
        let reply = bed.query(name, qtype);
        assert_eq!(reply.status, "NOERROR", "{}", reply.raw);
    }
    // 5 allowed queries, all answered by the upstream.
    let allowed = [
        ("www.allowed.test", "A"),
        ("www.allowed.test", "AAAA"),
        ("txt.allowed.test", "TXT"),
        ("ok.blocked.test", "A"),
        ("missing.allowed.test", "A"),
    ];
    for (name, qtype) in allowed {
        let reply = bed.query(name, qtype);
        assert!(
            ["NOERROR", "NXDOMAIN"].contains(&reply.status.as_str()),
            "{}",
            reply.raw
        );
    }
    // One datagram to port 53 that is not a DNS message: dropped, counted.
    let resolver = SocketAddr::new(RESOLVER_V4.parse().unwrap(), 53);
    let reply = send_raw(
        &bed.lab.phone,
        resolver,
        b"\x12\x34not dns",
        Duration::from_millis(300),
    );
    assert!(reply.is_none(), "a garbage datagram got a reply: {reply:?}");

    let stats = bed.stop();
    let raw = &stats.raw;
    assert_eq!(stats.blocked, 7, "{raw}");
    assert_eq!(stats.unique_blocked, 4, "{raw}");
    assert_eq!(stats.allowed, 5, "{raw}");
    assert_eq!(
        stats.forwarded, 5,
        "forwarded is the allowed queries sent upstream (core/engine/src/stats.rs); \
         background lookups of blocked names are background_queries: {raw}"
    );
    assert_eq!(stats.queries, 12, "queries = blocked + allowed: {raw}");
    assert_eq!(stats.upstream_failures, 0, "{raw}");
    assert_eq!(stats.malformed, 1, "{raw}");
}

#[test]
fn sigint_stops_as_cleanly_as_sigterm_and_removes_the_tunnel() {
    if !require_root() {
        return;
    }
    let mut bed = Testbed::with_args(&[]);
    bed.query("tracker.blocked.test", "A");
    let stats = bed.firewall.take().unwrap().stop_with(libc::SIGINT);
    assert_eq!(stats.blocked, 1, "{}", stats.raw);
    // The VPN is off: its interface is gone from the phone.
    let link = bed
        .lab
        .phone
        .command("ip")
        .args(["link", "show", tacet_e2e::firewall::TUN_NAME])
        .output()
        .unwrap();
    assert!(!link.status.success(), "tunnel still present: {link:?}");
}

#[test]
fn the_journal_shows_what_was_blocked_and_keeps_allowed_names_private() {
    if !require_root() {
        return;
    }
    let store = tacet_e2e::ScratchDir::new("store");
    let opts = tacet_e2e::FirewallOptions::default().store(store.path());
    let mut bed = Testbed::start(&opts);
    bed.query("tracker.blocked.test", "A");
    bed.query("www.allowed.test", "A");
    bed.stop();
    // What `tacet journal` shows the user after the firewall stopped.
    let out = std::process::Command::new(tacet_e2e::tacet_bin())
        .args(["journal", "--store"])
        .arg(store.path())
        .output()
        .unwrap();
    let journal = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(journal.contains("tracker.blocked.test"), "{journal}");
    // Outside discovery mode, allowed names are browsing history: not kept.
    assert!(!journal.contains("www.allowed.test"), "{journal}");
    readers_hold_against_bad_outputs_and_bad_files(store.path());
}

/// What a user's shell and a damaged store can do to the readers (#13).
fn readers_hold_against_bad_outputs_and_bad_files(store: &std::path::Path) {
    use std::process::{Command, Stdio};
    let tacet = |args: &[&str], stdout: Stdio| {
        Command::new(tacet_e2e::tacet_bin())
            .args(args)
            .arg("--store")
            .arg(store)
            .stdout(stdout)
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    };
    // `-n 0` prints no entry.
    let out = tacet(&["journal", "-n", "0"], Stdio::piped());
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    // A full disk behind the redirect: an error, not a panic.
    for command in ["journal", "stats"] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = tacet(&[command], Stdio::from(full));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{command}: {out:?}");
        assert!(
            stderr.contains("cannot write the output"),
            "{command}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{command}: {stderr}");
    }
    // A reader that goes away (`tacet journal | head -0`): a quiet end.
    let mut child = Command::new(tacet_e2e::tacet_bin())
        .args(["stats", "--store"])
        .arg(store)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{out:?}"
    );
    // A directory where a segment would be: the others are still shown.
    std::fs::create_dir(store.join("journal.99999999")).unwrap();
    let out = tacet(&["journal"], Stdio::piped());
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("tracker.blocked.test"));
}
