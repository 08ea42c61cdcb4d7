//! Journal append cost: records per second and time per record, for distinct
//! names (every attempt a new record) and for retry storms (coalesced), against
//! a baseline measured in the same run (building the entry's name, which the
//! caller does anyway).
//!
//! Simulated time advances 100 µs per record (10,000 blocked queries/s), so
//! the batch is written and fdatasync'ed once per 10,000 records, as in use.
//!
//! Run: `cargo bench -p tacet-store --bench journal`

// A bench is test code: failing loudly on a broken setup is what it should do,
// and criterion's macros generate undocumented items.
#![allow(clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tacet_store::{Action, JournalEntry, Reason, Store, StoreConfig};

fn entry(i: u64, distinct: u64) -> JournalEntry {
    JournalEntry {
        time_unix_ms: 0,
        name: format!("n{}.tracker.example.com", i % distinct),
        qtype: if i % 2 == 0 { 1 } else { 28 },
        action: Action::Blocked,
        reason: Reason::Rule {
            list_id: "hagezi-light".into(),
            line: (i % distinct) as u32,
        },
        client: "10.111.222.2"
            .parse()
            .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into()),
        app: Some("com.example.app".into()),
        count: 1,
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("journal_append");
    g.throughput(Throughput::Elements(1));
    let mut i = 0u64;
    g.bench_function("baseline_build_entry", |b| {
        b.iter(|| {
            i += 1;
            black_box(entry(i, 1 << 40))
        })
    });
    for (label, distinct) in [
        ("distinct_names", 1u64 << 40),
        ("retry_storm_100_names", 100),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(dir.path(), StoreConfig::default()).expect("open store");
        let mut i = 0u64;
        let mut now_us = 1_700_000_000_000_000u64;
        g.bench_function(label, |b| {
            b.iter(|| {
                i += 1;
                now_us += 100;
                let mut e = entry(i, distinct);
                e.time_unix_ms = now_us / 1000;
                store.record(now_us / 1000, e);
            })
        });
        let st = store.shutdown(now_us / 1000);
        eprintln!("{label}: {st:?}");
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
