//! What an app sees for names that are not blocked: exactly what the
//! upstream resolver says, over IPv4 and IPv6, through `dig` and `kdig`.

// Test code: helpers outside #[test] fns fail the test loudly, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tacet_e2e::dnsmasq::TRACKER_A;
use tacet_e2e::lab::{UPSTREAM_V4, UPSTREAM_V6};
use tacet_e2e::{require_root, Dig, DnsReply, FirewallOptions, Testbed, RESOLVER_V4, RESOLVER_V6};

/// The relayed reply must say what the upstream said: same status, same
/// answer records, the same authoritative/recursion flags. TTLs may only
/// have shrunk (a cache may count them down, never up).
fn assert_same_reply(via_firewall: &DnsReply, direct: &DnsReply) {
    let context = format!(
        "\n--- via firewall:\n{}\n--- direct:\n{}",
        via_firewall.raw, direct.raw
    );
    assert_eq!(via_firewall.status, direct.status, "{context}");
    assert_eq!(
        via_firewall.answers_without_ttl(),
        direct.answers_without_ttl(),
        "{context}"
    );
    for (relayed, original) in via_firewall.answers.iter().zip(&direct.answers) {
        assert!(relayed.ttl <= original.ttl, "TTL grew: {context}");
    }
    for flag in ["aa", "ra", "rd", "qr"] {
        assert_eq!(
            via_firewall.flags.iter().any(|f| f == flag),
            direct.flags.iter().any(|f| f == flag),
            "flag {flag}: {context}"
        );
    }
}

/// Every kind of answer the test zone has: addresses, CNAME chain, TXT,
/// MX, NODATA, NXDOMAIN, and dnsmasq's REFUSED for names outside its zone.
const CASES: &[(&str, &str)] = &[
    ("www.allowed.test", "A"),
    ("www.allowed.test", "AAAA"),
    ("alias.allowed.test", "A"),
    ("txt.allowed.test", "TXT"),
    ("mx.allowed.test", "MX"),
    ("v4only.allowed.test", "AAAA"),
    ("n42.wild.allowed.test", "A"),
    ("missing.allowed.test", "A"),
    ("example.com", "A"),
];

#[test]
fn allowed_names_get_exactly_the_upstream_answer() {
    if !require_root() {
        return;
    }
    let mut bed = Testbed::with_args(&[]);
    for &(name, qtype) in CASES {
        let relayed = bed.query(name, qtype);
        let direct = bed.direct(name, qtype);
        assert_same_reply(&relayed, &direct);
    }
    // kdig parses replies strictly in its own way; it must agree too.
    for &(name, qtype) in CASES {
        let relayed = Dig::new(RESOLVER_V4, name)
            .qtype(qtype)
            .kdig()
            .expect_in(&bed.lab.phone);
        let direct = Dig::new(UPSTREAM_V4, name)
            .qtype(qtype)
            .kdig()
            .expect_in(&bed.lab.phone);
        assert_same_reply(&relayed, &direct);
    }
    let stats = bed.stop();
    assert_eq!(stats.upstream_failures, 0, "{:?}", stats.raw);
}

#[test]
fn the_ipv6_resolver_blocks_and_forwards() {
    if !require_root() {
        return;
    }
    let bed = Testbed::with_args(&[]);
    let phone = &bed.lab.phone;
    let blocked = Dig::new(RESOLVER_V6, "tracker.blocked.test").expect_in(phone);
    assert_eq!(blocked.data_of("A"), ["0.0.0.0"], "{}", blocked.raw);
    let blocked6 = Dig::new(RESOLVER_V6, "tracker.blocked.test")
        .qtype("AAAA")
        .kdig()
        .expect_in(phone);
    assert_eq!(blocked6.data_of("AAAA"), ["::"], "{}", blocked6.raw);
    for qtype in ["A", "AAAA", "TXT"] {
        let name = if qtype == "TXT" {
            "txt.allowed.test"
        } else {
            "www.allowed.test"
        };
        let relayed = Dig::new(RESOLVER_V6, name).qtype(qtype).expect_in(phone);
        let direct = Dig::new(UPSTREAM_V4, name).qtype(qtype).expect_in(phone);
        assert_same_reply(&relayed, &direct);
    }
}

#[test]
fn an_ipv6_upstream_is_used() {
    if !require_root() {
        return;
    }
    let bed = Testbed::start(&FirewallOptions::default().upstreams(&[UPSTREAM_V6]));
    let relayed = bed.query("www.allowed.test", "AAAA");
    assert_same_reply(&relayed, &bed.direct("www.allowed.test", "AAAA"));
}

#[test]
fn queries_over_tcp_are_answered() {
    if !require_root() {
        return;
    }
    let bed = Testbed::with_args(&[]);
    let phone = &bed.lab.phone;
    let blocked = Dig::new(RESOLVER_V4, "tracker.blocked.test")
        .tcp()
        .expect_in(phone);
    assert_eq!(blocked.data_of("A"), ["0.0.0.0"], "{}", blocked.raw);
    let relayed = Dig::new(RESOLVER_V4, "www.allowed.test")
        .kdig()
        .tcp()
        .expect_in(phone);
    assert_same_reply(&relayed, &bed.direct("www.allowed.test", "A"));
}

#[test]
fn a_cname_to_a_blocked_name_is_blocked() {
    if !require_root() {
        return;
    }
    // cloaked.allowed.test is a CNAME for tracker.blocked.test: trackers
    // hide behind first-party names this way, and the firewall follows the
    // chain (ARCHITECTURE.md, "CNAME uncloaking").
    let bed = Testbed::with_args(&[]);
    let reply = bed.query("cloaked.allowed.test", "A");
    assert_eq!(reply.status, "NOERROR", "{}", reply.raw);
    assert!(
        !reply.data_of("A").contains(&TRACKER_A.to_owned()),
        "the blocked name's real address leaked through the CNAME: {}",
        reply.raw
    );
}
