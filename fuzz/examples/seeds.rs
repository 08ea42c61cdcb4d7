//! Writes seed inputs for every fuzz target, made up here (the real lists
//! and captures in shared/data are not ours to commit):
//!
//!   cargo run --manifest-path fuzz/Cargo.toml --example seeds -- DIR
//!
//! writes DIR/<target>/<seed>. `fuzz/fuzz.sh corpus` starts from them,
//! fuzzes, and keeps in fuzz/corpus/ only what adds coverage.

use std::error::Error;
use std::fs;
use std::io::Cursor;
use std::path::Path;

use simple_dns::rdata::{RData, SVCParam, A, AAAA, CNAME, HTTPS, MX, NULL, SOA, SVCB, TXT};
use simple_dns::{Name, Packet, PacketFlag, ResourceRecord, CLASS, RCODE};
use tacet_fuzz::upstream::{self, Case};
use tacet_rules::{ListInfo, RuleSetBuilder};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Lists in every format the parser reads, and lines it must refuse.
const LISTS: &[(&str, &str)] = &[
    (
        "hosts",
        "# a hosts file\n127.0.0.1 localhost\n::1 localhost ip6-localhost\n0.0.0.0 0.0.0.0\n\
         0.0.0.0 tracker.example\n127.0.0.1 ads.shop.example # trailing comment\n\
         0.0.0.0 a.example b.example c.example\n:: six.example\n",
    ),
    (
        "domains",
        "# plain domains\n! another comment\n\ntracker.example\nMetrics.Shop.Example.\n\
         xn--bcher-kva.example\nbücher.example\n*.wild.example\n",
    ),
    (
        "adblock",
        "[Adblock Plus 2.0]\n! Title: seed\n||tracker.example^\n||ads.example^$important\n\
         @@||ok.tracker.example^\n@@||cdn.example^$important\n||bad.example^$badfilter\n\
         ||x.example^$third-party\n/regex[0-9]+/\n||*.cdn.example^\n",
    ),
    (
        "wildcards",
        "*.tracker.example\n*.a.b.c.example\n*\n*.\n",
    ),
    (
        "addresses",
        "203.0.113.9\n198.51.100.0/24\n2001:db8::1\n2001:db8:1::/48\n10.0.0.0/33\n\
         0.0.0.0/0\n::/0\n300.1.1.1\n",
    ),
    (
        "mixed-crlf",
        "\u{feff}tracker.example\r\n0.0.0.0 hosts.example\r\n||adblock.example^\r\n\
         *.wild.example\r\n@@||ok.example^\r\n\r\n",
    ),
    (
        "bad-lines",
        "a..b.example\n-lead.example\nlabel-too-long-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example\n\
         under_score.example\nspace in.example\n.example\nexample.\n||^\n@@\n0.0.0.0\n",
    ),
];

fn main() -> Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .ok_or("usage: seeds DIR (writes DIR/<target>/<seed>)")?;
    let dir = Path::new(&dir);
    lists(dir)?;
    compiled(dir)?;
    scenarios(dir)?;
    answers(dir)?;
    Ok(())
}

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) -> Result<()> {
    let dir = dir.join(target);
    fs::create_dir_all(&dir)?;
    fs::write(dir.join(name), bytes)?;
    Ok(())
}

fn lists(dir: &Path) -> Result<()> {
    for (name, text) in LISTS {
        write(dir, "parse_list", name, text.as_bytes())?;
        write(dir, "compile_round_trip", name, text.as_bytes())?;
    }
    Ok(())
}

/// Compiled rule sets: each list alone, all of them together, and none.
fn compiled(dir: &Path) -> Result<()> {
    let mut all = RuleSetBuilder::new();
    for (i, (name, text)) in LISTS.iter().enumerate() {
        let info = |id: &str| ListInfo {
            id: id.into(),
            title: format!("seed list {i}"),
        };
        let mut one = RuleSetBuilder::new();
        one.add_list(info(name), Cursor::new(text))?;
        write(dir, "load_compiled", name, &bytes_of(one)?)?;
        all.add_list(info(name), Cursor::new(text))?;
    }
    write(dir, "load_compiled", "all", &bytes_of(all)?)?;
    write(
        dir,
        "load_compiled",
        "empty",
        &bytes_of(RuleSetBuilder::new())?,
    )?;
    Ok(())
}

fn bytes_of(builder: RuleSetBuilder) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    builder.build().write_to(&mut out)?;
    Ok(out)
}

/// Packet scenarios in the form of core/engine/tests/support/scenario.rs:
/// each step is an op byte, a peer, a target, a port, then the op's own
/// bytes. Op 133 (133 % 12 = 1, bit 7 set) is a query to port 53.
fn scenarios(dir: &Path) -> Result<()> {
    // peer 0 (10.111.222.1), target 0 (the resolver), port 40000
    const QUERY: [u8; 5] = [133, 0, 0, 0x9c, 0x40];
    let allowed = [&QUERY[..], &[2, 0, 0, 1], &[7, 0, 0, 0, 0, 0, 0]].concat();
    write(dir, "engine_packets", "allowed-answered", &allowed)?;
    let blocked_then_connect = [
        &QUERY[..],
        &[0, 0, 0, 2],          // api-mifit.huami.com, A, ID 2
        &[7, 0, 0, 0, 0, 0, 0], // its background answer: 203.0.113.9
        &[0, 0, 0, 0, 0, 20],   // 2 s later
        &[9, 0, 0, 0, 0],       // the routes are announced
        &[3, 0, 3, 0x9c, 0x42, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0], // SYN to it
        &[4, 0, 3, 0, 80, 4, 1, 2, 3, 4], // UDP to it
    ]
    .concat();
    write(
        dir,
        "engine_packets",
        "blocked-learned-rejected",
        &blocked_then_connect,
    )?;
    let v6 = [
        &[133, 1, 1, 0x9c, 0x43][..],
        &[3, 1, 0, 3],
        &[8, 0, 0, 0, 0, 0],
    ]
    .concat();
    write(dir, "engine_packets", "v6-upstream-failure", &v6)?;
    let swaps = [
        &QUERY[..],
        &[0, 0, 0, 4],
        &[10, 0, 0, 0, 0, 1],
        &[11, 0, 0, 0, 0, 0],
        &QUERY[..],
        &[2, 0, 0, 5],
        &[9, 0, 0, 0, 0],
    ]
    .concat();
    write(dir, "engine_packets", "rule-swap-and-pause", &swaps)?;
    let tcp = [
        &[3, 0, 0, 0x9c, 0x44, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0][..],
        &[9, 0, 0, 0, 0],
    ]
    .concat();
    write(dir, "engine_packets", "tcp-syn-to-resolver", &tcp)?;
    Ok(())
}

/// Upstream answers, well-formed and not, each for a question it fits,
/// spliced and whole.
fn answers(dir: &Path) -> Result<()> {
    const A_: usize = 0;
    const AAAA_: usize = 1;
    const HTTPS_: usize = 2;
    const SVCB_: usize = 3;
    const CNAME_: usize = 4;
    const TXT_: usize = 5;
    const MX_: usize = 6;
    const ANY: usize = 7;
    let name = |s: &'static str| Name::new_unchecked(s);
    let rr = |owner: &'static str, rdata: RData<'static>| {
        ResourceRecord::new(name(owner), CLASS::IN, 300, rdata)
    };
    let a = |n: u32| RData::A(A { address: n });
    let cname = |to: &'static str| RData::CNAME(CNAME(name(to)));
    let www = upstream::NAMES[0];
    let ok = upstream::NAMES[1];
    let cloak = upstream::NAMES[2];
    let deep = upstream::NAMES[3];

    let mut https_hints = SVCB::new(1, name("."));
    https_hints.set_ipv4hint(&[0xcb00_7109]);
    https_hints.set_ipv6hint(&[0x2001_0db8_0000_0000_0000_0000_0000_0009]);
    https_hints.set_port(443);
    let https_alias = SVCB::new(0, name("tracker.example"));
    let svcb_target = SVCB::new(1, name("svc.tracker.example")).with_param(SVCParam::Port(8443));
    let soa = RData::SOA(SOA {
        mname: name("ns.shop.example"),
        rname: name("hostmaster.shop.example"),
        serial: 1,
        refresh: 3600,
        retry: 600,
        expire: 86400,
        minimum: 60,
    });
    const SSHFP: &[u8] = &[1, 2, 0xde, 0xad, 0xbe, 0xef];

    type Records = Vec<ResourceRecord<'static>>;
    let cases: Vec<(&str, usize, usize, RCODE, Records, Records)> = vec![
        (
            "a",
            0,
            A_,
            RCODE::NoError,
            vec![rr(www, a(0xcb00_7109))],
            vec![],
        ),
        (
            "aaaa",
            0,
            AAAA_,
            RCODE::NoError,
            vec![rr(
                www,
                RData::AAAA(AAAA {
                    address: 0x2001_0db8 << 96 | 9,
                }),
            )],
            vec![],
        ),
        (
            "cname-to-tracker",
            0,
            A_,
            RCODE::NoError,
            vec![
                rr(www, cname("tracker.example")),
                rr("tracker.example", a(0xcb00_710a)),
            ],
            vec![],
        ),
        (
            "cname-chain-to-tracker",
            3,
            A_,
            RCODE::NoError,
            vec![
                rr(deep, cname("cdn.allowed.test")),
                rr("cdn.allowed.test", cname("X.Tracker.Example.")),
                rr("X.Tracker.Example.", a(0xcb00_710b)),
            ],
            vec![],
        ),
        (
            "cname-allowed",
            1,
            A_,
            RCODE::NoError,
            vec![
                rr(ok, cname("ok2.shop.example")),
                rr("ok2.shop.example", a(0xc633_6401)),
            ],
            vec![],
        ),
        (
            "cname-exact-hosts-rule",
            2,
            CNAME_,
            RCODE::NoError,
            vec![rr(cloak, cname("exact.cloak.test"))],
            vec![],
        ),
        (
            "cname-below-exact-rule",
            2,
            A_,
            RCODE::NoError,
            vec![
                rr(cloak, cname("sub.exact.cloak.test")),
                rr("sub.exact.cloak.test", a(1)),
            ],
            vec![],
        ),
        (
            "https-hints",
            0,
            HTTPS_,
            RCODE::NoError,
            vec![rr(www, RData::HTTPS(HTTPS(https_hints)))],
            vec![],
        ),
        (
            "https-alias-tracker",
            0,
            HTTPS_,
            RCODE::NoError,
            vec![rr(www, RData::HTTPS(HTTPS(https_alias)))],
            vec![],
        ),
        (
            "svcb-target-tracker",
            3,
            SVCB_,
            RCODE::NoError,
            vec![rr(deep, RData::SVCB(svcb_target))],
            vec![],
        ),
        (
            "nxdomain",
            0,
            A_,
            RCODE::NameError,
            vec![],
            vec![rr("shop.example", soa)],
        ),
        ("servfail", 1, AAAA_, RCODE::ServerFailure, vec![], vec![]),
        (
            "txt-mx",
            0,
            ANY,
            RCODE::NoError,
            vec![
                rr(www, RData::TXT(TXT::new().with_string("v=seed")?)),
                rr(
                    www,
                    RData::MX(MX {
                        preference: 10,
                        exchange: name("mx.tracker.example"),
                    }),
                ),
            ],
            vec![],
        ),
        (
            "txt",
            2,
            TXT_,
            RCODE::NoError,
            vec![rr(cloak, RData::TXT(TXT::new().with_string("x")?))],
            vec![],
        ),
        (
            "mx",
            2,
            MX_,
            RCODE::NoError,
            vec![rr(
                cloak,
                RData::MX(MX {
                    preference: 0,
                    exchange: name("."),
                }),
            )],
            vec![],
        ),
        (
            "unknown-type",
            0,
            ANY,
            RCODE::NoError,
            vec![rr(www, RData::NULL(44, NULL::new(SSHFP)?))],
            vec![],
        ),
        (
            "many-a",
            0,
            A_,
            RCODE::NoError,
            (0..40).map(|n| rr(www, a(0xcb00_7100 + n))).collect(),
            vec![],
        ),
    ];

    for (label, name_index, qtype_index, rcode, answer_records, authority) in cases {
        for edns in [false, true] {
            let shape = upstream::shape(name_index, qtype_index, edns, true);
            let shape_only = [shape];
            let case = Case::read(&shape_only).ok_or("a shape byte is an input")?;
            let query = case.query();
            let mut packet = Packet::parse(&query)?.into_reply();
            packet.set_flags(PacketFlag::RECURSION_DESIRED | PacketFlag::RECURSION_AVAILABLE);
            *packet.rcode_mut() = rcode;
            packet.answers = answer_records.clone();
            packet.name_servers = authority.clone();
            let response = packet.build_bytes_vec()?;
            let suffix = if edns { "-edns" } else { "" };
            write(
                dir,
                "upstream_answer",
                &format!("{label}{suffix}"),
                &upstream::input(shape, &response),
            )?;
            if !edns {
                let whole = upstream::shape(name_index, qtype_index, false, false);
                write(
                    dir,
                    "upstream_answer",
                    &format!("{label}-whole"),
                    &upstream::input(whole, &response),
                )?;
                broken(dir, label, shape, &response)?;
            }
        }
    }
    Ok(())
}

/// The misbehaviours of issue 13 applied to one well-formed answer: a bad
/// additional record behind it, cut short, QR cleared, a compression loop.
fn broken(dir: &Path, label: &str, shape: u8, response: &[u8]) -> Result<()> {
    let mut bad_additional = response.to_vec();
    bad_additional[11] = bad_additional[11].wrapping_add(1);
    // Root name, type A, class IN, TTL 60, RDLENGTH 9 with 4 bytes behind.
    bad_additional.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 9, 1, 2, 3, 4]);
    write(
        dir,
        "upstream_answer",
        &format!("{label}-bad-additional"),
        &upstream::input(shape, &bad_additional),
    )?;

    let cut = &response[..response.len().saturating_sub(3)];
    write(
        dir,
        "upstream_answer",
        &format!("{label}-cut"),
        &upstream::input(shape, cut),
    )?;

    let mut query_bit = response.to_vec();
    query_bit[2] &= 0x7f;
    write(
        dir,
        "upstream_answer",
        &format!("{label}-qr0"),
        &upstream::input(shape, &query_bit),
    )?;

    // One more answer whose owner name points at itself.
    let mut lp = response.to_vec();
    lp[7] = lp[7].wrapping_add(1);
    let at = lp.len();
    lp.extend_from_slice(&[
        0xc0 | (at >> 8) as u8,
        at as u8,
        0,
        1,
        0,
        1,
        0,
        0,
        0,
        60,
        0,
        4,
        1,
        2,
        3,
        4,
    ]);
    write(
        dir,
        "upstream_answer",
        &format!("{label}-pointer-loop"),
        &upstream::input(shape, &lp),
    )?;
    Ok(())
}
