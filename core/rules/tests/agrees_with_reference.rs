//! Property: the compiled lookup gives the same verdict as a naive reference
//! that applies the documented semantics rule by rule.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use tacet_rules::{ListId, ListInfo, RuleRef, RuleSet, RuleSetBuilder, Verdict};

#[derive(Clone, Debug)]
struct Rule {
    name: String,
    subtree: bool,
    allow: bool,
    important: bool,
}

impl Rule {
    fn line(&self) -> String {
        match (self.subtree, self.allow, self.important) {
            (false, false, _) => format!("0.0.0.0 {}", self.name),
            (true, false, false) => format!("*.{}", self.name),
            (true, false, true) => format!("||{}^$important", self.name),
            (_, true, false) => format!("@@||{}^", self.name),
            (_, true, true) => format!("@@||{}^$important", self.name),
        }
    }
}

/// Names from a few labels, so that rules and queries share suffixes; some
/// labels are long, as the hash reads labels in 8- and 16-byte pieces, and
/// some names are deep, as lookups keep eight probes on the stack and take
/// a slower path for more.
fn name() -> impl Strategy<Value = String> {
    let label = prop::sample::select(vec![
        "a",
        "b",
        "ab",
        "c-d",
        "x1",
        "com",
        "abcdefgh",
        "abcdefghi",
        "abcdefghijklmnopq",
        "abcdefghijklmnopqrstuvwxyz0123456",
    ]);
    prop_oneof![
        prop::collection::vec(label.clone(), 1..5),
        prop::collection::vec(label, 1..12),
    ]
    .prop_map(|l| l.join("."))
    // Longer names are not DNS names: the parser rightly reports them.
    .prop_filter("at most 253 bytes", |n| n.len() <= 253)
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        name(),
        any::<bool>(),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(name, subtree, allow, important)| {
            // Allow and important rules are written in adblock syntax, always a
            // subtree; hosts lines carry no modifiers.
            let subtree = subtree || allow || important;
            Rule {
                name,
                subtree,
                allow,
                important,
            }
        })
}

/// (name length, subtree, earlier first): the larger wins within a class.
type Rank = (usize, bool, std::cmp::Reverse<(u16, u32)>);

fn reference(lists: &[Vec<Rule>], query: &str) -> Verdict {
    let mut best: [Option<Rank>; 4] = [None; 4];
    for (l, rules) in lists.iter().enumerate() {
        for (i, r) in rules.iter().enumerate() {
            let matches =
                query == r.name || (r.subtree && query.ends_with(&format!(".{}", r.name)));
            if !matches {
                continue;
            }
            let class = usize::from(r.allow) | usize::from(r.important) << 1;
            let key = (
                r.name.len(),
                r.subtree,
                std::cmp::Reverse((l as u16, i as u32 + 1)),
            );
            if best[class].is_none_or(|b| key > b) {
                best[class] = Some(key);
            }
        }
    }
    let rule = |k: Rank| RuleRef {
        list: ListId(k.2 .0 .0),
        line: k.2 .0 .1,
    };
    match best {
        [_, _, _, Some(k)] => Verdict::Allowed(rule(k)),
        [_, _, Some(k), None] => Verdict::Blocked(rule(k)),
        [_, Some(k), None, None] => Verdict::Allowed(rule(k)),
        [Some(k), None, None, None] => Verdict::Blocked(rule(k)),
        _ => Verdict::Unlisted,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn compiled_lookup_agrees_with_reference(
        lists in prop::collection::vec(prop::collection::vec(rule(), 0..12), 1..4),
        queries in prop::collection::vec(name(), 1..30),
    ) {
        let mut b = RuleSetBuilder::new();
        for (i, rules) in lists.iter().enumerate() {
            let text: String = rules.iter().map(|r| r.line() + "\n").collect();
            let report = b.add_list(ListInfo { id: i.to_string(), title: String::new() }, text.as_bytes()).unwrap();
            prop_assert!(report.is_clean());
        }
        let set = b.build();
        let loaded = RuleSet::from_vec(set.as_bytes().to_vec()).unwrap();
        for q in queries.iter().chain(lists.iter().flatten().map(|r| &r.name)) {
            let want = reference(&lists, q);
            prop_assert_eq!(set.lookup(q), want, "query {}", q);
            prop_assert_eq!(loaded.lookup(q), want, "query {}", q);
        }
    }
}

/// An adblock rule as written, with AdGuard Home's meaning as a regular
/// expression over the name (urlfilter's `patternToRegexp`, for a name).
#[derive(Clone, Debug)]
struct Written {
    text: String,
    regex: String,
    class: usize,
    /// The pattern's length: AdGuard refuses one under three characters.
    len: usize,
}

fn written() -> impl Strategy<Value = Written> {
    (
        name(),
        0..5usize,
        prop::sample::select(vec!["a", "ab", "x", "abcdefgh"]),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(name, shape, prefix, allow, important)| {
            let esc = regex::escape(&name);
            // A label replaced by `prefix*`: `*` inside a name.
            let starred = {
                let mut labels: Vec<&str> = name.split('.').collect();
                let at = labels.len() / 2;
                let star = format!("{prefix}*");
                labels[at] = &star;
                let pattern = labels.join(".");
                let re = pattern
                    .split('*')
                    .map(regex::escape)
                    .collect::<Vec<_>>()
                    .join(".*");
                (pattern, re)
            };
            let label = "^([a-z0-9_.-]+\\.)?";
            let (pattern, regex) = match shape {
                0 => (format!("||{name}^"), format!("{label}{esc}$")),
                1 => (
                    format!("||{}^", starred.0),
                    format!("{label}{}$", starred.1),
                ),
                2 => (format!("{name}^"), format!("{esc}$")),
                3 => (format!("||{name}"), format!("{label}{esc}")),
                _ => (format!("|{name}|"), format!("^{esc}$")),
            };
            let mods = if important { "$important" } else { "" };
            let at = if allow { "@@" } else { "" };
            Written {
                text: format!("{at}{pattern}{mods}"),
                regex,
                class: usize::from(allow) | usize::from(important) << 1,
                len: pattern.len(),
            }
        })
        .prop_filter("AdGuard refuses patterns under 3 characters", |w| {
            w.len >= 3
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// Names and patterns together decide as AdGuard Home does: the
    /// strongest class of all matching rules (important allow, important
    /// block, allow, block), each rule matching what its regex matches.
    #[test]
    fn patterns_and_names_decide_as_adguard_home(
        rules in prop::collection::vec(written(), 1..16),
        queries in prop::collection::vec(name(), 1..30),
    ) {
        let text: String = rules.iter().map(|r| r.text.clone() + "\n").collect();
        let mut b = RuleSetBuilder::new();
        let report = b.add_list(ListInfo { id: "p".into(), title: String::new() }, text.as_bytes()).unwrap();
        prop_assert!(report.is_clean(), "{}", report);
        let set = RuleSet::from_vec(b.build().as_bytes().to_vec()).unwrap();
        let regexes: Vec<regex::Regex> = rules.iter().map(|r| regex::Regex::new(&r.regex).unwrap()).collect();
        for q in &queries {
            let best = rules
                .iter()
                .zip(&regexes)
                .filter(|(_, re)| re.is_match(q))
                .map(|(r, _)| r.class)
                .max_by_key(|&c| [0, 1, 2, 3].iter().position(|&k| k == c));
            let got = match set.lookup(q) {
                Verdict::Blocked(_) => Some(false),
                Verdict::Allowed(_) => Some(true),
                Verdict::Unlisted => None,
            };
            let want = best.map(|c| c & 1 == 1);
            prop_assert_eq!(got, want, "query {} rules {}", q, text);
        }
    }
}
