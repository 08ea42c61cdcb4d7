//! `tacet serve` on a home network: a camera, a vacuum and a phone on a LAN
//! (a bridge in the gateway's namespace), the gateway running `tacet
//! serve`, dnsmasq beyond it as the upstream. What each device sees, what
//! the journal says about it, and that a hostile device on the same LAN
//! (a TCP flood, a slowloris, garbage) does not stop answers to the others.
//!
//! ```text
//!  camera 192.168.50.50 ─┐
//!  vacuum 192.168.50.60 ─┤ br0 192.168.50.1    ph0 10.200.0.1     10.200.0.2
//!  phone  192.168.50.70 ─┼─ gateway: tacet serve ────────────── dnsmasq
//!  rogue  192.168.50.66 ─┘   fd50::1
//! ```

// Test code: helpers outside #[test] fns fail the test loudly, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use tacet_e2e::burst::{burst, Query, TYPE_A};
use tacet_e2e::firewall::{tacet_bin, Firewall, FirewallOptions};
use tacet_e2e::netns::run_ok;
use tacet_e2e::{require_root, Dig, Dnsmasq, Lab, Netns, ScratchDir};

const GATEWAY_V4: &str = "192.168.50.1";
const GATEWAY_V6: &str = "fd50::1";
const CAMERA: (&str, &str) = ("192.168.50.50", "fd50::50");
const VACUUM: (&str, &str) = ("192.168.50.60", "fd50::60");
const PHONE: (&str, &str) = ("192.168.50.70", "fd50::70");
const ROGUE: (&str, &str) = ("192.168.50.66", "fd50::66");

/// Where the camera's P2P servers resolve to (globally reachable, so the
/// firewall learns it; nothing here has a route out).
const IOTC_A: &str = "93.184.215.70";

/// A LAN of devices on a bridge in the lab's phone namespace, which plays
/// the gateway.
struct Lan {
    devices: Vec<Netns>,
}

impl Lan {
    fn new(lab: &Lab, addrs: &[(&str, &str)]) -> Self {
        let gw = &lab.phone;
        gw.ip(&["link", "add", "br0", "type", "bridge"]);
        gw.ip(&["link", "set", "br0", "up"]);
        gw.ip(&["addr", "add", &format!("{GATEWAY_V4}/24"), "dev", "br0"]);
        gw.ip(&[
            "-6",
            "addr",
            "add",
            &format!("{GATEWAY_V6}/64"),
            "dev",
            "br0",
            "nodad",
        ]);
        let mut devices = Vec::new();
        for (i, (v4, v6)) in addrs.iter().enumerate() {
            let ns = Netns::new("dev");
            let port = format!("lan{i}");
            run_ok(Command::new("ip").args([
                "link",
                "add",
                &port,
                "netns",
                gw.name(),
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                ns.name(),
            ]));
            gw.ip(&["link", "set", &port, "master", "br0"]);
            gw.ip(&["link", "set", &port, "up"]);
            ns.ip(&["link", "set", "eth0", "up"]);
            ns.ip(&["addr", "add", &format!("{v4}/24"), "dev", "eth0"]);
            ns.ip(&[
                "-6",
                "addr",
                "add",
                &format!("{v6}/64"),
                "dev",
                "eth0",
                "nodad",
            ]);
            devices.push(ns);
        }
        Self { devices }
    }
}

/// `tacet serve` in the gateway (the lab's phone namespace) with the
/// curated lists, its store at `store`, and `args` (`--list-check-secs 0`
/// added: no list is fetched).
fn start_serve(lab: &Lab, store: &std::path::Path, args: &[&str]) -> Firewall {
    let mut all = args.to_vec();
    all.extend(["--list-check-secs", "0"]);
    let opts = FirewallOptions {
        curated: true,
        ..FirewallOptions::default()
    }
    .store(store)
    .args(&all);
    let (args, fw_scratch) = opts.run_args();
    let mut cmd = lab.phone.command(tacet_bin());
    cmd.arg("serve").args(&args);
    tacet_e2e::process::die_with_parent(&mut cmd);
    Firewall::spawn(cmd, fw_scratch)
}

/// `tacet journal` or `stats` on the store, after the firewall stopped.
fn tacet(args: &[&str]) -> String {
    let out = Command::new(tacet_bin()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "tacet {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn a_of(ns: &Netns, server: &str, name: &str) -> Vec<String> {
    let reply = Dig::new(server, name).expect_in(ns);
    reply.data_of("A")
}

/// A hostile device: connections held open past its share, a slowloris,
/// frames too long or too short, and a flood of garbage datagrams, all at
/// once, for `for_how_long`.
fn misbehave(rogue: &Netns, for_how_long: Duration) {
    rogue.enter(|| {
        let server: SocketAddr = format!("{GATEWAY_V4}:53").parse().unwrap();
        let until = Instant::now() + for_how_long;
        // Frames too long and too short for a query: each connection closed.
        for garbage in [&[0xff, 0xff, 1, 2, 3][..], &[0, 2, 1, 2]] {
            for _ in 0..3 {
                if let Ok(mut s) = TcpStream::connect_timeout(&server, Duration::from_secs(1)) {
                    let _ = s.write_all(garbage);
                    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                    let _ = s.read(&mut [0u8; 16]);
                }
            }
        }
        // Connections held open past its share.
        let mut held = Vec::new();
        for _ in 0..40 {
            if let Ok(s) = TcpStream::connect_timeout(&server, Duration::from_secs(1)) {
                held.push(s);
            }
        }
        // A slowloris on one held connection: a byte now and then.
        let _ = held.first_mut().map(|s| s.write_all(&[0]));
        // Garbage datagrams.
        let udp = UdpSocket::bind("0.0.0.0:0").unwrap();
        let mut n: u32 = 0;
        while Instant::now() < until {
            n += 1;
            let _ = udp.send_to(&n.to_be_bytes(), server);
            // Paced: a datagram flood fast enough fills the socket's
            // receive buffer in the kernel, before tacet sees anything
            // (rate limits per device belong in the gateway's nftables).
            if n % 10 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        drop(held);
    });
}

#[test]
fn a_home_network_behind_tacet_serve() {
    if !require_root() {
        return;
    }
    let lab = Lab::new();
    let lan = Lan::new(&lab, &[CAMERA, VACUUM, PHONE, ROGUE]);
    let [camera, vacuum, phone, rogue] = &lan.devices[..] else {
        unreachable!()
    };
    let _dnsmasq = Dnsmasq::start(
        &lab,
        &[
            &format!("--address=/iotcplatform.com/{IOTC_A}"),
            "--host-record=ot.io.mi.com,192.0.2.21",
            "--host-record=de.ot.io.mi.com,192.0.2.24",
            "--host-record=pool.ntp.org,192.0.2.22",
            "--host-record=api.io.mi.com,192.0.2.23",
        ],
    );
    let scratch = ScratchDir::new("serve");
    let store = scratch.path().join("store");
    let leases = scratch.write(
        "dnsmasq.leases",
        &format!(
            "1999999999 aa:bb:cc:00:00:60 {} vacuum 01:aa:bb:cc:00:00:60\n\
             garbage line\n",
            VACUUM.0
        ),
    );
    let devices = scratch.write(
        "devices",
        &format!("vacuum {}  # its IPv6 address\n", VACUUM.1),
    );
    let devices_arg = devices.display().to_string();
    let store_arg = store.display().to_string();
    let leases_arg = leases.display().to_string();
    let camera_arg = format!("camera={}", CAMERA.0);
    let firewall = start_serve(
        &lab,
        &store,
        &[
            "--listen",
            GATEWAY_V4,
            "--listen",
            &format!("[{GATEWAY_V6}]:53"),
            "--device",
            &camera_arg,
            "--devices",
            &devices_arg,
            "--leases",
            &leases_arg,
            "--only",
            "vacuum=ot.io.mi.com,pool.ntp.org",
        ],
    );

    // The camera's P2P servers: blocked by the curated ThroughTek list.
    assert_eq!(
        a_of(camera, GATEWAY_V4, "p2p.iotcplatform.com"),
        ["0.0.0.0"]
    );
    let v6 = Dig::new(GATEWAY_V6, "m1.iotcplatform.com").expect_in(camera);
    assert_eq!(v6.data_of("A"), ["0.0.0.0"], "{}", v6.raw);
    // The vacuum gets what it needs, over IPv4 and IPv6, and nothing else.
    assert_eq!(a_of(vacuum, GATEWAY_V4, "ot.io.mi.com"), ["192.0.2.21"]);
    assert_eq!(a_of(vacuum, GATEWAY_V6, "de.ot.io.mi.com"), ["192.0.2.24"]);
    assert_eq!(a_of(vacuum, GATEWAY_V4, "pool.ntp.org"), ["192.0.2.22"]);
    assert_eq!(a_of(vacuum, GATEWAY_V4, "api.io.mi.com"), ["0.0.0.0"]);
    assert_eq!(a_of(vacuum, GATEWAY_V6, "www.allowed.test"), ["0.0.0.0"]);
    // The phone is held to nothing of the vacuum's; the lists still apply.
    assert_eq!(a_of(phone, GATEWAY_V4, "api.io.mi.com"), ["192.0.2.23"]);
    assert_eq!(a_of(phone, GATEWAY_V4, "tracker.blocked.test"), ["0.0.0.0"]);
    let tcp = Dig::new(GATEWAY_V4, "www.allowed.test")
        .tcp()
        .expect_in(phone);
    assert_eq!(tcp.data_of("A"), ["192.0.2.11"], "{}", tcp.raw);

    // A hostile device on the LAN does not stop answers to the others,
    // over UDP or TCP.
    std::thread::scope(|scope| {
        scope.spawn(|| misbehave(rogue, Duration::from_secs(4)));
        std::thread::sleep(Duration::from_millis(500));
        for round in 0..5 {
            let udp = Dig::new(GATEWAY_V4, "www.allowed.test")
                .timeout_secs(2)
                .expect_in(phone);
            assert_eq!(udp.data_of("A"), ["192.0.2.11"], "round {round}");
            let tcp = Dig::new(GATEWAY_V4, "ot.io.mi.com")
                .tcp()
                .timeout_secs(2)
                .expect_in(vacuum);
            assert_eq!(tcp.data_of("A"), ["192.0.2.21"], "round {round}");
            std::thread::sleep(Duration::from_millis(300));
        }
    });

    // The leases file changes: the phone gets its name without a restart.
    std::fs::write(
        &leases,
        format!(
            "1999999999 aa:bb:cc:00:00:60 {} vacuum *\n\
             1999999999 aa:bb:cc:00:00:70 {} Phone *\n",
            VACUUM.0, PHONE.0
        ),
    )
    .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(a_of(phone, GATEWAY_V4, "blocked.test"), ["0.0.0.0"]);

    // SIGHUP while a burst is in flight: every query answered, and the
    // devices file read again.
    std::fs::write(
        &devices,
        format!(
            "vacuum {}\nrogue {} only=nothing.example\n",
            VACUUM.1, ROGUE.0
        ),
    )
    .unwrap();
    assert_eq!(a_of(rogue, GATEWAY_V4, "www.allowed.test"), ["192.0.2.11"]);
    let queries: Vec<Query> = (0..300u16)
        .map(|i| Query {
            id: i,
            name: format!("n{i}.wild.allowed.test"),
            qtype: TYPE_A,
        })
        .collect();
    let server: SocketAddr = format!("{GATEWAY_V4}:53").parse().unwrap();
    let out = std::thread::scope(|scope| {
        let sent = scope.spawn(|| burst(phone, server, &queries, Duration::from_secs(5)));
        std::thread::sleep(Duration::from_millis(2));
        firewall.signal(libc::SIGHUP);
        sent.join().unwrap()
    });
    if out.replies.len() != 300 {
        let stats = firewall.stop();
        panic!("lost {}: {}", 300 - out.replies.len(), stats.raw);
    }
    // The reload runs beside the I/O thread: held from when it is done.
    let deadline = Instant::now() + Duration::from_secs(5);
    while a_of(rogue, GATEWAY_V4, "www.allowed.test") != ["0.0.0.0"] {
        assert!(
            Instant::now() < deadline,
            "the devices file was not re-read"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let stats = firewall.stop();
    let serve = &stats.raw["serve"];
    assert!(serve["tcp_refused"].as_u64().unwrap() > 0, "{serve}");
    assert!(serve["tcp_too_long"].as_u64().unwrap() > 0, "{serve}");
    assert!(
        stats.malformed > 100,
        "the garbage datagrams: {}",
        stats.raw
    );
    assert!(stats.raw["device_blocked"].as_u64().unwrap() >= 2);

    // The journal names each device.
    let camera_log = tacet(&["journal", "--store", &store_arg, "--device", "camera"]);
    assert!(
        camera_log.contains("p2p.iotcplatform.com")
            && camera_log.contains("throughtek")
            && camera_log.contains("[camera]"),
        "{camera_log}"
    );
    let vacuum_log = tacet(&["journal", "--store", &store_arg, "--device", "vacuum"]);
    assert!(vacuum_log.contains("api.io.mi.com"), "{vacuum_log}");
    assert!(vacuum_log.contains("www.allowed.test"), "{vacuum_log}");
    assert!(vacuum_log.contains("not_for_device"), "{vacuum_log}");
    assert!(
        vacuum_log.contains(VACUUM.1),
        "its IPv6 address too: {vacuum_log}"
    );
    assert!(
        !vacuum_log.contains("ot.io.mi.com "),
        "allowed: {vacuum_log}"
    );
    let phone_log = tacet(&["journal", "--store", &store_arg, "--device", "phone"]);
    assert!(phone_log.contains("blocked.test"), "{phone_log}");
    let by_addr = tacet(&["journal", "--store", &store_arg, "--device", PHONE.0]);
    assert!(
        by_addr.contains("tracker.blocked.test"),
        "before its lease, by address: {by_addr}"
    );
    let rogue_log = tacet(&["journal", "--store", &store_arg, "--device", "rogue"]);
    assert!(
        rogue_log.contains("www.allowed.test") && rogue_log.contains("not_for_device"),
        "{rogue_log}"
    );
    let stats = tacet(&["stats", "--store", &store_arg]);
    assert!(
        stats.contains("camera") && stats.contains("vacuum") && stats.contains("phone"),
        "{stats}"
    );
    drop(lan);
}

/// Where a camera's TCP connection to `addr` ends up: refused (a reset),
/// connected, or still waiting after `patience`.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Refused,
    Connected,
    TimedOut,
    Other(String),
}

fn connect_from(ns: &Netns, addr: &str, patience: Duration) -> (Outcome, Duration) {
    let to: SocketAddr = format!("{addr}:8080").parse().unwrap();
    ns.enter(|| {
        let start = Instant::now();
        let outcome = match TcpStream::connect_timeout(&to, patience) {
            Ok(_) => Outcome::Connected,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Outcome::Refused,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Outcome::TimedOut,
            Err(e) => Outcome::Other(e.to_string()),
        };
        (outcome, start.elapsed())
    })
}

/// The elements of the gateway's `blocked4` set, as `nft` lists them.
fn blocked4(gateway: &Netns, table: &str) -> String {
    let out = gateway
        .command("nft")
        .args(["-j", "list", "set", "inet", table, "blocked4"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_gateway_resets_a_cameras_connections_to_where_its_blocked_names_resolved() {
    if !require_root() {
        return;
    }
    let lab = Lab::new();
    let lan = Lan::new(&lab, &[CAMERA]);
    let camera = &lan.devices[0];
    // The camera routes through the gateway, which forwards to the
    // upstream namespace; there the P2P server's address and a control
    // address are held, with a listener on both.
    camera.ip(&["route", "add", "default", "via", GATEWAY_V4]);
    run_ok(
        lab.phone
            .command("sysctl")
            .args(["-qw", "net.ipv4.ip_forward=1"]),
    );
    const CONTROL: &str = "93.184.215.71";
    for addr in [IOTC_A, CONTROL] {
        lab.upstream
            .ip(&["addr", "add", &format!("{addr}/32"), "dev", "lo"]);
        lab.phone.ip(&["route", "add", addr, "via", "10.200.0.2"]);
    }
    lab.upstream
        .ip(&["route", "add", "192.168.50.0/24", "via", "10.200.0.1"]);
    let listener = lab
        .upstream
        .enter(|| std::net::TcpListener::bind("0.0.0.0:8080").unwrap());
    std::thread::spawn(move || for _ in listener.incoming() {});
    // Before tacet: the camera reaches both.
    assert_eq!(
        connect_from(camera, IOTC_A, Duration::from_secs(3)).0,
        Outcome::Connected
    );

    let _dnsmasq = Dnsmasq::start(&lab, &[&format!("--address=/iotcplatform.com/{IOTC_A}")]);
    let scratch = ScratchDir::new("serve-nft");
    let store = scratch.path().join("store");
    let camera_arg = format!("camera={}", CAMERA.0);
    let firewall = start_serve(
        &lab,
        &store,
        &[
            "--listen",
            GATEWAY_V4,
            "--device",
            &camera_arg,
            "--nftables",
            "tacet_e2e",
        ],
    );

    // The camera asks for its P2P server: blocked by the curated list.
    assert_eq!(
        a_of(camera, GATEWAY_V4, "p2p.iotcplatform.com"),
        ["0.0.0.0"]
    );
    // The firewall learns where the blocked name really is (it looks the
    // curated names up itself) and the gateway's set gets the address.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !blocked4(&lab.phone, "tacet_e2e").contains(IOTC_A) {
        assert!(
            Instant::now() < deadline,
            "{IOTC_A} never reached the set: {}; {}",
            blocked4(&lab.phone, "tacet_e2e"),
            firewall.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Its connection there is refused at once, not left to hang; the
    // control address is still reached.
    let (outcome, took) = connect_from(camera, IOTC_A, Duration::from_secs(3));
    assert_eq!(outcome, Outcome::Refused);
    assert!(took < Duration::from_secs(1), "refused after {took:?}");
    assert_eq!(
        connect_from(camera, CONTROL, Duration::from_secs(3)).0,
        Outcome::Connected
    );

    // The table goes with the firewall: the camera reaches it again.
    firewall.stop();
    let gone = lab
        .phone
        .command("nft")
        .args(["list", "table", "inet", "tacet_e2e"])
        .output()
        .unwrap();
    assert!(!gone.status.success(), "the table outlived tacet");
    assert_eq!(
        connect_from(camera, IOTC_A, Duration::from_secs(3)).0,
        Outcome::Connected
    );
    drop(lan);
}
