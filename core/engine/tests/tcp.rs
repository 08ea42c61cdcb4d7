#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! DNS over TCP, in memory: a smoltcp client plays the app, the engine
//! plays the resolver, packets pass between them through plain queues, and
//! time is simulated.

mod support;

use support::phone::Phone;

use std::io::Cursor;
use std::sync::Arc;
use std::time::{Duration, Instant};

use simple_dns::rdata::RData;
use simple_dns::{Name, Packet, PacketFlag, Question, CLASS, QCLASS, QTYPE, RCODE, TYPE};
use smoltcp::socket::tcp;
use smoltcp::wire::IpAddress;
use tacet_engine::{Config, Engine, UpstreamCommand};
use tacet_rules::{ListInfo, RuleSetBuilder};

fn engine() -> Engine {
    let mut builder = RuleSetBuilder::new();
    let info = ListInfo {
        id: "t".into(),
        title: "t".into(),
    };
    builder
        .add_list(info, Cursor::new(&b"huami.com\n"[..]))
        .unwrap();
    Engine::new(
        // Blocked names are not resolved in the background here: the
        // tests follow what the app sees.
        Config {
            seed: 7,
            learn_addresses: false,
            ..Config::default()
        },
        Arc::new(builder.build()),
    )
}

fn framed_query(id: u16, name: &str, qtype: TYPE) -> Vec<u8> {
    let mut p = Packet::new_query(id);
    p.set_flags(PacketFlag::RECURSION_DESIRED);
    p.questions.push(Question::new(
        Name::new_unchecked(name),
        QTYPE::TYPE(qtype),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    let bytes = p.build_bytes_vec().unwrap();
    [&(bytes.len() as u16).to_be_bytes()[..], &bytes].concat()
}

#[test]
fn pipelined_queries_on_one_connection_are_all_answered() {
    let t0 = Instant::now();
    let mut e = engine();
    let mut phone = Phone::new(t0);
    let h = phone.connect((IpAddress::v4(10, 111, 222, 53), 53), 40_000);
    phone.pump(&mut e, t0);
    assert!(phone.socket(h).may_send(), "connected");
    // Three queries in one write: two blocked, one allowed.
    let burst = [
        framed_query(1, "api-mifit.huami.com", TYPE::A),
        framed_query(2, "pool.ntp.org", TYPE::A),
        framed_query(3, "huami.com", TYPE::AAAA),
    ]
    .concat();
    phone.socket(h).send_slice(&burst).unwrap();
    phone.pump(&mut e, t0);
    let mut answers = phone.read_messages(h);
    assert_eq!(answers.len(), 2, "the blocked ones are answered at once");

    let Some(UpstreamCommand::Send(sent)) = e.poll_upstream() else {
        panic!("no forward")
    };
    assert!(
        sent.retry_truncated_over_tcp,
        "a TCP client needs the whole answer"
    );
    let mut reply = Packet::parse(&sent.message).unwrap().into_reply();
    reply.answers.push(simple_dns::ResourceRecord::new(
        Name::new_unchecked("pool.ntp.org"),
        CLASS::IN,
        60,
        RData::A(simple_dns::rdata::A {
            address: 0x0a00_0001,
        }),
    ));
    e.handle_upstream_response(t0, sent.handle, &reply.build_bytes_vec().unwrap());
    phone.pump(&mut e, t0);
    answers.extend(phone.read_messages(h));

    let mut by_id: Vec<(u16, RCODE, usize)> = answers
        .iter()
        .map(|a| {
            let p = Packet::parse(a).unwrap();
            (p.id(), p.rcode(), p.answers.len())
        })
        .collect();
    by_id.sort_by_key(|a| a.0);
    assert_eq!(
        by_id,
        vec![
            (1, RCODE::NoError, 1),
            (2, RCODE::NoError, 1),
            (3, RCODE::NoError, 1)
        ]
    );
    let stats = e.stats();
    assert_eq!(
        (
            stats.queries,
            stats.tcp_queries,
            stats.blocked,
            stats.forwarded
        ),
        (3, 3, 2, 1)
    );
}

#[test]
fn idle_connections_are_closed_and_then_cost_nothing() {
    let t0 = Instant::now();
    let mut e = engine();
    let mut phone = Phone::new(t0);
    let h = phone.connect((IpAddress::v4(10, 111, 222, 53), 53), 40_001);
    phone.pump(&mut e, t0);
    phone
        .socket(h)
        .send_slice(&framed_query(1, "huami.com", TYPE::A))
        .unwrap();
    phone.pump(&mut e, t0);
    assert_eq!(phone.read_messages(h).len(), 1);
    assert_eq!(e.tcp_connections(), 1);
    let deadline = e.poll_timeout().expect("an open connection has a deadline");
    assert!(deadline.at <= t0 + Duration::from_secs(11));
    // Time passes with nothing said: the engine closes the connection.
    let mut now = t0;
    for _ in 0..40 {
        let Some(t) = e.poll_timeout() else { break };
        now = now.max(t.at);
        e.handle_timeout(now);
        phone.pump(&mut e, now);
        if phone.socket(h).state() == tcp::State::CloseWait {
            phone.socket(h).close();
            phone.pump(&mut e, now);
        }
    }
    assert!(
        now >= t0 + Duration::from_secs(10),
        "not before the idle timeout"
    );
    assert_eq!(e.tcp_connections(), 0);
    assert_eq!(
        e.poll_timeout(),
        None,
        "no timer once every connection is gone"
    );
}

#[test]
fn a_client_that_vanishes_without_fin_frees_its_slot() {
    let t0 = Instant::now();
    let mut e = engine();
    let mut phone = Phone::new(t0);
    let h = phone.connect((IpAddress::v4(10, 111, 222, 53), 53), 40_004);
    phone.pump(&mut e, t0);
    assert_eq!(e.tcp_connections(), 1);
    // The app is gone: nothing it sends arrives any more.
    phone.sockets.remove(h);
    let mut now = t0;
    for _ in 0..100 {
        let Some(t) = e.poll_timeout() else { break };
        now = now.max(t.at);
        e.handle_timeout(now);
        while e.poll_tun_packet().is_some() {}
    }
    assert_eq!(e.tcp_connections(), 0);
    assert!(
        now <= t0 + Duration::from_secs(20),
        "freed within idle timeout and grace"
    );
    assert_eq!(e.poll_timeout(), None);
}

#[test]
fn tcp_dns_to_a_hard_coded_resolver_is_served_and_counted() {
    let t0 = Instant::now();
    let mut e = engine();
    let mut phone = Phone::new(t0);
    let h = phone.connect((IpAddress::v4(8, 8, 8, 8), 53), 40_002);
    phone.pump(&mut e, t0);
    phone
        .socket(h)
        .send_slice(&framed_query(9, "api-mifit.huami.com", TYPE::A))
        .unwrap();
    phone.pump(&mut e, t0);
    let answers = phone.read_messages(h);
    assert_eq!(Packet::parse(&answers[0]).unwrap().id(), 9);
    assert_eq!(e.stats().bypass_attempts, 1);
}

#[test]
fn garbage_and_oversized_frames_never_panic() {
    let t0 = Instant::now();
    let mut e = engine();
    let mut phone = Phone::new(t0);
    let h = phone.connect((IpAddress::v4(10, 111, 222, 53), 53), 40_003);
    phone.pump(&mut e, t0);
    phone
        .socket(h)
        .send_slice(&[0, 5, 1, 2, 3, 4, 5, 0xff, 0xff])
        .unwrap();
    phone.socket(h).send_slice(&vec![0xab; 30_000]).unwrap();
    for i in 0..20 {
        phone.pump(&mut e, t0 + Duration::from_millis(i * 100));
    }
    assert!(e.stats().malformed >= 1);
}

/// A bare TCP segment from the phone to the resolver, as a flood sends it.
fn segment(from_port: u16, syn: bool, rst: bool, seq: u32) -> Vec<u8> {
    let builder = etherparse::PacketBuilder::ipv4([10, 111, 222, 1], [10, 111, 222, 53], 64);
    let mut tcp = builder.tcp(from_port, 53, seq, 64_240);
    if syn {
        tcp = tcp.syn();
    }
    if rst {
        tcp = tcp.rst();
    }
    let mut packet = Vec::new();
    tcp.write(&mut packet, &[]).unwrap();
    packet
}

/// Whether `packet` is a TCP reset to `port` on the phone.
fn is_reset_to(packet: &[u8], port: u16) -> bool {
    let sliced = etherparse::SlicedPacket::from_ip(packet).unwrap();
    match sliced.transport {
        Some(etherparse::TransportSlice::Tcp(t)) => t.rst() && t.destination_port() == port,
        _ => false,
    }
}

#[test]
fn a_syn_flood_beyond_the_slots_costs_no_socket_and_is_refused_at_once() {
    let t0 = Instant::now();
    let mut e = engine();
    // Every slot taken by connections that stay open.
    let mut phone = Phone::new(t0);
    let held: Vec<_> = (0..tacet_engine::tcp::MAX_CONNECTIONS as u16)
        .map(|i| phone.connect((IpAddress::v4(10, 111, 222, 53), 53), 20_000 + i))
        .collect();
    phone.pump(&mut e, t0);
    assert_eq!(e.tcp_connections(), tacet_engine::tcp::MAX_CONNECTIONS);
    // Then 40,000 SYNs from as many ports (the hole: each one left a
    // 6.5 KB socket behind for good, and made every later packet slower).
    let floods = 40_000u32;
    for i in 0..floods {
        let port = 30_000 + (i % 30_000) as u16;
        e.handle_tun_packet(t0, &segment(port, true, false, i));
        let reply = e.poll_tun_packet().expect("every SYN is answered");
        assert!(is_reset_to(&reply, port), "SYN {i} refused with a reset");
        assert!(e.poll_tun_packet().is_none());
        assert!(e.tcp_sockets() <= tacet_engine::tcp::MAX_CONNECTIONS + 1);
    }
    assert_eq!(e.stats().tcp_refused, u64::from(floods));
    // The held connections still work.
    phone
        .socket(held[0])
        .send_slice(&framed_query(5, "huami.com", TYPE::A))
        .unwrap();
    phone.pump(&mut e, t0);
    assert_eq!(phone.read_messages(held[0]).len(), 1);
    // Once they close, a new connection gets a slot at once.
    for h in &held {
        phone.socket(*h).close();
    }
    phone.pump(&mut e, t0);
    let late = phone.connect((IpAddress::v4(10, 111, 222, 53), 53), 19_000);
    phone.pump(&mut e, t0);
    assert!(phone.socket(late).may_send(), "connected after the flood");
    assert!(e.tcp_sockets() <= tacet_engine::tcp::MAX_CONNECTIONS);
}

#[test]
fn syn_then_reset_floods_never_fill_the_slots() {
    let t0 = Instant::now();
    let mut e = engine();
    // Each SYN takes a listener into SYN-RECEIVED; the reset that follows
    // sends smoltcp's socket back to LISTEN. Those must come back as slots.
    for i in 0..10_000u32 {
        let port = 30_000 + (i % 20_000) as u16;
        e.handle_tun_packet(t0, &segment(port, true, false, i));
        while e.poll_tun_packet().is_some() {}
        e.handle_tun_packet(t0, &segment(port, false, true, i.wrapping_add(1)));
        while e.poll_tun_packet().is_some() {}
    }
    assert_eq!(e.tcp_connections(), 0);
    assert!(e.tcp_sockets() <= tacet_engine::tcp::MAX_CONNECTIONS);
    assert_eq!(e.stats().tcp_refused, 0, "never more than one at a time");
    let mut phone = Phone::new(t0);
    let h = phone.connect((IpAddress::v4(10, 111, 222, 53), 53), 19_001);
    phone.pump(&mut e, t0);
    assert!(phone.socket(h).may_send());
}

#[test]
fn a_client_that_does_not_read_is_slowed_by_flow_control_and_loses_nothing() {
    let t0 = Instant::now();
    let mut e = engine();
    let mut phone = Phone::new(t0);
    let h = phone.connect((IpAddress::v4(10, 111, 222, 53), 53), 40_010);
    phone.pump(&mut e, t0);
    // The client asks for blocked names (answered at once) without reading:
    // once half of MAX_UNSENT_BYTES waits, the engine stops reading, its
    // window closes, and the client's writes stall.
    let query = framed_query(1, "api-mifit.huami.com", TYPE::A);
    let mut sent = 0usize;
    for round in 0..500 {
        let socket = phone.socket(h);
        while socket.send_capacity() - socket.send_queue() >= query.len() {
            socket.send_slice(&query).unwrap();
            sent += 1;
        }
        phone.pump(&mut e, t0 + Duration::from_millis(round));
    }
    let stalled = sent;
    for round in 500..600 {
        let socket = phone.socket(h);
        while socket.send_capacity() - socket.send_queue() >= query.len() {
            socket.send_slice(&query).unwrap();
            sent += 1;
        }
        phone.pump(&mut e, t0 + Duration::from_millis(round));
    }
    // (Window probes still move a few bytes a round.)
    assert!(
        sent - stalled < stalled / 20,
        "writes stalled: the engine stopped reading ({stalled}, then {sent})"
    );
    assert!(
        stalled < 6_000,
        "bounded by the buffers on both sides ({stalled})"
    );
    // Then it reads, and every query gets its answer.
    let answer_len = {
        let bytes = framed_query(1, "api-mifit.huami.com", TYPE::A);
        let q = tacet_engine::dns::Query::parse(&bytes[2..]).unwrap();
        2 + q.answer_address(1, &[0; 4], 10).len()
    };
    let mut bytes = Vec::new();
    for round in 600..5_000 {
        let socket = phone.socket(h);
        while socket.can_recv() {
            socket
                .recv(|b| (b.len(), bytes.extend_from_slice(b)))
                .unwrap();
        }
        let now = t0 + Duration::from_millis(round);
        e.handle_timeout(now);
        phone.pump(&mut e, now);
        if bytes.len() >= sent * answer_len {
            break;
        }
    }
    let mut answers = 0;
    let mut rest = &bytes[..];
    while let [a, b, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*a, *b]));
        assert!(Packet::parse(&tail[..len]).is_ok());
        answers += 1;
        rest = &tail[len..];
    }
    assert_eq!(answers, sent);
}

#[test]
fn a_client_whose_unread_answers_pass_the_bound_is_reset() {
    let t0 = Instant::now();
    let mut e = engine();
    let mut phone = Phone::new(t0);
    let h = phone.connect((IpAddress::v4(10, 111, 222, 53), 53), 40_011);
    phone.pump(&mut e, t0);
    // Sixteen allowed queries in flight, each answered upstream with a
    // 16 KB TXT record: 256 KB for a client that reads nothing.
    let queries: Vec<u8> = (0..16)
        .flat_map(|i| framed_query(i, "big.example", TYPE::TXT))
        .collect();
    phone.socket(h).send_slice(&queries).unwrap();
    phone.pump(&mut e, t0);
    let mut forwarded = Vec::new();
    while let Some(UpstreamCommand::Send(q)) = e.poll_upstream() {
        forwarded.push(q);
    }
    assert_eq!(forwarded.len(), 16);
    for q in forwarded {
        let mut reply = Packet::parse(&q.message).unwrap().into_reply();
        let chunk = "x".repeat(250);
        let txt: Vec<&str> = (0..64).map(|_| chunk.as_str()).collect();
        let mut rdata = simple_dns::rdata::TXT::new();
        for s in txt {
            rdata.add_string(s).unwrap();
        }
        reply.answers.push(simple_dns::ResourceRecord::new(
            Name::new_unchecked("big.example"),
            CLASS::IN,
            60,
            RData::TXT(rdata),
        ));
        let bytes = reply.build_bytes_vec().unwrap();
        assert!(bytes.len() > 16_000);
        e.handle_upstream_response(t0, q.handle, &bytes);
        // The phone's kernel would take packets, but its app never reads.
        while e.poll_tun_packet().is_some() {}
    }
    assert_eq!(e.tcp_connections(), 0, "reset once past the bound");
    assert!(e.tcp_sockets() <= tacet_engine::tcp::MAX_CONNECTIONS);
}
