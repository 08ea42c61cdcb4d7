//! What an app sees when the upstream resolver is gone: a prompt SERVFAIL
//! for names that need it, while blocked names keep their block answer.

// Test code: helpers outside #[test] fns fail the test loudly, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use tacet_e2e::lab::{BLACKHOLE_V4, UPSTREAM_V4};
use tacet_e2e::{require_root, Dig, FirewallOptions, Testbed, RESOLVER_V4};

/// Slack for starting `ip netns exec dig` and the kernel round trips.
const SLACK: Duration = Duration::from_millis(1500);

#[test]
fn an_upstream_with_nothing_listening_gives_servfail_within_the_timeout() {
    if !require_root() {
        return;
    }
    // dnsmasq runs on port 53; port 5399 on the same host answers every
    // query with ICMP port unreachable.
    let opts = FirewallOptions::default()
        .upstreams(&[&format!("{UPSTREAM_V4}:5399")])
        .args(&["--upstream-timeout-ms", "1000"]);
    let mut bed = Testbed::start(&opts);
    let reply = Dig::new(RESOLVER_V4, "www.allowed.test")
        .timeout_secs(8)
        .expect_in(&bed.lab.phone);
    assert_eq!(reply.status, "SERVFAIL", "{}", reply.raw);
    assert!(
        reply.elapsed < Duration::from_millis(1000) + SLACK,
        "SERVFAIL after {:?}, timeout 1000 ms",
        reply.elapsed
    );
    // Blocking does not wait for the upstream.
    let blocked = Dig::new(RESOLVER_V4, "tracker.blocked.test")
        .timeout_secs(8)
        .expect_in(&bed.lab.phone);
    assert_eq!(blocked.data_of("A"), ["0.0.0.0"], "{}", blocked.raw);
    assert!(
        blocked.elapsed < SLACK,
        "block answer took {:?}",
        blocked.elapsed
    );

    let stats = bed.stop();
    assert_eq!(stats.upstream_failures, 1, "{:?}", stats.raw);
    assert_eq!(stats.blocked, 1, "{:?}", stats.raw);
}

#[test]
fn an_unreachable_upstream_gives_servfail_within_the_default_timeout() {
    if !require_root() {
        return;
    }
    // Nothing holds this address: queries vanish without any ICMP, so only
    // the firewall's own timeout (default 3000 ms) can answer the app.
    let opts = FirewallOptions::default().upstreams(&[BLACKHOLE_V4]);
    let mut bed = Testbed::start(&opts);
    let reply = Dig::new(RESOLVER_V4, "www.allowed.test")
        .timeout_secs(10)
        .expect_in(&bed.lab.phone);
    assert_eq!(reply.status, "SERVFAIL", "{}", reply.raw);
    assert!(
        reply.elapsed < Duration::from_millis(3000) + SLACK,
        "SERVFAIL after {:?}, default timeout 3000 ms",
        reply.elapsed
    );
    let stats = bed.stop();
    assert_eq!(stats.upstream_failures, 1, "{:?}", stats.raw);
}

#[test]
fn a_second_upstream_takes_over_when_the_first_is_dead() {
    if !require_root() {
        return;
    }
    let opts = FirewallOptions::default()
        .upstreams(&[&format!("{UPSTREAM_V4}:5399"), UPSTREAM_V4])
        .args(&["--upstream-timeout-ms", "2000"]);
    let bed = Testbed::start(&opts);
    // Several names: whichever upstream the firewall tries first, the app
    // must get the real answer each time.
    for i in 0..4 {
        let name = format!("n{i}.wild.allowed.test");
        let reply = Dig::new(RESOLVER_V4, &name)
            .timeout_secs(8)
            .expect_in(&bed.lab.phone);
        assert_eq!(reply.status, "NOERROR", "{}", reply.raw);
        assert_eq!(reply.data_of("A"), ["192.0.2.10"], "{}", reply.raw);
    }
}

#[test]
fn queries_beyond_max_pending_get_servfail_at_once() {
    if !require_root() {
        return;
    }
    use std::net::SocketAddr;
    use tacet_e2e::burst::{burst, Query, TYPE_A};

    // The upstream swallows everything, so every allowed query stays
    // pending for the whole 5 s timeout; with room for 2, the other 3 of a
    // burst of 5 must be answered SERVFAIL right away, not left hanging.
    let opts = FirewallOptions::default()
        .upstreams(&[BLACKHOLE_V4])
        .args(&["--max-pending", "2", "--upstream-timeout-ms", "5000"]);
    let bed = Testbed::start(&opts);
    let queries: Vec<Query> = (0..5u16)
        .map(|i| Query {
            id: i,
            name: format!("p{i}.wild.allowed.test"),
            qtype: TYPE_A,
        })
        .collect();
    let resolver = SocketAddr::new(RESOLVER_V4.parse().unwrap(), 53);
    let out = burst(&bed.lab.phone, resolver, &queries, Duration::from_secs(2));
    let servfails = out.replies.values().filter(|r| r.rcode == 2).count();
    assert_eq!(servfails, 3, "replies within 2 s: {:?}", out.replies);
    // Blocking still works while the pending table is full.
    let blocked = Dig::new(RESOLVER_V4, "tracker.blocked.test")
        .timeout_secs(2)
        .expect_in(&bed.lab.phone);
    assert_eq!(blocked.data_of("A"), ["0.0.0.0"], "{}", blocked.raw);
}
