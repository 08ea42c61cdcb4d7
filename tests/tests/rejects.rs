//! DNS over TCP, rejected connections to the addresses of blocked names,
//! shared addresses and hard-coded resolvers, as a phone would meet them:
//! `kdig` keeping one connection open, an answer too big for UDP, `curl`
//! refused at once (not a timeout), ICMP for UDP, and no packet to a
//! blocked address leaving the phone.

// Test code: helpers outside #[test] fns fail the test loudly, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tacet_e2e::dnsmasq::{TEST_BLOCKLIST, TRACKER_A};
use tacet_e2e::firewall::TUN_NAME;
use tacet_e2e::lab::UPSTREAM_V4;
use tacet_e2e::process::Spawned;
use tacet_e2e::scratch::ScratchDir;
use tacet_e2e::{require_root, Dig, Dnsmasq, FirewallOptions, Lab, Netns, Testbed, RESOLVER_V4};

/// The address the test zone gives `tracker.blocked.test`.
const TRACKER: &str = TRACKER_A;

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Waits until the phone routes `addr` into the TUN (the firewall learned
/// it and its routes thread applied it), or panics.
fn wait_routed(phone: &Netns, addr: &str) {
    let start = Instant::now();
    loop {
        let (_, routes) = run(phone.command("ip").args(["route", "show", "dev", TUN_NAME]));
        if routes
            .lines()
            .any(|l| l.split_whitespace().next() == Some(addr))
        {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{addr} never routed into the tunnel: {routes}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the phone no longer routes `prefix` into the TUN, or panics.
fn wait_unrouted(phone: &Netns, prefix: &str) {
    let start = Instant::now();
    loop {
        let (_, routes) = run(phone.command("ip").args(["route", "show", "dev", TUN_NAME]));
        if !routes
            .lines()
            .any(|l| l.split_whitespace().next() == Some(prefix))
        {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{prefix} still routed into the tunnel: {routes}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// curl from the phone to `url`: whether it succeeded, its output, and
/// curl's own time in seconds (`-w` prints it on the first line).
fn curl(phone: &Netns, url: &str) -> (bool, String, f64) {
    let (ok, out) = run(phone.command("curl").args([
        "-sS",
        "--max-time",
        "5",
        "-o",
        "/dev/null",
        "-w",
        "%{time_total}",
        url,
    ]));
    let seconds = out
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .parse()
        .unwrap_or(f64::MAX);
    (ok, out, seconds)
}

/// tcpdump on the upstream side of the veth: what left the phone.
fn capture_upstream(lab: &Lab, filter: &str) -> Spawned {
    let mut cmd = lab.upstream.command("tcpdump");
    cmd.args(["-i", "up0", "-n", "-l", "--immediate-mode", filter])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut process = Spawned::new("tcpdump", cmd.spawn().expect("spawn tcpdump"));
    let start = Instant::now();
    while !process.stderr().contains("listening on") && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = process.try_status();
    process
}

#[test]
fn kdig_keeps_one_tcp_connection_open_for_several_queries() {
    if !require_root() {
        return;
    }
    let mut bed = Testbed::with_args(&[]);
    let (ok, out) = run(bed.lab.phone.command("kdig").args([
        &format!("@{RESOLVER_V4}"),
        "+tcp",
        "+keepopen",
        "+timeout=3",
        "www.allowed.test",
        "tracker.blocked.test",
        "txt.allowed.test",
        "TXT",
    ]));
    assert!(ok, "{out}");
    assert_eq!(out.matches("status: NOERROR").count(), 3, "{out}");
    assert!(
        out.contains("192.0.2.11") && out.contains("0.0.0.0") && out.contains("tacet test record"),
        "{out}"
    );
    let stats = bed.stop();
    assert_eq!(stats.raw["tcp_queries"], 3, "{}", stats.raw);
}

#[test]
fn an_answer_too_big_for_udp_reaches_the_client_whole() {
    if !require_root() {
        return;
    }
    let lab = Lab::new();
    let strings: Vec<String> = (0..12)
        .map(|i| format!("\"{}\"", format!("{i:x}").repeat(200)))
        .collect();
    let big = format!("--txt-record=big.allowed.test,{}", strings.join(","));
    let _dnsmasq = Dnsmasq::start(&lab, &[&big]);
    let firewall = tacet_e2e::Firewall::start(&lab, &FirewallOptions::default());
    let direct = Dig::new(UPSTREAM_V4, "big.allowed.test")
        .qtype("TXT")
        .tcp()
        .expect_in(&lab.phone);
    // One TXT record of twelve 200-byte strings: 2.4 KB, over any UDP size.
    let size = |raw: &str| -> usize {
        raw.lines()
            .find_map(|l| l.split("rcvd: ").nth(1))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    assert!(size(&direct.raw) > 2400, "the zone: {}", direct.raw);
    // Over UDP the answer comes back truncated and dig retries over TCP,
    // to the firewall; over TCP directly it comes whole at once.
    let over_udp = Dig::new(RESOLVER_V4, "big.allowed.test")
        .qtype("TXT")
        .expect_in(&lab.phone);
    let over_tcp = Dig::new(RESOLVER_V4, "big.allowed.test")
        .qtype("TXT")
        .tcp()
        .expect_in(&lab.phone);
    let kdig = Dig::new(RESOLVER_V4, "big.allowed.test")
        .qtype("TXT")
        .tcp()
        .kdig()
        .expect_in(&lab.phone);
    for reply in [&over_udp, &over_tcp, &kdig] {
        assert_eq!(
            reply.answers_without_ttl(),
            direct.answers_without_ttl(),
            "{}",
            reply.raw
        );
        assert!(!reply.flags.contains(&"tc".to_owned()), "{}", reply.raw);
        assert!(
            size(&reply.raw) > 2400 || reply.raw.contains("TCP"),
            "{}",
            reply.raw
        );
    }
    firewall.stop();
}

#[test]
fn connections_to_a_learned_address_are_refused_at_once_and_never_leave() {
    if !require_root() {
        return;
    }
    let mut bed = Testbed::with_args(&[]);
    // Without the firewall, the tracker would be reachable through the veth.
    bed.lab
        .phone
        .ip(&["route", "add", "default", "via", UPSTREAM_V4]);
    let mut capture = capture_upstream(&bed.lab, &format!("host {TRACKER}"));

    let reply = bed.query("tracker.blocked.test", "A");
    assert_eq!(reply.data_of("A"), vec!["0.0.0.0"], "{}", reply.raw);
    wait_routed(&bed.lab.phone, TRACKER);

    // TCP: curl fails with "connection refused" in well under 50 ms.
    let (ok, out, seconds) = curl(&bed.lab.phone, &format!("http://{TRACKER}/"));
    assert!(!ok, "curl reached the tracker: {out}");
    assert!(
        out.contains("Couldn't connect") || out.contains("refused"),
        "{out}"
    );
    assert!(
        seconds < 0.05,
        "refused after {seconds} s, not at once: {out}"
    );

    // UDP: the send is answered with ICMP, which the connected socket
    // reports as an error instead of silence.
    let error = bed.lab.phone.enter(|| {
        let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
        socket.connect((TRACKER, 3478)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        socket.send(b"stun").unwrap();
        socket.recv(&mut [0u8; 64]).unwrap_err()
    });
    assert!(
        !matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "no ICMP error, only silence: {error}"
    );

    std::thread::sleep(Duration::from_millis(200));
    capture.signal(libc::SIGINT);
    let _ = capture.wait_exit(Duration::from_secs(3));
    let leaked: Vec<String> = capture
        .stdout_lines()
        .into_iter()
        .filter(|l| l.contains(TRACKER))
        .collect();
    assert!(
        leaked.is_empty(),
        "packets to the blocked address left the phone: {leaked:?}"
    );

    let stats = bed.stop();
    assert!(
        stats.raw["rejected"].as_u64().unwrap() >= 2,
        "{}",
        stats.raw
    );
    assert!(
        stats.blocked >= 3,
        "the query and both rejects count as blocked attempts: {}",
        stats.raw
    );
}

#[test]
fn cidr_rules_are_routed_in_from_the_start_and_follow_a_reload() {
    if !require_root() {
        return;
    }
    let lists = ScratchDir::new("cidr");
    let list = lists.write(
        "cidr.txt",
        &format!("{TEST_BLOCKLIST}198.51.100.0/24\n@@198.51.100.200\n203.0.113.0/25\n"),
    );
    let path = list.display().to_string();
    let mut opts = FirewallOptions::default().args(&["--blocklist", &path]);
    opts.blocklist = None;
    let mut bed = Testbed::start(&opts);
    bed.lab
        .phone
        .ip(&["route", "add", "default", "via", UPSTREAM_V4]);
    let mut capture = capture_upstream(&bed.lab, "net 203.0.113.0/25");

    // Routed in at start, before any DNS: the network of a rule, not a
    // learned address. The /24 holds an allowed address, so it stays out.
    wait_routed(&bed.lab.phone, "203.0.113.0/25");
    let (_, routes) = run(bed
        .lab
        .phone
        .command("ip")
        .args(["route", "show", "dev", TUN_NAME]));
    assert!(!routes.contains("198.51.100.0/24"), "{routes}");

    let (ok, out, seconds) = curl(&bed.lab.phone, "http://203.0.113.77/");
    assert!(
        !ok && (out.contains("refused") || out.contains("Couldn't connect")),
        "{out}"
    );
    assert!(
        seconds < 0.05,
        "refused after {seconds} s, not at once: {out}"
    );

    // Edit the list and reload (SIGHUP): the route goes.
    std::fs::write(&list, TEST_BLOCKLIST).unwrap();
    bed.firewall.as_ref().unwrap().signal(libc::SIGHUP);
    wait_unrouted(&bed.lab.phone, "203.0.113.0/25");

    std::thread::sleep(Duration::from_millis(200));
    capture.signal(libc::SIGINT);
    let _ = capture.wait_exit(Duration::from_secs(3));
    let leaked = capture.stdout_lines();
    let leaked: Vec<&String> = leaked.iter().filter(|l| l.contains("203.0.113.")).collect();
    assert!(
        leaked.is_empty(),
        "packets to the blocked network left the phone: {leaked:?}"
    );
    let stats = bed.stop();
    assert!(
        stats.raw["rejected"].as_u64().unwrap() >= 1,
        "{}",
        stats.raw
    );
}

#[test]
fn an_address_an_allowed_name_shares_stays_reachable() {
    if !require_root() {
        return;
    }
    let lab = Lab::new();
    // A server in the upstream namespace that both names resolve to: a
    // public address (the firewall never learns a private one from a
    // blocked name), reached through the upstream namespace as the
    // internet would be.
    const CDN: &str = "93.184.215.90";
    lab.upstream
        .ip(&["addr", "add", &format!("{CDN}/32"), "dev", "up0"]);
    lab.phone
        .ip(&["route", "add", "default", "via", UPSTREAM_V4]);
    let listener = lab
        .upstream
        .enter(|| TcpListener::bind((CDN, 8080)).unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    let _dnsmasq = Dnsmasq::start(
        &lab,
        &[
            &format!("--host-record=cdn.blocked.test,{CDN}"),
            &format!("--host-record=cdn.allowed.test,{CDN}"),
        ],
    );
    let firewall = tacet_e2e::Firewall::start(&lab, &FirewallOptions::default());
    let blocked = Dig::new(RESOLVER_V4, "cdn.blocked.test").expect_in(&lab.phone);
    assert_eq!(blocked.data_of("A"), vec!["0.0.0.0"]);
    let allowed = Dig::new(RESOLVER_V4, "cdn.allowed.test").expect_in(&lab.phone);
    assert_eq!(allowed.data_of("A"), vec![CDN]);
    // Past the routes' debounce: the shared address is still reachable.
    std::thread::sleep(Duration::from_millis(1500));
    let connected = lab.phone.enter(|| {
        TcpStream::connect_timeout(
            &SocketAddr::new(CDN.parse().unwrap(), 8080),
            Duration::from_secs(2),
        )
    });
    assert!(
        connected.is_ok(),
        "the shared address was blocked: {connected:?}"
    );
    let stats = firewall.stop();
    assert_eq!(stats.raw["shared_addresses"], 1, "{}", stats.raw);
}

#[test]
fn dns_to_a_hard_coded_resolver_routed_into_the_tunnel_is_filtered() {
    if !require_root() {
        return;
    }
    let mut bed = Testbed::with_args(&[]);
    bed.lab
        .phone
        .ip(&["route", "add", "198.51.100.53/32", "dev", TUN_NAME]);
    let blocked = Dig::new("198.51.100.53", "tracker.blocked.test").expect_in(&bed.lab.phone);
    assert_eq!(blocked.data_of("A"), vec!["0.0.0.0"], "{}", blocked.raw);
    let allowed = Dig::new("198.51.100.53", "www.allowed.test").expect_in(&bed.lab.phone);
    assert_eq!(allowed.data_of("A"), vec!["192.0.2.11"], "{}", allowed.raw);
    let over_tcp = Dig::new("198.51.100.53", "tracker.blocked.test")
        .tcp()
        .expect_in(&bed.lab.phone);
    assert_eq!(over_tcp.data_of("A"), vec!["0.0.0.0"], "{}", over_tcp.raw);
    let stats = bed.stop();
    assert_eq!(stats.raw["bypass_attempts"], 3, "{}", stats.raw);
}
