//! The loader refuses garbage, cut and altered compiled files with an error,
//! never a panic. (The fuzz targets go further; these run in every CI.)

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tacet_rules::{ListInfo, LoadError, RuleSet, RuleSetBuilder, Verdict};

fn sample() -> Vec<u8> {
    let mut b = RuleSetBuilder::new();
    let info = ListInfo {
        id: "t".into(),
        title: "test".into(),
    };
    b.add_list(info, "a.example\n0.0.0.0 b.example\n@@||c.a.example^\n10.0.0.0/8\n2001:db8::/32\n||d.example^$important\n".as_bytes())
        .unwrap();
    b.build().as_bytes().to_vec()
}

fn exercise(set: &RuleSet) {
    for name in [
        "a.example",
        "x.c.a.example",
        "b.example",
        "",
        "d.example",
        "zz",
    ] {
        let _ = set.lookup(name);
    }
    let _ = set.lookup_addr("10.1.2.3".parse().unwrap());
    let _ = set.lookup_addr("2001:db8::1".parse().unwrap());
}

#[test]
fn sample_loads() {
    let set = RuleSet::from_vec(sample()).unwrap();
    assert!(matches!(set.lookup("x.a.example"), Verdict::Blocked(_)));
}

#[test]
fn every_truncation_is_refused() {
    let bytes = sample();
    for len in 0..bytes.len() {
        let err = RuleSet::from_vec(bytes[..len].to_vec()).unwrap_err();
        assert!(
            matches!(
                err,
                LoadError::TooShort { .. } | LoadError::LengthMismatch { .. }
            ),
            "{len}: {err}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        RuleSet::from_vec(longer),
        Err(LoadError::LengthMismatch { .. })
    ));
}

#[test]
fn every_bit_flip_is_refused() {
    let bytes = sample();
    for i in 0..bytes.len() * 8 {
        let mut b = bytes.clone();
        b[i / 8] ^= 1 << (i % 8);
        assert!(
            RuleSet::from_vec(b).is_err(),
            "flip of bit {i} was accepted"
        );
    }
}

#[test]
fn garbage_is_refused() {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for len in [0, 1, 10, 59, 60, 61, 100, 1000, 10_000] {
        let garbage: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        assert!(RuleSet::from_vec(garbage).is_err());
    }
    let mut version_2 = sample();
    version_2[8] = 2;
    assert!(matches!(
        RuleSet::from_vec(version_2),
        Err(LoadError::UnsupportedVersion { found: 2 })
    ));
    let mut wrong_version = sample();
    wrong_version[8] = 9;
    assert!(matches!(
        RuleSet::from_vec(wrong_version),
        Err(LoadError::UnsupportedVersion { found: 9 })
    ));
    assert!(matches!(
        RuleSet::from_vec(b"NOTRULES".repeat(10)),
        Err(LoadError::BadMagic)
    ));
}

/// A changed byte with a recomputed checksum (what a crafted file would do):
/// refused or accepted, but lookups never panic.
#[test]
fn altered_bytes_with_valid_checksum_never_panic() {
    let bytes = sample();
    let body = bytes.len() - 4;
    for i in 8..body {
        for x in [0x01u8, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[i] ^= x;
            let crc = crc32(&b[..body]);
            b[body..].copy_from_slice(&crc.to_le_bytes());
            if let Ok(set) = RuleSet::from_vec(b) {
                exercise(&set);
            }
        }
    }
}

fn crc32(data: &[u8]) -> u32 {
    // Bitwise CRC-32 (IEEE), so the test does not trust the code it checks.
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A file altered and then given a correct checksum, as a crafted file
/// would be, gets past the CRC to the structure checks: every byte changed
/// three ways is refused or, if accepted, answers lookups without a panic.
#[test]
fn altered_files_with_a_valid_checksum_never_panic() {
    let mut b = RuleSetBuilder::new();
    let info = ListInfo {
        id: "t".into(),
        title: "test".into(),
    };
    let text: String = (0..300)
        .map(|i| match i % 4 {
            0 => format!("n{i}.example\n"),
            1 => format!("0.0.0.0 h{i}.sub.example\n"),
            2 => format!("@@||a{i}.n{}.example^\n", i - 2),
            _ => format!("||deep{i}.x.y.example^$important\n"),
        })
        .chain([
            "10.0.0.0/8\n".into(),
            "@@10.1.0.0/16\n".into(),
            "2001:db8::/32\n".into(),
        ])
        .collect();
    b.add_list(info, text.as_bytes()).unwrap();
    let bytes = b.build().as_bytes().to_vec();
    let body = bytes.len() - 4;
    let (mut accepted, mut refused) = (0, 0);
    for i in 0..body {
        for change in [0x01u8, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[i] ^= change;
            let crc = crc32fast::hash(&b[..body]);
            b[body..].copy_from_slice(&crc.to_le_bytes());
            match RuleSet::from_vec(b) {
                Ok(set) => {
                    accepted += 1;
                    exercise(&set);
                    for j in 0..40 {
                        let _ = set.lookup(&format!("www.n{j}.example"));
                        let _ = set.lookup(&format!("deep{j}.x.y.example"));
                    }
                    let _ = set.blocked_networks();
                }
                Err(_) => refused += 1,
            }
        }
    }
    // Both happen: record bits (hashes, lines) may change freely, the
    // structure may not.
    assert!(
        accepted > 0 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
}
