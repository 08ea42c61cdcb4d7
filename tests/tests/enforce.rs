//! Enforcement from the first second (#18), on a real TUN: the addresses
//! of the curated lists' names are refused before any app asks (a camera
//! with its P2P server's address built in never asks), a connection made
//! 100 ms after a blocked name's lookup is already refused, and a large
//! list marked for enforcement costs a bounded number of lookups.

// Test code: helpers outside #[test] fns fail the test loudly, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use tacet_e2e::dnsmasq::TRACKER_A;
use tacet_e2e::firewall::TUN_NAME;
use tacet_e2e::lab::UPSTREAM_V4;
use tacet_e2e::scratch::ScratchDir;
use tacet_e2e::{require_root, Dig, Dnsmasq, Firewall, FirewallOptions, Lab, Netns, RESOLVER_V4};

/// Where the test zone puts ThroughTek's P2P servers (iotcplatform.com,
/// on the curated `throughtek-kalay` list): a public address, as the real
/// ones are, held by the upstream namespace.
const KALAY_A: &str = "93.184.215.80";

/// Servers listening on `addr:port` in the upstream namespace, which holds
/// the address; and, without the firewall, a way there from the phone (a
/// default route through the veth, as to the internet).
fn server(lab: &Lab, addr: &str, port: u16) {
    lab.upstream
        .ip(&["addr", "add", &format!("{addr}/32"), "dev", "up0"]);
    let at = SocketAddr::new(addr.parse().unwrap(), port);
    let listener = lab.upstream.enter(|| TcpListener::bind(at).unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    let _ = lab
        .phone
        .command("ip")
        .args(["route", "add", "default", "via", UPSTREAM_V4])
        .output();
}

/// A TCP connect from `ns`: the result and its time.
fn connect(ns: &Netns, addr: SocketAddr) -> (std::io::Result<TcpStream>, Duration) {
    ns.enter(|| {
        let start = Instant::now();
        let result = TcpStream::connect_timeout(&addr, Duration::from_secs(3));
        (result, start.elapsed())
    })
}

fn routed_into_tunnel(phone: &Netns, addr: &str) -> bool {
    let out = phone
        .command("ip")
        .args(["route", "get", addr])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains(&format!("dev {TUN_NAME}"))
}

#[test]
fn a_curated_names_address_is_refused_before_any_app_asks() {
    if !require_root() {
        return;
    }
    let lab = Lab::new();
    let _dnsmasq = Dnsmasq::start(
        &lab,
        &[&format!("--host-record=iotcplatform.com,{KALAY_A}")],
    );
    server(&lab, KALAY_A, 32100);
    let target = SocketAddr::new(KALAY_A.parse().unwrap(), 32100);
    // Without the firewall the camera reaches its P2P server.
    let (direct, _) = connect(&lab.phone, target);
    assert!(direct.is_ok(), "the test network is broken: {direct:?}");

    let started = Instant::now();
    let opts = FirewallOptions {
        curated: true,
        ..FirewallOptions::default()
    };
    let firewall = Firewall::start(&lab, &opts);
    let ready = started.elapsed();
    // No app asks for iotcplatform.com: the firewall looked it up itself.
    while !routed_into_tunnel(&lab.phone, KALAY_A) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{KALAY_A} (iotcplatform.com) was never routed into the tunnel"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let routed = started.elapsed();
    let (result, took) = connect(&lab.phone, target);
    println!(
        "ready after {ready:?}, iotcplatform.com's address routed after {routed:?}, \
         connect refused in {took:?}"
    );
    assert!(
        matches!(&result, Err(e) if e.kind() == ErrorKind::ConnectionRefused),
        "a hard-coded connection to iotcplatform.com's address got {result:?}"
    );
    assert!(
        routed < Duration::from_secs(2),
        "routed only after {routed:?}"
    );
    let stats = firewall.stop();
    assert!(
        stats.raw["enforce_lookups"].as_u64().unwrap() >= 2,
        "{}",
        stats.raw
    );
    assert_eq!(stats.raw["rejected"], 1, "{}", stats.raw);
    assert_eq!(stats.queries, 0, "no app asked for anything: {}", stats.raw);
}

#[test]
fn a_connection_100_ms_after_a_blocked_lookup_is_refused() {
    if !require_root() {
        return;
    }
    let lab = Lab::new();
    let _dnsmasq = Dnsmasq::start(&lab, &[]);
    server(&lab, TRACKER_A, 443);
    let target = SocketAddr::new(TRACKER_A.parse::<IpAddr>().unwrap(), 443);
    let firewall = Firewall::start(&lab, &FirewallOptions::default());
    // The app's lookup gets the block answer; the firewall resolves the
    // name in the background.
    let reply = Dig::new(RESOLVER_V4, "tracker.blocked.test").expect_in(&lab.phone);
    assert_eq!(reply.data_of("A"), ["0.0.0.0"], "{}", reply.raw);
    // The app had the real address cached, or hard-coded: it connects a
    // moment later (before #18, routes waited out a one-second debounce).
    std::thread::sleep(Duration::from_millis(100));
    let (result, took) = connect(&lab.phone, target);
    println!("connect 100 ms after the lookup: {result:?} in {took:?}");
    assert!(
        matches!(&result, Err(e) if e.kind() == ErrorKind::ConnectionRefused),
        "100 ms after the lookup, the connection got {result:?}"
    );
    assert!(
        took < Duration::from_millis(500),
        "refused only after {took:?}"
    );
    let stats = firewall.stop();
    assert_eq!(stats.raw["rejected"], 1, "{}", stats.raw);
}

#[test]
fn a_large_list_marked_for_enforcement_costs_a_bounded_number_of_lookups() {
    if !require_root() {
        return;
    }
    let lab = Lab::new();
    let _dnsmasq = Dnsmasq::start(&lab, &[]);
    let scratch = ScratchDir::new("enforce");
    let names: String = (0..20_000)
        .map(|i| format!("n{i}.blocked.test\n"))
        .collect();
    let list = scratch.write("big.txt", &names);
    let started = Instant::now();
    let firewall = Firewall::start(
        &lab,
        &FirewallOptions::default().args(&["--enforce", &list.display().to_string()]),
    );
    assert!(
        firewall
            .stderr()
            .contains("only the first names are enforced"),
        "the user is told the list was cut: {}",
        firewall.stderr()
    );
    std::thread::sleep(Duration::from_secs(4));
    let stats = firewall.stop();
    let elapsed = started.elapsed().as_secs_f64();
    let lookups = stats.raw["enforce_lookups"].as_u64().unwrap();
    // 128 at once, then 60 a minute.
    let bound = 128.0 + elapsed / 60.0 * 60.0 + 1.0;
    println!("{lookups} enforced lookups in {elapsed:.1} s (bound {bound:.0})");
    assert!(
        lookups as f64 <= bound,
        "{lookups} lookups in {elapsed:.1} s"
    );
    assert!(lookups >= 128, "the first burst went out: {}", stats.raw);
}
