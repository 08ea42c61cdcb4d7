//! `tacet-e2e-latency SERVER FILE [COUNT]`: round-trip times of DNS queries
//! sent one at a time, as median and percentiles in microseconds.
//!
//! The benchmark (`bench/dnsperf.sh`) uses it for latency because dnsperf
//! reports only mean and standard deviation, and its one-query-at-a-time
//! mode (`-q 1`) hands every query between its threads, which makes such a
//! run slow and adds that handoff to the times it prints with `-v`.
//!
//! FILE has dnsperf's format, one `NAME TYPE` a line (A or AAAA). Run it
//! inside the client's namespace (`ip netns exec`); it sends to SERVER
//! (`IP` or `IP:PORT`) only.

// Benchmark tool: bad arguments or a socket error end the run with a message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use tacet_e2e::burst::{encode_query, parse_reply, Query, TYPE_A, TYPE_AAAA};

/// Queries sent before measuring, to fault in code and caches.
const WARM_UP: usize = 200;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(server), Some(file)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: tacet-e2e-latency SERVER FILE [COUNT]");
        std::process::exit(2);
    };
    let server: SocketAddr = server
        .parse()
        .or_else(|_| server.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .unwrap_or_else(|_| panic!("not an address: {server}"));
    let count: usize = args.get(3).map_or(10_000, |c| c.parse().unwrap());
    let text = std::fs::read_to_string(file).unwrap();
    let questions: Vec<(String, u16)> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let name = f.next()?.to_owned();
            let qtype = match f.next().unwrap_or("A") {
                "AAAA" => TYPE_AAAA,
                _ => TYPE_A,
            };
            Some((name, qtype))
        })
        .collect();
    assert!(!questions.is_empty(), "no queries in {file}");

    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().unwrap()
    } else {
        "[::]:0".parse().unwrap()
    };
    let socket = UdpSocket::bind(bind).unwrap();
    socket.connect(server).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();

    let mut rtts = Vec::with_capacity(count);
    let mut lost = 0usize;
    let mut buf = [0u8; 4096];
    for i in 0..WARM_UP + count {
        let (name, qtype) = &questions[i % questions.len()];
        let id = (i % 65_536) as u16;
        let msg = encode_query(&Query {
            id,
            name: name.clone(),
            qtype: *qtype,
        });
        let start = Instant::now();
        socket.send(&msg).unwrap();
        let answered = loop {
            match socket.recv(&mut buf) {
                // A late reply to an earlier, timed-out query is skipped.
                Ok(n) => match parse_reply(&buf[..n], Duration::ZERO) {
                    Some(r) if r.id == id => break true,
                    _ => continue,
                },
                Err(_) => break false,
            }
        };
        let rtt = start.elapsed();
        if i >= WARM_UP {
            if answered {
                rtts.push(rtt);
            } else {
                lost += 1;
            }
        }
    }
    rtts.sort();
    let pct = |p: f64| -> f64 {
        if rtts.is_empty() {
            return f64::NAN;
        }
        let idx = ((rtts.len() as f64 * p).ceil() as usize).clamp(1, rtts.len()) - 1;
        rtts[idx].as_secs_f64() * 1e6
    };
    // One line, fields by name, for the benchmark script to pick apart.
    println!(
        "answered {} lost {} median_us {:.1} p90_us {:.1} p99_us {:.1} min_us {:.1}",
        rtts.len(),
        lost,
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(0.0)
    );
}
