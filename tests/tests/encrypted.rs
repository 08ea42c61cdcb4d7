//! The firewall's encrypted upstreams against real servers: Debian's
//! unbound (DoT and DoH) and dnsdist (DoT and DoH frontends in front of
//! unbound), in the upstream namespace, with a throwaway CA.
//!
//! - Answers come back over DNS over TLS and over HTTPS, and a capture of
//!   the link shows nothing crossed it but the encrypted port: no plain
//!   DNS, ever.
//! - A certificate for another name, an expired one and one from an
//!   unknown CA each give the app SERVFAIL at once, and the notice says
//!   which ("certificate not valid for dns.test").
//! - 200 queries at once share one connection: one TCP handshake on the
//!   link, one connection in the firewall's counters.
//! - unbound killed (SIGKILL) and started again under a steady load: the
//!   firewall reconnects and loses at most the queries in flight.

// Test code: helpers outside #[test] fns fail the test loudly, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Output;
use std::time::{Duration, Instant};

use tacet_e2e::burst::{burst, Query, TYPE_A};
use tacet_e2e::encrypted::{
    anything_but, paced_load, Dnsdist, LinkCapture, Pki, ServerCert, Unbound, Validity,
    DNSDIST_DOH_PORT, DNSDIST_DOT_PORT, SERVER_NAME, UNBOUND_DOH_PORT, UNBOUND_DOT_PORT,
};
use tacet_e2e::lab::{UPSTREAM_V4, UPSTREAM_V6};
use tacet_e2e::{require_root, Dig, Firewall, FirewallOptions, Lab, Netns, Stats, RESOLVER_V4};

/// Which server a test talks to, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    /// unbound, DNS over TLS, IPv4.
    UnboundDot,
    /// unbound, DNS over HTTPS, IPv6.
    UnboundDoh6,
    /// dnsdist, DNS over TLS.
    DnsdistDot,
    /// dnsdist, DNS over HTTPS.
    DnsdistDoh,
}

impl Server {
    /// The `--upstream` for it.
    fn spec(self) -> String {
        match self {
            Self::UnboundDot => format!("tls://{UPSTREAM_V4}#{SERVER_NAME}"),
            Self::UnboundDoh6 => format!("https://[{UPSTREAM_V6}]/dns-query#{SERVER_NAME}"),
            Self::DnsdistDot => format!("tls://{UPSTREAM_V4}:{DNSDIST_DOT_PORT}#{SERVER_NAME}"),
            Self::DnsdistDoh => {
                format!("https://{UPSTREAM_V4}:{DNSDIST_DOH_PORT}/dns-query#{SERVER_NAME}")
            }
        }
    }

    /// The TCP port its queries go to.
    fn port(self) -> u16 {
        match self {
            Self::UnboundDot => UNBOUND_DOT_PORT,
            Self::UnboundDoh6 => UNBOUND_DOH_PORT,
            Self::DnsdistDot => DNSDIST_DOT_PORT,
            Self::DnsdistDoh => DNSDIST_DOH_PORT,
        }
    }

    fn is_dnsdist(self) -> bool {
        matches!(self, Self::DnsdistDot | Self::DnsdistDoh)
    }
}

/// A lab with the servers presenting one certificate, and the firewall in
/// front. Fields drop top to bottom: firewall, capture, servers, then the
/// certificates and namespaces.
struct Bed {
    firewall: Option<Firewall>,
    capture: Option<LinkCapture>,
    dnsdist: Option<Dnsdist>,
    unbound: Unbound,
    /// The CA tacet trusts (`--upstream-ca`).
    _pki: Pki,
    /// A CA nobody trusts, for the unknown-authority case.
    _stranger: Pki,
    lab: Lab,
}

/// Which certificate the servers present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cert {
    /// For `dns.test`, from the trusted CA, valid now.
    Good,
    /// For another name.
    OtherName,
    /// Expired.
    Expired,
    /// From a CA tacet was not given.
    UnknownCa,
}

impl Bed {
    /// The servers with `cert`, a capture of the link when `capture`, and
    /// the firewall using `server`.
    fn start(server: Server, cert: Cert, capture: bool) -> Self {
        let lab = Lab::new();
        let pki = Pki::new("trusted");
        let stranger = Pki::new("stranger");
        let cert: ServerCert = match cert {
            Cert::Good => pki.issue("server", SERVER_NAME, Validity::Current),
            Cert::OtherName => pki.issue("server", "other.test", Validity::Current),
            Cert::Expired => pki.issue("server", SERVER_NAME, Validity::Expired),
            Cert::UnknownCa => stranger.issue("server", SERVER_NAME, Validity::Current),
        };
        let unbound = Unbound::start(&lab, &cert);
        let dnsdist = server.is_dnsdist().then(|| Dnsdist::start(&lab, &cert));
        let capture = capture.then(|| LinkCapture::start(&lab.upstream, "up0"));
        let ca = pki.ca_file().display().to_string();
        let options = FirewallOptions::default()
            .upstreams(&[&server.spec()])
            .args(&["--upstream-ca", &ca]);
        let firewall = Firewall::start(&lab, &options);
        Self {
            firewall: Some(firewall),
            capture,
            dnsdist,
            unbound,
            _pki: pki,
            _stranger: stranger,
            lab,
        }
    }

    fn firewall(&self) -> &Firewall {
        self.firewall.as_ref().unwrap()
    }

    /// The servers' logs and the firewall's stderr, for failure messages.
    fn logs(&self) -> String {
        format!(
            "\n--- tacet stderr:\n{}\n--- unbound:\n{}\n--- dnsdist:\n{}",
            self.firewall
                .as_ref()
                .map_or(String::new(), Firewall::stderr),
            self.unbound.log(),
            self.dnsdist.as_ref().map_or(String::new(), Dnsdist::log),
        )
    }

    fn stop(&mut self) -> Stats {
        self.firewall.take().unwrap().stop()
    }
}

/// An integer among the `encrypted` counters of the final stats.
fn encrypted(stats: &Stats, key: &str) -> u64 {
    stats.raw["encrypted"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("no encrypted.{key} in the final stats: {}", stats.raw))
}

/// kdig straight to a server (no firewall): `+tls` or `+https`, checking
/// the certificate against `ca` for `dns.test`.
fn kdig_direct(ns: &Netns, server: Server, ca: &str, name: &str) -> Output {
    let (address, transport) = match server {
        Server::UnboundDot | Server::DnsdistDot => (UPSTREAM_V4, "+tls"),
        Server::UnboundDoh6 => (UPSTREAM_V6, "+https"),
        Server::DnsdistDoh => (UPSTREAM_V4, "+https"),
    };
    ns.command("kdig")
        .arg(format!("@{address}"))
        .args(["-p", &server.port().to_string(), transport])
        .arg(format!("+tls-ca={ca}"))
        .arg(format!("+tls-hostname={SERVER_NAME}"))
        .args(["+retry=0", "+time=3", name])
        .output()
        .unwrap()
}

#[test]
fn the_servers_answer_kdig_directly_and_refuse_bad_certificates_to_it_too() {
    // The harness alone, with another TLS stack (kdig: GnuTLS): when this
    // passes and a firewall test fails, the firewall is to blame; and the
    // bad certificates are bad for everyone, not only for rustls.
    if !require_root() {
        return;
    }
    let lab = Lab::new();
    let pki = Pki::new("trusted");
    let stranger = Pki::new("stranger");
    let good = pki.issue("good", SERVER_NAME, Validity::Current);
    let ca = pki.ca_file().display().to_string();
    {
        let unbound = Unbound::start(&lab, &good);
        let dnsdist = Dnsdist::start(&lab, &good);
        for server in [
            Server::UnboundDot,
            Server::UnboundDoh6,
            Server::DnsdistDot,
            Server::DnsdistDoh,
        ] {
            let out = kdig_direct(&lab.phone, server, &ca, "www.allowed.test");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains("status: NOERROR") && text.contains("192.0.2.11"),
                "{server:?}: {text}{}\n{}\n{}",
                String::from_utf8_lossy(&out.stderr),
                unbound.log(),
                dnsdist.log()
            );
        }
        // unbound never recurses: outside the test zone it refuses.
        let out = kdig_direct(&lab.phone, Server::UnboundDot, &ca, "example.com");
        assert!(String::from_utf8_lossy(&out.stdout).contains("status: REFUSED"));
    }
    for (stem, cert) in [
        ("other", pki.issue("other", "other.test", Validity::Current)),
        (
            "expired",
            pki.issue("expired", SERVER_NAME, Validity::Expired),
        ),
        (
            "stranger",
            stranger.issue("s", SERVER_NAME, Validity::Current),
        ),
    ] {
        let _unbound = Unbound::start(&lab, &cert);
        let out = kdig_direct(&lab.phone, Server::UnboundDot, &ca, "www.allowed.test");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !text.contains("192.0.2.11"),
            "{stem}: kdig accepted the certificate: {text}"
        );
    }
}

/// Queries of every kind through the firewall to `server`, answered as
/// the zone says; the link carried nothing but the encrypted port.
fn only_the_encrypted_port_crosses_the_link(server: Server) {
    let mut bed = Bed::start(server, Cert::Good, true);
    let phone = &bed.lab.phone;
    let logs = || bed.logs();
    let a = Dig::new(RESOLVER_V4, "www.allowed.test").expect_in(phone);
    assert_eq!(a.status, "NOERROR", "{}{}", a.raw, logs());
    assert_eq!(a.data_of("A"), ["192.0.2.11"], "{}{}", a.raw, logs());
    let aaaa = Dig::new(RESOLVER_V4, "www.allowed.test")
        .qtype("AAAA")
        .kdig()
        .expect_in(phone);
    assert_eq!(aaaa.data_of("AAAA"), ["2001:db8::11"], "{}", aaaa.raw);
    let txt = Dig::new(RESOLVER_V4, "txt.allowed.test")
        .qtype("TXT")
        .expect_in(phone);
    assert_eq!(
        txt.data_of("TXT"),
        ["\"v=tacet test record\""],
        "{}",
        txt.raw
    );
    let nx = Dig::new(RESOLVER_V4, "missing.allowed.test").expect_in(phone);
    assert_eq!(nx.status, "NXDOMAIN", "{}", nx.raw);
    // Over TCP from the app too; still one encrypted connection upstream.
    let tcp = Dig::new(RESOLVER_V4, "v4only.allowed.test")
        .tcp()
        .expect_in(phone);
    assert_eq!(tcp.data_of("A"), ["192.0.2.12"], "{}", tcp.raw);
    // A blocked name is answered by the firewall and never asked upstream
    // (unbound has its real address).
    let blocked = Dig::new(RESOLVER_V4, "tracker.blocked.test").expect_in(phone);
    assert_eq!(blocked.data_of("A"), ["0.0.0.0"], "{}", blocked.raw);

    // A working encrypted upstream is nothing to warn about.
    let stderr = bed.firewall().stderr();
    assert!(
        !stderr.contains(" ERROR]") && !stderr.contains(" WARN ]"),
        "warnings while everything worked:{}",
        bed.logs()
    );
    let stats = bed.stop();
    assert_eq!(stats.forwarded, 5, "{}", stats.raw);
    assert_eq!(stats.upstream_failures, 0, "{}{}", stats.raw, bed.logs());
    assert_eq!(encrypted(&stats, "connections"), 1, "{}", stats.raw);
    assert_eq!(encrypted(&stats, "connect_failures"), 0, "{}", stats.raw);

    let capture = bed.capture.as_mut().unwrap();
    let port = server.port();
    let plain = capture.packets("port 53");
    assert!(plain.is_empty(), "plain DNS crossed the link: {plain:#?}");
    let other = capture.packets(&anything_but(port));
    assert!(
        other.is_empty(),
        "something besides TCP port {port} crossed the link: {other:#?}"
    );
    let encrypted_packets = capture.packets(&format!("tcp port {port}"));
    assert!(
        encrypted_packets.len() >= 10,
        "the capture saw no encrypted exchange (so it proves nothing): {encrypted_packets:#?}"
    );
    assert_eq!(capture.connections_to(port), 1, "{encrypted_packets:#?}");
}

#[test]
fn dot_to_unbound_answers_and_nothing_but_port_853_crosses_the_link() {
    if !require_root() {
        return;
    }
    only_the_encrypted_port_crosses_the_link(Server::UnboundDot);
}

#[test]
fn doh_to_dnsdist_answers_and_nothing_but_its_https_port_crosses_the_link() {
    if !require_root() {
        return;
    }
    only_the_encrypted_port_crosses_the_link(Server::DnsdistDoh);
}

#[test]
fn doh_to_unbound_over_ipv6_answers_and_nothing_but_port_443_crosses_the_link() {
    if !require_root() {
        return;
    }
    only_the_encrypted_port_crosses_the_link(Server::UnboundDoh6);
}

/// With the servers presenting `cert`, queries through the firewall get
/// SERVFAIL at once, and the notice says `reason`.
fn a_bad_certificate_gives_servfail_and_says_why(server: Server, cert: Cert, reason: &str) {
    let mut bed = Bed::start(server, cert, false);
    for name in ["www.allowed.test", "v4only.allowed.test"] {
        let reply = Dig::new(RESOLVER_V4, name).expect_in(&bed.lab.phone);
        assert_eq!(
            reply.status,
            "SERVFAIL",
            "{cert:?}: {}{}",
            reply.raw,
            bed.logs()
        );
        assert!(
            reply.answers.is_empty(),
            "{cert:?}: an answer came through: {}",
            reply.raw
        );
        assert!(
            reply.elapsed < Duration::from_millis(1500),
            "{cert:?}: SERVFAIL after {:?}, not at once",
            reply.elapsed
        );
    }
    let notice = format!("tacet: encrypted DNS unavailable: {reason}");
    let stderr = bed.firewall().stderr();
    assert_eq!(
        stderr.matches(&notice).count(),
        1,
        "{cert:?}: the notice `{notice}`, once (the second query met the back-off):{}",
        bed.logs()
    );
    let stats = bed.stop();
    assert_eq!(stats.upstream_failures, 2, "{}", stats.raw);
    assert_eq!(encrypted(&stats, "connect_failures"), 1, "{}", stats.raw);
}

#[test]
fn a_certificate_for_another_name_gives_servfail_and_says_so() {
    if !require_root() {
        return;
    }
    a_bad_certificate_gives_servfail_and_says_why(
        Server::UnboundDot,
        Cert::OtherName,
        "certificate not valid for dns.test",
    );
}

#[test]
fn an_expired_certificate_gives_servfail_and_says_so() {
    if !require_root() {
        return;
    }
    a_bad_certificate_gives_servfail_and_says_why(
        Server::DnsdistDoh,
        Cert::Expired,
        "certificate of dns.test expired",
    );
}

#[test]
fn a_certificate_from_an_unknown_ca_gives_servfail_and_says_so() {
    if !require_root() {
        return;
    }
    a_bad_certificate_gives_servfail_and_says_why(
        Server::DnsdistDot,
        Cert::UnknownCa,
        "certificate of dns.test from an unknown authority",
    );
}

/// 200 queries sent at once all come back right, over one connection.
fn many_queries_share_one_connection(server: Server) {
    let mut bed = Bed::start(server, Cert::Good, true);
    let queries: Vec<Query> = (0..200u16)
        .map(|i| Query {
            id: i,
            name: format!("n{i}.wild.allowed.test"),
            qtype: TYPE_A,
        })
        .collect();
    let resolver = SocketAddr::new(RESOLVER_V4.parse().unwrap(), 53);
    let out = burst(&bed.lab.phone, resolver, &queries, Duration::from_secs(5));
    assert_eq!(
        out.replies.len(),
        200,
        "garbled {}{}",
        out.garbled,
        bed.logs()
    );
    for q in &queries {
        let reply = &out.replies[&q.id];
        assert_eq!(reply.rcode, 0, "{reply:?}{}", bed.logs());
        assert_eq!(reply.qname, q.name);
        assert_eq!(reply.addrs, [IpAddr::from([192, 0, 2, 10])], "{reply:?}");
    }
    let stats = bed.stop();
    assert_eq!(stats.forwarded, 200, "{}", stats.raw);
    assert_eq!(encrypted(&stats, "connections"), 1, "{}", stats.raw);
    let capture = bed.capture.as_mut().unwrap();
    let port = server.port();
    assert_eq!(
        capture.connections_to(port),
        1,
        "TCP handshakes to port {port}: {:#?}",
        capture.packets(&format!("tcp port {port} and tcp[tcpflags] & tcp-syn != 0"))
    );
    assert!(capture.packets("port 53").is_empty());
}

#[test]
fn two_hundred_queries_at_once_share_one_dot_connection_to_unbound() {
    if !require_root() {
        return;
    }
    many_queries_share_one_connection(Server::UnboundDot);
}

#[test]
fn two_hundred_queries_at_once_share_one_doh_connection_to_dnsdist() {
    if !require_root() {
        return;
    }
    many_queries_share_one_connection(Server::DnsdistDoh);
}

/// unbound, reached through `server`, killed and started again under a
/// steady load: every query answered but at most those in flight.
fn restarted_under_load(server: Server) {
    let mut bed = Bed::start(server, Cert::Good, false);
    let resolver = SocketAddr::new(RESOLVER_V4.parse().unwrap(), 53);
    // 600 queries, one every 3 ms (about 1.8 s); unbound dies at 0.6 s and
    // is started again at once.
    let interval = Duration::from_millis(3);
    let started = Instant::now();
    let (samples, killed_at, back_at) = std::thread::scope(|scope| {
        let phone = &bed.lab.phone;
        let load = scope.spawn(move || {
            paced_load(
                phone,
                resolver,
                600,
                interval,
                Duration::from_secs(4),
                |i| format!("r{i}.wild.allowed.test"),
            )
        });
        std::thread::sleep(Duration::from_millis(600));
        bed.unbound.kill();
        let killed_at = Instant::now();
        bed.unbound.restart(&bed.lab);
        let back_at = Instant::now();
        (load.join().unwrap(), killed_at, back_at)
    });
    let unsent: Vec<_> = samples.iter().filter(|s| s.send_error.is_some()).collect();
    assert!(
        unsent.is_empty(),
        "{} queries could not be sent (no route: the firewall's TUN went with it?), the \
         first: {:?}{}",
        unsent.len(),
        unsent.first(),
        bed.logs()
    );
    let answer = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
    let in_flight = samples.iter().filter(|s| s.in_flight_at(killed_at)).count();
    let lost: Vec<_> = samples
        .iter()
        .filter(|s| !s.answered_with(answer))
        .collect();
    let silent = lost.iter().filter(|s| s.reply.is_none()).count();
    let after_kill = samples.iter().filter(|s| s.sent > killed_at).count();
    // Each lost query: ms sent before (-) or after the kill, its rcode,
    // and ms until the reply.
    let lost_when: Vec<(i128, Option<(u8, u128)>)> = lost
        .iter()
        .map(|s| {
            let ms = if s.sent >= killed_at {
                (s.sent - killed_at).as_millis() as i128
            } else {
                -((killed_at - s.sent).as_millis() as i128)
            };
            let reply = s.reply.as_ref();
            (ms, reply.map(|r| (r.1, (r.0 - s.sent).as_millis())))
        })
        .collect();
    eprintln!(
        "{server:?} restart: killed at {:?}, listening again {:?} later; {} queries, {in_flight} in flight \
         at the kill, {after_kill} sent after it, {} lost ({silent} without any reply): \
         {lost_when:?}",
        killed_at - started,
        back_at - killed_at,
        samples.len(),
        lost.len()
    );
    let answered_before = samples
        .iter()
        .filter(|s| s.reply.as_ref().is_some_and(|r| r.0 < killed_at))
        .count();
    assert!(
        answered_before > 100 && samples.iter().filter(|s| s.sent > back_at).count() > 100,
        "the load did not run on both sides of the restart ({answered_before} answered before \
         it): the test proves nothing"
    );
    assert_eq!(
        silent,
        0,
        "every query gets a reply (SERVFAIL at worst), within the deadline{}",
        bed.logs()
    );
    assert!(
        lost.len() <= in_flight,
        "{} queries lost ({lost_when:?}), {in_flight} were in flight when unbound died{}",
        lost.len(),
        bed.logs()
    );
    let stats = bed.stop();
    assert!(
        encrypted(&stats, "connections") >= 2,
        "a new connection after the restart: {}",
        stats.raw
    );
}

#[test]
fn unbound_killed_and_restarted_under_dot_load_loses_at_most_the_queries_in_flight() {
    if !require_root() {
        return;
    }
    restarted_under_load(Server::UnboundDot);
}

#[test]
fn unbound_killed_and_restarted_under_doh_load_loses_at_most_the_queries_in_flight() {
    if !require_root() {
        return;
    }
    restarted_under_load(Server::UnboundDoh6);
}
