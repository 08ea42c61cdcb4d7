//! The parser and lookups against real public lists from the shared test
//! data (read in place, never copied into the repository).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use tacet_rules::{ListInfo, ParseReport, Problem, RuleSet, RuleSetBuilder, Verdict};

fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(path)
}

fn info(id: &str) -> ListInfo {
    ListInfo {
        id: id.to_owned(),
        title: id.to_owned(),
    }
}

fn load(paths: &[&str]) -> (RuleSet, Vec<ParseReport>) {
    let mut b = RuleSetBuilder::new();
    let reports = paths
        .iter()
        .map(|p| {
            b.add_list(info(p), BufReader::new(File::open(data(p)).unwrap()))
                .unwrap()
        })
        .collect();
    (b.build(), reports)
}

fn names(path: &str) -> Vec<String> {
    std::fs::read_to_string(data(path))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn hagezi_personal_in_four_formats_blocks_every_listed_name() {
    let expected = names("blocklists/hagezi/domains/personal.txt");
    assert!(expected.len() > 12_000);
    for format in ["domains", "adblock", "wildcard", "hosts"] {
        let path = format!("blocklists/hagezi/{format}/personal.txt");
        let (set, reports) = load(&[&path]);
        let report = &reports[0];
        assert!(report.is_clean(), "{path}: {report}");
        let missing: Vec<&String> = expected
            .iter()
            .filter(|n| !matches!(set.lookup(n), Verdict::Blocked(_)))
            .collect();
        if format == "adblock" || format == "wildcard" {
            // The data, not the parser: HaGeZi's adblock and wildcard files
            // leave out 18 `www.` names of the domains file whose parent is
            // not listed either (e.g. `www.4x4brasil.com.br` next to
            // `ads.4x4brasil.com.br`). Everything else must be blocked.
            assert_eq!(missing.len(), 18, "{path}: {missing:?}");
            let text = std::fs::read_to_string(data(&path)).unwrap();
            for name in &missing {
                assert!(name.starts_with("www."), "{path}: {name}");
                assert!(
                    !text.contains(&format!("|{name}^")) && !text.contains(&format!("*.{name}\n")),
                    "{name}"
                );
            }
        } else {
            assert!(
                missing.is_empty(),
                "{path}: {} names not blocked, e.g. {:?}",
                missing.len(),
                &missing[..missing.len().min(5)]
            );
        }
        // Reversing the list through the compiled bytes changes nothing.
        let loaded = RuleSet::from_vec(set.as_bytes().to_vec()).unwrap();
        assert!(expected.iter().all(|n| loaded.lookup(n) == set.lookup(n)));
    }
}

#[test]
fn xiaomi_whitelist_keeps_its_names_reachable_over_the_block_list() {
    let mut b = RuleSetBuilder::new();
    let block = b
        .add_list(
            info("block"),
            BufReader::new(File::open(data("blocklists/xiaomi/xiaomi_dns_block.lst")).unwrap()),
        )
        .unwrap();
    let allow = b
        .add_allow_list(
            info("whitelist"),
            BufReader::new(File::open(data("blocklists/xiaomi/xiaomi_dns_whitelist.lst")).unwrap()),
        )
        .unwrap();
    assert!(block.is_clean(), "{block}");
    assert!(allow.is_clean(), "{allow}");
    let set = b.build();
    let whitelist = names("blocklists/xiaomi/xiaomi_dns_whitelist.lst");
    for name in &whitelist {
        assert!(
            matches!(set.lookup(name), Verdict::Allowed(_)),
            "{name}: {:?}",
            set.lookup(name)
        );
    }
    // And the rest of the block list still blocks.
    let blocked = names("blocklists/xiaomi/xiaomi_dns_block.lst")
        .into_iter()
        .filter(|n| matches!(set.lookup(n), Verdict::Blocked(_)))
        .count();
    assert!(blocked > 400, "{blocked}");
}

#[test]
fn stevenblack_hosts_reads_cleanly_and_skips_its_header() {
    let (set, reports) = load(&["blocklists/stevenblack/hosts"]);
    let r = &reports[0];
    assert!(r.is_clean(), "{r}");
    assert!(r.counts.header >= 5, "{r}");
    assert!(r.rules > 58_000, "{r}");
    assert_eq!(set.lookup("localhost"), Verdict::Unlisted);
    assert_eq!(set.lookup("local"), Verdict::Unlisted);
}

#[test]
fn light_lists_read_cleanly() {
    for path in [
        "blocklists/hagezi/domains/light.txt",
        "blocklists/hagezi/adblock/light.txt",
        "blocklists/hagezi/wildcard/light.txt",
    ] {
        let (_, reports) = load(&[path]);
        assert!(reports[0].is_clean(), "{path}: {}", reports[0]);
    }
}

#[test]
fn perflyst_lists() {
    let (_, reports) = load(&[
        "blocklists/perflyst/SmartTV.txt",
        "blocklists/perflyst/android-tracking.txt",
        "blocklists/perflyst/AmazonFireTV.txt",
        "blocklists/perflyst/SessionReplay.txt",
    ]);
    for r in &reports {
        assert!(r.is_clean(), "{r}");
    }
    // The AdGuard Home version: its patterns (`||name.` for any TLD, `*`
    // inside names) are read as AdGuard Home reads them; only `$ctag`
    // lines, which pick clients of a home-network server, are not used.
    let (set, reports) = load(&["blocklists/perflyst/SmartTV-AGH.txt"]);
    let r = &reports[0];
    let kinds: std::collections::BTreeSet<&str> = r.problems.keys().copied().collect();
    assert_eq!(kinds, ["home-network server modifier"].into(), "{r}");
    assert_eq!(r.counts.unused, 4, "{r}");
    assert_eq!(r.counts.pattern, 5, "{r}");
    assert!(r.rules > 150, "{r}");
    for (name, line) in [
        ("fkp.samsungcloudsolution.com", 88),
        ("x.oempprd.samsungcloudsolution.net", 98),
        ("hbbtv.example.de", 161),
        ("hbbtv.a.b.de", 161),
        ("api.eu.hismarttv.com", 237),
        ("fls-na.amazon.com", 266),
    ] {
        match set.lookup(name) {
            Verdict::Blocked(rule) => assert_eq!(rule.line, line, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    // The list's own allow rules beside the pattern win, as in AdGuard.
    assert!(matches!(set.lookup("hbbtv.zdf.de"), Verdict::Allowed(_)));
    for name in [
        "xfkp.samsungcloudsolution.com",
        "hbbtv.de",
        "fls.amazon.com",
        "api.hismarttv.com.evil",
    ] {
        assert_eq!(set.lookup(name), Verdict::Unlisted, "{name}");
    }
    // `|name^` blocks exactly the name.
    assert!(matches!(set.lookup("samsungqbe.com"), Verdict::Blocked(_)));
    // The Pi-hole regex list: every rule line is reported as a regex, none is
    // read as a name.
    let (set, reports) = load(&["blocklists/perflyst/regex.list"]);
    let r = &reports[0];
    assert_eq!(r.rules, 0, "{r}");
    assert!(r.unused.iter().all(|u| u.problem == Problem::Regex), "{r}");
    assert!(r.counts.unused > 10);
    assert_eq!(set.name_count(), 0);
}

/// The same Pi-hole regexes, written as AdGuard's `/…/` rules, are all
/// used and block what Pi-hole blocks with them.
#[test]
fn pihole_regexes_as_adblock_regex_rules_block_what_they_say() {
    let text = std::fs::read_to_string(data("blocklists/perflyst/regex.list")).unwrap();
    let rules: String = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| format!("/{l}/\n"))
        .collect();
    let mut b = RuleSetBuilder::new();
    let r = b.add_list(info("regex"), rules.as_bytes()).unwrap();
    let set = b.build();
    assert!(r.is_clean(), "{r}");
    assert_eq!(set.pattern_count(), 14);
    for name in [
        "ibs.lgappstv.com",
        "x.lgsmartad.com",
        "abcdefghijk",
        "api.eu.hismarttv.com",
        "tvinteractive.tv",
    ] {
        assert!(matches!(set.lookup(name), Verdict::Blocked(_)), "{name}");
    }
    for name in [
        "xlgsmartad.com",
        "abc",
        "giraffic.com.evil",
        "api.hismarttv.com",
    ] {
        assert_eq!(set.lookup(name), Verdict::Unlisted, "{name}");
    }
}

/// Issue #15: every real list in the shared data is read with no line
/// unused that AdGuard Home would use; the reasons for the lines that are
/// not used are printed (`--nocapture`) and each must be one AdGuard's own
/// semantics give. perflyst/regex.list is Pi-hole regex syntax (bare
/// lines such as `(^|\.)lgsmartad\.com`), not adblock `/…/` rules: its
/// lines stay unused with that reason (AdGuard Home would read them as
/// literal patterns that match no name).
#[test]
fn every_real_list_leaves_unused_only_what_it_should() {
    let legitimate = [
        "bare regular expression",
        "home-network server modifier",
        "browser-only modifier",
        "cosmetic rule",
    ];
    for path in [
        "blocklists/stevenblack/hosts",
        "blocklists/hagezi/domains/light.txt",
        "blocklists/hagezi/adblock/light.txt",
        "blocklists/hagezi/wildcard/light.txt",
        "blocklists/hagezi/domains/personal.txt",
        "blocklists/hagezi/adblock/personal.txt",
        "blocklists/hagezi/wildcard/personal.txt",
        "blocklists/hagezi/hosts/personal.txt",
        "blocklists/perflyst/SmartTV.txt",
        "blocklists/perflyst/SmartTV-AGH.txt",
        "blocklists/perflyst/android-tracking.txt",
        "blocklists/perflyst/AmazonFireTV.txt",
        "blocklists/perflyst/SessionReplay.txt",
        "blocklists/perflyst/regex.list",
        "blocklists/xiaomi/xiaomi_dns_block.lst",
        "blocklists/xiaomi/xiaomi_dns_whitelist.lst",
        "blocklists/xiaomi/xiaomi_dns_block_with_whitelist.lst",
    ] {
        let (_, reports) = load(&[path]);
        let r = &reports[0];
        eprintln!(
            "{path}: {} lines, {} rules, {} patterns, {} unused",
            r.lines, r.rules, r.counts.pattern, r.counts.unused
        );
        for (kind, n) in &r.problems {
            eprintln!("  {n:>8}  {kind}");
            assert!(legitimate.contains(kind), "{path}: {kind}\n{r}");
        }
    }
}
