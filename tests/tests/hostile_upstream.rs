//! What apps see when the upstream resolver is hostile: one test per
//! misbehaviour of `tacet_e2e::hostile`.
//!
//! The contract: an upstream answer reaches the app only if it is well
//! formed (QR set, header counts matching the records, every record whole,
//! its rdlength inside the packet and right for A and AAAA, names without
//! compression loops or forward or out-of-range pointers). Anything else is
//! answered SERVFAIL at once, counted in `answers_refused`, and journaled
//! as `failed` / `bad_answer`. Records of types the firewall does not know
//! are relayed untouched. A blocked name's answer never makes the firewall
//! cut off private, special or its own addresses, and teaches it at most 8
//! addresses, the rest counted in `learned_refused`. Lies (wrong ID, wrong
//! question) and silence are dropped and end in SERVFAIL at the deadline.

// Test code: helpers outside #[test] fns fail the test loudly, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use tacet_e2e::exchange::{self, Exchange};
use tacet_e2e::firewall::TUN_NAME;
use tacet_e2e::hostile::{
    self, HostileUpstream, Misbehaviour, ParsedQuery, CLOAKED_TRACKER_A, CLOAKED_TRACKER_AAAA,
    LIE_A, MANY, PUBLIC_AMONG_SPECIAL_A, PUBLIC_AMONG_SPECIAL_AAAA, SPECIAL_V4, SPECIAL_V6, TYPE_A,
    TYPE_AAAA, TYPE_PRIVATE, TYPE_SSHFP, TYPE_TXT,
};
use tacet_e2e::lab::{UPSTREAM_V4, UPSTREAM_V6};
use tacet_e2e::{
    require_root, tacet_bin, Dig, Firewall, FirewallOptions, Lab, Netns, ScratchDir, Stats,
    RESOLVER_V4,
};

/// A malformed answer must be turned into SERVFAIL at once: the upstream
/// answered within a millisecond, so anything near the 3 s upstream
/// deadline means the firewall waited instead of deciding.
const FAST: Duration = Duration::from_millis(1000);
/// The firewall's default upstream deadline.
const DEADLINE: Duration = Duration::from_millis(3000);
/// Slack for the kernel, the namespaces and a loaded machine.
const SLACK: Duration = Duration::from_millis(1500);

/// A lab whose upstream is the hostile server, and the firewall in front.
/// Fields drop top to bottom: firewall, server, then the namespaces.
struct HostileBed {
    firewall: Option<Firewall>,
    upstream: HostileUpstream,
    store: ScratchDir,
    lab: Lab,
}

impl HostileBed {
    fn start(mode: Misbehaviour) -> Self {
        let lab = Lab::new();
        let upstream = HostileUpstream::start(&lab, mode);
        let store = ScratchDir::new("hstore");
        let firewall = Firewall::start(&lab, &FirewallOptions::default().store(store.path()));
        Self {
            firewall: Some(firewall),
            upstream,
            store,
            lab,
        }
    }

    /// One raw UDP query from the phone to the firewall's resolver.
    fn ask(&self, name: &str, qtype: u16, timeout: Duration) -> Option<Exchange> {
        let resolver = SocketAddr::new(RESOLVER_V4.parse().unwrap(), 53);
        exchange::udp(
            &self.lab.phone,
            resolver,
            &exchange::query(0x7ac3, name, qtype),
            timeout,
        )
    }

    fn stop(&mut self) -> Stats {
        self.firewall.take().unwrap().stop()
    }
}

/// The integer stats key `key`, which the contract adds: a clear failure
/// when the binary does not have it yet.
fn counter(stats: &Stats, key: &str) -> u64 {
    stats
        .raw
        .get(key)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or_else(|| {
            panic!(
                "the final stats lack the integer key {key:?} (what the firewall refused must be \
             counted there): {}",
                stats.raw
            )
        })
}

/// Asks `name`/`qtype` through a firewall whose upstream misbehaves in
/// `mode`, and checks the app got SERVFAIL at once and never the lie.
fn assert_refused_at_once(bed: &HostileBed, name: &str, qtype: u16) {
    let before = bed.upstream.seen().len();
    let reply = bed.ask(name, qtype, DEADLINE + SLACK).unwrap_or_else(|| {
        panic!(
            "{name}/{qtype}: no reply at all within {:?}",
            DEADLINE + SLACK
        )
    });
    assert!(
        bed.upstream.seen().len() > before,
        "the hostile upstream never saw {name}: the test proves nothing"
    );
    assert!(
        reply.is_servfail(),
        "{:?}: the app must get SERVFAIL (rcode 2) for a malformed upstream answer, got {}",
        bed.upstream.mode(),
        reply.describe()
    );
    assert!(
        reply.elapsed < FAST,
        "{:?}: SERVFAIL after {:?}, not at once (the upstream answered at once)",
        bed.upstream.mode(),
        reply.elapsed
    );
    assert!(
        !reply.carries(IpAddr::V4(LIE_A)),
        "the malformed answer's address reached the app: {}",
        reply.describe()
    );
}

/// Runs one malformed-answer mode end to end: SERVFAIL at once for each
/// of `questions`, each counted in `answers_refused`.
fn malformed_mode(mode: Misbehaviour, questions: &[(&str, u16)]) {
    let mut bed = HostileBed::start(mode);
    for &(name, qtype) in questions {
        assert_refused_at_once(&bed, name, qtype);
    }
    let stats = bed.stop();
    let refused = counter(&stats, "answers_refused");
    assert_eq!(
        refused,
        questions.len() as u64,
        "{mode:?}: every malformed answer counted once in answers_refused: {}",
        stats.raw
    );
}

#[test]
fn an_echoed_query_with_qr_0_gets_servfail_at_once() {
    if !require_root() {
        return;
    }
    malformed_mode(Misbehaviour::EchoQuery, &[("echo.allowed.test", TYPE_A)]);
}

#[test]
fn an_answer_cut_inside_a_record_gets_servfail_at_once() {
    if !require_root() {
        return;
    }
    malformed_mode(Misbehaviour::Truncated, &[("cut.allowed.test", TYPE_A)]);
}

#[test]
fn an_rdlength_past_the_end_of_the_packet_gets_servfail_at_once() {
    if !require_root() {
        return;
    }
    malformed_mode(
        Misbehaviour::RdlengthPastEnd,
        &[("long.allowed.test", TYPE_TXT)],
    );
}

#[test]
fn a_and_aaaa_records_of_the_wrong_size_get_servfail_at_once() {
    if !require_root() {
        return;
    }
    malformed_mode(
        Misbehaviour::BadRdlength,
        &[
            ("five.allowed.test", TYPE_A),
            ("four.allowed.test", TYPE_AAAA),
        ],
    );
}

#[test]
fn a_header_announcing_more_records_than_follow_gets_servfail_at_once() {
    if !require_root() {
        return;
    }
    malformed_mode(
        Misbehaviour::CountsTooHigh,
        &[("more.allowed.test", TYPE_A)],
    );
}

#[test]
fn a_header_announcing_fewer_records_than_follow_gets_servfail_at_once() {
    if !require_root() {
        return;
    }
    malformed_mode(
        Misbehaviour::CountsTooLow,
        &[("fewer.allowed.test", TYPE_A)],
    );
}

#[test]
fn a_name_pointing_at_itself_gets_servfail_at_once() {
    if !require_root() {
        return;
    }
    malformed_mode(Misbehaviour::PointerLoop, &[("loop.allowed.test", TYPE_A)]);
}

#[test]
fn a_name_looping_through_a_label_gets_servfail_at_once() {
    if !require_root() {
        return;
    }
    malformed_mode(Misbehaviour::LabelLoop, &[("labels.allowed.test", TYPE_A)]);
}

#[test]
fn a_forward_compression_pointer_gets_servfail_at_once() {
    if !require_root() {
        return;
    }
    malformed_mode(
        Misbehaviour::ForwardPointer,
        &[("ahead.allowed.test", TYPE_A)],
    );
}

#[test]
fn a_compression_pointer_past_the_packet_gets_servfail_at_once() {
    if !require_root() {
        return;
    }
    malformed_mode(
        Misbehaviour::PointerOutOfRange,
        &[("away.allowed.test", TYPE_A)],
    );
}

#[test]
fn a_malformed_answer_fetched_over_tcp_gets_servfail_over_tcp() {
    if !require_root() {
        return;
    }
    // The app asks over TCP; the upstream says "truncated" over UDP, so the
    // firewall asks it again over TCP, and that answer is malformed.
    let mut bed = HostileBed::start(Misbehaviour::MalformedOverTcp);
    let resolver = SocketAddr::new(RESOLVER_V4.parse().unwrap(), 53);
    let reply = exchange::tcp(
        &bed.lab.phone,
        resolver,
        &exchange::query(0x51c0, "big.allowed.test", TYPE_A),
        DEADLINE + SLACK,
    )
    .unwrap_or_else(|e| panic!("no TCP reply: {e}"));
    assert!(
        bed.upstream.seen().iter().any(|s| s.tcp),
        "the firewall never asked the upstream over TCP: {:?}",
        bed.upstream.seen()
    );
    assert!(reply.is_servfail(), "got {}", reply.describe());
    assert!(reply.elapsed < FAST, "SERVFAIL after {:?}", reply.elapsed);
    let stats = bed.stop();
    assert_eq!(counter(&stats, "answers_refused"), 1, "{}", stats.raw);
}

#[test]
fn a_refused_answer_is_journaled_as_failed_with_reason_bad_answer() {
    if !require_root() {
        return;
    }
    // Kept apart from the SERVFAIL tests: the journal's vocabulary
    // (`failed`, `bad_answer`) is a contract of its own.
    let mut bed = HostileBed::start(Misbehaviour::Truncated);
    let _ = bed.ask("journaled.allowed.test", TYPE_A, DEADLINE + SLACK);
    assert!(
        !bed.upstream.seen().is_empty(),
        "the upstream was never asked"
    );
    bed.stop();
    let out = Command::new(tacet_bin())
        .args(["export", "--format", "json", "--store"])
        .arg(bed.store.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tacet export failed: {}{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("export is not JSON ({e}): {text}"));
    let found = rows.as_array().is_some_and(|rows| {
        rows.iter().any(|r| {
            r["name"] == "journaled.allowed.test"
                && r["action"] == "failed"
                && r["reason"] == "bad_answer"
        })
    });
    assert!(
        found,
        "no journal entry {{name: journaled.allowed.test, action: failed, reason: bad_answer}}: \
         {text}"
    );
}

/// `getent ahosts NAME` in `ns`: its output, whatever the exit code.
fn getent_ahosts(ns: &Netns, name: &str) -> String {
    let out = ns
        .command("getent")
        .args(["ahosts", name])
        .output()
        .unwrap();
    format!(
        "exit {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_cname_to_a_blocked_name_with_a_malformed_additional_record_is_never_relayed() {
    if !require_root() {
        return;
    }
    let mut bed = HostileBed::start(Misbehaviour::CnameToBlockedWithMalformedAdditional);
    let phone = &bed.lab.phone;
    let tracker = [
        CLOAKED_TRACKER_A.to_string(),
        CLOAKED_TRACKER_AAAA.to_string(),
    ];

    // Without the firewall, glibc reads only the answer section and takes
    // the tracker's address: the malformed record does not stop it.
    phone.write_resolv_conf(&[UPSTREAM_V4]);
    let direct = getent_ahosts(phone, "cdn.allowed.test");
    assert!(
        tracker.iter().any(|t| direct.contains(t.as_str())),
        "the test needs glibc to accept this answer when asked directly: {direct}"
    );

    // Through the firewall: never the tracker's address.
    phone.write_resolv_conf(&[RESOLVER_V4]);
    let via_firewall = getent_ahosts(phone, "cdn.allowed.test");
    for t in &tracker {
        assert!(
            !via_firewall.contains(t.as_str()),
            "getent got the tracker's address {t} through the firewall: {via_firewall}"
        );
    }
    for qtype in [TYPE_A, TYPE_AAAA] {
        let reply = bed
            .ask("cdn.allowed.test", qtype, DEADLINE + SLACK)
            .expect("no reply");
        assert!(
            reply.is_servfail(),
            "an answer that cannot be inspected must not be relayed: {}",
            reply.describe()
        );
        assert!(reply.elapsed < FAST, "SERVFAIL after {:?}", reply.elapsed);
        assert!(
            !reply.carries(IpAddr::V4(CLOAKED_TRACKER_A)),
            "{}",
            reply.describe()
        );
        assert!(
            !reply.carries(IpAddr::V6(CLOAKED_TRACKER_AAAA)),
            "{}",
            reply.describe()
        );
    }
    let stats = bed.stop();
    assert!(counter(&stats, "answers_refused") >= 2, "{}", stats.raw);
}

#[test]
fn records_of_unknown_types_are_relayed_untouched() {
    if !require_root() {
        return;
    }
    let mut bed = HostileBed::start(Misbehaviour::UnknownTypes);
    // dig reads the SSHFP answer the way any SSH client's resolver would.
    let sshfp = Dig::new(RESOLVER_V4, "host.allowed.test")
        .qtype("SSHFP")
        .expect_in(&bed.lab.phone);
    assert_eq!(sshfp.status, "NOERROR", "{}", sshfp.raw);
    assert_eq!(
        sshfp
            .data_of("SSHFP")
            .iter()
            .map(|d| d.to_ascii_lowercase().replace(' ', ""))
            .collect::<Vec<_>>(),
        ["11123456789abcdef0123456789abcdef012345678"],
        "{}",
        sshfp.raw
    );
    // Byte for byte, every section: SSHFP, TYPE65280 in the answer,
    // authority and additional sections, and next to an A or AAAA record.
    for (name, qtype) in [
        ("host.allowed.test", TYPE_SSHFP),
        ("private.allowed.test", TYPE_PRIVATE),
        ("mixed.allowed.test", TYPE_A),
        ("mixed.allowed.test", TYPE_AAAA),
    ] {
        let query = exchange::query(0x0d0d, name, qtype);
        let expected = hostile::answer(
            Misbehaviour::UnknownTypes,
            &ParsedQuery::parse(&query).unwrap(),
            false,
        )
        .remove(0);
        let reply = exchange::udp(
            &bed.lab.phone,
            SocketAddr::new(RESOLVER_V4.parse().unwrap(), 53),
            &query,
            DEADLINE + SLACK,
        )
        .unwrap_or_else(|| panic!("{name}/{qtype}: no reply"));
        assert_eq!(
            exchange::hex(&reply.reply),
            exchange::hex(&expected),
            "{name}/{qtype}: the answer was not relayed untouched"
        );
    }
    let stats = bed.stop();
    assert_eq!(stats.upstream_failures, 0, "{}", stats.raw);
    if let Some(refused) = stats.raw.get("answers_refused") {
        assert_eq!(
            refused, 0,
            "well-formed answers were refused: {}",
            stats.raw
        );
    }
}

/// The first column of `ip [-6] route show dev tacet0` in the phone: the
/// destinations routed into the tunnel.
fn tunnel_routes(phone: &Netns) -> Vec<String> {
    let mut routes = Vec::new();
    for family in ["-4", "-6"] {
        let out = phone
            .command("ip")
            .args([family, "route", "show", "dev", TUN_NAME])
            .output()
            .unwrap();
        routes.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .map(str::to_owned),
        );
    }
    routes
}

/// Whether `routes` has a host route for `addr` (`A`, `A/32`, `A/128`).
fn routes_host(routes: &[String], addr: IpAddr) -> bool {
    let bare = addr.to_string();
    let host = format!("{bare}/{}", if addr.is_ipv4() { 32 } else { 128 });
    routes.iter().any(|r| *r == bare || *r == host)
}

/// Waits until `addr` is routed into the tunnel, or panics.
fn wait_routed(phone: &Netns, addr: IpAddr) {
    let start = Instant::now();
    loop {
        let routes = tunnel_routes(phone);
        if routes_host(&routes, addr) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(6),
            "{addr} was never routed into the tunnel: the answer was not learned at all, so the \
             test proves nothing: {routes:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Past the firewall's route debounce (about a second): whatever it was
/// going to route from an answer, it has.
const ROUTES_SETTLE: Duration = Duration::from_millis(2000);

/// A TCP server in the upstream namespace at `addr`, accepting forever.
fn listen(lab: &Lab, addr: SocketAddr) {
    let listener = lab.upstream.enter(|| TcpListener::bind(addr).unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
}

#[test]
fn a_blocked_name_answered_with_lan_and_special_addresses_cuts_nothing_off() {
    if !require_root() {
        return;
    }
    let lab = Lab::new();
    // The phone's LAN: a router at 192.168.1.1 and a printer at 10.0.0.1,
    // on the same link as the phone, and the upstream itself.
    for (phone_side, host) in [
        ("192.168.1.2/24", "192.168.1.1/24"),
        ("10.0.0.2/24", "10.0.0.1/24"),
    ] {
        lab.phone.ip(&["addr", "add", phone_side, "dev", "ph0"]);
        lab.upstream.ip(&["addr", "add", host, "dev", "up0"]);
    }
    let lan: Vec<SocketAddr> = ["192.168.1.1:8080", "10.0.0.1:8080", "10.200.0.2:8080"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    for &addr in &lan {
        listen(&lab, addr);
    }
    let upstream = HostileUpstream::start(&lab, Misbehaviour::SpecialAddresses);
    let firewall = Firewall::start(&lab, &FirewallOptions::default());

    // The app gets the block answer; the firewall asks the hostile upstream
    // in the background to learn what to reject.
    for qtype in ["A", "AAAA"] {
        let reply = Dig::new(RESOLVER_V4, "tracker.blocked.test")
            .qtype(qtype)
            .expect_in(&lab.phone);
        assert_eq!(reply.status, "NOERROR", "{}", reply.raw);
    }
    // The one public address of the answer is learned: the answer was read.
    wait_routed(&lab.phone, IpAddr::V4(PUBLIC_AMONG_SPECIAL_A));
    wait_routed(&lab.phone, IpAddr::V6(PUBLIC_AMONG_SPECIAL_AAAA));
    std::thread::sleep(ROUTES_SETTLE);

    // The shell routes the virtual resolvers into the tunnel itself; that
    // the answer named them too must change nothing (checked below, in
    // learned_addresses).
    let shells_own: [IpAddr; 2] = [
        RESOLVER_V4.parse().unwrap(),
        tacet_e2e::RESOLVER_V6.parse().unwrap(),
    ];
    let routes = tunnel_routes(&lab.phone);
    let special: Vec<IpAddr> = SPECIAL_V4
        .iter()
        .map(|&a| IpAddr::V4(a))
        .chain(SPECIAL_V6.iter().map(|&a| IpAddr::V6(a)))
        .chain([UPSTREAM_V4.parse().unwrap(), UPSTREAM_V6.parse().unwrap()])
        .collect();
    let cut_off: Vec<&IpAddr> = special
        .iter()
        .filter(|a| !shells_own.contains(a))
        .filter(|&&a| routes_host(&routes, a))
        .collect();
    assert!(
        cut_off.is_empty(),
        "a blocked name's answer had these routed into the tunnel: {cut_off:?}; routes {routes:?}"
    );
    for &addr in &lan {
        let connected = lab
            .phone
            .enter(|| TcpStream::connect_timeout(&addr, Duration::from_secs(2)));
        assert!(
            connected.is_ok(),
            "the LAN host {addr} was cut off by a blocked name's answer: {connected:?}"
        );
    }
    let stats = firewall.stop();
    drop(upstream);
    assert_eq!(
        stats.raw["learned_addresses"], 2,
        "only the two public addresses were learned: {}",
        stats.raw
    );
    let refused = counter(&stats, "learned_refused");
    assert!(
        refused >= special.len() as u64,
        "learned_refused counts each of the {} special addresses not learned: {}",
        special.len(),
        stats.raw
    );
}

#[test]
fn a_blocked_name_teaches_a_bounded_number_of_addresses() {
    if !require_root() {
        return;
    }
    let mut bed = HostileBed::start(Misbehaviour::ManyAddresses);
    let reply = Dig::new(RESOLVER_V4, "tracker.blocked.test").expect_in(&bed.lab.phone);
    assert_eq!(reply.data_of("A"), ["0.0.0.0"], "{}", reply.raw);
    // Wait for the first learned address, then for the debounce.
    let start = Instant::now();
    let many: HashSet<IpAddr> = (1..=MANY).map(|i| IpAddr::V4(hostile::many_a(i))).collect();
    let learned = |routes: &[String]| many.iter().filter(|&&a| routes_host(routes, a)).count();
    while learned(&tunnel_routes(&bed.lab.phone)) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(6),
            "none of the {MANY} addresses was learned: the test proves nothing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(ROUTES_SETTLE);
    let routed = learned(&tunnel_routes(&bed.lab.phone));
    let stats = bed.stop();
    println!(
        "{MANY} addresses answered: {routed} routed into the tunnel; {}",
        stats.raw
    );
    // The engine's per-name bound (LearnedLimits::max_per_name).
    let cap = 16;
    assert!(
        routed <= cap,
        "{routed} of one answer's {MANY} addresses were routed into the tunnel (at most {cap})"
    );
    assert!(
        stats.raw["learned_addresses"].as_u64().unwrap_or(u64::MAX) <= cap as u64,
        "{}",
        stats.raw
    );
    assert!(
        counter(&stats, "learned_refused") >= u64::from(MANY) - cap as u64,
        "the addresses beyond the cap are counted in learned_refused: {}",
        stats.raw
    );
}

/// Asks through a firewall whose upstream never sends an acceptable answer,
/// and checks for SERVFAIL at the deadline, without the lie.
fn servfail_at_the_deadline(mode: Misbehaviour) {
    let mut bed = HostileBed::start(mode);
    let reply = bed
        .ask("slow.allowed.test", TYPE_A, DEADLINE + SLACK + SLACK)
        .unwrap_or_else(|| panic!("{mode:?}: no SERVFAIL within {:?}", DEADLINE + SLACK));
    assert!(
        !bed.upstream.seen().is_empty(),
        "the upstream was never asked"
    );
    assert!(reply.is_servfail(), "{mode:?}: got {}", reply.describe());
    assert!(
        !reply.carries(IpAddr::V4(LIE_A)),
        "{mode:?}: the lie reached the app: {}",
        reply.describe()
    );
    // Dropped, so only the deadline ends the wait: not earlier (the lie
    // was not taken for an answer), and not much later.
    assert!(
        reply.elapsed >= DEADLINE - Duration::from_millis(500),
        "{mode:?}: SERVFAIL after {:?}, before the {DEADLINE:?} deadline",
        reply.elapsed
    );
    assert!(
        reply.elapsed < DEADLINE + SLACK,
        "{mode:?}: SERVFAIL after {:?}, deadline {DEADLINE:?}",
        reply.elapsed
    );
    let stats = bed.stop();
    assert_eq!(stats.upstream_failures, 1, "{}", stats.raw);
}

#[test]
fn a_stalled_upstream_gets_servfail_at_the_deadline() {
    if !require_root() {
        return;
    }
    servfail_at_the_deadline(Misbehaviour::Stall);
}

#[test]
fn an_answer_with_the_wrong_id_is_dropped() {
    if !require_root() {
        return;
    }
    servfail_at_the_deadline(Misbehaviour::WrongId);
}

#[test]
fn an_answer_to_another_question_is_dropped() {
    if !require_root() {
        return;
    }
    servfail_at_the_deadline(Misbehaviour::WrongQuestion);
}

#[test]
fn the_hostile_upstream_sends_what_it_says() {
    if !require_root() {
        return;
    }
    // The harness alone: asked directly, dig reads the well-formed SSHFP
    // answer, and kdig refuses the pointer loop; so the firewall tests
    // above test the firewall.
    let lab = Lab::new();
    {
        let _upstream = HostileUpstream::start(&lab, Misbehaviour::UnknownTypes);
        let sshfp = Dig::new(UPSTREAM_V4, "host.allowed.test")
            .qtype("SSHFP")
            .expect_in(&lab.phone);
        assert_eq!(sshfp.data_of("SSHFP").len(), 1, "{}", sshfp.raw);
        let kdig = Dig::new(UPSTREAM_V6, "host.allowed.test")
            .qtype("SSHFP")
            .kdig()
            .expect_in(&lab.phone);
        assert_eq!(kdig.data_of("SSHFP").len(), 1, "{}", kdig.raw);
    }
    let _upstream = HostileUpstream::start(&lab, Misbehaviour::PointerLoop);
    let looped = Dig::new(UPSTREAM_V4, "loop.allowed.test")
        .kdig()
        .timeout_secs(2)
        .run_in(&lab.phone);
    assert!(
        looped.as_ref().map_or(true, |r| r.answers.is_empty()),
        "kdig read an answer out of a pointer loop: {looped:?}"
    );
}
