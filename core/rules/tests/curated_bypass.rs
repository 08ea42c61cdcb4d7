//! The curated `encrypted-dns` list: every entry parses, says where it comes
//! from, names only globally reachable addresses, and the default rule set
//! blocks the big public resolvers by address while leaving names alone.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::net::IpAddr;

use tacet_rules::curated::{self, Category, CuratedList};
use tacet_rules::{RuleSet, RuleSetBuilder, Verdict};

const LIST_ID: &str = "encrypted-dns";

fn list() -> &'static CuratedList {
    curated::find(LIST_ID).expect("the encrypted-dns list ships")
}

/// The entry lines (not blank, not a comment), with their 1-based numbers.
fn entries(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

/// An entry as a network: an address is a network of its full length.
fn network(entry: &str) -> (IpAddr, u8) {
    match entry.split_once('/') {
        Some((addr, len)) => (addr.parse().unwrap(), len.parse().unwrap()),
        None => {
            let addr: IpAddr = entry.parse().unwrap();
            let len = if addr.is_ipv4() { 32 } else { 128 };
            (addr, len)
        }
    }
}

fn bits(addr: IpAddr) -> (u128, u8) {
    match addr {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

/// Whether two networks share any address.
fn overlaps((a, a_len): (IpAddr, u8), (b, b_len): (IpAddr, u8)) -> bool {
    let ((a, a_width), (b, b_width)) = (bits(a), bits(b));
    if a_width != b_width {
        return false;
    }
    let len = a_len.min(b_len);
    if len == 0 {
        return true;
    }
    let shift = u32::from(a_width - len);
    (a >> shift) == (b >> shift)
}

/// Ranges that are not globally reachable, or reserved for documentation,
/// benchmarking, translation or other special purposes (IANA's IPv4 and
/// IPv6 special-purpose address registries, RFC 6890 and its updates).
/// Written out here rather than taken from `std`, whose `is_global` is not
/// stable: the test must not trust the code it could be checking.
const NOT_GLOBAL: &[&str] = &[
    // IPv4
    "0.0.0.0/8",       // "this network"
    "10.0.0.0/8",      // private (RFC 1918)
    "100.64.0.0/10",   // shared address space, CGNAT (RFC 6598)
    "127.0.0.0/8",     // loopback
    "169.254.0.0/16",  // link-local
    "172.16.0.0/12",   // private
    "192.0.0.0/24",    // IETF protocol assignments
    "192.0.2.0/24",    // documentation, TEST-NET-1
    "192.31.196.0/24", // AS112
    "192.52.193.0/24", // AMT
    "192.88.99.0/24",  // 6to4 relay anycast (deprecated)
    "192.168.0.0/16",  // private
    "192.175.48.0/24", // AS112 direct delegation
    "198.18.0.0/15",   // benchmarking (RFC 2544)
    "198.51.100.0/24", // documentation, TEST-NET-2
    "203.0.113.0/24",  // documentation, TEST-NET-3
    "224.0.0.0/4",     // multicast
    "240.0.0.0/4",     // reserved, and the limited broadcast address
    // IPv6
    "::/128",         // unspecified
    "::1/128",        // loopback
    "::ffff:0:0/96",  // IPv4-mapped
    "64:ff9b::/96",   // IPv4/IPv6 translation
    "64:ff9b:1::/48", // local-use translation
    "100::/64",       // discard-only
    "2001::/23",      // IETF protocol assignments (Teredo, ORCHID, …)
    "2001:db8::/32",  // documentation
    "2002::/16",      // 6to4
    "3fff::/20",      // documentation (RFC 9637)
    "5f00::/16",      // SRv6 SIDs
    "fc00::/7",       // unique local
    "fe80::/10",      // link-local
    "ff00::/8",       // multicast
];

/// Why `entry` is not a global unicast network, if it is not.
fn not_global(entry: &str) -> Option<&'static str> {
    let net = network(entry);
    // IPv6 global unicast is 2000::/3; everything outside it is reserved.
    if net.0.is_ipv6() && (!overlaps(net, network("2000::/3")) || net.1 < 3) {
        return Some("outside 2000::/3");
    }
    NOT_GLOBAL
        .iter()
        .find(|range| overlaps(net, network(range)))
        .copied()
}

#[test]
fn the_range_check_catches_what_it_must() {
    for bad in [
        "10.1.2.3",
        "100.64.0.63", // Mullvad's in-tunnel DNS, reachable only on its VPN
        "127.0.0.1",
        "169.254.1.1",
        "192.0.2.53",
        "198.18.0.1",
        "198.51.100.0/23", // a range that reaches into TEST-NET-2
        "203.0.113.9",
        "224.0.0.251",
        "255.255.255.255",
        "0.0.0.0/0",
        "::1",
        "fe80::1",
        "fd74:6163:6574::53", // tacet's own virtual resolver
        "2001:db8::53",
        "64:ff9b::808:808",
        "ff02::fb",
        "::ffff:8.8.8.8",
        "2001::/16",
    ] {
        assert!(not_global(bad).is_some(), "{bad} passed the range check");
    }
    for good in [
        "8.8.8.8",
        "1.1.1.1",
        "76.76.2.0/24",
        "2a09::",
        "2606:1a40::/48",
    ] {
        assert_eq!(not_global(good), None, "{good} failed the range check");
    }
}

#[test]
fn the_list_is_default_on_and_parses_with_no_unused_line() {
    let list = list();
    assert!(list.default_on, "a bypass left open by default is no fix");
    assert!(!list.is_allowlist);
    assert_eq!(list.category, Category::Bypass);
    assert_eq!(list.category.as_str(), "bypass");
    let mut builder = RuleSetBuilder::new();
    let report = list.add_to(&mut builder).unwrap();
    assert!(report.is_clean(), "{report}");
    let count = entries(list.text).len() as u64;
    assert!(count > 0);
    assert_eq!(report.rules, count, "every entry is one rule");
    assert_eq!(
        report.counts.address, count,
        "every entry is an address rule"
    );
}

#[test]
fn every_entry_has_its_source_in_a_comment_directly_above() {
    let lines: Vec<&str> = list().text.lines().map(str::trim).collect();
    let is_entry = |line: &str| !line.is_empty() && !line.starts_with('#');
    for (number, entry) in entries(list().text) {
        // Up over the entries of the same group to the first other line.
        let mut i = number - 1;
        while i > 0 && lines.get(i - 1).is_some_and(|l| is_entry(l)) {
            i -= 1;
        }
        // Then the comment block that sits directly on the group.
        let mut block = Vec::new();
        while i > 0 && lines.get(i - 1).is_some_and(|l| l.starts_with('#')) {
            block.push(lines[i - 1]);
            i -= 1;
        }
        assert!(
            !block.is_empty(),
            "line {number} ({entry}) has no comment directly above it"
        );
        assert!(
            block.iter().any(|l| l.contains("https://")),
            "line {number} ({entry}): the comment above gives no https:// source"
        );
        // A source plus at least one line saying what the entry is.
        assert!(
            block.iter().any(
                |l| !l.trim_start_matches('#').trim().starts_with("https://")
                    && l.trim_start_matches('#').trim().len() > 3
            ),
            "line {number} ({entry}): the comment above says only where, not what"
        );
    }
}

#[test]
fn every_entry_is_globally_reachable_and_listed_once() {
    let mut seen = HashSet::new();
    for (number, entry) in entries(list().text) {
        if let Some(range) = not_global(entry) {
            panic!("line {number}: {entry} lies in the special-purpose range {range}");
        }
        let net = network(entry);
        assert!(seen.insert(net), "line {number}: {entry} is listed twice");
        // A range wider than a /24 (IPv4) or a /48 (IPv6) holds far more
        // than one operator's resolvers.
        let narrowest = if net.0.is_ipv4() { 24 } else { 48 };
        assert!(
            net.1 >= narrowest,
            "line {number}: {entry} is wider than /{narrowest}"
        );
    }
}

/// The entry text of the rule that decides `addr`, if a block rule does.
fn blocking_entry(set: &RuleSet, addr: &str) -> Option<(String, String)> {
    match set.lookup_addr(addr.parse().unwrap()) {
        Verdict::Blocked(rule) => {
            let list = set.list(rule.list).unwrap().id.clone();
            let text = curated::find(&list).unwrap().text;
            let line = text.lines().nth(rule.line as usize - 1).unwrap();
            Some((list, line.trim().to_owned()))
        }
        _ => None,
    }
}

#[test]
fn the_defaults_block_the_big_resolvers_by_address() {
    let set = curated::default_rule_set();
    for (addr, entry) in [
        ("1.1.1.1", "1.1.1.1"),
        ("8.8.8.8", "8.8.8.8"),
        ("9.9.9.9", "9.9.9.9"),
        ("223.5.5.5", "223.5.5.5"),
        ("119.29.29.29", "119.29.29.29"),
        ("203.107.1.33", "203.107.1.33"),
        ("119.29.29.98", "119.29.29.98"),
        ("2606:4700:4700::1111", "2606:4700:4700::1111"),
        ("2001:4860:4860::8888", "2001:4860:4860::8888"),
        // Inside a listed range.
        ("76.76.2.2", "76.76.2.0/24"),
        // An IPv4-mapped IPv6 destination is the same host.
        ("::ffff:8.8.4.4", "8.8.4.4"),
    ] {
        assert_eq!(
            blocking_entry(&set, addr),
            Some((LIST_ID.to_owned(), entry.to_owned())),
            "{addr} should be blocked by the '{entry}' line of {LIST_ID}"
        );
    }
    // Exact addresses, not the operators' networks around them.
    for addr in [
        "1.1.1.4",
        "8.8.8.9",
        "9.9.9.8",
        "223.5.5.6",
        "2606:4700:4700::1",
        "8.8.4.0",
    ] {
        assert_eq!(
            set.lookup_addr(addr.parse().unwrap()),
            Verdict::Unlisted,
            "{addr} is no listed resolver"
        );
    }
}

#[test]
fn the_defaults_route_the_resolvers_into_the_tunnel() {
    let routes = curated::default_rule_set().blocked_networks();
    for (addr, len) in [
        ("1.1.1.1", 32),
        ("8.8.8.8", 32),
        ("2001:4860:4860::8888", 128),
        ("76.76.2.0", 24),
        ("2606:1a40::", 48),
    ] {
        let net = (addr.parse::<IpAddr>().unwrap(), len);
        assert!(routes.contains(&net), "{addr}/{len} is not routed in");
    }
}

#[test]
fn the_defaults_still_leave_names_alone() {
    let set = curated::default_rule_set();
    // What the curated tests expect reachable stays reachable.
    for name in [
        "api.xmpush.xiaomi.com",
        "ot.io.mi.com",
        "pool.ntp.org",
        "0.cn.pool.ntp.org",
    ] {
        assert!(
            matches!(set.lookup(name), Verdict::Allowed(_)),
            "{name} should stay allowed"
        );
    }
    // The list blocks addresses only: the resolvers' names still resolve
    // (a blocked name would break their web pages and tacet's own upstream
    // set by name), and so does everything else.
    for name in [
        "example.com",
        "facebook.com",
        "google.com",
        "dns.google",
        "cloudflare-dns.com",
        "dns.alidns.com",
        "doh.pub",
    ] {
        assert_eq!(set.lookup(name), Verdict::Unlisted, "{name}");
    }
    // And what was blocked before still is.
    for name in ["api-mifit.huami.com", "iotcplatform.com"] {
        assert!(matches!(set.lookup(name), Verdict::Blocked(_)), "{name}");
    }
}
