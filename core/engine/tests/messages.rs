#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! Serve mode's entry: DNS messages from a socket address, not IP packets
//! from the TUN, through the same pipeline (rules, device policies,
//! pending table, events).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use simple_dns::rdata::{RData, A};
use simple_dns::{
    Name, Packet, PacketFlag, Question, ResourceRecord, CLASS, QCLASS, QTYPE, RCODE, TYPE,
};
use tacet_engine::{
    BlockMode, BlockReason, Config, DevicePolicies, DevicePolicy, Engine, Event, MessageFrom,
    MessageReply, Protocol, UpstreamCommand, UpstreamQuery,
};

mod support;
use support::rules;

const CAMERA: &str = "192.168.1.50:40000";
const VACUUM: &str = "192.168.1.60:40001";
const SERVER: &str = "192.168.1.2:53";

fn engine(config: Config) -> Engine {
    let config = Config {
        learn_addresses: false,
        ..config
    };
    Engine::new(
        config,
        rules("iotcplatform.com\nio.mi.com\n@@||ot.io.mi.com^\n"),
    )
}

fn from(client: &str, transport: Protocol, stream: u64) -> MessageFrom {
    MessageFrom {
        client: client.parse().unwrap(),
        server: SERVER.parse().unwrap(),
        transport,
        stream,
    }
}

fn query(id: u16, name: &str, qtype: TYPE, edns: Option<u16>) -> Vec<u8> {
    let mut packet = Packet::new_query(id);
    packet.set_flags(PacketFlag::RECURSION_DESIRED);
    packet.questions.push(Question::new(
        Name::new_unchecked(name),
        QTYPE::TYPE(qtype),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    if let Some(size) = edns {
        *packet.opt_mut() = Some(simple_dns::rdata::OPT {
            opt_codes: Vec::new(),
            udp_packet_size: size,
            version: 0,
        });
    }
    packet.build_bytes_vec().unwrap()
}

/// The upstream's answer to `query`: `count` A records.
fn answer(query: &[u8], count: u8) -> Vec<u8> {
    let q = Packet::parse(query).unwrap();
    let mut reply = q.clone().into_reply();
    for i in 0..count {
        reply.answers.push(ResourceRecord::new(
            q.questions[0].qname.clone(),
            CLASS::IN,
            300,
            RData::A(A {
                address: u32::from_be_bytes([198, 51, 100, i]),
            }),
        ));
    }
    reply.build_bytes_vec().unwrap()
}

fn sent(e: &mut Engine) -> UpstreamQuery {
    match e.poll_upstream() {
        Some(UpstreamCommand::Send(q)) => q,
        other => panic!("expected a query upstream, got {other:?}"),
    }
}

fn reply(e: &mut Engine) -> MessageReply {
    e.poll_message().expect("an answer for the client")
}

#[test]
fn a_blocked_query_is_answered_to_its_client_and_journaled_for_it() {
    let mut e = engine(Config::default());
    let now = Instant::now();
    let camera = from(CAMERA, Protocol::Udp, 3);
    e.handle_message(
        now,
        camera,
        &query(7, "p2p.iotcplatform.com", TYPE::A, None),
    );
    let out = reply(&mut e);
    assert_eq!(out.to, camera, "the answer goes back the way it came");
    let answer = Packet::parse(out.answer.as_deref().unwrap()).unwrap();
    assert_eq!(answer.id(), 7);
    assert_eq!(answer.answers.len(), 1, "0.0.0.0 by default");
    assert!(e.poll_tun_packet().is_none(), "nothing goes to a TUN");
    assert!(e.poll_upstream().is_none());
    let Some(Event::Blocked {
        client,
        server,
        transport,
        name,
        reason: BlockReason::Rule(_),
        ..
    }) = e.poll_event()
    else {
        panic!("a blocked event")
    };
    assert_eq!(client, CAMERA.parse::<SocketAddr>().unwrap());
    assert_eq!(server, SERVER.parse::<SocketAddr>().unwrap());
    assert_eq!(transport, Protocol::Udp);
    assert_eq!(name, "p2p.iotcplatform.com");
    let stats = e.stats();
    assert_eq!((stats.queries, stats.blocked), (1, 1));
    assert_eq!(
        stats.bypass_attempts, 0,
        "a LAN client asks the server it reached"
    );
}

#[test]
fn an_allowed_query_is_forwarded_and_its_answer_comes_back_tagged() {
    let mut e = engine(Config::default());
    let now = Instant::now();
    let phone = from("[2001:db8::7]:5000", Protocol::Tcp, 42);
    let q = query(0x1234, "example.org", TYPE::A, None);
    e.handle_message(now, phone, &q);
    assert!(
        e.poll_message().is_none(),
        "nothing until the upstream answers"
    );
    let up = sent(&mut e);
    assert!(up.retry_truncated_over_tcp, "a TCP client expects it whole");
    let mut upstream_answer = answer(&up.message, 1);
    upstream_answer[..2].copy_from_slice(&[0xab, 0xcd]);
    e.handle_upstream_response(now, up.handle, &upstream_answer);
    let out = reply(&mut e);
    assert_eq!(out.to, phone);
    let answer = Packet::parse(out.answer.as_deref().unwrap()).unwrap();
    assert_eq!(answer.id(), 0x1234, "the client's own ID");
    assert_eq!(answer.answers.len(), 1);
    assert_eq!(e.stats().forwarded, 1);
}

#[test]
fn udp_answers_longer_than_the_client_takes_are_truncated() {
    let mut e = engine(Config::default());
    let now = Instant::now();
    let client = from(CAMERA, Protocol::Udp, 0);
    // Uncompressed, 31 bytes a record: 30 are past 512, 40 past 1232.
    let cases = [
        (None, 30, false),
        (Some(4096), 30, true),
        (Some(100), 30, false),
        (Some(4096), 40, false),
    ];
    for (edns, records, whole) in cases {
        let q = query(9, "big.example.org", TYPE::A, edns);
        e.handle_message(now, client, &q);
        let up = sent(&mut e);
        let big = answer(&up.message, records);
        assert!(big.len() > 512);
        e.handle_upstream_response(now, up.handle, &big);
        let bytes = reply(&mut e).answer.unwrap();
        let answer = Packet::parse(&bytes).unwrap();
        if whole {
            assert_eq!(answer.answers.len(), 30, "EDNS {edns:?} takes it whole");
        } else {
            // Past 1232 even when the client takes more: no fragments.
            assert!(bytes.len() <= 512, "EDNS {edns:?}: {} bytes", bytes.len());
            assert!(
                answer.has_flags(PacketFlag::TRUNCATION),
                "TC tells it to use TCP"
            );
            assert!(answer.answers.is_empty());
            assert_eq!(answer.questions.len(), 1, "the question stays");
            assert_eq!(answer.id(), 9);
        }
    }
    assert_eq!(e.stats().truncated_for_client, 3);
    // Over TCP, never truncated.
    let tcp = from(CAMERA, Protocol::Tcp, 1);
    e.handle_message(now, tcp, &query(10, "big.example.org", TYPE::A, None));
    let up = sent(&mut e);
    e.handle_upstream_response(now, up.handle, &answer(&up.message, 40));
    let bytes = reply(&mut e).answer.unwrap();
    let answer = Packet::parse(&bytes).unwrap();
    assert_eq!(answer.answers.len(), 40);
}

#[test]
fn an_allowlist_only_device_gets_its_names_and_nothing_else() {
    let mut e = engine(Config {
        block_mode: BlockMode::Refused,
        ..Config::default()
    });
    let now = Instant::now();
    let policy = DevicePolicy::only(&["ot.io.mi.com", "pool.ntp.org", "ads.io.mi.com"]).unwrap();
    let vacuum_ip = VACUUM.parse::<SocketAddr>().unwrap().ip();
    e.set_device_policies(DevicePolicies::new(HashMap::from([(vacuum_ip, policy)])).unwrap());
    let vacuum = from(VACUUM, Protocol::Udp, 0);

    // Its names (and subdomains) go upstream.
    for name in ["ot.io.mi.com", "de.ot.io.mi.com", "0.pool.ntp.org"] {
        e.handle_message(now, vacuum, &query(1, name, TYPE::A, None));
        let up = sent(&mut e);
        e.handle_upstream_response(now, up.handle, &answer(&up.message, 1));
        let bytes = reply(&mut e).answer.unwrap();
        let answer = Packet::parse(&bytes).unwrap();
        assert_eq!(answer.answers.len(), 1, "{name} reaches the vacuum");
    }
    // Anything else is blocked, with the reason that says so.
    e.handle_message(now, vacuum, &query(2, "example.org", TYPE::A, None));
    let bytes = reply(&mut e).answer.unwrap();
    let answer = Packet::parse(&bytes).unwrap();
    assert_eq!(answer.rcode(), RCODE::Refused, "the block mode's answer");
    assert!(e.poll_upstream().is_none(), "never asked upstream");
    let blocked: Vec<_> = std::iter::from_fn(|| e.poll_event()).collect();
    assert!(
        matches!(&blocked[..], [Event::Blocked { name, reason: BlockReason::NotForDevice, .. }] if name == "example.org"),
        "{blocked:?}"
    );
    // Listed, but a blocklist blocks it: allowlist-only narrows, it never
    // widens.
    e.handle_message(now, vacuum, &query(3, "ads.io.mi.com", TYPE::A, None));
    let bytes = reply(&mut e).answer.unwrap();
    let answer = Packet::parse(&bytes).unwrap();
    assert_eq!(answer.rcode(), RCODE::Refused);
    assert!(matches!(
        e.poll_event(),
        Some(Event::Blocked {
            reason: BlockReason::Rule(_),
            ..
        })
    ));
    // Over IPv6-mapped IPv4 (a dual-stack socket) it is the same device.
    let mapped = from("[::ffff:192.168.1.60]:40002", Protocol::Tcp, 5);
    e.handle_message(now, mapped, &query(4, "example.org", TYPE::A, None));
    assert!(e.poll_upstream().is_none());
    assert_eq!(reply(&mut e).to, mapped);
    // Another device is not held to it.
    e.handle_message(
        now,
        from(CAMERA, Protocol::Udp, 0),
        &query(5, "example.org", TYPE::A, None),
    );
    sent(&mut e);
    assert_eq!(e.stats().device_blocked, 2);
}

#[test]
fn unreadable_messages_get_no_answer_but_say_so() {
    let mut e = engine(Config::default());
    let now = Instant::now();
    let conn = from(CAMERA, Protocol::Tcp, 8);
    e.handle_message(now, conn, &[0x12, 0x34, 0x01]);
    assert_eq!(
        e.poll_message(),
        Some(MessageReply {
            to: conn,
            answer: None
        }),
        "the runtime can let this query of the connection go"
    );
    assert_eq!(e.stats().malformed, 1);
    // Two questions: FORMERR, answered.
    let mut two = query(6, "a.example", TYPE::A, None);
    two[5] = 2;
    e.handle_message(now, conn, &two);
    let bytes = reply(&mut e).answer.unwrap();
    assert_eq!(&bytes[..2], &[0, 6], "its ID");
    assert_eq!(bytes[3] & 0x0f, 1, "FORMERR");
}

#[test]
fn an_upstream_that_never_answers_gets_the_client_servfail() {
    let mut e = engine(Config::default());
    let now = Instant::now();
    let client = from(CAMERA, Protocol::Udp, 0);
    e.handle_message(now, client, &query(11, "slow.example", TYPE::A, None));
    sent(&mut e);
    let deadline = e.poll_timeout().unwrap().at;
    e.handle_timeout(deadline + Duration::from_millis(1));
    let bytes = reply(&mut e).answer.unwrap();
    let answer = Packet::parse(&bytes).unwrap();
    assert_eq!(answer.rcode(), RCODE::ServerFailure);
}

#[test]
fn addresses_a_devices_blocked_name_resolves_to_are_reported_with_the_device() {
    let mut e = Engine::new(Config::default(), rules("iotcplatform.com\n"));
    let now = Instant::now();
    let camera = from(CAMERA, Protocol::Udp, 0);
    e.handle_message(
        now,
        camera,
        &query(1, "p2p.iotcplatform.com", TYPE::A, None),
    );
    reply(&mut e);
    // Resolved in the background, to learn where it lives.
    let lookup = sent(&mut e);
    let q = Packet::parse(&lookup.message).unwrap();
    let mut reply_packet = q.clone().into_reply();
    reply_packet.answers.push(ResourceRecord::new(
        q.questions[0].qname.clone(),
        CLASS::IN,
        600,
        RData::A(A {
            address: u32::from_be_bytes([93, 184, 215, 70]),
        }),
    ));
    let upstream = reply_packet.build_bytes_vec().unwrap();
    e.handle_upstream_response(now, lookup.handle, &upstream);
    assert!(
        e.poll_message().is_none(),
        "the camera was answered already"
    );
    let learned: Vec<_> = std::iter::from_fn(|| e.poll_event())
        .filter_map(|ev| match ev {
            Event::AddressLearned {
                addr,
                name,
                ttl,
                client,
                ..
            } => Some((addr, name, ttl, client)),
            _ => None,
        })
        .collect();
    assert_eq!(
        learned,
        [(
            "93.184.215.70".parse().unwrap(),
            "p2p.iotcplatform.com".to_owned(),
            Duration::from_secs(600),
            Some(CAMERA.parse().unwrap())
        )]
    );
}

#[test]
fn one_device_cannot_take_the_pending_table_from_the_others() {
    let mut e = engine(Config {
        max_pending_per_client: 2,
        ..Config::default()
    });
    let now = Instant::now();
    let rogue = from(CAMERA, Protocol::Udp, 0);
    for i in 0..2 {
        e.handle_message(
            now,
            rogue,
            &query(i, &format!("n{i}.slow.example"), TYPE::A, None),
        );
        sent(&mut e);
    }
    // Its third waits for nobody: SERVFAIL at once, never sent.
    e.handle_message(now, rogue, &query(3, "n3.slow.example", TYPE::A, None));
    assert!(e.poll_upstream().is_none());
    let bytes = reply(&mut e).answer.unwrap();
    assert_eq!(Packet::parse(&bytes).unwrap().rcode(), RCODE::ServerFailure);
    assert_eq!(e.stats().client_pending_refused, 1);
    // Another device still gets through.
    let phone = from(VACUUM, Protocol::Tcp, 1);
    e.handle_message(now, phone, &query(4, "example.org", TYPE::A, None));
    let up = sent(&mut e);
    e.handle_upstream_response(now, up.handle, &answer(&up.message, 1));
    assert_eq!(reply(&mut e).to, phone);
    // Once the rogue's wait ends (here: the upstream deadline), its share
    // is free again.
    let deadline = e.poll_timeout().unwrap().at;
    e.handle_timeout(deadline);
    while e.poll_message().is_some() {}
    while e.poll_upstream().is_some() {}
    e.handle_message(deadline, rogue, &query(5, "n5.slow.example", TYPE::A, None));
    sent(&mut e);
}
