//! Any bytes as a compiled rule set: refused with an error or loaded, and
//! lookups on a loaded set never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tacet_rules::RuleSet;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = RuleSet::from_vec(data.to_vec()) {
        for name in ["", "com", "a.example", "x.y.a.example", "huami.com"] {
            let _ = set.lookup(name);
        }
        let _ = set.lookup_addr([10, 1, 2, 3].into());
        let _ = set.lookup_addr([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1].into());
        for id in 0..4 {
            let _ = set.list(tacet_rules::ListId(id));
        }
    }
});
