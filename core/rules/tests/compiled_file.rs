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
    b.add_list(info, "a.example\n0.0.0.0 b.example\n@@||c.a.example^\n10.0.0.0/8\n2001:db8::/32\n||d.example^$important\n0.0.0.0 a-rather-long-name-for-one-slot.example\n".as_bytes())
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
    // Format v5 kept no names: a file of it is refused, so that the
    // runtime compiles its lists again rather than misreading it.
    let mut version_5 = sample();
    version_5[8] = 5;
    assert!(matches!(
        RuleSet::from_vec(version_5),
        Err(LoadError::UnsupportedVersion { found: 5 })
    ));
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
        RuleSet::from_vec(b"NOTRULES".repeat(12)),
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

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn reseal(mut b: Vec<u8>) -> Vec<u8> {
    let body = b.len() - 4;
    let crc = crc32(&b[..body]);
    b[body..].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Where the listed names' section is: after the 88-byte header (magic,
/// version, nine section lengths), the lists and the name table.
fn listed_section(b: &[u8]) -> std::ops::Range<usize> {
    let start = 88 + (u64_at(b, 16) + u64_at(b, 24)) as usize;
    start..start + u64_at(b, 32) as usize
}

const SLOT: usize = 32;

#[test]
fn a_listed_names_section_that_disagrees_is_refused() {
    let bytes = sample();
    let listed = listed_section(&bytes);
    let names = RuleSet::from_vec(bytes.clone()).unwrap().name_count();
    // Zero bytes up to a multiple of 32 in the file, a 32-byte slot per
    // name, then the rests of the names longer than a slot.
    let slots =
        listed.start.next_multiple_of(SLOT)..listed.start.next_multiple_of(SLOT) + names * SLOT;
    assert!(bytes[listed.start..slots.start].iter().all(|&b| b == 0));
    let long = slots
        .clone()
        .step_by(SLOT)
        .find(|&at| bytes[at + SLOT - 1] == 0xff)
        .expect("a long name's slot");
    assert_eq!(&bytes[long..long + 24], b"a-rather-long-name-for-o");
    assert_eq!(&bytes[slots.end..listed.end], b"ne-slot.example");
    let refused = |b: Vec<u8>, what: &str| {
        let err = RuleSet::from_vec(reseal(b)).unwrap_err();
        assert_eq!(err, LoadError::BadSection("listed names"), "{what}");
        assert!(err.to_string().contains("listed names"), "{what}: {err}");
    };
    // The long name's rest pointing past the overflow, or longer or
    // shorter than it; an empty slot; a pad byte set.
    for (at, value) in [
        (long + 24, 1u8),
        (long + 24, 0xff),
        (long + 28, 16),
        (long + 28, 14),
        (long + 28, 0),
        (slots.start, 0),
    ] {
        let mut b = bytes.clone();
        b[at] = value;
        refused(b, &format!("byte {at} = {value}"));
    }
    if listed.start < slots.start {
        let mut b = bytes.clone();
        b[listed.start] = 1;
        refused(b, "pad");
    }
    // The section cut short (the sections after it moved up): fewer
    // slots than the table has names, or the overflow cut.
    for cut in [1, 15, 16, SLOT + 15, listed.len()] {
        let mut b = bytes.clone();
        b.drain(listed.end - cut..listed.end);
        let len = u64_at(&b, 32) - cut as u64;
        b[32..40].copy_from_slice(&len.to_le_bytes());
        refused(b, &format!("cut by {cut}"));
    }
}

#[test]
fn a_hit_is_confirmed_against_the_listed_name() {
    // A listed name changed in the file (and the checksum recomputed, as
    // a crafted file would): the table still holds its hash, but the name
    // no longer matches, so it is not blocked; its neighbours still are.
    let bytes = sample();
    let listed = listed_section(&bytes);
    let set = RuleSet::from_vec(bytes.clone()).unwrap();
    assert!(matches!(set.lookup("b.example"), Verdict::Blocked(_)));
    let at = listed.start
        + bytes[listed.clone()]
            .windows(9)
            .position(|w| w == b"b.example")
            .unwrap();
    let mut b = bytes.clone();
    b[at] = b'q';
    let set = RuleSet::from_vec(reseal(b)).unwrap();
    assert_eq!(set.lookup("b.example"), Verdict::Unlisted);
    assert!(matches!(
        set.lookup_hash_only("b.example"),
        Verdict::Blocked(_)
    ));
    assert!(matches!(set.lookup("x.a.example"), Verdict::Blocked(_)));
    assert!(matches!(set.lookup("d.example"), Verdict::Blocked(_)));
    // The same for a name longer than its slot, changed past the slot:
    // its rest, in the overflow, is compared too.
    let long = "a-rather-long-name-for-one-slot.example";
    let set = RuleSet::from_vec(bytes.clone()).unwrap();
    assert!(matches!(set.lookup(long), Verdict::Blocked(_)));
    let mut b = bytes.clone();
    let end = listed.end - 1;
    assert_eq!(b[end], b'e');
    b[end] = b'q';
    let set = RuleSet::from_vec(reseal(b)).unwrap();
    assert_eq!(set.lookup(long), Verdict::Unlisted);
    assert!(matches!(set.lookup_hash_only(long), Verdict::Blocked(_)));
    assert!(matches!(set.lookup("b.example"), Verdict::Blocked(_)));
}

#[test]
fn an_origin_is_kept_checked_and_bounded() {
    let set = RuleSet::from_vec(sample()).unwrap();
    assert!(set.origin().is_empty());
    let with = set.with_origin(b"lists: a 12 34").unwrap();
    assert_eq!(with.origin(), b"lists: a 12 34");
    assert_eq!(with.lookup("x.a.example"), set.lookup("x.a.example"));
    assert_eq!(with.name_count(), set.name_count());
    // Read back from its bytes; replaced, not appended to.
    let again = RuleSet::from_vec(with.as_bytes().to_vec()).unwrap();
    assert_eq!(again.origin(), b"lists: a 12 34");
    let other = again.with_origin(b"x").unwrap();
    assert_eq!(other.origin(), b"x");
    assert_eq!(other.as_bytes().len(), set.as_bytes().len() + 1);
    // Covered by the checksum like every other byte.
    let mut b = with.as_bytes().to_vec();
    let at = b.len() - 5;
    b[at] ^= 1;
    assert!(matches!(
        RuleSet::from_vec(b),
        Err(LoadError::Checksum { .. })
    ));
    let limit = tacet_rules::compiled::MAX_ORIGIN;
    assert!(set.with_origin(&vec![b'x'; limit]).is_ok());
    assert!(set.with_origin(&vec![b'x'; limit + 1]).is_err());
}
