//! Any bytes as a compiled rule set: refused with an error or loaded, and
//! lookups on a loaded set never panic. Each input is also tried with its
//! last four bytes replaced by the CRC-32 of the rest, as the format wants:
//! without that, nearly every mutation stops at the checksum and the
//! structure checks behind it go unfuzzed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tacet_rules::RuleSet;

const CRC_LEN: usize = 4;

fuzz_target!(|data: &[u8]| {
    load(data.to_vec());
    if let Some(body) = data.len().checked_sub(CRC_LEN) {
        let mut mended = data[..body].to_vec();
        mended.extend_from_slice(&crc32fast::hash(&mended).to_le_bytes());
        load(mended);
    }
});

fn load(bytes: Vec<u8>) {
    if let Ok(set) = RuleSet::from_vec(bytes) {
        for name in ["", "com", "a.example", "x.y.a.example", "huami.com"] {
            let _ = set.lookup(name);
        }
        let _ = set.lookup_addr([10, 1, 2, 3].into());
        let _ = set.lookup_addr([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1].into());
        for id in 0..4 {
            let _ = set.list(tacet_rules::ListId(id));
        }
    }
}
