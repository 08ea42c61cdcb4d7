//! Apps that try to route around the firewall's resolver: Android's Private
//! DNS probe to port 853 of the resolver, and DNS over HTTPS or TLS (and
//! vendors' HTTPDNS) to public resolvers' addresses, which the curated
//! `encrypted-dns` list routes into the tunnel and rejects, so the app falls
//! back to the system resolver: the firewall.

// Test code: helpers outside #[test] fns fail the test loudly, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use tacet_e2e::dnsmasq::TEST_BLOCKLIST;
use tacet_e2e::firewall::TUN_NAME;
use tacet_e2e::lab::UPSTREAM_V4;
use tacet_e2e::{
    require_root, Dig, Dnsmasq, Firewall, FirewallOptions, Lab, Netns, Testbed, RESOLVER_V4,
    RESOLVER_V6,
};

/// A refusal is a reset the firewall sends as soon as the SYN reaches it:
/// milliseconds, where silence would cost the app its connect timeout.
const AT_ONCE: Duration = Duration::from_millis(500);

/// Public resolvers and HTTPDNS endpoints the `encrypted-dns` list must
/// cover (Cloudflare, Google, Quad9, AliDNS, Tencent DNSPod).
const ENCRYPTED_DNS: &[&str] = &["1.1.1.1", "8.8.8.8", "9.9.9.9", "223.5.5.5", "119.29.29.29"];

/// Connects from `ns` to `addr` with a 3 s limit: the result and the time.
fn connect(ns: &Netns, addr: SocketAddr) -> (std::io::Result<TcpStream>, Duration) {
    ns.enter(|| {
        let start = Instant::now();
        let result = TcpStream::connect_timeout(&addr, Duration::from_secs(3));
        (result, start.elapsed())
    })
}

fn assert_refused_at_once(ns: &Netns, addr: SocketAddr) {
    let (result, took) = connect(ns, addr);
    match result {
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => assert!(
            took < AT_ONCE,
            "{addr}: refused only after {took:?}, not at once"
        ),
        other => {
            panic!("{addr}: expected connection refused at once, got {other:?} after {took:?}")
        }
    }
}

/// Which device the phone's routing sends `addr` to (`ip route get`).
fn route_dev(phone: &Netns, addr: &str) -> String {
    let out = phone
        .command("ip")
        .args(["route", "get", addr])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace()
        .skip_while(|w| *w != "dev")
        .nth(1)
        .unwrap_or("")
        .to_owned()
}

/// Waits until the phone routes `addr` into the tunnel, or panics.
fn wait_tunnelled(phone: &Netns, addr: &str) {
    let start = Instant::now();
    while route_dev(phone, addr) != TUN_NAME {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{addr} is not routed into the tunnel (goes to {:?}): the encrypted-dns list does \
             not cover it",
            route_dev(phone, addr)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// TCP servers on ports 443 and 853 of `addrs`, in the upstream namespace,
/// which holds those addresses: the public resolvers, as far as the phone
/// can tell.
fn public_resolvers(lab: &Lab, addrs: &[&str]) {
    for addr in addrs {
        lab.upstream
            .ip(&["addr", "add", &format!("{addr}/32"), "dev", "up0"]);
        for port in [443, 853] {
            let at = SocketAddr::new(addr.parse().unwrap(), port);
            let listener = lab.upstream.enter(|| TcpListener::bind(at).unwrap());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    drop(stream);
                }
            });
        }
    }
    // Without the firewall, everything not on the veth goes to the
    // upstream namespace: the way to the internet.
    lab.phone
        .ip(&["route", "add", "default", "via", UPSTREAM_V4]);
}

#[test]
fn private_dns_probes_to_port_853_of_the_resolver_are_reset_at_once() {
    if !require_root() {
        return;
    }
    let bed = Testbed::with_args(&[]);
    assert_refused_at_once(
        &bed.lab.phone,
        SocketAddr::new(RESOLVER_V4.parse().unwrap(), 853),
    );
    assert_refused_at_once(
        &bed.lab.phone,
        SocketAddr::new(RESOLVER_V6.parse().unwrap(), 853),
    );
    // DNS over TCP on port 53 still works beside it.
    let reply = Dig::new(RESOLVER_V4, "tracker.blocked.test")
        .tcp()
        .expect_in(&bed.lab.phone);
    assert_eq!(reply.data_of("A"), ["0.0.0.0"], "{}", reply.raw);
}

#[test]
fn encrypted_dns_resolvers_are_refused_and_their_port_53_answered_by_the_firewall() {
    if !require_root() {
        return;
    }
    let lab = Lab::new();
    public_resolvers(&lab, &["1.1.1.1", "8.8.8.8"]);
    // Without the firewall, the phone reaches them: a leak would show.
    let (before, _) = connect(&lab.phone, "1.1.1.1:443".parse().unwrap());
    assert!(
        before.is_ok(),
        "the test's resolver is unreachable: {before:?}"
    );

    let _dnsmasq = Dnsmasq::start(&lab, &[]);
    let opts = FirewallOptions {
        curated: true,
        ..FirewallOptions::default()
    };
    let firewall = Firewall::start(&lab, &opts);
    for addr in ENCRYPTED_DNS {
        wait_tunnelled(&lab.phone, addr);
    }
    for addr in ["1.1.1.1:443", "1.1.1.1:853", "8.8.8.8:443", "8.8.8.8:853"] {
        assert_refused_at_once(&lab.phone, addr.parse().unwrap());
    }
    // Plain DNS to a hard-coded resolver is answered by the firewall
    // (nothing listens on 8.8.8.8:53 in the lab).
    let blocked = Dig::new("8.8.8.8", "tracker.blocked.test").expect_in(&lab.phone);
    assert_eq!(blocked.data_of("A"), ["0.0.0.0"], "{}", blocked.raw);
    let allowed = Dig::new("8.8.8.8", "www.allowed.test").expect_in(&lab.phone);
    assert_eq!(allowed.data_of("A"), ["192.0.2.11"], "{}", allowed.raw);
    let stats = firewall.stop();
    assert!(
        stats.raw["rejected"].as_u64().unwrap_or(0) >= 4,
        "{}",
        stats.raw
    );
}

#[test]
fn a_configured_upstream_on_the_encrypted_dns_list_is_not_blocked() {
    if !require_root() {
        return;
    }
    let lab = Lab::new();
    public_resolvers(&lab, &["1.1.1.1", "8.8.8.8"]);
    let _dnsmasq = Dnsmasq::start(&lab, &["--listen-address=1.1.1.1"]);
    let opts = FirewallOptions {
        curated: true,
        upstreams: vec!["1.1.1.1".to_owned()],
        blocklist: Some(TEST_BLOCKLIST.to_owned()),
        ..FirewallOptions::default()
    };
    let firewall = Firewall::start(&lab, &opts);
    // Queries reach the configured upstream, 1.1.1.1…
    let reply = Dig::new(RESOLVER_V4, "www.allowed.test").expect_in(&lab.phone);
    assert_eq!(reply.data_of("A"), ["192.0.2.11"], "{}", reply.raw);
    // …which is not routed into the tunnel, and stays reachable…
    std::thread::sleep(Duration::from_millis(1500));
    assert_ne!(
        route_dev(&lab.phone, "1.1.1.1"),
        TUN_NAME,
        "the upstream was blocked"
    );
    let (reached, _) = connect(&lab.phone, "1.1.1.1:853".parse().unwrap());
    assert!(
        reached.is_ok(),
        "the configured upstream was cut off: {reached:?}"
    );
    // …while the rest of the list is in force.
    wait_tunnelled(&lab.phone, "8.8.8.8");
    assert_refused_at_once(&lab.phone, "8.8.8.8:443".parse().unwrap());
    let stats = firewall.stop();
    assert_eq!(stats.upstream_failures, 0, "{}", stats.raw);
    assert!(stats.forwarded >= 1, "{}", stats.raw);
}
