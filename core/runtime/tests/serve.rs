#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! Serve mode on loopback (no root): UDP and TCP clients, a fake upstream,
//! and hostile TCP clients that must not stop answers to the others.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tacet_engine::{Config, Event, RuleSet};
use tacet_runtime::{
    Connection, Firewall, Observer, RuntimeConfig, ServeConfig, ServeLimits, UpstreamOptions,
};

struct Devices;

impl Observer for Devices {
    fn on_event(&mut self, _event: &Event, _rules: &RuleSet) {}
    fn app_of(&mut self, connection: &Connection) -> Option<String> {
        Some(format!("device-{}", connection.local.ip()))
    }
}

/// A query for `name`, type A, with this ID.
fn query(id: u16, name: &str) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    out.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.extend_from_slice(&[0, 0, 1, 0, 1]);
    out
}

/// An upstream on loopback that answers every query with 192.0.2.7.
fn fake_upstream() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let mut answer = buf[..n].to_vec();
            answer[2] |= 0x80;
            answer[7] = 1;
            answer.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
            let _ = socket.send_to(&answer, from);
        }
    });
    addr
}

fn start(limits: ServeLimits) -> (Firewall, SocketAddr) {
    let config = RuntimeConfig {
        engine: Config {
            learn_addresses: false,
            ..Config::default()
        },
        upstreams: vec![tacet_runtime::UpstreamSpec::plain(fake_upstream())],
        upstream_options: UpstreamOptions::default(),
        enforced_names: Vec::new(),
        store: None,
    };
    let serve = ServeConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        limits,
    };
    let rules = Arc::new(tacet_rules::curated::default_rule_set());
    let firewall = Firewall::serve(serve, config, rules, Box::new(Devices)).unwrap();
    let addr = firewall.listening()[0];
    (firewall, addr)
}

/// Asks over UDP; the answer's bytes.
fn ask_udp(server: SocketAddr, id: u16, name: &str) -> Vec<u8> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    socket.send_to(&query(id, name), server).unwrap();
    let mut buf = [0u8; 1500];
    let n = socket.recv(&mut buf).expect("an answer over UDP");
    buf[..n].to_vec()
}

fn read_frame(stream: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).unwrap();
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut message).unwrap();
    message
}

fn framed(message: &[u8]) -> Vec<u8> {
    let mut out = (message.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(message);
    out
}

/// Whether the server closed `stream` (within a few seconds).
fn closed(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut buf = [0u8; 64];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn udp_and_pipelined_tcp_queries_are_answered() {
    let (mut firewall, server) = start(ServeLimits::default());
    let answer = ask_udp(server, 0x0101, "example.org");
    assert_eq!(&answer[..2], &[1, 1]);
    assert_eq!(
        &answer[answer.len() - 4..],
        &[192, 0, 2, 7],
        "the upstream's"
    );
    // A curated block list's name: blocked, never asked upstream.
    let blocked = ask_udp(server, 0x0202, "iotcplatform.com");
    assert_eq!(&blocked[blocked.len() - 4..], &[0, 0, 0, 0]);

    // Three queries in one write, the last one split across two.
    let mut tcp = TcpStream::connect(server).unwrap();
    let mut bytes = Vec::new();
    for (id, name) in [
        (1u16, "a.example.org"),
        (2, "iotcplatform.com"),
        (3, "c.example.org"),
    ] {
        bytes.extend(framed(&query(id, name)));
    }
    let (first, rest) = bytes.split_at(bytes.len() - 5);
    tcp.write_all(first).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    tcp.write_all(rest).unwrap();
    let mut ids: Vec<u16> = (0..3)
        .map(|_| {
            let m = read_frame(&mut tcp);
            u16::from_be_bytes([m[0], m[1]])
        })
        .collect();
    ids.sort();
    assert_eq!(ids, [1, 2, 3]);
    let stats = firewall.serve_stats().unwrap();
    assert_eq!((stats.udp_queries, stats.tcp_queries), (2, 3));
    let engine = firewall.stop().unwrap();
    assert_eq!(engine.blocked, 2);
}

#[test]
fn hostile_tcp_clients_are_closed_and_counted_and_others_still_get_answers() {
    let limits = ServeLimits {
        max_connections: 8,
        max_connections_per_client: 4,
        idle: Duration::from_millis(300),
        ..ServeLimits::default()
    };
    let (firewall, server) = start(limits);

    // A length prefix past the largest query: closed at once.
    let mut long = TcpStream::connect(server).unwrap();
    long.write_all(&[0xff, 0xff, 0, 0, 0]).unwrap();
    assert!(
        closed(&mut long),
        "an oversized frame closes the connection"
    );
    // Garbage shorter than a DNS header: closed too.
    let mut short = TcpStream::connect(server).unwrap();
    short.write_all(&[0, 3, 1, 2, 3]).unwrap();
    assert!(closed(&mut short));

    // A slowloris: a byte at a time, never a whole query.
    let started = Instant::now();
    let mut slow = TcpStream::connect(server).unwrap();
    slow.write_all(&[0]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let _ = slow.write_all(&[40]);
    assert!(
        closed(&mut slow),
        "a query never finished closes the connection"
    );
    assert!(started.elapsed() < Duration::from_secs(2));

    // A flood of connections from one client: its share is taken, the
    // rest refused, and UDP clients are answered all along.
    let held: Vec<TcpStream> = (0..10)
        .map(|_| TcpStream::connect(server).unwrap())
        .collect();
    let answer = ask_udp(server, 0x0303, "example.org");
    assert_eq!(&answer[answer.len() - 4..], &[192, 0, 2, 7]);
    std::thread::sleep(Duration::from_millis(100));
    let stats = firewall.serve_stats().unwrap();
    assert_eq!(stats.tcp_too_long, 2);
    assert_eq!(stats.tcp_idle_closed, 1);
    assert!(stats.tcp_refused >= 6, "{stats:?}");
    drop(held);

    // Once the flood is gone (or timed out), TCP works again.
    std::thread::sleep(Duration::from_millis(400));
    let mut tcp = TcpStream::connect(server).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    tcp.write_all(&framed(&query(9, "example.org"))).unwrap();
    assert_eq!(&read_frame(&mut tcp)[..2], &[0, 9]);
}
