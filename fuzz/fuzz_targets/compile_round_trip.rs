//! Round trip: a list compiled, written and loaded again answers every
//! lookup as the set built in memory does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tacet_rules::{ListInfo, RuleSet, RuleSetBuilder};

fuzz_target!(|data: &[u8]| {
    let mut builder = RuleSetBuilder::new();
    let info = ListInfo {
        id: "fuzz".into(),
        title: "fuzz".into(),
    };
    if builder.add_list(info, data).is_err() {
        return;
    }
    let set = builder.build();
    let mut bytes = Vec::new();
    set.write_to(&mut bytes).ok();
    let loaded = RuleSet::from_vec(bytes).expect("a compiled set loads back");
    let text = String::from_utf8_lossy(data);
    for word in text
        .split(|c: char| c.is_whitespace() || c == '|' || c == '^')
        .take(64)
    {
        if let Ok(name) = tacet_rules::normalize_name(word) {
            assert_eq!(set.lookup(&name), loaded.lookup(&name));
            let parent = name.split_once('.').map_or("", |(_, p)| p);
            assert_eq!(set.lookup(parent), loaded.lookup(parent));
        }
    }
});
