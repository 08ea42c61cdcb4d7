//! The harness's own pieces, without the firewall: namespaces, veth,
//! dnsmasq, dig/kdig and the burst client. When these pass and a firewall
//! test fails, the firewall is to blame.

// Test code: helpers outside #[test] fns fail the test loudly, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tacet_e2e::burst::{burst, Query, TYPE_A};
use tacet_e2e::lab::{UPSTREAM_V4, UPSTREAM_V6};
use tacet_e2e::{netns, require_root, Dig, Dnsmasq, Lab};

#[test]
fn dnsmasq_serves_the_test_zone_over_the_veth() {
    if !require_root() {
        return;
    }
    let lab = Lab::new();
    let _dnsmasq = Dnsmasq::start(&lab, &[]);

    let a = Dig::new(UPSTREAM_V4, "www.allowed.test").expect_in(&lab.phone);
    assert_eq!(a.status, "NOERROR", "{}", a.raw);
    assert_eq!(a.data_of("A"), ["192.0.2.11"], "{}", a.raw);

    let aaaa = Dig::new(UPSTREAM_V6, "www.allowed.test")
        .qtype("AAAA")
        .kdig()
        .expect_in(&lab.phone);
    assert_eq!(aaaa.data_of("AAAA"), ["2001:db8::11"], "{}", aaaa.raw);

    let txt = Dig::new(UPSTREAM_V4, "txt.allowed.test")
        .qtype("TXT")
        .expect_in(&lab.phone);
    assert_eq!(
        txt.data_of("TXT"),
        ["\"v=tacet test record\""],
        "{}",
        txt.raw
    );

    let mx = Dig::new(UPSTREAM_V4, "mx.allowed.test")
        .qtype("MX")
        .kdig()
        .expect_in(&lab.phone);
    assert_eq!(mx.data_of("MX"), ["10 mail.allowed.test."], "{}", mx.raw);

    let nx = Dig::new(UPSTREAM_V4, "missing.allowed.test").expect_in(&lab.phone);
    assert_eq!(nx.status, "NXDOMAIN", "{}", nx.raw);

    // Outside the test zone dnsmasq has no upstream: it must refuse, never
    // reach for the machine's resolver.
    let out = Dig::new(UPSTREAM_V4, "example.com").expect_in(&lab.phone);
    assert_eq!(out.status, "REFUSED", "{}", out.raw);
}

#[test]
fn a_burst_of_250_queries_is_answered_by_dnsmasq_directly() {
    // dnsmasq's socket keeps the kernel's default 208 KiB receive buffer
    // (a global sysctl a test must not change), which holds about 600
    // queries. The firewall's burst test therefore forwards 250 of its 1000
    // queries upstream; this shows the upstream alone takes that many.
    if !require_root() {
        return;
    }
    let lab = Lab::new();
    let _dnsmasq = Dnsmasq::start(&lab, &[]);
    let queries: Vec<Query> = (0..250u16)
        .map(|i| Query {
            id: i,
            name: format!("n{i}.wild.allowed.test"),
            qtype: TYPE_A,
        })
        .collect();
    let server = SocketAddr::new(UPSTREAM_V4.parse().unwrap(), 53);
    let out = burst(&lab.phone, server, &queries, Duration::from_secs(5));
    assert_eq!(out.replies.len(), 250, "garbled {}", out.garbled);
    for q in &queries {
        let r = &out.replies[&q.id];
        assert_eq!(r.qname, q.name);
        assert_eq!(r.addrs, [IpAddr::from([192, 0, 2, 10])]);
    }
}

#[test]
fn namespaces_are_removed_on_drop_even_after_a_panic() {
    if !require_root() {
        return;
    }
    let names = std::panic::catch_unwind(|| {
        let lab = Lab::new();
        let names = (lab.phone.name().to_owned(), lab.upstream.name().to_owned());
        assert!(netns::list_all().contains(&names.0));
        std::panic::panic_any(names);
    })
    .unwrap_err();
    let (phone, upstream) = names.downcast_ref::<(String, String)>().unwrap();
    let left = netns::list_all();
    assert!(
        !left.contains(phone) && !left.contains(upstream),
        "{left:?}"
    );
}

#[test]
fn the_first_tcp_connection_over_ipv6_is_set_up_at_once() {
    // An address added while its link was down is not answered for until
    // the link-local address is through duplicate address detection: the
    // first SYN went unanswered and the connection took a second.
    if !require_root() {
        return;
    }
    let lab = Lab::new();
    let addr = SocketAddr::new(UPSTREAM_V6.parse().unwrap(), 4853);
    let listener = lab
        .upstream
        .enter(|| std::net::TcpListener::bind(addr).unwrap());
    let took = lab.phone.enter(|| {
        let start = std::time::Instant::now();
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3)).unwrap();
        start.elapsed()
    });
    drop(listener);
    assert!(took < Duration::from_millis(500), "took {took:?}");
}
