//! 1,000 queries sent at once, as when a phone wakes and every app looks
//! something up: every one is answered, correctly, and counted.

// Test code: helpers outside #[test] fns fail the test loudly, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tacet_e2e::burst::{burst, Query, TYPE_A};
use tacet_e2e::{require_root, Testbed, RESOLVER_V4};

#[test]
fn a_thousand_queries_at_once_are_all_answered() {
    if !require_root() {
        return;
    }
    let mut bed = Testbed::with_args(&[]);
    // 750 blocked queries for 50 trackers (apps retry the same few) and
    // 250 distinct allowed names, interleaved. What reaches dnsmasq (the
    // allowed names, plus the firewall's background lookups of the 50
    // blocked ones) stays within what its default socket buffer takes in
    // one burst (see the harness test), so that a drop is the firewall's.
    let queries: Vec<Query> = (0..1000u16)
        .map(|i| Query {
            id: i,
            name: if i % 4 == 0 {
                format!("a{i}.wild.allowed.test")
            } else {
                format!("b{}.wild.blocked.test", i % 50)
            },
            qtype: TYPE_A,
        })
        .collect();
    let resolver = SocketAddr::new(RESOLVER_V4.parse().unwrap(), 53);
    let out = burst(&bed.lab.phone, resolver, &queries, Duration::from_secs(10));

    let missing: Vec<&str> = queries
        .iter()
        .filter(|q| !out.replies.contains_key(&q.id))
        .map(|q| q.name.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "{} of 1000 unanswered (sent in {:?}, {} garbled, {} duplicates), e.g. {:?}\n\
         where packets were dropped, as the phone's kernel counts them:\n{}",
        missing.len(),
        out.send_time,
        out.garbled,
        out.duplicates,
        &missing[..missing.len().min(5)],
        drop_counters(&bed)
    );
    for q in &queries {
        let reply = &out.replies[&q.id];
        let expected = if q.name.starts_with('a') {
            IpAddr::from([192, 0, 2, 10])
        } else {
            IpAddr::from([0, 0, 0, 0])
        };
        assert_eq!(reply.qname, q.name, "{reply:?}");
        assert_eq!(reply.rcode, 0, "{reply:?}");
        assert_eq!(reply.addrs, [expected], "{reply:?}");
    }
    assert_eq!(out.duplicates, 0);
    let slowest = out.replies.values().map(|r| r.after).max().unwrap();
    eprintln!(
        "1000 queries sent in {:?}, last reply after {slowest:?}",
        out.send_time
    );

    let stats = bed.stop();
    let raw = &stats.raw;
    assert_eq!(stats.queries, 1000, "{raw}");
    assert_eq!(stats.blocked, 750, "{raw}");
    assert_eq!(stats.unique_blocked, 50, "{raw}");
    assert_eq!(stats.allowed, 250, "{raw}");
    // The firewall's own background lookups of blocked names are counted
    // apart (`background_queries`); forwarded counts the phone's queries.
    assert_eq!(stats.forwarded, 250, "{raw}");
    assert_eq!(stats.upstream_failures, 0, "{raw}");
}

/// The TUN's and the qdisc's drop counters and the UDP error counters, so
/// a failure says whether queries died queued for the firewall, or replies
/// died on the way back to the client socket.
fn drop_counters(bed: &Testbed) -> String {
    let tun = tacet_e2e::firewall::TUN_NAME;
    [
        vec!["ip", "-s", "link", "show", tun],
        vec!["tc", "-s", "qdisc", "show", "dev", tun],
        vec!["sh", "-c", "grep -A1 '^Udp:' /proc/net/snmp"],
    ]
    .iter()
    .map(|argv| {
        let out = bed
            .lab
            .phone
            .command(argv[0])
            .args(&argv[1..])
            .output()
            .unwrap();
        format!(
            "$ {}\n{}",
            argv.join(" "),
            String::from_utf8_lossy(&out.stdout)
        )
    })
    .collect()
}
