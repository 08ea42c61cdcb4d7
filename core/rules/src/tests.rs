//! Semantics tests over small lists written out in the test.

use std::net::IpAddr;

use crate::report::{LineKind, Problem};
use crate::{ListId, ListInfo, NameError, ParseReport, RuleRef, RuleSet, RuleSetBuilder, Verdict};

fn info(id: &str) -> ListInfo {
    ListInfo {
        id: id.to_owned(),
        title: id.to_owned(),
    }
}

fn build(lists: &[&str]) -> (RuleSet, Vec<ParseReport>) {
    let mut b = RuleSetBuilder::new();
    let reports = lists
        .iter()
        .enumerate()
        .map(|(i, text)| b.add_list(info(&format!("l{i}")), text.as_bytes()).unwrap())
        .collect();
    (b.build(), reports)
}

fn at(list: u16, line: u32) -> RuleRef {
    RuleRef {
        list: ListId(list),
        line,
    }
}

fn blocked(list: u16, line: u32) -> Verdict {
    Verdict::Blocked(at(list, line))
}

fn allowed(list: u16, line: u32) -> Verdict {
    Verdict::Allowed(at(list, line))
}

#[test]
fn hosts_line_blocks_exact_name_only() {
    let (set, r) = build(&["# header\n127.0.0.1 localhost\n::1 localhost ip6-localhost\n255.255.255.255 broadcasthost\n0.0.0.0 0.0.0.0\n0.0.0.0 ads.example tracker.example # two\n"]);
    assert_eq!(set.lookup("ads.example"), blocked(0, 6));
    assert_eq!(set.lookup("tracker.example"), blocked(0, 6));
    assert_eq!(set.lookup("x.ads.example"), Verdict::Unlisted);
    assert_eq!(set.lookup("localhost"), Verdict::Unlisted);
    assert_eq!(set.lookup("example"), Verdict::Unlisted);
    let r = &r[0];
    assert_eq!(
        (r.counts.hosts, r.counts.header, r.counts.comment, r.rules),
        (1, 4, 1, 2)
    );
    assert!(r.is_clean(), "{r}");
}

#[test]
fn domain_adblock_wildcard_block_name_and_subdomains() {
    let (set, r) = build(&["a.example\n||b.example^\n*.c.example\n||*.d.example^\n"]);
    for (name, line) in [
        ("a.example", 1),
        ("b.example", 2),
        ("c.example", 3),
        ("d.example", 4),
    ] {
        assert_eq!(set.lookup(name), blocked(0, line), "{name}");
        assert_eq!(
            set.lookup(&format!("deep.sub.{name}")),
            blocked(0, line),
            "{name}"
        );
    }
    assert_eq!(set.lookup("example"), Verdict::Unlisted);
    assert_eq!(
        set.lookup("xa.example"),
        Verdict::Unlisted,
        "label boundary"
    );
    assert_eq!(set.lookup("a.example.evil"), Verdict::Unlisted);
    let c = &r[0].counts;
    assert_eq!((c.domain, c.adblock, c.wildcard), (1, 2, 1));
}

#[test]
fn allow_beats_block_at_any_depth_and_in_any_list() {
    let (set, _) = build(&[
        "||ads.example^\nexample.org\n",
        "@@||example^\n@@||keep.example.org^\n",
    ]);
    assert_eq!(set.lookup("x.ads.example"), allowed(1, 1));
    assert_eq!(set.lookup("keep.example.org"), allowed(1, 2));
    assert_eq!(set.lookup("a.keep.example.org"), allowed(1, 2));
    assert_eq!(set.lookup("other.example.org"), blocked(0, 2));
}

#[test]
fn important_block_beats_allow_and_important_allow_beats_all() {
    let (set, _) = build(&[
        "||ads.example^$important\n@@||ads.example^\n||t.example^$important\n@@||ok.t.example^$important\n",
    ]);
    assert_eq!(set.lookup("ads.example"), blocked(0, 1));
    assert_eq!(set.lookup("x.t.example"), blocked(0, 3));
    assert_eq!(set.lookup("ok.t.example"), allowed(0, 4));
}

#[test]
fn badfilter_switches_off_the_same_rule_in_any_list() {
    let (set, r) = build(&[
        "||ads.example^\n||keep.example^\n10.0.0.0/8\n",
        "||ads.example^$badfilter\n10.0.0.0/8$badfilter\n",
    ]);
    assert_eq!(set.lookup("ads.example"), Verdict::Unlisted);
    assert_eq!(set.lookup("keep.example"), blocked(0, 2));
    assert_eq!(
        set.lookup_addr("10.1.1.1".parse().unwrap()),
        Verdict::Unlisted
    );
    assert_eq!(r[1].counts.badfilter, 2);
    assert_eq!(r[1].rules, 0);
}

#[test]
fn most_specific_rule_is_reported_and_first_line_wins_for_one_name() {
    let (set, _) = build(&["example\nads.example\nads.example\n"]);
    assert_eq!(set.lookup("x.ads.example"), blocked(0, 2));
    assert_eq!(set.lookup("other.example"), blocked(0, 1));
}

#[test]
fn exact_allow_with_subtree_block_on_the_same_name() {
    let (set, _) = build(&["||cdn.example^\n", "0.0.0.0 cdn.example\n"]);
    // A hosts line in an allowlist allows exactly that name.
    let mut b = RuleSetBuilder::new();
    b.add_list(info("block"), "||cdn.example^\n".as_bytes())
        .unwrap();
    b.add_allow_list(info("allow"), "0.0.0.0 cdn.example\n".as_bytes())
        .unwrap();
    let mixed = b.build();
    assert_eq!(mixed.lookup("cdn.example"), allowed(1, 1));
    assert_eq!(mixed.lookup("img.cdn.example"), blocked(0, 1));
    assert_eq!(set.lookup("img.cdn.example"), blocked(0, 1));
}

#[test]
fn case_trailing_dot_and_unicode_are_normalized() {
    let (set, r) = build(&["ADS.Example.\n||Bücher.example^\n0.0.0.0 TRACK.example.\n"]);
    assert_eq!(set.lookup("ads.example"), blocked(0, 1));
    assert_eq!(set.lookup("xn--bcher-kva.example"), blocked(0, 2));
    assert_eq!(set.lookup("track.example"), blocked(0, 3));
    assert!(r[0].is_clean(), "{}", r[0]);
}

#[test]
fn every_unused_line_is_reported_with_number_and_reason() {
    let text = "good.example\nexample.com##.ad\n(^|\\.)ads\\.\n||x.example/path^\n|x\nbad_name!.example\n||y.example^$third-party\n0.0.0.0 ok.example bad..example\n";
    let (set, r) = build(&[text]);
    let r = &r[0];
    let got: Vec<(u32, &str)> = r
        .unused
        .iter()
        .map(|u| (u.line, u.problem.kind()))
        .collect();
    assert_eq!(
        got,
        [
            (2, "cosmetic rule"),
            (3, "bare regular expression"),
            (4, "URL or path"),
            (5, "too wide"),
            (6, "invalid name"),
            (7, "browser-only modifier"),
            (8, "invalid name"),
        ]
    );
    assert_eq!(
        r.unused[4].problem,
        Problem::BadName(NameError::BadChar { ch: '!' })
    );
    assert_eq!(r.unused[6].problem, Problem::BadName(NameError::EmptyLabel));
    assert_eq!(r.counts.unused, 6);
    assert_eq!(r.counts.hosts, 1);
    assert_eq!(r.rules, 2);
    assert_eq!(set.lookup("ok.example"), blocked(0, 8));
    // Nothing was misread as a name.
    for name in ["example.com", "x.example", "y.example", "ads"] {
        assert_eq!(set.lookup(name), Verdict::Unlisted, "{name}");
    }
}

#[test]
fn details_are_capped_but_counts_are_not() {
    let text = "not a name\n".repeat(crate::report::MAX_UNUSED_DETAILS + 500);
    let (_, r) = build(&[&text]);
    assert_eq!(r[0].unused.len(), crate::report::MAX_UNUSED_DETAILS);
    assert_eq!(
        r[0].counts.unused,
        (crate::report::MAX_UNUSED_DETAILS + 500) as u64
    );
    assert_eq!(
        r[0].problems.get("extra words"),
        Some(&((crate::report::MAX_UNUSED_DETAILS + 500) as u64))
    );
}

#[test]
fn non_utf8_and_long_lines_are_reported() {
    let mut text = b"ok.example\n\xff\xfebad\n".to_vec();
    text.extend(std::iter::repeat_n(b'a', 10_000));
    text.extend_from_slice(b"\nlast.example");
    let mut b = RuleSetBuilder::new();
    let r = b.add_list(info("x"), &text[..]).unwrap();
    let set = b.build();
    assert_eq!(r.unused[0].problem, Problem::NotUtf8);
    assert_eq!(r.unused[0].line, 2);
    assert!(matches!(r.unused[1].problem, Problem::LineTooLong { .. }));
    assert!(r.unused[1].excerpt.chars().count() <= crate::report::EXCERPT_CHARS + 1);
    assert_eq!(set.lookup("last.example"), blocked(0, 4));
    assert_eq!(r.lines, 4);
}

#[test]
fn address_rules() {
    let (set, r) =
        build(&["1.2.3.4\n10.0.0.0/8\n@@10.9.0.0/16\n2001:db8::/32\n||5.6.7.8^\n::ffff:0:0/96\n"]);
    let a = |s: &str| set.lookup_addr(s.parse::<IpAddr>().unwrap());
    assert_eq!(a("1.2.3.4"), blocked(0, 1));
    assert_eq!(a("1.2.3.5"), Verdict::Unlisted);
    assert_eq!(a("10.200.0.1"), blocked(0, 2));
    assert_eq!(a("10.9.1.1"), allowed(0, 3));
    assert_eq!(a("2001:db8:1::5"), blocked(0, 4));
    assert_eq!(a("2001:db9::5"), Verdict::Unlisted);
    assert_eq!(a("5.6.7.8"), blocked(0, 5));
    // IPv4-mapped IPv6 is looked up as IPv4.
    assert_eq!(a("::ffff:1.2.3.4"), blocked(0, 1));
    assert_eq!(r[0].counts.address, 6);
    assert_eq!(set.addr_count(), 6);
    // Addresses are not names.
    assert_eq!(set.lookup("1.2.3.4"), Verdict::Unlisted);
}

#[test]
fn blocked_networks_leave_out_what_an_allow_rule_keeps() {
    let (set, _) = build(&["1.2.3.4
10.0.0.0/8
@@10.9.0.0/16
2001:db8::/32
192.168.0.0/16$important
         @@192.168.1.1
2001:db8::/32
@@2001:db8::/31
198.51.100.0/24
"]);
    let nets = set.blocked_networks();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(
        nets,
        vec![
            (ip("192.168.0.0"), 16),
            (ip("198.51.100.0"), 24),
            (ip("1.2.3.4"), 32)
        ],
        "10/8 holds an allowed /16; 2001:db8::/32 lies in an allowed /31; an \
         $important block beats a plain allow"
    );
    assert!(RuleSet::empty().blocked_networks().is_empty());
}

#[test]
fn line_kinds_are_counted() {
    let (_, r) = build(&["! c\n# c\n\n[Adblock Plus 2.0]\n0.0.0.0 a.example\nb.example\n||c.example^\n@@||d.example^\n*.e.example\n1.1.1.1\n||f.example^$badfilter\n##.x\n"]);
    let c = &r[0].counts;
    for (kind, n) in [
        (LineKind::Comment, 2),
        (LineKind::Blank, 1),
        (LineKind::Header, 1),
        (LineKind::Hosts, 1),
        (LineKind::Domain, 1),
        (LineKind::Adblock, 1),
        (LineKind::AdblockAllow, 1),
        (LineKind::Wildcard, 1),
        (LineKind::Address, 1),
        (LineKind::BadFilter, 1),
        (LineKind::Unused, 1),
    ] {
        assert_eq!(c.get(kind), n, "{kind:?}");
    }
    assert_eq!(r[0].lines, 12);
    assert_eq!(r[0].ignored, 4);
}

#[test]
fn lookup_of_odd_queries_does_not_panic() {
    let (set, _) = build(&["a.example\n"]);
    for q in [
        "",
        ".",
        "..",
        "example",
        "a.example.",
        ".a.example",
        "x..a.example",
    ] {
        let _ = set.lookup(q);
    }
    assert_eq!(RuleSet::empty().lookup("a.example"), Verdict::Unlisted);
}

#[test]
fn save_and_load_round_trip() {
    let (set, _) = build(&[
        "a.example\n0.0.0.0 b.example\n@@||c.a.example^\n10.0.0.0/8\n",
        "||a.example^$important\n",
    ]);
    let mut bytes = Vec::new();
    set.write_to(&mut bytes).unwrap();
    let loaded = RuleSet::from_vec(bytes).unwrap();
    for name in [
        "a.example",
        "x.a.example",
        "b.example",
        "c.a.example",
        "x.b.example",
        "z",
    ] {
        assert_eq!(loaded.lookup(name), set.lookup(name), "{name}");
    }
    assert_eq!(
        loaded.lookup_addr("10.1.2.3".parse().unwrap()),
        blocked(0, 4)
    );
    assert_eq!(loaded.lists(), set.lists());
    assert_eq!(loaded.list(ListId(1)).map(|l| l.id.as_str()), Some("l1"));
    let empty = RuleSet::from_vec(RuleSet::empty().as_bytes().to_vec()).unwrap();
    assert_eq!(empty.lookup("a.example"), Verdict::Unlisted);
}

#[test]
fn rule_set_is_send_sync_static() {
    fn check<T: Send + Sync + 'static>() {}
    check::<RuleSet>();
}

#[test]
fn names_with_many_labels_see_every_parent() {
    // Lookups keep eight probes on the stack and take a slower path for
    // more: rules on both sides of that boundary, and on the exact name,
    // must all be seen.
    let labels: Vec<String> = (0..40).map(|i| format!("l{i}")).collect();
    let suffix = |n: usize| labels[labels.len() - n..].join(".");
    let (set, _) = build(&[
        &format!("{}\n{}\n|{}^\n", suffix(3), suffix(17), suffix(40)),
        &format!("@@||{}^\n", suffix(30)),
    ]);
    assert_eq!(set.lookup(&suffix(16)), blocked(0, 1));
    assert_eq!(set.lookup(&suffix(29)), blocked(0, 2));
    assert_eq!(set.lookup(&suffix(35)), allowed(1, 1));
    assert_eq!(set.lookup(&suffix(40)), allowed(1, 1));
    let (set, _) = build(&[&format!("|{}^\n{}\n", suffix(33), suffix(2))]);
    assert_eq!(set.lookup(&suffix(33)), blocked(0, 1));
    assert_eq!(set.lookup(&suffix(34)), blocked(0, 2));
    assert_eq!(set.lookup(&suffix(32)), blocked(0, 2));
}

#[test]
fn listed_names_never_share_kept_bits_even_when_few_are_kept() {
    // One stored remainder bit makes listed names share kept hash bits for
    // nearly every seed: the builder must keep more bits until none do.
    let names: Vec<String> = (0..3000).map(|i| format!("n{i}")).collect();
    let mut b = RuleSetBuilder::new();
    b.add_list(info("l0"), names.join("\n").as_bytes()).unwrap();
    let set = RuleSet::from_vec(b.compile_with(Some(1)).unwrap()).unwrap();
    assert_eq!(set.name_count(), names.len());
    for (i, name) in names.iter().enumerate() {
        assert_eq!(set.lookup(name), blocked(0, i as u32 + 1), "{name}");
    }
}

#[test]
fn every_label_count_with_a_rule_is_probed() {
    // Rules of one label, and of more than 64 (the label-count bits lump
    // those together); queries deeper than both.
    let deep = |n: usize| vec!["x"; n].join(".");
    let (set, _) = build(&[&format!("zip\n|{}^\n{}\n", deep(70), deep(66))]);
    assert_eq!(set.lookup("zip"), blocked(0, 1));
    assert_eq!(set.lookup("a.b.zip"), blocked(0, 1));
    assert_eq!(set.lookup(&deep(70)), blocked(0, 2));
    assert_eq!(set.lookup(&deep(71)), blocked(0, 3));
    assert_eq!(set.lookup(&deep(65)), Verdict::Unlisted);
    assert_eq!(set.lookup("com"), Verdict::Unlisted);
    // No rule of one label: the TLD is not probed, its subdomains are.
    let (set, _) = build(&["example.com\n"]);
    assert_eq!(set.lookup("com"), Verdict::Unlisted);
    assert_eq!(set.lookup("a.example.com"), blocked(0, 1));
}

#[test]
fn a_compiled_name_costs_at_most_six_bytes() {
    // Whatever the count (a power of two just passed leaves half the
    // buckets empty, the costliest case) and the line numbers: six bytes a
    // name plus the fixed headers.
    for count in [3_000usize, 16_385, 70_000, 131_072] {
        let text: String = (0..count)
            .map(|i| format!("n{i}.example{}.com\n", i % 97))
            .collect();
        let mut b = RuleSetBuilder::new();
        b.add_list(info("l0"), text.as_bytes()).unwrap();
        let set = b.build();
        assert_eq!(set.name_count(), count);
        // What lookups of unlisted names read: the name table. The names
        // themselves, read only on a hit, are not counted.
        let bytes = set.name_table_len();
        assert!(bytes <= 6 * count + 256, "{count} names: {bytes} bytes");
        assert!(set.as_bytes().len() > bytes + count * 4);
        assert_eq!(set.lookup("n7.example7.com"), blocked(0, 8));
    }
}

#[test]
fn a_match_ends_the_walk_unless_a_parent_outranks_it() {
    // After a match, parents are probed only if they carry an allow or
    // `$important` subtree rule: found through the raisers' index, or label
    // by label when there are too many raisers to index. Both must give
    // the verdicts of a walk through every label.
    for (raisers, mode) in [
        (3, "indexed"),
        (crate::compiled::MAX_RAISERS + 1, "unindexed"),
    ] {
        let allow: String = (0..raisers)
            .map(|i| format!("@@||k{i}.example^\n"))
            .collect();
        let (set, _) = build(&[
            "||ads.k0.example^\nexample\n0.0.0.0 h.k0.example\n||t.example^\n",
            &allow,
            "@@||ok.t.example^$important\n||imp.k1.example^$important\n",
        ]);
        assert_eq!(set.raisers_mode(), mode);
        assert_eq!(set.lookup("x.ads.k0.example"), allowed(1, 1), "{mode}");
        assert_eq!(set.lookup("h.k0.example"), allowed(1, 1), "{mode}");
        assert_eq!(set.lookup("ads.z.example"), blocked(0, 2), "{mode}");
        assert_eq!(set.lookup("other.example"), blocked(0, 2), "{mode}");
        assert_eq!(set.lookup("x.t.example"), blocked(0, 4), "{mode}");
        assert_eq!(set.lookup("a.ok.t.example"), allowed(2, 1), "{mode}");
        assert_eq!(set.lookup("a.imp.k1.example"), blocked(2, 2), "{mode}");
        assert_eq!(set.lookup("k2.example"), allowed(1, 3), "{mode}");
    }
    // No raisers at all: the first match decides.
    let (set, _) = build(&["example\n||ads.example^\n"]);
    assert_eq!(set.raisers_mode(), "none");
    assert_eq!(set.lookup("x.ads.example"), blocked(0, 2));
    assert_eq!(set.lookup("x.example"), blocked(0, 1));
}

#[test]
fn a_raisers_index_that_could_not_end_a_search_is_refused() {
    let (set, _) = build(&["@@||a.example^\n||b.a.example^\n"]);
    let bytes = set.as_bytes().to_vec();
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    // The names section follows the 88-byte header and the lists; its
    // raiser slot count is at byte 32 and its index ends the section.
    let names = 88 + u64_at(&bytes, 16) as usize;
    let names_end = names + u64_at(&bytes, 24) as usize;
    assert_eq!(u64_at(&bytes, names + 32), 2);
    let reseal = |mut b: Vec<u8>| {
        let body = b.len() - 4;
        let crc = crc32fast::hash(&b[..body]);
        b[body..].copy_from_slice(&crc.to_le_bytes());
        b
    };
    assert!(RuleSet::from_vec(reseal(bytes.clone())).is_ok());
    // Every slot taken: a search for an absent key would never end.
    let mut full = bytes.clone();
    for slot in full[names_end - 16..names_end].chunks_exact_mut(8) {
        if slot.iter().all(|&b| b == 0) {
            slot.copy_from_slice(&7u64.to_le_bytes());
        }
    }
    assert!(RuleSet::from_vec(reseal(full)).is_err());
    // A slot count that is not a power of two, or that disagrees with the
    // section's length.
    for slots in [3u64, 0, 4, u64::MAX] {
        let mut b = bytes.clone();
        b[names + 32..names + 40].copy_from_slice(&slots.to_le_bytes());
        assert!(RuleSet::from_vec(reseal(b)).is_err(), "{slots} slots");
    }
}

/// Issue #15: `*` inside names and the other anchors AdGuard reads, each
/// with what AdGuard Home's `urlfilter` matches (see `crate::patterns`).
#[test]
fn adguard_patterns_match_as_adguard_home_does() {
    let (set, r) = build(&[concat!(
        "||*launches.appsflyersdk.com^\n",
        "||iad-*.braze.com^\n",
        "||collector-*.tvsquared.com^\n",
        "||prefix.example\n",
        "dlsdk.appsflyer.com^\n",
        "|exact.example^|\n",
        "||bar.example|\n",
        "||path.example/*\n",
        "ads*.mid.example\n",
    )]);
    assert!(r[0].is_clean(), "{}", r[0]);
    assert_eq!(r[0].counts.pattern, 6, "{}", r[0]);
    let cases: &[(&str, Verdict)] = &[
        ("launches.appsflyersdk.com", blocked(0, 1)),
        ("xlaunches.appsflyersdk.com", blocked(0, 1)),
        ("a.b-launches.appsflyersdk.com", blocked(0, 1)),
        ("appsflyersdk.com", Verdict::Unlisted),
        ("launches.appsflyersdk.com.evil", Verdict::Unlisted),
        ("iad-01.braze.com", blocked(0, 2)),
        ("iad-.braze.com", blocked(0, 2)),
        ("x.iad-a.b.braze.com", blocked(0, 2)),
        ("xiad-01.braze.com", Verdict::Unlisted),
        ("braze.com", Verdict::Unlisted),
        ("collector-7.tvsquared.com", blocked(0, 3)),
        ("collector.tvsquared.com", Verdict::Unlisted),
        // `||name` without `^`: the name, names under it, and names that
        // only start with it (AdGuard's regex has no end).
        ("prefix.example", blocked(0, 4)),
        ("a.prefix.example", blocked(0, 4)),
        ("prefix.examples.com", blocked(0, 4)),
        ("prefix.example.evil", blocked(0, 4)),
        ("xprefix.example", Verdict::Unlisted),
        // `name^` without `||`: any name that ends with it.
        ("dlsdk.appsflyer.com", blocked(0, 5)),
        ("x.dlsdk.appsflyer.com", blocked(0, 5)),
        ("xdlsdk.appsflyer.com", blocked(0, 5)),
        ("appsflyer.com", Verdict::Unlisted),
        ("exact.example", blocked(0, 6)),
        ("a.exact.example", Verdict::Unlisted),
        ("bar.example", blocked(0, 7)),
        ("a.bar.example", blocked(0, 7)),
        ("path.example", blocked(0, 8)),
        ("a.path.example", blocked(0, 8)),
        // No anchors: anywhere in the name.
        ("ads1.mid.example", blocked(0, 9)),
        ("xads.mid.example.com", blocked(0, 9)),
        ("mid.example", Verdict::Unlisted),
    ];
    for (name, want) in cases {
        assert_eq!(set.lookup(name), *want, "{name}");
    }
    // The same set, written out and read back.
    let back = RuleSet::from_vec(set.as_bytes().to_vec()).unwrap();
    for (name, want) in cases {
        assert_eq!(back.lookup(name), *want, "{name}");
    }
    assert_eq!(back.pattern_count(), 6);
}

/// Issue #15: allow rules that only patterns can express are kept, and win
/// over block rules as in AdGuard.
#[test]
fn allow_patterns_are_never_lost() {
    let (set, r) = build(&[
        "||tradedoubler.com^\n||trbo.com^\n||example.org^\n",
        "@@||clk*.tradedoubler.com^|\n@@||static-v*.trbo.com^|\n@@||test.example.org\n",
    ]);
    assert!(r.iter().all(ParseReport::is_clean), "{r:?}");
    assert_eq!(set.lookup("clk.tradedoubler.com"), allowed(1, 1));
    assert_eq!(set.lookup("clkde.tradedoubler.com"), allowed(1, 1));
    assert_eq!(set.lookup("a.clk1.tradedoubler.com"), allowed(1, 1));
    assert_eq!(set.lookup("imp.tradedoubler.com"), blocked(0, 1));
    assert_eq!(set.lookup("static-v2.trbo.com"), allowed(1, 2));
    assert_eq!(set.lookup("static.trbo.com"), blocked(0, 2));
    assert_eq!(set.lookup("test.example.org"), allowed(1, 3));
    assert_eq!(set.lookup("a.test.example.org"), allowed(1, 3));
    assert_eq!(set.lookup("other.example.org"), blocked(0, 3));
    // Allow rules for some clients, or that switch rewrites off, allow.
    let (set, r) = build(&[
        "||rw.example^$dnsrewrite=NXDOMAIN\n||c.example^\n",
        "@@||rw.example^$dnsrewrite\n@@||c.example^$client=192.168.1.5\n@@||t.c.example^$ctag=device_phone\n",
    ]);
    assert!(r[1].is_clean(), "{}", r[1]);
    assert_eq!(set.lookup("rw.example"), allowed(1, 1));
    assert_eq!(set.lookup("c.example"), allowed(1, 2));
    // An `$important` block still beats an ordinary allow pattern.
    let (set, _) = build(&["||clk1.tradedoubler.com^$important\n@@||clk*.tradedoubler.com^\n"]);
    assert_eq!(set.lookup("clk1.tradedoubler.com"), blocked(0, 1));
    assert_eq!(set.lookup("clk2.tradedoubler.com"), allowed(0, 2));
}

/// Issue #15: names of the device itself are never blocked, however a list
/// writes them.
#[test]
fn localhost_is_never_blocked() {
    let (set, r) = build(&[concat!(
        "0.0.0.0 localhost.\n",
        "127.0.0.1 localhost4 localhost4.localdomain4\n",
        "::1 localhost6 localhost6.localdomain6 ip6-localhost ip6-loopback\n",
        "255.255.255.255 broadcasthost\n",
        "localhost\n",
        "||localhost^\n",
        "||LOCALHOST.^\n",
        "|local^\n",
        "||*host^\n",
        "app.localhost\n",
    )]);
    let r = &r[0];
    assert_eq!(r.counts.header, 4, "{r}");
    let unused: Vec<(u32, &str)> = r
        .unused
        .iter()
        .map(|u| (u.line, u.problem.kind()))
        .collect();
    assert_eq!(
        unused,
        [5, 6, 7, 8, 10].map(|l| (l, "name of the device itself")),
        "{r}"
    );
    for name in [
        "localhost",
        "a.localhost",
        "localhost4",
        "localhost6.localdomain6",
        "ip6-loopback",
        "local",
        "broadcasthost",
    ] {
        assert_eq!(set.lookup(name), Verdict::Unlisted, "{name}");
    }
    // The pattern still blocks names that are not the device's.
    assert_eq!(set.lookup("ghost"), blocked(0, 9));
}

/// Issue #15: lines that are not names are reported, each with the reason
/// AdGuard's semantics give, and block nothing.
#[test]
fn lines_that_are_not_names_are_reported_with_the_right_reason() {
    let text = concat!(
        "_prebid_\n",
        "_728x90.\n",
        "-ad123-\n",
        "-banner-ads.\n",
        "300.1.1.1\n",
        "10.0.0\n",
        "123\n",
        "xn--zz\n",
        "127.0.0.1\n",
        "||x.example^$third-party\n",
        "||x.example^$client=192.168.1.2\n",
        "||x.example^$ctag=device_phone\n",
        "||x.example^$dnsrewrite=example.net\n",
        "/(?=ads)[0-9]\\.example/\n",
        "*\n",
    );
    let (set, r) = build(&[text]);
    let r = &r[0];
    let got: Vec<(u32, &str)> = r
        .unused
        .iter()
        .map(|u| (u.line, u.problem.kind()))
        .collect();
    let mut want: Vec<(u32, &str)> = (1..=7).map(|l| (l, "invalid name")).collect();
    want.extend([
        (8, "invalid name"),
        (9, "hosts line without names"),
        (10, "browser-only modifier"),
        (11, "home-network server modifier"),
        (12, "home-network server modifier"),
        (13, "answer rewrite"),
        (14, "regex with look-around"),
        (15, "too wide"),
    ]);
    assert_eq!(got, want, "{r}");
    for u in r.unused.iter().take(7) {
        assert_eq!(u.problem, Problem::BadName(NameError::BadTld), "{u:?}");
    }
    assert_eq!(r.unused[7].problem, Problem::BadName(NameError::Idna));
    assert_eq!(r.rules, 0);
    assert_eq!(set.addr_count(), 0);
    for name in [
        "a_prebid_b.example",
        "x.example",
        "123.example",
        "300.1.1.1",
        "xn--zz",
    ] {
        assert_eq!(set.lookup(name), Verdict::Unlisted, "{name}");
    }
    assert_eq!(
        set.lookup_addr("127.0.0.1".parse().unwrap()),
        Verdict::Unlisted
    );
    // `9.9.9.9^` and `dlsdk.appsflyer.com^` are rules, not regexes.
    let (set, r) = build(&["9.9.9.9^\ndlsdk.appsflyer.com^\n"]);
    assert!(r[0].is_clean(), "{}", r[0]);
    assert_eq!(set.lookup_addr("9.9.9.9".parse().unwrap()), blocked(0, 1));
    assert_eq!(set.lookup("dlsdk.appsflyer.com"), blocked(0, 2));
}

/// Issue #15: AdGuard's DNS modifiers.
#[test]
fn dns_modifiers() {
    let (set, r) = build(&[concat!(
        "||v6only.example^$dnstype=AAAA\n",
        "||notmx.example^$dnstype=~MX\n",
        "*$denyallow=ok.com|fine.net\n",
        "||rw.example^$dnsrewrite=NXDOMAIN\n",
        "||rw2.example^$dnsrewrite=REFUSED;;\n",
        "||rw3.example^$dnsrewrite=0.0.0.0\n",
        "@@||ok.com^\n",
    )]);
    assert!(r[0].is_clean(), "{}", r[0]);
    assert_eq!(set.lookup_query("v6only.example", Some(28)), blocked(0, 1));
    assert_eq!(
        set.lookup_query("a.v6only.example", Some(28)),
        blocked(0, 1)
    );
    // Line 3 blocks everything but ok.com and fine.net.
    assert_eq!(set.lookup_query("v6only.example", Some(1)), blocked(0, 3));
    assert_eq!(set.lookup_query("notmx.example", Some(15)), blocked(0, 3));
    assert_eq!(set.lookup_query("notmx.example", Some(1)), blocked(0, 2));
    assert_eq!(set.lookup("a.fine.net"), Verdict::Unlisted);
    assert_eq!(set.lookup("ok.com"), allowed(0, 7));
    assert_eq!(set.lookup("rw.example"), blocked(0, 4));
    assert_eq!(set.lookup("rw2.example"), blocked(0, 5));
    assert_eq!(set.lookup("rw3.example"), blocked(0, 6));

    let (set, _) = build(&["||t.example^$dnstype=AAAA\n"]);
    assert_eq!(set.lookup_query("t.example", Some(28)), blocked(0, 1));
    assert_eq!(set.lookup_query("t.example", Some(1)), Verdict::Unlisted);
    assert_eq!(set.lookup("t.example"), Verdict::Unlisted);

    // `$badfilter` switches patterns off too, and a plain one switches off
    // the same rule with a `$dnstype` (AdGuard compares neither condition).
    let (set, r) = build(&[
        "||ads*.example^\n||keep*.example^\n||t.example^$dnstype=A\n",
        "||ads*.example^$badfilter\n||t.example^$badfilter\n",
    ]);
    assert_eq!(r[1].counts.badfilter, 2);
    assert_eq!(set.lookup("ads1.example"), Verdict::Unlisted);
    assert_eq!(set.lookup("keep1.example"), blocked(0, 2));
    assert_eq!(set.lookup_query("t.example", Some(1)), Verdict::Unlisted);
}

#[test]
fn an_unlisted_name_whose_hash_bits_match_is_not_blocked() {
    // With few hash bits kept, unlisted names hit listed ones' records
    // all the time: each hit is checked against the listed name, so none
    // is blocked, while the listed names and their subdomains still are.
    // Every third name is longer than a slot of the listed names (32
    // bytes): its rest is confirmed too.
    let long = |i: usize| {
        if i % 3 == 0 {
            ".a-label-long-enough-to-overflow"
        } else {
            ""
        }
    };
    let names: Vec<String> = (0..3000)
        .map(|i| format!("n{i}{}.example", long(i)))
        .collect();
    let mut b = RuleSetBuilder::new();
    b.add_list(info("l0"), names.join("\n").as_bytes()).unwrap();
    let set = RuleSet::from_vec(b.compile_with(Some(1)).unwrap()).unwrap();
    let mut hash_hits = 0;
    for i in 0..20_000 {
        // Unlisted: another first label, or a listed long name's twin
        // that differs only past the slot.
        let name = if i % 2 == 0 {
            format!("u{i}{}.example", long(i))
        } else {
            format!("n{i}{}.exampl", long(i))
        };
        if matches!(set.lookup_hash_only(&name), Verdict::Blocked(_)) {
            hash_hits += 1;
        }
        assert_eq!(set.lookup(&name), Verdict::Unlisted, "{name}");
    }
    // Without the check, these would be blocked (10 of them).
    assert!(hash_hits > 5, "{hash_hits} hash-only hits");
    for (i, name) in names.iter().enumerate() {
        assert_eq!(set.lookup(name), blocked(0, i as u32 + 1), "{name}");
        assert_eq!(
            set.lookup(&format!("www.{name}")),
            blocked(0, i as u32 + 1),
            "{name}"
        );
    }
}

#[test]
fn regex_rules_match_the_name_as_adguard_home_does() {
    let (set, r) = build(&[concat!(
        "/^ad[0-9]+\\.example\\.com$/\n",
        "/tracker/\n",
        "/^[a-z]{10,14}\\.tv$/$dnstype=AAAA\n",
        "/^CAPS\\./\n",
        "/\\d{3}\\.cdn\\./$denyallow=ok.net\n",
    )]);
    assert_eq!(r[0].rules, 5, "{}", r[0]);
    assert_eq!(r[0].counts.pattern, 5);
    assert_eq!(set.pattern_count(), 5);
    assert_eq!(set.lookup("ad12.example.com"), blocked(0, 1));
    assert_eq!(set.lookup("x.ad12.example.com"), Verdict::Unlisted);
    assert_eq!(set.lookup("ad.example.com"), Verdict::Unlisted);
    // Unanchored: anywhere in the name.
    assert_eq!(set.lookup("a.mytracker.example"), blocked(0, 2));
    assert_eq!(set.lookup_query("abcdefghijk.tv", Some(28)), blocked(0, 3));
    assert_eq!(
        set.lookup_query("abcdefghijk.tv", Some(1)),
        Verdict::Unlisted
    );
    // Letters match in either case.
    assert_eq!(set.lookup("caps.example"), blocked(0, 4));
    assert_eq!(set.lookup("123.cdn.evil.com"), blocked(0, 5));
    assert_eq!(set.lookup("123.cdn.ok.net"), Verdict::Unlisted);
    assert_eq!(set.lookup("example.com"), Verdict::Unlisted);
}

#[test]
fn unicode_classes_match_ascii_names_as_gos_regexp_does() {
    let (set, r) = build(&[concat!(
        "/^\\pL+\\.example$/\n",
        "/^x\\p{Nd}{2}\\./\n",
        "/^\\w+-\\PL\\.test$/\n",
        "/^[\\w]+\\.\\p{Lu}+$/\n",
    )]);
    assert_eq!(r[0].rules, 4, "{} {:?}", r[0], r[0].unused);
    assert_eq!(set.lookup("abc.example"), blocked(0, 1));
    assert_eq!(set.lookup("ab1.ex-ample"), Verdict::Unlisted);
    assert_eq!(set.lookup("x42.cdn.net"), blocked(0, 2));
    assert_eq!(set.lookup("abc-1.test"), blocked(0, 3));
    assert_eq!(set.lookup("abc-d.test"), Verdict::Unlisted);
    // Case-insensitive, as every regex rule: `\p{Lu}` takes lowercase too.
    assert_eq!(set.lookup("abc_1.com"), blocked(0, 4));
    assert_eq!(set.lookup("abc.1com"), Verdict::Unlisted);
}

#[test]
fn a_regex_may_end_with_a_dollar_before_its_modifiers() {
    let (set, r) = build(&[
        "/^x\\.ads$/$important\n@@/^x\\.ads$/\n/a/$b/\n@@/^y\\./$badfilter\n@@/^y\\./\n||y.example^\n",
    ]);
    assert_eq!(r[0].rules, 5, "{}", r[0]);
    assert_eq!(set.lookup("x.ads"), blocked(0, 1));
    // `/a/$b/` is the regex `a/$b`, which no name matches.
    assert_eq!(set.lookup("a.example"), Verdict::Unlisted);
    // The allow regex was switched off by its `$badfilter`.
    assert_eq!(set.lookup("y.example"), blocked(0, 6));
}

#[test]
fn regex_allow_important_and_badfilter_rank_as_other_rules() {
    let (set, _) = build(&[
        concat!(
            "||ads.example^\n",
            "@@/^ok[0-9]\\.ads\\.example$/\n",
            "/^bad\\./$important\n",
            "@@||bad.example^\n",
            "/^gone\\./\n",
            "||x.example^$important\n",
            "@@/^vip\\.x\\.example$/$important\n",
            "/^also-gone\\./$important\n",
        ),
        "/^gone\\./$badfilter\n/^also-gone\\./$badfilter\n",
    ]);
    assert_eq!(set.lookup("ads.example"), blocked(0, 1));
    assert_eq!(set.lookup("ok1.ads.example"), allowed(0, 2));
    assert_eq!(set.lookup("okx.ads.example"), blocked(0, 1));
    // `$important` beats an allow rule; an allow rule beats a plain block.
    assert_eq!(set.lookup("bad.example"), blocked(0, 3));
    assert_eq!(set.lookup("vip.x.example"), allowed(0, 7));
    assert_eq!(set.lookup("y.x.example"), blocked(0, 6));
    // `$badfilter` switches off a regex rule only with the same flags.
    assert_eq!(set.lookup("gone.example"), Verdict::Unlisted);
    assert_eq!(set.lookup("also-gone.example"), blocked(0, 8));
}

#[test]
fn a_regex_never_blocks_the_device_itself() {
    let (set, _) = build(&["/^local/\n/host$/\n/.*/$dnstype=A\n"]);
    for name in [
        "localhost",
        "localhost4",
        "ip6-localhost",
        "localhost.localdomain",
    ] {
        assert_eq!(set.lookup_query(name, Some(1)), Verdict::Unlisted, "{name}");
    }
    assert_eq!(set.lookup("locally.example"), blocked(0, 1));
}

#[test]
fn hostile_regexes_are_reported_not_used() {
    let hostile = [
        ("/a{100000}/", "compiles to more than"),
        ("/(((a{20}){20}){20}){20}/", ""),
        ("/(a*)*(b+)+c{2,}{3}/", ""),
        ("/[z-a]/", ""),
        ("/ads(/", ""),
        ("/(?<!x)ads/", "lookaround"),
        ("/(\\w)\\1/", "lookaround"),
        ("/(?P<n>a)\\k<n>/", "lookaround"),
        ("/ads\u{e9}/", ""),
    ];
    let text: String = hostile.iter().map(|(l, _)| format!("{l}\n")).collect();
    let (set, r) = build(&[&text]);
    // A nested repetition that stays small is a rule like any other.
    assert_eq!(r[0].rules, 1, "{}", r[0]);
    assert_eq!(set.lookup("aaac.example"), Verdict::Unlisted);
    assert_eq!(set.lookup("bbcccccc.example"), blocked(0, 3));
    let unused: Vec<_> = r[0]
        .unused
        .iter()
        .map(|u| (u.line, u.problem.to_string()))
        .collect();
    assert_eq!(unused.len(), hostile.len() - 1, "{unused:?}");
    for (line, why) in &unused {
        let want = hostile[*line as usize - 1].1;
        assert!(why.contains(want), "line {line}: {why}");
        if want == "lookaround" {
            assert_eq!(
                why,
                "uses lookaround/backreferences, which tacet cannot match"
            );
        }
    }
}

#[test]
fn regex_rules_beyond_the_cap_are_reported() {
    let text: String = (0..crate::patterns::MAX_REGEXES + 2)
        .map(|i| format!("/^r{i}\\./\n"))
        .collect();
    let (set, r) = build(&[&text]);
    assert_eq!(r[0].rules, crate::patterns::MAX_REGEXES as u64);
    assert_eq!(r[0].unused.len(), 2);
    assert!(r[0]
        .unused
        .iter()
        .all(|u| u.problem == Problem::TooManyRegexes));
    assert_eq!(set.lookup("r255.example"), blocked(0, 256));
    assert_eq!(set.lookup("r256.example"), Verdict::Unlisted);
}

#[test]
fn regex_rules_survive_a_compiled_file_and_bad_ones_are_refused() {
    let (set, _) = build(&["/^ad[0-9]+\\./\n@@/^ad7\\./\n||ads.example^\n/^t\\./$dnstype=AAAA\n"]);
    let mut bytes = Vec::new();
    set.write_to(&mut bytes).unwrap();
    let loaded = RuleSet::from_vec(bytes.clone()).unwrap();
    for name in ["ad1.x", "ad7.x", "ads.example", "x.ads.example", "t.x", "z"] {
        assert_eq!(loaded.lookup(name), set.lookup(name), "{name}");
        assert_eq!(
            loaded.lookup_query(name, Some(28)),
            set.lookup_query(name, Some(28)),
            "{name}"
        );
    }
    assert_eq!(loaded.lookup("ad1.x"), blocked(0, 1));
    assert_eq!(loaded.lookup("ad7.x"), allowed(0, 2));
    assert_eq!(loaded.lookup_query("t.x", Some(28)), blocked(0, 4));
    // A regex that does not compile, put in a file by hand (with its
    // checksum fixed), makes the patterns section bad.
    let at = bytes.windows(10).position(|w| w == b"^ad[0-9]+\\").unwrap();
    bytes[at + 3] = b'(';
    let body = bytes.len() - 4;
    let crc = crc32fast::hash(&bytes[..body]);
    bytes[body..].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(
        RuleSet::from_vec(bytes).err(),
        Some(crate::LoadError::BadSection("patterns"))
    );
}
