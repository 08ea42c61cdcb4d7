//! What ordinary programs see: `getent` resolves through glibc, reading the
//! phone namespace's resolv.conf, which points at the firewall.

// Test code: helpers outside #[test] fns fail the test loudly, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Output;

use tacet_e2e::{require_root, Netns, Testbed, RESOLVER_V4, RESOLVER_V6};

fn getent(ns: &Netns, database: &str, name: &str) -> Output {
    ns.command("getent")
        .args([database, name])
        .output()
        .unwrap()
}

/// The addresses of `getent` output, one per line, first column.
fn addresses(out: &Output) -> Vec<String> {
    let mut addrs: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    addrs.dedup();
    addrs
}

#[test]
fn getent_sees_the_null_address_for_blocked_names_and_real_ones_for_allowed() {
    if !require_root() {
        return;
    }
    let bed = Testbed::with_args(&[]);
    let phone = &bed.lab.phone;
    phone.write_resolv_conf(&[RESOLVER_V4, RESOLVER_V6]);

    let blocked4 = getent(phone, "ahostsv4", "tracker.blocked.test");
    assert!(blocked4.status.success(), "{blocked4:?}");
    assert_eq!(addresses(&blocked4), ["0.0.0.0"], "{blocked4:?}");
    let blocked6 = getent(phone, "hosts", "tracker.blocked.test");
    assert_eq!(addresses(&blocked6), ["::"], "{blocked6:?}");

    let allowed4 = getent(phone, "ahostsv4", "www.allowed.test");
    assert_eq!(addresses(&allowed4), ["192.0.2.11"], "{allowed4:?}");
    let allowed6 = getent(phone, "hosts", "www.allowed.test");
    assert_eq!(addresses(&allowed6), ["2001:db8::11"], "{allowed6:?}");

    // A name that does not exist upstream does not exist for the phone.
    let missing = getent(phone, "hosts", "missing.allowed.test");
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");
}

#[test]
fn getent_fails_cleanly_for_blocked_names_in_nxdomain_mode() {
    if !require_root() {
        return;
    }
    let bed = Testbed::with_args(&["--block-mode", "nxdomain"]);
    let phone = &bed.lab.phone;
    phone.write_resolv_conf(&[RESOLVER_V4]);
    let started = std::time::Instant::now();
    let blocked = getent(phone, "hosts", "tracker.blocked.test");
    // Exit code 2: "key not found", at once, not after resolver timeouts.
    assert_eq!(blocked.status.code(), Some(2), "{blocked:?}");
    assert!(
        started.elapsed().as_secs() < 2,
        "took {:?}",
        started.elapsed()
    );
    let allowed = getent(phone, "ahostsv4", "www.allowed.test");
    assert_eq!(addresses(&allowed), ["192.0.2.11"], "{allowed:?}");
}
