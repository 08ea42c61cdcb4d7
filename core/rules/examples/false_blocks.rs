//! False blocks in random names: builds the generated million-name list
//! (as the benchmarks do), looks up random names that are in no list
//! (`5hyhyay2s8z.com`, `q0x7ad.k2m9vbt4.cn`), and counts the ones blocked
//! although neither they nor a parent is listed: with every hash hit
//! confirmed against the listed name (`RuleSet::lookup`, must be 0), and,
//! as the baseline in the same run, on the hash alone (format v5's
//! lookup).
//!
//! `cargo run --release -p tacet-rules --example false_blocks -- [NAMES] [LOOKUPS]`
//! (defaults: 1,000,000 names, 1,000,000,000 lookups, on `THREADS`
//! threads, default 2). Exits with 1 if any name was falsely blocked.

// Example code: a failed unwrap is a broken setup.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../benches/support/lists.rs"]
#[allow(dead_code)]
mod lists;

use std::collections::HashSet;
use std::time::Instant;

use tacet_rules::{ListInfo, RuleSet, RuleSetBuilder, Verdict};

const TLDS: [&str; 10] = [
    "com", "net", "org", "cn", "io", "de", "ru", "info", "xyz", "top",
];
const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// What one thread counted.
#[derive(Default)]
struct Counts {
    lookups: u64,
    /// Blocked with confirmation although nothing listed covers the name.
    false_blocks: u64,
    /// Blocked on the hash alone although nothing listed covers the name.
    hash_only_false_blocks: u64,
    /// Random names that a listed name does cover (not false blocks).
    truly_listed: u64,
    examples: Vec<String>,
}

/// Whether the name or a parent is one of the listed names.
fn covered(listed: &HashSet<&str>, name: &str) -> bool {
    let mut suffix = name;
    loop {
        if listed.contains(suffix) {
            return true;
        }
        match suffix.split_once('.') {
            Some((_, parent)) => suffix = parent,
            None => return false,
        }
    }
}

fn run(set: &RuleSet, listed: &HashSet<&str>, seed: u64, lookups: u64) -> Counts {
    let mut state = seed | 1;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut name = String::with_capacity(64);
    let mut counts = Counts::default();
    for _ in 0..lookups {
        name.clear();
        let r = rand();
        // One random label (three in four names) or two, then a TLD.
        let labels = if r & 3 == 0 { 2 } else { 1 };
        for l in 0..labels {
            let r = rand();
            let len = 6 + (r % 9) as usize;
            for i in 0..len {
                name.push(char::from(ALPHABET[((r >> (8 + 5 * i)) % 36) as usize]));
            }
            if l + 1 < labels {
                name.push('.');
            }
        }
        name.push('.');
        name.push_str(TLDS[((r >> 8) % TLDS.len() as u64) as usize]);
        let confirmed = matches!(set.lookup(&name), Verdict::Blocked(_));
        let hash_only = matches!(set.lookup_hash_only(&name), Verdict::Blocked(_));
        counts.lookups += 1;
        if confirmed || hash_only {
            if covered(listed, &name) {
                counts.truly_listed += 1;
                continue;
            }
            if confirmed {
                counts.false_blocks += 1;
            }
            if hash_only {
                counts.hash_only_false_blocks += 1;
                if counts.examples.len() < 3 {
                    let why = match set.lookup_hash_only(&name) {
                        Verdict::Blocked(r) => format!("line {}", r.line),
                        _ => String::new(),
                    };
                    counts.examples.push(format!("{name} (hash-only: {why})"));
                }
            }
        }
    }
    counts
}

fn main() {
    let mut numbers = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<u64>().ok());
    let count = numbers.next().unwrap_or(1_000_000) as usize;
    let lookups = numbers.next().unwrap_or(1_000_000_000);
    let threads: u64 = std::env::var("THREADS").map_or(2, |s| s.parse().unwrap());

    let names = lists::generated(count);
    let mut b = RuleSetBuilder::new();
    let info = ListInfo {
        id: "generated".into(),
        title: "generated".into(),
    };
    b.add_list(info, lists::as_text(&names).as_bytes()).unwrap();
    let set = b.build();
    let listed: HashSet<&str> = names.iter().map(String::as_str).collect();

    let start = Instant::now();
    let results: Vec<Counts> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (set, listed) = (&set, &listed);
                let share = lookups / threads + u64::from(t < lookups % threads);
                let seed = 0x2545_f491_4f6c_dd1d_u64.wrapping_mul(t + 1);
                s.spawn(move || run(set, listed, seed, share))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut total = Counts::default();
    for c in results {
        total.lookups += c.lookups;
        total.false_blocks += c.false_blocks;
        total.hash_only_false_blocks += c.hash_only_false_blocks;
        total.truly_listed += c.truly_listed;
        total.examples.extend(c.examples);
    }
    println!(
        "{} names ({:.2} bytes/name in the table lookups read, {:.2} bytes/name in the file); {} random names looked up twice in {:.0} s",
        set.name_count(),
        set.name_table_len() as f64 / set.name_count() as f64,
        set.as_bytes().len() as f64 / set.name_count() as f64,
        total.lookups,
        start.elapsed().as_secs_f64(),
    );
    println!(
        "false blocks: {} with hits confirmed against the listed names; {} on the hash alone (baseline, format v5); {} random names really listed",
        total.false_blocks, total.hash_only_false_blocks, total.truly_listed
    );
    for e in &total.examples {
        println!("  blocked on the hash alone: {e}");
    }
    if total.false_blocks != 0 {
        std::process::exit(1);
    }
}
