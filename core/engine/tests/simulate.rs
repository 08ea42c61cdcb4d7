#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The engine driven in memory against a fake upstream with simulated time:
//! what an app on the phone would see for blocked, allowed and failed
//! queries.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use simple_dns::rdata::RData;
use simple_dns::{
    Name, Packet, PacketFlag, Question, ResourceRecord, CLASS, QCLASS, QTYPE, RCODE, TYPE,
};
use tacet_engine::{
    wire, BlockMode, BlockReason, Config, Engine, Event, Protocol, RejectReason, Route,
    TimerReason, UpstreamCommand, UpstreamQuery,
};

mod support;
use support::rules;

const APP_V4: &str = "10.111.222.1:40000";
const APP_V6: &str = "[fd74:6163:6574::1]:40001";
const RESOLVER_V4: &str = "10.111.222.53:53";
const RESOLVER_V6: &str = "[fd74:6163:6574::53]:53";

const RULES: &str = "huami.com
iotcplatform.com
0.0.0.0 exact.example
@@||ok.huami.com^
blocked.example
203.0.113.128/25
";

/// An engine on [`RULES`], past its first event (the routes of the
/// `/25`, checked by `address_rules_are_routed_from_the_start...`).
fn engine(config: Config) -> Engine {
    let mut e = Engine::new(config, rules(RULES));
    assert_eq!(
        e.poll_event(),
        Some(Event::RoutesChanged {
            routes: vec![net("203.0.113.128", 25)]
        })
    );
    e
}

/// An engine that does not resolve blocked names in the background, for
/// tests about what the app sees.
fn quiet(config: Config) -> Engine {
    engine(Config {
        learn_addresses: false,
        ..config
    })
}

fn query(id: u16, name: &str, qtype: TYPE) -> Vec<u8> {
    let mut packet = Packet::new_query(id);
    packet.set_flags(PacketFlag::RECURSION_DESIRED);
    packet.questions.push(Question::new(
        Name::new_unchecked(name),
        QTYPE::TYPE(qtype),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    packet.build_bytes_vec().unwrap()
}

fn packet_to_resolver(from: &str, to: &str, message: &[u8]) -> Vec<u8> {
    wire::build_udp(from.parse().unwrap(), to.parse().unwrap(), message).unwrap()
}

/// Reads a packet the engine wrote to the TUN: checks the UDP/IP framing
/// and checksums, and returns (from, to, DNS message).
fn unwrap_answer(packet: &[u8]) -> (SocketAddr, SocketAddr, Vec<u8>) {
    let wire::Packet::Udp(d) = wire::parse(packet).expect("valid packet with valid checksums")
    else {
        panic!("not UDP")
    };
    (d.source, d.destination, d.payload.to_vec())
}

fn ask(engine: &mut Engine, now: Instant, from: &str, to: &str, message: &[u8]) -> Option<Vec<u8>> {
    engine.handle_tun_packet(now, &packet_to_resolver(from, to, message));
    let packet = engine.poll_tun_packet()?;
    let (source, destination, answer) = unwrap_answer(&packet);
    assert_eq!(
        source,
        to.parse().unwrap(),
        "answer comes from the address asked"
    );
    assert_eq!(
        destination,
        from.parse().unwrap(),
        "answer goes to the asking port"
    );
    Some(answer)
}

#[test]
fn blocked_names_get_null_addresses_and_nodata() {
    let mut e = quiet(Config::default());
    let now = Instant::now();
    let a = ask(
        &mut e,
        now,
        APP_V4,
        RESOLVER_V4,
        &query(1, "api-mifit.huami.com", TYPE::A),
    )
    .unwrap();
    let p = Packet::parse(&a).unwrap();
    assert_eq!((p.id(), p.rcode()), (1, RCODE::NoError));
    assert_eq!(
        p.answers[0].rdata,
        RData::A(simple_dns::rdata::A { address: 0 })
    );
    assert_eq!(p.answers[0].ttl, 10);

    let aaaa = ask(
        &mut e,
        now,
        APP_V6,
        RESOLVER_V6,
        &query(2, "IOTCPLATFORM.com", TYPE::AAAA),
    )
    .unwrap();
    let p = Packet::parse(&aaaa).unwrap();
    assert_eq!(
        p.answers[0].rdata,
        RData::AAAA(simple_dns::rdata::AAAA { address: 0 })
    );

    let txt = ask(
        &mut e,
        now,
        APP_V4,
        RESOLVER_V4,
        &query(3, "huami.com", TYPE::TXT),
    )
    .unwrap();
    let p = Packet::parse(&txt).unwrap();
    assert_eq!(p.rcode(), RCODE::NoError);
    assert!(p.answers.is_empty(), "NODATA for other types");

    assert!(
        e.poll_upstream().is_none(),
        "blocked names are never forwarded"
    );
    let stats = e.stats();
    assert_eq!(
        (
            stats.queries,
            stats.blocked,
            stats.unique_blocked,
            stats.allowed
        ),
        (3, 3, 3, 0)
    );
    let events: Vec<_> = std::iter::from_fn(|| e.poll_event()).collect();
    assert_eq!(events.len(), 3);
    assert!(
        matches!(&events[0], Event::Blocked { name, reason: BlockReason::Rule(rule), .. } if name == "api-mifit.huami.com" && rule.line == 1)
    );
}

#[test]
fn each_block_mode_answers_every_type_alike() {
    for (mode, rcode) in [
        (BlockMode::Nxdomain, RCODE::NameError),
        (BlockMode::Nodata, RCODE::NoError),
        (BlockMode::Refused, RCODE::Refused),
    ] {
        let mut e = engine(Config {
            block_mode: mode,
            block_ttl: 42,
            ..Config::default()
        });
        for qtype in [TYPE::A, TYPE::AAAA, TYPE::MX] {
            let answer = ask(
                &mut e,
                Instant::now(),
                APP_V4,
                RESOLVER_V4,
                &query(9, "huami.com", qtype),
            )
            .unwrap();
            let p = Packet::parse(&answer).unwrap();
            assert_eq!(p.rcode(), rcode, "{mode:?} {qtype:?}");
            assert!(p.answers.is_empty());
            if mode != BlockMode::Refused {
                assert_eq!(p.name_servers[0].ttl, 42, "SOA carries the block TTL");
            }
        }
    }
}

#[test]
fn exact_rules_leave_subdomains_alone_and_allow_beats_block() {
    let mut e = quiet(Config::default());
    let now = Instant::now();
    assert!(ask(
        &mut e,
        now,
        APP_V4,
        RESOLVER_V4,
        &query(1, "exact.example", TYPE::A)
    )
    .is_some());
    for name in [
        "sub.exact.example",
        "ok.huami.com",
        "x.ok.huami.com",
        "pool.ntp.org",
    ] {
        assert!(
            ask(&mut e, now, APP_V4, RESOLVER_V4, &query(1, name, TYPE::A)).is_none(),
            "{name} forwarded"
        );
    }
    assert_eq!(e.stats().forwarded, 4);
}

/// `$dnstype` rules see the query's type: the engine passes it to the
/// rules (issue #15).
#[test]
fn dnstype_rules_block_only_the_types_they_list() {
    let mut e = Engine::new(
        Config {
            learn_addresses: false,
            ..Config::default()
        },
        rules("||v6.example^$dnstype=AAAA\n||ads*.example^\n||*host^\n"),
    );
    let now = Instant::now();
    let mut answered = |name: &str, qtype: TYPE| {
        ask(&mut e, now, APP_V4, RESOLVER_V4, &query(1, name, qtype)).is_some()
    };
    assert!(answered("v6.example", TYPE::AAAA), "AAAA is blocked");
    assert!(!answered("v6.example", TYPE::A), "A is forwarded");
    assert!(answered("ads1.example", TYPE::A), "a pattern blocks");
    assert!(answered("ghost", TYPE::A), "a pattern blocks");
    assert!(
        !answered("localhost", TYPE::A),
        "localhost is never blocked"
    );
}

fn take_send(e: &mut Engine) -> UpstreamQuery {
    match e.poll_upstream() {
        Some(UpstreamCommand::Send(q)) => q,
        other => panic!("expected a query to send, got {other:?}"),
    }
}

#[test]
fn allowed_queries_are_forwarded_and_answers_relayed_with_the_client_id() {
    let mut e = engine(Config::default());
    let now = Instant::now();
    let q = query(0x4242, "ot.io.mi.com", TYPE::A);
    assert!(ask(&mut e, now, APP_V6, RESOLVER_V6, &q).is_none());
    let sent = take_send(&mut e);
    assert_eq!(sent.message, q, "forwarded as the app sent it");

    // The runtime used its own random ID upstream; the engine restores the app's.
    let mut reply = Packet::parse(&q).unwrap().into_reply();
    reply.set_id(0x1111);
    reply.answers.push(ResourceRecord::new(
        Name::new_unchecked("ot.io.mi.com"),
        CLASS::IN,
        300,
        RData::A(simple_dns::rdata::A {
            address: 0xc633_6407,
        }),
    ));
    let bytes = reply.build_bytes_vec().unwrap();
    e.handle_upstream_response(now + Duration::from_millis(20), sent.handle, &bytes);
    let (from, to, answer) = unwrap_answer(&e.poll_tun_packet().unwrap());
    assert_eq!(
        (from, to),
        (RESOLVER_V6.parse().unwrap(), APP_V6.parse().unwrap())
    );
    assert_eq!(&answer[..2], &[0x42, 0x42]);
    assert_eq!(&answer[2..], &bytes[2..], "relayed byte for byte");
    assert_eq!(e.poll_timeout(), None, "nothing left to wake for");
    let stats = e.stats();
    assert_eq!(
        (
            stats.allowed,
            stats.forwarded,
            stats.answered,
            stats.upstream_failures
        ),
        (1, 1, 1, 0)
    );
}

#[test]
fn a_silent_upstream_gets_servfail_at_the_deadline_and_no_earlier() {
    let mut e = engine(Config::default());
    let t0 = Instant::now();
    ask(
        &mut e,
        t0,
        APP_V4,
        RESOLVER_V4,
        &query(7, "pool.ntp.org", TYPE::A),
    );
    let sent = take_send(&mut e);
    let timeout = e.poll_timeout().unwrap();
    assert_eq!(timeout.at, t0 + Duration::from_secs(3));
    e.handle_timeout(t0 + Duration::from_millis(2999));
    assert!(e.poll_tun_packet().is_none());
    e.handle_timeout(timeout.at);
    let (_, _, answer) = unwrap_answer(&e.poll_tun_packet().unwrap());
    let p = Packet::parse(&answer).unwrap();
    assert_eq!((p.id(), p.rcode()), (7, RCODE::ServerFailure));
    assert_eq!(
        e.poll_upstream(),
        Some(UpstreamCommand::Abandon(sent.handle))
    );
    // A late answer is ignored.
    e.handle_upstream_response(
        t0 + Duration::from_secs(4),
        sent.handle,
        &query(7, "pool.ntp.org", TYPE::A),
    );
    assert!(e.poll_tun_packet().is_none());
    assert_eq!(e.stats().upstream_failures, 1);
    assert_eq!(e.poll_timeout(), None);
}

#[test]
fn upstream_failure_answers_servfail_at_once() {
    let mut e = engine(Config::default());
    let now = Instant::now();
    ask(
        &mut e,
        now,
        APP_V4,
        RESOLVER_V4,
        &query(8, "pool.ntp.org", TYPE::AAAA),
    );
    let sent = take_send(&mut e);
    e.handle_upstream_failure(now, sent.handle);
    let (_, _, answer) = unwrap_answer(&e.poll_tun_packet().unwrap());
    assert_eq!(
        Packet::parse(&answer).unwrap().rcode(),
        RCODE::ServerFailure
    );
}

#[test]
fn a_full_pending_table_answers_servfail_instead_of_growing() {
    let mut e = engine(Config {
        max_pending: 3,
        ..Config::default()
    });
    let now = Instant::now();
    for id in 0..3 {
        assert!(ask(
            &mut e,
            now,
            APP_V4,
            RESOLVER_V4,
            &query(id, "pool.ntp.org", TYPE::A)
        )
        .is_none());
    }
    let answer = ask(
        &mut e,
        now,
        APP_V4,
        RESOLVER_V4,
        &query(3, "pool.ntp.org", TYPE::A),
    )
    .unwrap();
    assert_eq!(
        Packet::parse(&answer).unwrap().rcode(),
        RCODE::ServerFailure
    );
    assert_eq!(e.pending_queries(), 3);
    assert_eq!(e.stats().upstream_failures, 1);
}

#[test]
fn rules_swap_atomically_and_pause_lets_everything_through() {
    let mut e = engine(Config::default());
    let now = Instant::now();
    assert!(ask(
        &mut e,
        now,
        APP_V4,
        RESOLVER_V4,
        &query(1, "pool.ntp.org", TYPE::A)
    )
    .is_none());
    e.set_rules(now, rules("ntp.org\n"));
    assert!(ask(
        &mut e,
        now,
        APP_V4,
        RESOLVER_V4,
        &query(2, "pool.ntp.org", TYPE::A)
    )
    .is_some());
    assert!(ask(
        &mut e,
        now,
        APP_V4,
        RESOLVER_V4,
        &query(3, "api-mifit.huami.com", TYPE::A)
    )
    .is_none());
    e.pause(now, Some(now + Duration::from_secs(300)));
    assert!(ask(
        &mut e,
        now + Duration::from_secs(1),
        APP_V4,
        RESOLVER_V4,
        &query(4, "pool.ntp.org", TYPE::A)
    )
    .is_none());
    assert!(ask(
        &mut e,
        now + Duration::from_secs(300),
        APP_V4,
        RESOLVER_V4,
        &query(5, "pool.ntp.org", TYPE::A)
    )
    .is_some());
}

#[test]
fn other_traffic_is_ignored_and_garbage_counted() {
    let mut e = engine(Config::default());
    let now = Instant::now();
    // UDP to another address that is not routed in for a reason (DNS to
    // other addresses is served: see the bypass test).
    let q = query(1, "huami.com", TYPE::A);
    e.handle_tun_packet(now, &packet_to_resolver(APP_V4, "192.0.2.1:5353", &q));
    e.handle_tun_packet(now, &[0x45, 0, 0]);
    e.handle_tun_packet(
        now,
        &packet_to_resolver(APP_V4, RESOLVER_V4, b"\x00\x01garbage"),
    );
    assert!(e.poll_tun_packet().is_none());
    let stats = e.stats();
    assert_eq!((stats.ignored, stats.malformed, stats.queries), (1, 2, 0));
}

#[test]
fn notify_gets_notimp() {
    let mut e = engine(Config::default());
    let mut q = query(5, "huami.com", TYPE::SOA);
    q[2] |= 0x20;
    let answer = ask(&mut e, Instant::now(), APP_V4, RESOLVER_V4, &q).unwrap();
    assert_eq!(
        Packet::parse(&answer).unwrap().rcode(),
        RCODE::NotImplemented
    );
}

#[test]
fn unique_blocked_counts_names_not_attempts() {
    let mut e = engine(Config::default());
    let now = Instant::now();
    for i in 0..100 {
        let name = if i % 2 == 0 {
            "a.huami.com"
        } else {
            "b.huami.com"
        };
        ask(&mut e, now, APP_V4, RESOLVER_V4, &query(i, name, TYPE::A)).unwrap();
    }
    assert_eq!((e.stats().blocked, e.stats().unique_blocked), (100, 2));
}

#[test]
fn discovery_mode_reports_allowed_queries() {
    let mut e = engine(Config {
        report_allowed: true,
        ..Config::default()
    });
    let now = Instant::now();
    let q = query(1, "ok.huami.com", TYPE::A);
    assert!(ask(&mut e, now, APP_V4, RESOLVER_V4, &q).is_none());
    assert_eq!(e.poll_event(), None, "reported once its answer is in");
    let sent = take_send(&mut e);
    e.handle_upstream_response(
        now,
        sent.handle,
        &answer_with(&q, &[("ok.huami.com", a("93.184.215.1"))]),
    );
    assert!(e.poll_tun_packet().is_some());
    let Some(Event::Allowed {
        name, rule, client, ..
    }) = e.poll_event()
    else {
        panic!()
    };
    assert_eq!(
        (name.as_str(), rule.map(|r| r.line), client.ip()),
        (
            "ok.huami.com",
            Some(4),
            "10.111.222.1".parse::<IpAddr>().unwrap()
        )
    );
    assert_eq!(e.poll_event(), None);
}

#[test]
fn discovery_mode_reports_a_cloaked_query_once_as_blocked() {
    let mut e = engine(Config {
        report_allowed: true,
        ..Config::default()
    });
    let now = Instant::now();
    let q = query(5, "metrics.shop.example", TYPE::A);
    assert!(ask(&mut e, now, APP_V4, RESOLVER_V4, &q).is_none());
    let sent = take_send(&mut e);
    let cname = RData::CNAME(simple_dns::rdata::CNAME(
        Name::new_unchecked("tracker.blocked.example").into_owned(),
    ));
    let upstream = answer_with(
        &q,
        &[
            ("metrics.shop.example", cname),
            ("tracker.blocked.example", a("93.184.215.7")),
        ],
    );
    e.handle_upstream_response(now, sent.handle, &upstream);
    let reported: Vec<_> = events(&mut e)
        .into_iter()
        .filter(|ev| matches!(ev, Event::Allowed { .. } | Event::Blocked { .. }))
        .collect();
    assert_eq!(reported.len(), 1, "{reported:?}");
    assert!(matches!(reported[0], Event::Blocked { .. }));
}

#[test]
fn canary_names_get_nxdomain_unless_switched_off() {
    let mut e = engine(Config::default());
    let now = Instant::now();
    for (i, name) in [
        "use-application-dns.net",
        "mask.icloud.com",
        "mask-h2.icloud.com",
    ]
    .iter()
    .enumerate()
    {
        let answer = ask(
            &mut e,
            now,
            APP_V4,
            RESOLVER_V4,
            &query(i as u16, name, TYPE::A),
        )
        .unwrap();
        assert_eq!(
            Packet::parse(&answer).unwrap().rcode(),
            RCODE::NameError,
            "{name}"
        );
    }
    assert!(matches!(
        e.poll_event(),
        Some(Event::Blocked {
            reason: BlockReason::Canary,
            ..
        })
    ));
    assert_eq!(e.stats().blocked, 3);
    let mut off = engine(Config {
        answer_canaries: false,
        ..Config::default()
    });
    assert!(
        ask(
            &mut off,
            now,
            APP_V4,
            RESOLVER_V4,
            &query(1, "mask.icloud.com", TYPE::A)
        )
        .is_none(),
        "forwarded"
    );
}

#[test]
fn dns_to_a_hard_coded_resolver_is_answered_as_ours_and_counted() {
    let mut e = quiet(Config::default());
    let now = Instant::now();
    let answer = ask(
        &mut e,
        now,
        APP_V4,
        "8.8.8.8:53",
        &query(1, "api-mifit.huami.com", TYPE::A),
    )
    .unwrap();
    assert_eq!(
        Packet::parse(&answer).unwrap().answers.len(),
        1,
        "blocked as if asked of the firewall"
    );
    assert!(ask(
        &mut e,
        now,
        APP_V6,
        "[2001:4860:4860::8888]:53",
        &query(2, "pool.ntp.org", TYPE::A)
    )
    .is_none());
    let sent = take_send(&mut e);
    e.handle_upstream_response(now, sent.handle, &query(2, "pool.ntp.org", TYPE::A));
    let (from, _, _) = unwrap_answer(&e.poll_tun_packet().unwrap());
    assert_eq!(
        from,
        "[2001:4860:4860::8888]:53".parse().unwrap(),
        "the answer comes from the address asked"
    );
    assert_eq!(e.stats().bypass_attempts, 2);
}

/// The upstream's answer to `query`, with these A records.
fn answer_with(query: &[u8], records: &[(&str, RData<'static>)]) -> Vec<u8> {
    let mut reply = Packet::parse(query).unwrap().into_reply();
    for (name, rdata) in records {
        reply.answers.push(ResourceRecord::new(
            Name::new_unchecked(name).into_owned(),
            CLASS::IN,
            60,
            rdata.clone(),
        ));
    }
    reply.build_bytes_vec().unwrap()
}

fn a(addr: &str) -> RData<'static> {
    RData::A(simple_dns::rdata::A {
        address: u32::from(addr.parse::<std::net::Ipv4Addr>().unwrap()),
    })
}

fn tcp_syn(from: &str, to: &str) -> Vec<u8> {
    let (from, to): (SocketAddr, SocketAddr) = (from.parse().unwrap(), to.parse().unwrap());
    let (IpAddr::V4(f), IpAddr::V4(t)) = (from.ip(), to.ip()) else {
        panic!()
    };
    let builder = etherparse::PacketBuilder::ipv4(f.octets(), t.octets(), 64)
        .tcp(from.port(), to.port(), 4242, 64240)
        .syn();
    let mut packet = Vec::new();
    builder.write(&mut packet, &[]).unwrap();
    packet
}

/// Resolves blocked `name` in the background with these addresses, and
/// lets the routes debounce pass; returns the time after.
fn learn(e: &mut Engine, now: Instant, name: &str, addrs: &[&str]) -> Instant {
    let q = query(77, name, TYPE::A);
    let answer = ask(e, now, APP_V4, RESOLVER_V4, &q).unwrap();
    assert_eq!(
        Packet::parse(&answer).unwrap().answers.len(),
        1,
        "the app gets the block answer"
    );
    let sent = take_send(e);
    let records: Vec<_> = addrs.iter().map(|ip| (name, a(ip))).collect();
    e.handle_upstream_response(now, sent.handle, &answer_with(&q, &records));
    assert!(
        e.poll_tun_packet().is_none(),
        "the background answer never reaches the app"
    );
    now + Duration::from_secs(1)
}

fn events(e: &mut Engine) -> Vec<Event> {
    std::iter::from_fn(|| e.poll_event()).collect()
}

#[test]
fn blocked_names_are_resolved_in_the_background_and_routed_at_once() {
    let mut e = engine(Config::default());
    let t0 = Instant::now();
    let later = learn(
        &mut e,
        t0,
        "tracker.blocked.example",
        &["93.184.215.9", "93.184.215.10"],
    );
    // The first change after a quiet spell is announced with the answer
    // that made it: a connection a moment later is already routed in.
    let routes: Vec<_> = events(&mut e)
        .into_iter()
        .filter(|ev| matches!(ev, Event::RoutesChanged { .. }))
        .collect();
    assert_eq!(
        routes,
        vec![Event::RoutesChanged {
            routes: vec![
                net("203.0.113.128", 25),
                host("93.184.215.9"),
                host("93.184.215.10")
            ]
        }]
    );
    // A retry storm costs one background query.
    ask(
        &mut e,
        t0,
        APP_V4,
        RESOLVER_V4,
        &query(78, "tracker.blocked.example", TYPE::A),
    )
    .unwrap();
    assert!(e.poll_upstream().is_none());
    // Changes within the debounce gather into one announcement at its end.
    learn(&mut e, t0, "other.blocked.example", &["93.184.215.11"]);
    learn(&mut e, t0, "third.blocked.example", &["93.184.215.12"]);
    assert!(!events(&mut e)
        .iter()
        .any(|ev| matches!(ev, Event::RoutesChanged { .. })));
    let timeout = e.poll_timeout().unwrap();
    assert_eq!(
        (timeout.at, timeout.reason),
        (later, TimerReason::RoutesDebounce)
    );
    e.handle_timeout(later);
    let routes: Vec<_> = events(&mut e)
        .into_iter()
        .filter(|ev| matches!(ev, Event::RoutesChanged { .. }))
        .collect();
    assert_eq!(routes.len(), 1);
    assert_eq!(e.stats().learned_addresses, 4);
    assert_eq!(e.stats().background_queries, 3);
    assert_eq!(
        e.stats().forwarded,
        0,
        "a background lookup is not a forwarded query"
    );
    // The addresses expire after the TTL floor (5 min), and their routes go.
    let expiry = e.poll_timeout().unwrap();
    assert_eq!(
        (expiry.at, expiry.reason),
        (t0 + Duration::from_secs(300), TimerReason::LearnedExpiry)
    );
    e.handle_timeout(expiry.at);
    assert!(events(&mut e).contains(&Event::RoutesChanged {
        routes: vec![net("203.0.113.128", 25)]
    }));
    assert_eq!(e.poll_timeout(), None, "nothing left to wake for");
}

#[test]
fn connections_to_learned_addresses_are_refused_not_dropped() {
    let mut e = engine(Config::default());
    let t0 = Instant::now();
    let now = learn(&mut e, t0, "tracker.blocked.example", &["93.184.215.9"]);
    events(&mut e);
    let before = e.stats().blocked;
    e.handle_tun_packet(now, &tcp_syn("10.111.222.1:50000", "93.184.215.9:443"));
    let rst = e.poll_tun_packet().expect("a reset");
    let sliced = etherparse::SlicedPacket::from_ip(&rst).unwrap();
    let Some(etherparse::TransportSlice::Tcp(tcp)) = sliced.transport else {
        panic!("not TCP")
    };
    assert!(tcp.rst() && tcp.ack());
    assert_eq!(
        (
            tcp.source_port(),
            tcp.destination_port(),
            tcp.acknowledgment_number()
        ),
        (443, 50000, 4243)
    );
    // UDP gets ICMP "administratively prohibited".
    e.handle_tun_packet(
        now,
        &packet_to_resolver(APP_V4, "93.184.215.9:3478", b"stun"),
    );
    let icmp = e.poll_tun_packet().expect("an ICMP error");
    assert_eq!(
        (icmp[9], icmp[20], icmp[21]),
        (1, 3, 13),
        "ICMP type 3 code 13"
    );
    let stats = e.stats();
    assert_eq!(
        (stats.blocked - before, stats.rejected),
        (2, 2),
        "each a blocked attempt"
    );
    let rejected = events(&mut e);
    assert!(
        matches!(&rejected[0], Event::Rejected { name, protocol: Protocol::Tcp, reason: RejectReason::LearnedAddress(_), .. } if name == "tracker.blocked.example")
    );
    // Other addresses are none of the firewall's business.
    e.handle_tun_packet(now, &tcp_syn("10.111.222.1:50001", "198.51.100.1:443"));
    assert!(e.poll_tun_packet().is_none());
}

#[test]
fn icmp_errors_are_rate_limited_but_every_attempt_counts() {
    let mut e = engine(Config {
        icmp_per_second: 5,
        ..Config::default()
    });
    let t0 = Instant::now();
    let now = learn(&mut e, t0, "tracker.blocked.example", &["93.184.215.9"]);
    for _ in 0..50 {
        e.handle_tun_packet(
            now,
            &packet_to_resolver(APP_V4, "93.184.215.9:3478", b"stun"),
        );
    }
    let sent = std::iter::from_fn(|| e.poll_tun_packet()).count();
    assert_eq!(sent, 5);
    assert_eq!(
        (e.stats().rejected, e.stats().rejects_rate_limited),
        (50, 45)
    );
    e.handle_tun_packet(
        now + Duration::from_secs(1),
        &packet_to_resolver(APP_V4, "93.184.215.9:3478", b"x"),
    );
    assert!(e.poll_tun_packet().is_some(), "the bucket refills");
}

#[test]
fn address_and_cidr_rules_are_enforced_like_learned_addresses() {
    let mut e = engine(Config::default());
    let now = Instant::now();
    e.handle_tun_packet(now, &tcp_syn("10.111.222.1:50000", "203.0.113.200:443"));
    assert!(e.poll_tun_packet().is_some(), "203.0.113.128/25 is listed");
    assert!(matches!(
        e.poll_event(),
        Some(Event::Rejected {
            reason: RejectReason::AddressRule(_),
            ..
        })
    ));
    e.handle_tun_packet(now, &tcp_syn("10.111.222.1:50000", "203.0.113.100:443"));
    assert!(e.poll_tun_packet().is_none(), "outside the range");
}

#[test]
fn a_tracker_cloaked_behind_a_cname_is_blocked() {
    let mut e = engine(Config::default());
    let now = Instant::now();
    let q = query(5, "metrics.shop.example", TYPE::A);
    assert!(
        ask(&mut e, now, APP_V4, RESOLVER_V4, &q).is_none(),
        "the name itself is allowed"
    );
    let sent = take_send(&mut e);
    let cname = RData::CNAME(simple_dns::rdata::CNAME(
        Name::new_unchecked("tracker.blocked.example").into_owned(),
    ));
    let upstream = answer_with(
        &q,
        &[
            ("metrics.shop.example", cname),
            ("tracker.blocked.example", a("93.184.215.7")),
        ],
    );
    e.handle_upstream_response(now, sent.handle, &upstream);
    let (_, _, answer) = unwrap_answer(&e.poll_tun_packet().unwrap());
    let p = Packet::parse(&answer).unwrap();
    assert_eq!((p.id(), p.answers.len()), (5, 1));
    assert_eq!(
        p.answers[0].rdata,
        a("0.0.0.0"),
        "the block answer, not the tracker's address"
    );
    let ev = events(&mut e);
    assert!(ev.iter().any(|ev| matches!(ev, Event::Blocked { name, reason: BlockReason::Cname { via, .. }, .. } if name == "metrics.shop.example" && via == "tracker.blocked.example")));
    let stats = e.stats();
    assert_eq!(
        (
            stats.queries,
            stats.blocked,
            stats.allowed,
            stats.cname_blocked
        ),
        (1, 1, 0, 1)
    );
    assert_eq!(
        stats.learned_addresses, 1,
        "the tracker's address is learned too"
    );
}

#[test]
fn an_address_an_allowed_name_shares_stays_reachable() {
    let mut e = engine(Config::default());
    let t0 = Instant::now();
    let now = learn(&mut e, t0, "tracker.blocked.example", &["93.184.216.1"]);
    let q = query(6, "cdn.shop.example", TYPE::A);
    ask(&mut e, now, APP_V4, RESOLVER_V4, &q);
    let sent = take_send(&mut e);
    e.handle_upstream_response(
        now,
        sent.handle,
        &answer_with(&q, &[("cdn.shop.example", a("93.184.216.1"))]),
    );
    assert!(e.poll_tun_packet().is_some(), "the app gets its answer");
    let ev = events(&mut e);
    assert!(ev.iter().any(|ev| matches!(ev, Event::SharedAddress { blocked_name, allowed_name, .. } if blocked_name == "tracker.blocked.example" && allowed_name == "cdn.shop.example")));
    assert_eq!(e.stats().shared_addresses, 1);
    e.handle_tun_packet(now, &tcp_syn("10.111.222.1:50000", "93.184.216.1:443"));
    assert!(e.poll_tun_packet().is_none(), "not rejected");
}

#[test]
fn a_pause_withdraws_the_routes_and_its_end_restores_them() {
    let mut e = engine(Config::default());
    let t0 = Instant::now();
    let now = learn(&mut e, t0, "tracker.blocked.example", &["93.184.215.9"]);
    e.handle_timeout(now);
    events(&mut e);
    // A minute's pause, well within the address's five minutes.
    let end = now + Duration::from_secs(60);
    e.pause(now, Some(end));
    e.handle_timeout(now + Duration::from_secs(1));
    assert_eq!(
        events(&mut e),
        vec![Event::RoutesChanged { routes: vec![] }]
    );
    e.handle_tun_packet(now, &tcp_syn("10.111.222.1:50000", "93.184.215.9:443"));
    e.handle_timeout(end);
    e.handle_timeout(end + Duration::from_secs(1));
    assert!(events(&mut e).contains(&Event::RoutesChanged {
        routes: vec![net("203.0.113.128", 25), host("93.184.215.9")]
    }));
}

fn host(addr: &str) -> Route {
    Route::host(addr.parse().unwrap())
}

fn net(addr: &str, prefix_len: u8) -> Route {
    Route {
        addr: addr.parse().unwrap(),
        prefix_len,
    }
}

#[test]
fn address_rules_are_routed_from_the_start_and_on_every_change() {
    let mut e = Engine::new(
        Config::default(),
        rules("blocked.example\n93.184.216.0/24\n2001:db8::/32\n"),
    );
    assert_eq!(
        events(&mut e),
        vec![Event::RoutesChanged {
            routes: vec![net("93.184.216.0", 24), net("2001:db8::", 32)]
        }],
        "the first event routes the rules' networks in"
    );
    // A connection into a blocked network is refused, as a learned one is.
    let t0 = Instant::now();
    e.handle_tun_packet(t0, &tcp_syn("10.111.222.1:50000", "93.184.216.7:443"));
    assert!(e.poll_tun_packet().is_some(), "a RST answers the SYN");
    assert_eq!(e.stats().rejected, 1);
    events(&mut e);
    // Learned addresses inside a routed network add no route of their own.
    let now = learn(
        &mut e,
        t0,
        "x.blocked.example",
        &["93.184.216.9", "93.184.215.9"],
    );
    assert!(events(&mut e).contains(&Event::RoutesChanged {
        routes: vec![
            net("93.184.216.0", 24),
            net("2001:db8::", 32),
            host("93.184.215.9")
        ]
    }));
    // Same networks in new rules: nothing to announce.
    e.set_rules(
        now,
        rules("blocked.example\n93.184.216.0/24\n2001:db8::/32\nmore.example\n"),
    );
    assert!(events(&mut e).is_empty());
    // An allow rule inside the range takes the range out of the routes.
    e.set_rules(
        now,
        rules("blocked.example\n93.184.216.0/24\n@@93.184.216.53\n"),
    );
    let routed = events(&mut e);
    assert_eq!(
        routed,
        vec![Event::RoutesChanged {
            routes: vec![host("93.184.215.9"), host("93.184.216.9")]
        }]
    );
    // Rules without addresses need no routes at all.
    let mut plain = Engine::new(Config::default(), rules("blocked.example\n"));
    assert!(events(&mut plain).is_empty());
}

#[test]
fn new_rules_that_allow_a_name_free_its_learned_addresses_at_once() {
    let mut e = engine(Config::default());
    let t0 = Instant::now();
    let now = learn(&mut e, t0, "tracker.blocked.example", &["93.184.215.9"]);
    events(&mut e);
    e.set_rules(
        now,
        rules(&format!("{RULES}@@||tracker.blocked.example^\n")),
    );
    assert!(events(&mut e).contains(&Event::RoutesChanged {
        routes: vec![net("203.0.113.128", 25)]
    }));
    e.handle_tun_packet(now, &tcp_syn("10.111.222.1:50000", "93.184.215.9:443"));
    assert!(e.poll_tun_packet().is_none(), "reachable again");
}

#[test]
fn the_upstreams_own_addresses_are_never_learned() {
    let upstream: IpAddr = "93.184.216.53".parse().unwrap();
    let mut e = engine(Config {
        never_block: vec![upstream],
        ..Config::default()
    });
    learn(
        &mut e,
        Instant::now(),
        "tracker.blocked.example",
        &["93.184.216.53", "93.184.215.9"],
    );
    assert_eq!(e.stats().learned_addresses, 1, "only the other address");
    assert_eq!(e.stats().learned_refused, 1);
}

#[test]
fn background_lookups_are_bounded_and_come_back_as_old_ones_expire() {
    let mut e = engine(Config {
        max_pending: 100_000,
        ..Config::default()
    });
    let t0 = Instant::now();
    // More distinct blocked names than the background table holds, their
    // lookups failing at once: the surplus gets its block answer but no
    // background lookup.
    for i in 0..5000u32 {
        let name = format!("n{i}.blocked.example");
        ask(&mut e, t0, APP_V4, RESOLVER_V4, &query(1, &name, TYPE::A)).unwrap();
        while let Some(UpstreamCommand::Send(q)) = e.poll_upstream() {
            e.handle_upstream_failure(t0, q.handle);
        }
    }
    assert_eq!(e.stats().blocked, 5000);
    assert_eq!(e.stats().background_queries, 4096);
    assert_eq!(e.stats().background_skipped, 5000 - 4096);
    // Once the first ones expire (the TTL floor), new names are resolved.
    let later = t0 + Duration::from_secs(301);
    ask(
        &mut e,
        later,
        APP_V4,
        RESOLVER_V4,
        &query(1, "new.blocked.example", TYPE::A),
    )
    .unwrap();
    assert_eq!(e.stats().background_queries, 4097);
    // A name seen before is resolved again only after its entry expired.
    ask(
        &mut e,
        later,
        APP_V4,
        RESOLVER_V4,
        &query(1, "n1.blocked.example", TYPE::A),
    )
    .unwrap();
    assert_eq!(e.stats().background_queries, 4098);
    ask(
        &mut e,
        later,
        APP_V4,
        RESOLVER_V4,
        &query(1, "n1.blocked.example", TYPE::A),
    )
    .unwrap();
    assert_eq!(e.stats().background_queries, 4098);
}

#[test]
fn background_lookups_in_flight_are_bounded_so_apps_keep_their_queries() {
    let mut e = engine(Config::default());
    let t0 = Instant::now();
    // An app asks for thousands of blocked names; the upstream never
    // answers. Only a bounded number of lookups wait, and an allowed
    // query still gets forwarded.
    for i in 0..5000u32 {
        let name = format!("n{i}.blocked.example");
        ask(&mut e, t0, APP_V4, RESOLVER_V4, &query(1, &name, TYPE::A)).unwrap();
    }
    assert_eq!(e.stats().background_queries, 256);
    assert_eq!(e.pending_queries(), 256);
    assert!(ask(
        &mut e,
        t0,
        APP_V4,
        RESOLVER_V4,
        &query(2, "pool.ntp.org", TYPE::A)
    )
    .is_none());
    assert_eq!(e.stats().forwarded, 1);
}

#[test]
fn a_blocked_network_holding_the_upstream_is_never_routed_in() {
    let config = Config {
        never_block: vec!["198.51.100.53".parse().unwrap()],
        ..Config::default()
    };
    let mut e = Engine::new(
        config,
        rules("198.51.100.0/24\n0.0.0.0/0\n203.0.113.0/24\n"),
    );
    // The /24 and the default route hold the upstream: routing them in
    // would loop its own queries back.
    assert_eq!(
        events(&mut e),
        vec![Event::RoutesChanged {
            routes: vec![net("203.0.113.0", 24)]
        }]
    );
    // The network changed: another upstream frees the /24 but not /0.
    e.set_never_block(vec!["192.0.2.53".parse().unwrap()]);
    assert_eq!(
        events(&mut e),
        vec![Event::RoutesChanged {
            routes: vec![net("198.51.100.0", 24), net("203.0.113.0", 24)]
        }]
    );
}
