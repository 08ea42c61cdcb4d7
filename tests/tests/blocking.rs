//! What an app sees when it looks up a blocked name: the block answer for
//! every record type, in every block mode, and list semantics as a user
//! writes them (domains cover subdomains, hosts lines are exact, `@@` wins).

// Test code: helpers outside #[test] fns fail the test loudly, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tacet_e2e::dnsmasq::TRACKER_A;
use tacet_e2e::{require_root, Dig, DnsReply, Testbed, RESOLVER_V4};

/// The one answer record a null-address block must carry.
fn assert_null_answer(reply: &DnsReply, name: &str, rtype: &str, addr: &str) {
    assert_eq!(reply.status, "NOERROR", "{}", reply.raw);
    assert_eq!(reply.answers.len(), 1, "{}", reply.raw);
    let record = &reply.answers[0];
    assert_eq!(record.name, format!("{name}."), "{}", reply.raw);
    assert_eq!(record.rtype, rtype, "{}", reply.raw);
    assert_eq!(record.data, addr, "{}", reply.raw);
    assert!(reply.flags.iter().any(|f| f == "qr"), "{}", reply.raw);
}

fn assert_empty(reply: &DnsReply, status: &str) {
    assert_eq!(reply.status, status, "{}", reply.raw);
    assert!(reply.answers.is_empty(), "{}", reply.raw);
}

#[test]
fn blocked_names_get_the_null_address_for_a_and_aaaa_and_nodata_for_other_types() {
    if !require_root() {
        return;
    }
    let bed = Testbed::with_args(&[]);
    let name = "tracker.blocked.test";
    assert_null_answer(&bed.query(name, "A"), name, "A", "0.0.0.0");
    assert_null_answer(&bed.query(name, "AAAA"), name, "AAAA", "::");
    // dnsmasq has a TXT and an MX record for this name: an empty NOERROR
    // shows the firewall answered and nothing leaked through.
    assert_empty(&bed.query(name, "TXT"), "NOERROR");
    assert_empty(&bed.query(name, "MX"), "NOERROR");
    assert_empty(&bed.query(name, "HTTPS"), "NOERROR");
    // The same through kdig, a second independent DNS implementation.
    let reply = Dig::new(RESOLVER_V4, name).kdig().expect_in(&bed.lab.phone);
    assert_null_answer(&reply, name, "A", "0.0.0.0");
}

#[test]
fn list_rules_mean_what_the_user_wrote() {
    if !require_root() {
        return;
    }
    let bed = Testbed::with_args(&[]);
    // A plain domain blocks itself and every subdomain, at any depth.
    for name in [
        "blocked.test",
        "tracker.blocked.test",
        "a.b.wild.blocked.test",
    ] {
        assert_null_answer(&bed.query(name, "A"), name, "A", "0.0.0.0");
    }
    // Names compare case-insensitively; the answer echoes the question.
    let reply = bed.query("TrAcKeR.Blocked.TEST", "A");
    assert_eq!(reply.status, "NOERROR", "{}", reply.raw);
    assert_eq!(reply.data_of("A"), ["0.0.0.0"], "{}", reply.raw);
    // A hosts line blocks exactly its name, not its subdomains.
    assert_null_answer(
        &bed.query("exact.hosts.test", "A"),
        "exact.hosts.test",
        "A",
        "0.0.0.0",
    );
    let sub = bed.query("sub.exact.hosts.test", "A");
    assert_eq!(sub.data_of("A"), ["192.0.2.15"], "{}", sub.raw);
    // An @@ allow rule beats the block of its parent domain.
    let ok = bed.query("ok.blocked.test", "A");
    assert_eq!(ok.data_of("A"), ["192.0.2.13"], "{}", ok.raw);
    // A name that merely ends in the same letters is a different domain.
    let near = bed.query("notblocked.test", "A");
    assert_eq!(
        near.status, "NXDOMAIN",
        "relayed from dnsmasq: {}",
        near.raw
    );
}

#[test]
fn block_mode_nxdomain_answers_every_type_with_nxdomain() {
    if !require_root() {
        return;
    }
    let bed = Testbed::with_args(&["--block-mode", "nxdomain"]);
    for qtype in ["A", "AAAA", "TXT", "MX"] {
        assert_empty(&bed.query("tracker.blocked.test", qtype), "NXDOMAIN");
    }
    // Allowed names are untouched by the block mode.
    let reply = bed.query("www.allowed.test", "A");
    assert_eq!(reply.data_of("A"), ["192.0.2.11"], "{}", reply.raw);
}

#[test]
fn block_mode_nodata_answers_every_type_with_an_empty_noerror() {
    if !require_root() {
        return;
    }
    let bed = Testbed::with_args(&["--block-mode", "nodata"]);
    for qtype in ["A", "AAAA", "TXT", "MX"] {
        assert_empty(&bed.query("tracker.blocked.test", qtype), "NOERROR");
    }
}

#[test]
fn block_mode_refused_answers_every_type_with_refused() {
    if !require_root() {
        return;
    }
    let bed = Testbed::with_args(&["--block-mode", "refused"]);
    for qtype in ["A", "AAAA", "TXT", "MX"] {
        assert_empty(&bed.query("tracker.blocked.test", qtype), "REFUSED");
    }
}

#[test]
fn block_mode_null_is_the_default_spelled_out() {
    if !require_root() {
        return;
    }
    let bed = Testbed::with_args(&["--block-mode", "null"]);
    let name = "tracker.blocked.test";
    assert_null_answer(&bed.query(name, "A"), name, "A", "0.0.0.0");
    assert_null_answer(&bed.query(name, "AAAA"), name, "AAAA", "::");
    assert_empty(&bed.query(name, "TXT"), "NOERROR");
}

#[test]
fn block_answers_carry_the_configured_ttl() {
    if !require_root() {
        return;
    }
    let bed = Testbed::with_args(&["--block-ttl", "42"]);
    for qtype in ["A", "AAAA"] {
        let reply = bed.query("tracker.blocked.test", qtype);
        assert_eq!(reply.answers.len(), 1, "{}", reply.raw);
        assert_eq!(reply.answers[0].ttl, 42, "{}", reply.raw);
    }
}

#[test]
fn an_allowlist_file_unblocks_a_listed_name() {
    if !require_root() {
        return;
    }
    let dir = tacet_e2e::ScratchDir::new("allow");
    let allowlist = dir.write("allowlist.txt", "tracker.blocked.test\n");
    let bed = Testbed::with_args(&["--allowlist", allowlist.to_str().unwrap()]);
    let reply = bed.query("tracker.blocked.test", "A");
    // The user allowed it: the real address from the upstream.
    assert_eq!(reply.data_of("A"), [TRACKER_A], "{}", reply.raw);
    // Its parent domain stays blocked.
    let parent = bed.query("blocked.test", "A");
    assert_eq!(parent.data_of("A"), ["0.0.0.0"], "{}", parent.raw);
}

#[test]
fn the_curated_lists_block_known_telemetry_by_default() {
    if !require_root() {
        return;
    }
    // What a user gets without configuring anything: the built-in lists.
    let opts = tacet_e2e::FirewallOptions {
        curated: true,
        blocklist: None,
        ..Default::default()
    };
    let bed = Testbed::start(&opts);
    let name = "api-mifit.huami.com";
    assert_null_answer(&bed.query(name, "A"), name, "A", "0.0.0.0");
    // Names outside the lists still resolve through the upstream.
    let reply = bed.query("www.allowed.test", "A");
    assert_eq!(reply.data_of("A"), ["192.0.2.11"], "{}", reply.raw);
}
