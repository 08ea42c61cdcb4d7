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
