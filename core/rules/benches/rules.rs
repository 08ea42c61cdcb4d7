//! Compile time, size and lookup time of compiled rule sets, each beside a
//! `HashSet<String>` baseline measured in the same run.
//!
//! Run: `cargo bench -p tacet-rules --bench rules`
//! Sizes are printed to stderr ("size:" lines) before the timings.

// Benchmark code: a failed unwrap is a broken setup, not bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

#[path = "support/lists.rs"]
mod lists;

use std::collections::HashSet;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tacet_rules::{ListInfo, RuleSet, RuleSetBuilder};

fn info() -> ListInfo {
    ListInfo {
        id: "bench".into(),
        title: "bench".into(),
    }
}

fn compile(text: &str) -> RuleSet {
    let mut b = RuleSetBuilder::new();
    b.add_list(info(), text.as_bytes()).unwrap();
    b.build()
}

/// The baseline: names in a `HashSet<String>`, looked up by trying the name
/// and each parent (what a simple blocker does).
fn hash_set(names: &[String]) -> HashSet<String> {
    names.iter().cloned().collect()
}

fn hash_lookup(set: &HashSet<String>, name: &str) -> bool {
    let mut suffix = name;
    loop {
        if set.contains(suffix) {
            return true;
        }
        match suffix.split_once('.') {
            Some((_, parent)) => suffix = parent,
            None => return false,
        }
    }
}

/// Heap bytes of the baseline: each String's buffer and header, plus the
/// table's slots (hashbrown: one control byte per slot).
fn hash_set_bytes(set: &HashSet<String>) -> usize {
    set.iter().map(|s| s.capacity()).sum::<usize>()
        + set.capacity() * (std::mem::size_of::<String>() + 1)
}

struct Case {
    label: &'static str,
    names: Vec<String>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            label: "hagezi-light-176k",
            names: lists::domain_list("blocklists/hagezi/domains/light.txt"),
        },
        Case {
            label: "generated-1M",
            names: lists::generated(1_000_000),
        },
        Case {
            label: "generated-2M",
            names: lists::generated(2_000_000),
        },
    ]
}

/// Queries one after another in one buffer, as a resolver has them in the
/// packets it reads. Strings allocated one by one after building a list land
/// all over a fragmented heap, and every lookup would start with a cache miss
/// on the query itself, on both sides of the comparison.
fn packed(names: impl IntoIterator<Item = String>) -> String {
    names.into_iter().collect::<Vec<_>>().join("\n")
}

/// The index after `i` among `len`, wrapping: no division, whose latency
/// would be timed with every lookup.
fn next(i: usize, len: usize) -> usize {
    if i + 1 < len {
        i + 1
    } else {
        0
    }
}

fn benches(c: &mut Criterion) {
    let popular_text = packed(lists::popular_names());
    let popular: Vec<&str> = popular_text.lines().collect();
    for case in cases() {
        let text = lists::as_text(&case.names);
        let set = compile(&text);
        let baseline = hash_set(&case.names);
        let bytes = set.as_bytes().len();
        eprintln!(
            "size: {}: {} names, compiled {} bytes = {:.2} bytes/name in the name table (what lookups of unlisted names read), {:.2} bytes/name in the file (with the names hits are confirmed against); HashSet<String> {} bytes = {:.1} bytes/name; text {:.1} bytes/name",
            case.label,
            case.names.len(),
            bytes,
            set.name_table_len() as f64 / case.names.len() as f64,
            bytes as f64 / case.names.len() as f64,
            hash_set_bytes(&baseline),
            hash_set_bytes(&baseline) as f64 / case.names.len() as f64,
            text.len() as f64 / case.names.len() as f64,
        );

        let mut g = c.benchmark_group(format!("compile/{}", case.label));
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(8));
        g.throughput(Throughput::Elements(case.names.len() as u64));
        g.bench_function("rules", |b| b.iter(|| compile(black_box(&text))));
        g.bench_function("hashset", |b| {
            b.iter(|| {
                let mut s = HashSet::new();
                for line in black_box(&text).lines() {
                    s.insert(line.to_owned());
                }
                s
            })
        });
        g.finish();

        let blocked_text = lists::blocked_queries(&case.names, 10_000);
        let blocked: Vec<&str> = blocked_text.lines().collect();
        let mut g = c.benchmark_group(format!("lookup/{}", case.label));
        g.sample_size(20)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for (kind, queries) in [("blocked", &blocked), ("popular", &popular)] {
            g.bench_with_input(BenchmarkId::new("rules", kind), queries, |b, q| {
                let mut i = 0;
                b.iter(|| {
                    i = next(i, q.len());
                    set.lookup(black_box(q[i]))
                })
            });
            g.bench_with_input(BenchmarkId::new("hashset", kind), queries, |b, q| {
                let mut i = 0;
                b.iter(|| {
                    i = next(i, q.len());
                    hash_lookup(&baseline, black_box(q[i]))
                })
            });
        }
        // The same list with AdGuard patterns beside it (see
        // `pattern_lines`): what they add to lookups of names they do not
        // match, which is nearly every name.
        if case.label == "generated-1M" {
            let with = compile(&format!("{text}\n{}", lists::pattern_lines(1_000, 16)));
            eprintln!("patterns: {} in the set", with.pattern_count());
            for (kind, queries) in [("blocked", &blocked), ("popular", &popular)] {
                g.bench_with_input(BenchmarkId::new("rules+patterns", kind), queries, |b, q| {
                    let mut i = 0;
                    b.iter(|| {
                        i = next(i, q.len());
                        with.lookup_query(black_box(q[i]), Some(1))
                    })
                });
            }
        }
        // The hardware's share: one random read in a buffer the size of
        // the compiled table, a pointer chase so each read waits for the
        // one before. A blocked lookup needs at least one such read (its
        // record); on a shared machine its cost moves with the neighbours'.
        let chain = pointer_chain(bytes / 8);
        g.bench_function("one-random-read", |b| {
            let mut at = 0usize;
            b.iter(|| {
                at = chain[at];
                at
            })
        });
        g.finish();
    }
}

/// A random cycle through `len` slots: slot `i` holds the next index.
fn pointer_chain(len: usize) -> Vec<usize> {
    let len = len.max(2);
    let mut order: Vec<usize> = (0..len).collect();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for i in (1..len).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    let mut chain = vec![0; len];
    for w in order.windows(2) {
        chain[w[0]] = w[1];
    }
    chain[order[len - 1]] = order[0];
    chain
}

criterion_group!(rules, benches);
criterion_main!(rules);
