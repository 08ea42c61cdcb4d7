#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The engine against a hostile network, in memory: an upstream that
//! echoes queries, cuts answers short, lies about record lengths, loops
//! compression pointers, hides a cloaking CNAME behind a broken record,
//! or answers blocked names with the phone's own LAN; and what the engine
//! does before any app asks (enforced names) and for probes at the
//! resolver's other ports. Answers are written out byte by byte.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tacet_engine::dns::{self, Query};
use tacet_engine::{
    wire, AnswerProblem, Config, Defect, Engine, Event, RejectReason, Route, Section, TimerReason,
    UpstreamCommand, UpstreamQuery,
};

mod support;
use support::rules;

const APP: &str = "10.111.222.1:40000";
const RESOLVER: &str = "10.111.222.53:53";

fn engine() -> Engine {
    Engine::new(
        Config {
            never_block: vec!["93.184.216.53".parse().unwrap()],
            ..Config::default()
        },
        rules("tracker.example\nhuami.com\n"),
    )
}

fn hex(text: &str) -> Vec<u8> {
    let digits: String = text.chars().filter(char::is_ascii_hexdigit).collect();
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
        .collect()
}

/// `name` as wire labels.
fn labels(name: &str) -> String {
    let mut out = String::new();
    for label in name.split('.') {
        out.push_str(&format!("{:02x}", label.len()));
        for b in label.bytes() {
            out.push_str(&format!("{b:02x}"));
        }
    }
    out + "00"
}

/// The app asks `name` (type A); returns what the engine sent upstream.
fn ask(e: &mut Engine, now: Instant, name: &str) -> UpstreamQuery {
    let mut message = dns::query_message(name, dns::TYPE_A).unwrap();
    message[..2].copy_from_slice(&0x1234u16.to_be_bytes());
    let packet = wire::build_udp(APP.parse().unwrap(), RESOLVER.parse().unwrap(), &message);
    e.handle_tun_packet(now, &packet.unwrap());
    take_send(e)
}

fn take_send(e: &mut Engine) -> UpstreamQuery {
    loop {
        match e.poll_upstream() {
            Some(UpstreamCommand::Send(q)) => return q,
            Some(UpstreamCommand::Abandon(_)) => continue,
            None => panic!("nothing sent upstream"),
        }
    }
}

/// The answer's header (QR RD RA, `flags` ORed in), the query's question,
/// and `records`, which the counts (answer, authority, additional) describe.
fn answer_to(sent: &UpstreamQuery, flags: u16, counts: [u16; 3], records: &str) -> Vec<u8> {
    let mut m = sent.message[..2].to_vec();
    m.extend((0x8180u16 | flags).to_be_bytes());
    m.extend(1u16.to_be_bytes());
    for c in counts {
        m.extend(c.to_be_bytes());
    }
    m.extend(Query::parse(&sent.message).unwrap().question().unwrap());
    m.extend(hex(records));
    m
}

/// The DNS message the app got back, if any.
fn app_answer(e: &mut Engine) -> Option<Vec<u8>> {
    let packet = e.poll_tun_packet()?;
    let wire::Packet::Udp(d) = wire::parse(&packet).unwrap() else {
        panic!("not UDP")
    };
    assert_eq!(d.destination, APP.parse::<SocketAddr>().unwrap());
    Some(d.payload.to_vec())
}

fn rcode(message: &[u8]) -> u8 {
    message[3] & 0x0f
}

fn events(e: &mut Engine) -> Vec<Event> {
    std::iter::from_fn(|| e.poll_event()).collect()
}

fn routes(e: &mut Engine) -> Option<Vec<Route>> {
    events(e).into_iter().rev().find_map(|ev| match ev {
        Event::RoutesChanged { routes } => Some(routes),
        _ => None,
    })
}

fn tcp_syn(to: &str) -> Vec<u8> {
    let (from, to): (SocketAddr, SocketAddr) = (APP.parse().unwrap(), to.parse().unwrap());
    let (std::net::IpAddr::V4(f), std::net::IpAddr::V4(t)) = (from.ip(), to.ip()) else {
        panic!()
    };
    let builder = etherparse::PacketBuilder::ipv4(f.octets(), t.octets(), 64)
        .tcp(from.port(), to.port(), 4242, 64240)
        .syn();
    let mut packet = Vec::new();
    builder.write(&mut packet, &[]).unwrap();
    packet
}

fn is_reset(packet: &[u8]) -> bool {
    matches!(
        etherparse::SlicedPacket::from_ip(packet).unwrap().transport,
        Some(etherparse::TransportSlice::Tcp(t)) if t.rst()
    )
}

/// `A 93.184.215.67` for the question's name, TTL 60.
const A_RECORD: &str = "c00c 0001 0001 0000003c 0004 5db8d743";

#[test]
fn malformed_answers_never_reach_the_app() {
    let cases: [(&str, u16, [u16; 3], &str, AnswerProblem); 6] = [
        (
            "an echo of the query (QR clear)",
            0,
            [0, 0, 0],
            "",
            AnswerProblem::NotAResponse,
        ),
        (
            "one record promised, none sent",
            0,
            [1, 0, 0],
            "",
            AnswerProblem::Malformed(Section::Answer, Defect::Truncated),
        ),
        (
            "cut inside a record",
            0,
            [1, 0, 0],
            "c00c 0001 0001 0000003c 0004 5db8",
            AnswerProblem::Malformed(Section::Answer, Defect::Truncated),
        ),
        (
            "an A record of six bytes",
            0,
            [1, 0, 0],
            "c00c 0001 0001 0000003c 0006 5db8d7430000",
            AnswerProblem::Malformed(Section::Answer, Defect::BadLength),
        ),
        (
            "a compression pointer to itself",
            0,
            [1, 0, 0],
            "c022 0001 0001 0000003c 0004 5db8d743",
            AnswerProblem::Malformed(Section::Answer, Defect::BadPointer),
        ),
        (
            "a pointer loop through two names",
            0,
            [2, 0, 0],
            "c00c 0005 0001 0000003c 0002 c03a
             c02e 0001 0001 0000003c 0004 5db8d743",
            AnswerProblem::Malformed(Section::Answer, Defect::BadPointer),
        ),
    ];
    for (what, flags, counts, records, problem) in cases {
        let mut e = engine();
        let t0 = Instant::now();
        let sent = ask(&mut e, t0, "www.shop.example");
        let mut response = answer_to(&sent, flags, counts, records);
        if problem == AnswerProblem::NotAResponse {
            response = sent.message.clone();
        }
        e.handle_upstream_response(t0, sent.handle, &response);
        let answer = app_answer(&mut e).unwrap_or_else(|| panic!("{what}: no answer"));
        assert_eq!(rcode(&answer), 2, "{what}: SERVFAIL");
        assert_eq!(dns::id(&answer), Some(0x1234));
        let refused: Vec<_> = events(&mut e)
            .into_iter()
            .filter_map(|ev| match ev {
                Event::AnswerRefused { name, problem, .. } => Some((name, problem)),
                _ => None,
            })
            .collect();
        assert_eq!(
            refused,
            vec![("www.shop.example".to_owned(), problem)],
            "{what}"
        );
        let stats = e.stats();
        assert_eq!(
            (
                stats.answers_refused,
                stats.upstream_failures,
                stats.answered
            ),
            (1, 1, 0),
            "{what}"
        );
    }
}

#[test]
fn a_cloaking_cname_behind_a_broken_additional_record_is_not_relayed() {
    let mut e = engine();
    let t0 = Instant::now();
    let sent = ask(&mut e, t0, "metrics.shop.example");
    // metrics.shop.example CNAME tracker.example; tracker.example A ...;
    // then an additional A record of five bytes.
    let target = labels("tracker.example");
    let rdlen = target.len() / 2;
    let response = answer_to(
        &sent,
        0,
        [2, 0, 1],
        &format!(
            "c00c 0005 0001 0000003c {rdlen:04x} {target}
             c032 0001 0001 0000003c 0004 5db8d743
             c032 0001 0001 0000003c 0005 5db8d74300"
        ),
    );
    e.handle_upstream_response(t0, sent.handle, &response);
    let answer = app_answer(&mut e).unwrap();
    assert_eq!(rcode(&answer), 2, "SERVFAIL, never the tracker's address");
    assert!(!answer.windows(4).any(|w| w == [0x5d, 0xb8, 0xd7, 0x43]));
    assert_eq!(e.stats().learned_addresses, 0);
}

#[test]
fn records_of_unknown_types_are_relayed_untouched() {
    let mut e = engine();
    let t0 = Instant::now();
    let sent = ask(&mut e, t0, "host.shop.example");
    // SSHFP (44): algorithm 1, fingerprint type 2, 32 bytes; and a
    // private-use type in the additional section.
    let response = answer_to(
        &sent,
        0,
        [1, 0, 1],
        &format!(
            "c00c 002c 0001 0000003c 0022 01 02 {}
             c00c ff00 0001 0000003c 0003 616263",
            "ab".repeat(32)
        ),
    );
    e.handle_upstream_response(t0, sent.handle, &response);
    let mut expected = response.clone();
    expected[..2].copy_from_slice(&0x1234u16.to_be_bytes());
    assert_eq!(app_answer(&mut e), Some(expected));
    assert_eq!(e.stats().answers_refused, 0);
}

#[test]
fn an_answer_cut_short_with_tc_sends_a_udp_app_to_tcp() {
    let mut e = engine();
    let t0 = Instant::now();
    let sent = ask(&mut e, t0, "big.shop.example");
    let response = answer_to(&sent, 0x0200, [3, 0, 0], A_RECORD);
    e.handle_upstream_response(t0, sent.handle, &response);
    let answer = app_answer(&mut e).unwrap();
    assert_eq!((rcode(&answer), answer[2] & 0x02), (0, 0x02), "TC set");
    assert_eq!(&answer[6..12], &[0, 0, 0, 0, 0, 0], "no records");
}

#[test]
fn blocked_names_never_teach_the_lan_the_router_or_the_firewall_itself() {
    let mut e = engine();
    let t0 = Instant::now();
    events(&mut e);
    // An app asks for a blocked name; the engine resolves it in the
    // background, and the hostile network answers with the phone's LAN,
    // the upstream's own address, the tunnel's, and one real address.
    let message = dns::query_message("tracker.example", dns::TYPE_A).unwrap();
    let packet = wire::build_udp(APP.parse().unwrap(), RESOLVER.parse().unwrap(), &message);
    e.handle_tun_packet(t0, &packet.unwrap());
    assert!(app_answer(&mut e).is_some(), "the block answer");
    let sent = take_send(&mut e);
    let lan = [
        "c0a80101", // 192.168.1.1, the router
        "0a000001", // 10.0.0.1
        "7f000001", // 127.0.0.1
        "a9fe0101", // 169.254.1.1
        "64400001", // 100.64.0.1
        "e00000fb", // 224.0.0.251
        "00000000", // 0.0.0.0
        "0a6fde01", // 10.111.222.1, the tunnel
        "5db8d835", // 93.184.216.53, the upstream
        "c0000243", // 192.0.2.67, documentation
        "5db8d743", // 93.184.215.67, a real one
    ];
    let records: String = lan
        .iter()
        .map(|a| format!("c00c 0001 0001 0000003c 0004 {a} "))
        .collect();
    let response = answer_to(&sent, 0, [lan.len() as u16, 0, 0], &records);
    e.handle_upstream_response(t0, sent.handle, &response);
    assert_eq!(
        routes(&mut e),
        Some(vec![Route::host("93.184.215.67".parse().unwrap())])
    );
    let stats = e.stats();
    assert_eq!((stats.learned_addresses, stats.learned_refused), (1, 10));
    // The router stays reachable.
    e.handle_tun_packet(t0, &tcp_syn("192.168.1.1:80"));
    assert!(e.poll_tun_packet().is_none());
}

#[test]
fn one_blocked_name_holds_a_bounded_number_of_addresses() {
    let mut e = engine();
    let t0 = Instant::now();
    let message = dns::query_message("tracker.example", dns::TYPE_A).unwrap();
    let packet = wire::build_udp(APP.parse().unwrap(), RESOLVER.parse().unwrap(), &message);
    e.handle_tun_packet(t0, &packet.unwrap());
    app_answer(&mut e);
    let sent = take_send(&mut e);
    let records: String = (0..100)
        .map(|i| format!("c00c 0001 0001 0000003c 0004 5db8d7{i:02x} "))
        .collect();
    let response = answer_to(&sent, 0, [100, 0, 0], &records);
    e.handle_upstream_response(t0, sent.handle, &response);
    let stats = e.stats();
    let max = tacet_engine::LearnedLimits::default().max_per_name as u64;
    assert_eq!(
        (stats.learned_addresses, stats.learned_refused),
        (max, 100 - max)
    );
}

#[test]
fn probes_of_the_resolvers_other_ports_are_refused_at_once() {
    let mut e = engine();
    let t0 = Instant::now();
    // Android's automatic Private DNS probes DNS over TLS at 853.
    e.handle_tun_packet(t0, &tcp_syn("10.111.222.53:853"));
    assert!(is_reset(&e.poll_tun_packet().expect("a reset")));
    // DNS over QUIC: UDP 853 gets ICMP "prohibited".
    let quic = wire::build_udp(
        APP.parse().unwrap(),
        "10.111.222.53:853".parse().unwrap(),
        b"quic",
    );
    e.handle_tun_packet(t0, &quic.unwrap());
    let icmp = e.poll_tun_packet().expect("an ICMP error");
    assert_eq!((icmp[9], icmp[20], icmp[21]), (1, 3, 13));
    let stats = e.stats();
    assert_eq!((stats.resolver_ports_refused, stats.blocked), (2, 0));
}

/// Answers every enforced lookup sent so far with `addr` (A) or nothing
/// (AAAA), TTL `ttl`.
fn answer_enforced(e: &mut Engine, now: Instant, addr: &str, ttl: u32) -> usize {
    let mut n = 0;
    while let Some(command) = e.poll_upstream() {
        let UpstreamCommand::Send(sent) = command else {
            continue;
        };
        n += 1;
        let query = Query::parse(&sent.message).unwrap();
        let response = if query.qtype == dns::TYPE_A {
            answer_to(
                &sent,
                0,
                [1, 0, 0],
                &format!("c00c 0001 0001 {ttl:08x} 0004 {addr}"),
            )
        } else {
            answer_to(&sent, 0, [0, 0, 0], "")
        };
        e.handle_upstream_response(now, sent.handle, &response);
    }
    n
}

#[test]
fn enforced_names_are_rejected_before_any_app_asks() {
    let mut e = engine();
    let t0 = Instant::now();
    events(&mut e);
    e.set_enforced_names(t0, &["tracker.example".into(), "allowed.example".into()]);
    // Lookups go out at once, for the blocked name only, A and AAAA.
    let sent = answer_enforced(&mut e, t0, "5db8d743", 60);
    assert_eq!(sent, 2);
    assert_eq!(e.stats().enforce_lookups, 2);
    assert_eq!(
        routes(&mut e),
        Some(vec![Route::host("93.184.215.67".parse().unwrap())]),
        "routed with the answer, no debounce after a quiet start"
    );
    // A hard-coded connection, no app ever having asked.
    e.handle_tun_packet(t0, &tcp_syn("93.184.215.67:443"));
    assert!(is_reset(&e.poll_tun_packet().unwrap()));
    assert!(matches!(
        events(&mut e).as_slice(),
        [Event::Rejected { name, reason: RejectReason::LearnedAddress(rule), .. }] if name == "tracker.example" && rule.line == 1
    ));
    // No timer: the address is pinned past its TTL while the phone idles.
    assert_eq!(e.poll_timeout(), None);
    let hour = t0 + Duration::from_secs(3600);
    e.handle_tun_packet(hour, &tcp_syn("93.184.215.67:443"));
    assert!(is_reset(&e.poll_tun_packet().unwrap()), "still rejected");
    // That packet woke the engine, and the refresh rode along (the A
    // lookup, due after its TTL; the empty AAAA waits an hour from t0).
    let refreshed = answer_enforced(&mut e, hour, "5db8d744", 60);
    assert_eq!(refreshed, 2);
    assert_eq!(
        routes(&mut e),
        Some(vec![Route::host("93.184.215.68".parse().unwrap())]),
        "the old address went with the refresh"
    );
}

#[test]
fn a_large_enforced_list_is_bounded_in_names_and_lookups() {
    let mut e = engine();
    let t0 = Instant::now();
    let names: Vec<String> = (0..100_000).map(|i| format!("n{i}.huami.com")).collect();
    e.set_enforced_names(t0, &names);
    assert_eq!(
        e.enforced_names(),
        tacet_engine::enforce::MAX_ENFORCED_NAMES
    );
    let mut sent = answer_enforced(&mut e, t0, "5db8d743", 3600);
    assert_eq!(sent, tacet_engine::enforce::LOOKUP_BURST as usize);
    // The first pass continues at the rate, woken by its own timer.
    let mut now = t0;
    let minutes = 5;
    while now < t0 + Duration::from_secs(60 * minutes) {
        let t = e.poll_timeout().expect("the first pass is not done");
        assert_eq!(t.reason, TimerReason::EnforceLookups);
        assert!(t.at > now);
        now = t.at;
        e.handle_timeout(now);
        sent += answer_enforced(&mut e, now, "5db8d743", 3600);
    }
    let bound = tacet_engine::enforce::LOOKUP_BURST as u64
        + minutes * u64::from(tacet_engine::enforce::LOOKUPS_PER_MINUTE)
        + 1;
    assert!(sent as u64 <= bound, "{sent} lookups, bound {bound}");
    assert_eq!(e.stats().enforce_lookups, sent as u64);
}
