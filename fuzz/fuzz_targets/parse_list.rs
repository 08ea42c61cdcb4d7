//! Any bytes as a list: the parser reports, never panics, and every line is
//! accounted for exactly once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tacet_rules::{ListInfo, RuleSetBuilder};

fuzz_target!(|data: &[u8]| {
    let mut builder = RuleSetBuilder::new();
    let info = ListInfo {
        id: "fuzz".into(),
        title: "fuzz".into(),
    };
    let Ok(report) = builder.add_list(info, data) else {
        return;
    };
    let c = &report.counts;
    let kinds = c.blank
        + c.comment
        + c.header
        + c.hosts
        + c.domain
        + c.adblock
        + c.adblock_allow
        + c.wildcard
        + c.pattern
        + c.address
        + c.badfilter
        + c.unused;
    assert_eq!(kinds, report.lines);
    let set = builder.build();
    if let Ok(text) = std::str::from_utf8(data) {
        for word in text.split_whitespace().take(64) {
            if let Ok(name) = tacet_rules::normalize_name(word) {
                let _ = set.lookup(&name);
            }
            let _ = set.lookup(word);
        }
    }
});
