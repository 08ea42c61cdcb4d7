//! Lookups in a tight loop, for profilers and instruction counters: builds
//! a generated list (as the benchmarks do) and looks up blocked names (a
//! subdomain of every 97th listed name) or popular ones, round after round.
//! Prints the fastest round's time a lookup: a floor that other tenants of
//! a shared machine disturb less than a median.
//!
//! `cargo run --release -p tacet-rules --example lookup_loop -- [NAMES] [QUERIES] [--popular] [--hash-only]`
//! (defaults: 1,000,000 names, 10,000 queries). `LOOKUPS` sets the lookups
//! a round (default 1,000,000). `PATTERNS=N` adds N AdGuard patterns
//! (and N/64 unanchored ones) to the list, as the benchmark's
//! `rules+patterns` does. `REGEXES=N` adds N `/…/` regex rules (about 20
//! is what the AdGuard DNS filter has), which match none of the queries.
//! `bench/lookup_instructions.sh` runs it under
//! valgrind for instructions per lookup.

// Example code: a failed unwrap is a broken setup.
#![allow(clippy::unwrap_used)]

#[path = "../benches/support/lists.rs"]
#[allow(dead_code)]
mod lists;

use std::hint::black_box;
use std::time::Instant;

use tacet_rules::{ListInfo, RuleSetBuilder, Verdict};

const ROUNDS: u32 = 7;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let popular = args.iter().any(|a| a == "--popular");
    // Without confirming hits against the listed names, as format v5 did:
    // the baseline of what the confirmation costs.
    let hash_only = args.iter().any(|a| a == "--hash-only");
    let mut numbers = args.iter().filter_map(|a| a.parse::<usize>().ok());
    let count = numbers.next().unwrap_or(1_000_000);
    let queries = numbers.next().unwrap_or(10_000).max(1);
    let lookups: u32 = std::env::var("LOOKUPS").map_or(1_000_000, |s| s.parse().unwrap());

    let names = lists::generated(count);
    let mut b = RuleSetBuilder::new();
    let info = ListInfo {
        id: "generated".into(),
        title: "generated".into(),
    };
    let patterns: usize = std::env::var("PATTERNS").map_or(0, |s| s.parse().unwrap());
    let mut text = lists::as_text(&names);
    if patterns > 0 {
        text.push('\n');
        text.push_str(&lists::pattern_lines(patterns, patterns / 64));
    }
    let regexes: usize = std::env::var("REGEXES").map_or(0, |s| s.parse().unwrap());
    for i in 0..regexes {
        // Shapes of the AdGuard DNS filter's regexes: anchored prefixes
        // with classes and counted repetitions, and unanchored infixes.
        text.push_str(&match i % 4 {
            0 => format!("\n/^ad[sx]?[0-9]{{0,3}}\\.rx{i}[a-z]*\\.(com|net)$/"),
            1 => format!("\n/^[a-z0-9]{{12,16}}\\.cdn{i}\\.example$/"),
            2 => format!("\n/(^|\\.)track{i}(ing)?[0-9]+\\./"),
            _ => format!("\n/-rx{i}-[a-f0-9]{{8}}\\./$important"),
        });
    }
    let report = b.add_list(info, text.as_bytes()).unwrap();
    assert!(
        report
            .unused
            .iter()
            .all(|u| !u.problem.kind().contains("regex")),
        "{report}"
    );
    let set = b.build();
    // Queries one after another in one buffer, as the benchmarks have them.
    let text: String = if popular {
        lists::popular_names()
            .into_iter()
            .take(queries)
            .map(|n| n + "\n")
            .collect()
    } else {
        lists::blocked_queries(&names, queries)
    };
    let q: Vec<&str> = text.lines().collect();

    let mut best = f64::MAX;
    let mut blocked = 0u64;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let mut i = 0;
        for _ in 0..lookups {
            i += 1;
            if i == q.len() {
                i = 0;
            }
            let verdict = if hash_only {
                set.lookup_hash_only(black_box(q[i]))
            } else {
                set.lookup_query(black_box(q[i]), Some(1))
            };
            blocked += u64::from(matches!(verdict, Verdict::Blocked(_)));
        }
        best = best.min(start.elapsed().as_nanos() as f64 / f64::from(lookups));
    }
    println!(
        "{} names, {} patterns, {} {} queries{}: {best:.1} ns a lookup (fastest of {ROUNDS} rounds; {:.0}% blocked)",
        names.len(),
        set.pattern_count(),
        q.len(),
        if popular { "popular" } else { "blocked" },
        if hash_only { ", hash only" } else { "" },
        100.0 * blocked as f64 / f64::from(lookups * ROUNDS),
    );
}
