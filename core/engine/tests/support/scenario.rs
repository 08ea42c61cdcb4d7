//! A packet scenario read from arbitrary bytes, for the fuzz target
//! (fuzz/fuzz_targets/engine_packets.rs) and the property test
//! (tests/packet_sequences.rs): UDP and TCP, IPv4 and IPv6, DNS and not,
//! fragments, bad checksums, garbage, upstream answers and failures, rule
//! swaps and pauses, with simulated time. Whatever the bytes, the engine
//! must not panic and its memory must stay within its bounds.

use std::io::Cursor;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tacet_engine::{tcp, wire, Config, Engine, LearnedLimits, QueryHandle, UpstreamCommand};
use tacet_rules::{ListInfo, RuleSet, RuleSetBuilder};

const NAMES: &[&str] = &[
    "api-mifit.huami.com",
    "tracker.blocked.example",
    "pool.ntp.org",
    "ok.huami.com",
    "use-application-dns.net",
    "metrics.shop.example",
    "",
];
const PEERS: &[&str] = &["10.111.222.1", "fd74:6163:6574::1"];
const TARGETS: &[&str] = &[
    "10.111.222.53",
    "fd74:6163:6574::53",
    "8.8.8.8",
    "203.0.113.9",
    "203.0.113.200",
    "2001:db8::9",
    "198.51.100.1",
];

fn rules(text: &str) -> Arc<RuleSet> {
    let mut builder = RuleSetBuilder::new();
    let info = ListInfo {
        id: "s".into(),
        title: "s".into(),
    };
    let _ = builder.add_list(info, Cursor::new(text.as_bytes().to_vec()));
    Arc::new(builder.build())
}

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*first)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes([
            self.u8()?,
            self.u8()?,
            self.u8()?,
            self.u8()?,
        ]))
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
    fn pick<'b>(&mut self, from: &[&'b str]) -> Option<&'b str> {
        Some(from[usize::from(self.u8()?) % from.len()])
    }
}

fn dns_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = vec![(id >> 8) as u8, id as u8, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.').filter(|l| !l.is_empty()) {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, (qtype >> 8) as u8, qtype as u8, 0, 1]);
    q
}

/// An upstream answer to `query`: its header and question with QR set,
/// and one A record for 203.0.113.9 or 198.51.100.1.
fn dns_answer(query: &[u8], pick: u8) -> Vec<u8> {
    let mut a = query.to_vec();
    if a.len() < 12 {
        return a;
    }
    a[2] |= 0x80;
    a[7] = 1;
    let addr = if pick % 2 == 0 {
        [203, 0, 113, 9]
    } else {
        [198, 51, 100, 1]
    };
    a.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
    a.extend_from_slice(&addr);
    a
}

fn tcp_packet(
    from: SocketAddr,
    to: SocketAddr,
    flags: u8,
    seq: u32,
    ack: u32,
    payload: &[u8],
) -> Option<Vec<u8>> {
    let builder = match (from.ip(), to.ip()) {
        (IpAddr::V4(f), IpAddr::V4(t)) => {
            etherparse::PacketBuilder::ipv4(f.octets(), t.octets(), 64)
        }
        (IpAddr::V6(f), IpAddr::V6(t)) => {
            etherparse::PacketBuilder::ipv6(f.octets(), t.octets(), 64)
        }
        _ => return None,
    };
    let mut b = builder.tcp(from.port(), to.port(), seq, 8192);
    if flags & 1 != 0 {
        b = b.syn();
    }
    if flags & 2 != 0 {
        b = b.ack(ack);
    }
    if flags & 4 != 0 {
        b = b.fin();
    }
    if flags & 8 != 0 {
        b = b.rst();
    }
    if flags & 16 != 0 {
        b = b.psh();
    }
    let mut packet = Vec::new();
    b.write(&mut packet, payload).ok()?;
    Some(packet)
}

/// Runs the scenario the bytes describe and checks the engine's bounds
/// after every step. Returns the engine for further checks.
pub fn run_scenario(data: &[u8]) -> Engine {
    let config = Config {
        max_pending: 64,
        learned: LearnedLimits {
            max_blocked: 32,
            max_allowed: 32,
            ..LearnedLimits::default()
        },
        ..Config::default()
    };
    let max_pending = config.max_pending;
    let rule_sets = [
        rules("huami.com\nblocked.example\n@@||ok.huami.com^\n203.0.113.128/25\n"),
        rules("0.0.0.0 pool.ntp.org\n"),
    ];
    let mut engine = Engine::new(config, Arc::clone(&rule_sets[0]));
    let mut now = Instant::now();
    let mut sent: Vec<(QueryHandle, Vec<u8>)> = Vec::new();
    let mut bytes = Bytes(data);
    while let Some(op) = bytes.u8() {
        let Some(peer) = bytes.pick(PEERS) else { break };
        let Some(target) = bytes.pick(TARGETS) else {
            break;
        };
        let port = bytes.u16().unwrap_or(53);
        let from = SocketAddr::new(
            peer.parse().unwrap_or(IpAddr::from([10, 111, 222, 1])),
            port | 1024,
        );
        let to_port = if op & 0x80 != 0 { 53 } else { port };
        let to = SocketAddr::new(
            target.parse().unwrap_or(IpAddr::from([8, 8, 8, 8])),
            to_port,
        );
        match op % 12 {
            0 => now += Duration::from_millis(u64::from(bytes.u8().unwrap_or(0)) * 97),
            1 | 2 => {
                let name = bytes.pick(NAMES).unwrap_or("");
                let qtype = [1, 28, 65, 16, 255, 0xff00][usize::from(bytes.u8().unwrap_or(0)) % 6];
                let query = dns_query(bytes.u16().unwrap_or(0), name, qtype);
                if let Some(packet) = wire::build_udp(from, SocketAddr::new(to.ip(), 53), &query) {
                    engine.handle_tun_packet(now, &packet);
                }
            }
            3 => {
                let flags = bytes.u8().unwrap_or(0);
                let (seq, ack) = (bytes.u32().unwrap_or(0), bytes.u32().unwrap_or(0));
                let len = usize::from(bytes.u8().unwrap_or(0));
                let payload = bytes.take(len).to_vec();
                if let Some(packet) = tcp_packet(from, to, flags, seq, ack, &payload) {
                    engine.handle_tun_packet(now, &packet);
                }
            }
            4 => {
                let len = usize::from(bytes.u8().unwrap_or(0));
                let payload = bytes.take(len).to_vec();
                if let Some(packet) = wire::build_udp(from, to, &payload) {
                    engine.handle_tun_packet(now, &packet);
                }
            }
            5 => {
                let len = usize::from(bytes.u8().unwrap_or(0));
                engine.handle_tun_packet(now, bytes.take(len));
            }
            6 => {
                // A valid query, then corrupted: a flipped byte (checksum),
                // a fragment flag, or a cut.
                let query = dns_query(1, bytes.pick(NAMES).unwrap_or(""), 1);
                if let Some(mut packet) =
                    wire::build_udp(from, SocketAddr::new(to.ip(), 53), &query)
                {
                    let at = usize::from(bytes.u8().unwrap_or(0)) % packet.len();
                    match bytes.u8().unwrap_or(0) % 3 {
                        0 => packet[at] ^= 0x5a,
                        1 if packet[0] >> 4 == 4 => packet[6] |= 0x20,
                        _ => packet.truncate(at),
                    }
                    engine.handle_tun_packet(now, &packet);
                }
            }
            7 if !sent.is_empty() => {
                let (handle, query) =
                    sent.swap_remove(usize::from(bytes.u8().unwrap_or(0)) % sent.len());
                let answer = match bytes.u8().unwrap_or(0) {
                    p if p < 200 => dns_answer(&query, p),
                    _ => bytes.take(40).to_vec(),
                };
                engine.handle_upstream_response(now, handle, &answer);
            }
            8 if !sent.is_empty() => {
                let (handle, _) =
                    sent.swap_remove(usize::from(bytes.u8().unwrap_or(0)) % sent.len());
                engine.handle_upstream_failure(now, handle);
            }
            9 => {
                if let Some(t) = engine.poll_timeout() {
                    now = now.max(t.at);
                }
                engine.handle_timeout(now);
            }
            10 => {
                let pick = usize::from(bytes.u8().unwrap_or(0));
                engine.set_rules(now, Arc::clone(&rule_sets[pick % rule_sets.len()]));
            }
            11 => {
                let until =
                    (bytes.u8().unwrap_or(0) % 2 == 0).then(|| now + Duration::from_secs(30));
                engine.pause(now, until);
            }
            _ => {}
        }
        while engine.poll_tun_packet().is_some() {}
        while let Some(command) = engine.poll_upstream() {
            match command {
                UpstreamCommand::Send(q) => sent.push((q.handle, q.message)),
                UpstreamCommand::Abandon(handle) => sent.retain(|(h, _)| *h != handle),
            }
        }
        while engine.poll_event().is_some() {}
        assert!(
            engine.pending_queries() <= max_pending,
            "pending queries are bounded"
        );
        assert!(
            engine.tcp_connections() <= tcp::MAX_CONNECTIONS,
            "TCP connections are bounded"
        );
        assert!(
            engine.stats().learned_addresses <= 32,
            "learned addresses are bounded"
        );
        assert!(
            sent.len() <= max_pending,
            "what the engine asked is bounded too"
        );
    }
    engine
}
