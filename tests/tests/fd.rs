//! `tacet run --fd N`: the firewall on a TUN descriptor someone else opened
//! and configured, the way Android's VpnService hands one over.

// Test code: helpers outside #[test] fns fail the test loudly, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tacet_e2e::tun::start_on_fd;
use tacet_e2e::{require_root, Dig, FirewallOptions, Testbed, RESOLVER_V6};

const FD_TUN: &str = "tacetfd0";

#[test]
fn the_firewall_serves_on_a_handed_over_tun_fd() {
    if !require_root() {
        return;
    }
    let mut bed = Testbed::start_with(&FirewallOptions::default(), |lab, opts| {
        start_on_fd(lab, FD_TUN, opts)
    });
    let blocked = bed.query("tracker.blocked.test", "A");
    assert_eq!(blocked.data_of("A"), ["0.0.0.0"], "{}", blocked.raw);
    let allowed = bed.query("www.allowed.test", "A");
    assert_eq!(allowed.data_of("A"), ["192.0.2.11"], "{}", allowed.raw);
    let over_v6 = Dig::new(RESOLVER_V6, "www.allowed.test")
        .qtype("AAAA")
        .expect_in(&bed.lab.phone);
    assert_eq!(over_v6.data_of("AAAA"), ["2001:db8::11"], "{}", over_v6.raw);

    let stats = bed.stop();
    assert_eq!(stats.blocked, 1, "{}", stats.raw);
    assert_eq!(stats.allowed, 2, "{}", stats.raw);
    // The test closed its copy of the fd; with tacet gone nothing holds the
    // device, so it disappears like a VPN interface when the VPN stops.
    let link = bed
        .lab
        .phone
        .command("ip")
        .args(["link", "show", FD_TUN])
        .output()
        .unwrap();
    assert!(!link.status.success(), "TUN still present: {link:?}");
}
