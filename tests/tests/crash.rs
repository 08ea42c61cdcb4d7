//! The store survives a `kill -9` of a firewall under load: after
//! reopening, every journal record older than the loss window (1 s of
//! batching, documented in tacet-store) is there, no corrupt record comes
//! back, the counters are within the window, and a new firewall keeps
//! writing to the same store.

// Test code: helpers outside #[test] fns fail the test loudly, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tacet_e2e::burst::{burst, Query, TYPE_A};
use tacet_e2e::{require_root, FirewallOptions, ScratchDir, Testbed, RESOLVER_V4};
use tacet_store::{Filter, StoreReader};

/// Every name the journal of the store in `dir` holds, and how many
/// records it returned.
fn journal_names(dir: &std::path::Path) -> (HashSet<String>, usize) {
    let reader = StoreReader::open(dir).unwrap();
    let (mut names, mut records, mut cursor) = (HashSet::new(), 0, None);
    loop {
        let page = reader
            .query(&Filter::default(), cursor.as_ref(), 500)
            .unwrap();
        records += page.records.len();
        names.extend(page.records.iter().map(|r| r.entry.name.clone()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return (names, records),
        }
    }
}

#[test]
fn kill_9_under_load_loses_at_most_the_loss_window() {
    if !require_root() {
        return;
    }
    let scratch = ScratchDir::new("crash");
    let store = scratch.path().join("store");
    let opts = FirewallOptions::default().store(&store);
    let mut bed = Testbed::start(&opts);
    let resolver = SocketAddr::new(RESOLVER_V4.parse().unwrap(), 53);

    // Blocked queries for distinct names, in batches, for three seconds:
    // each becomes a journal record.
    let mut sent: Vec<(String, Instant)> = Vec::new();
    let start = Instant::now();
    let mut batch = 0u32;
    while start.elapsed() < Duration::from_secs(3) {
        let queries: Vec<Query> = (0..50u16)
            .map(|i| Query {
                id: i,
                name: format!("n{batch}-{i}.crash.blocked.test"),
                qtype: TYPE_A,
            })
            .collect();
        let outcome = burst(&bed.lab.phone, resolver, &queries, Duration::from_secs(3));
        assert_eq!(
            outcome.replies.len(),
            queries.len(),
            "every query answered before the crash"
        );
        let answered = Instant::now();
        sent.extend(queries.into_iter().map(|q| (q.name, answered)));
        batch += 1;
        std::thread::sleep(Duration::from_millis(20));
    }

    let firewall = bed.firewall.take().unwrap();
    // SAFETY: kill only sends a signal to the firewall's own pid.
    assert_eq!(
        unsafe { libc::kill(firewall.pid() as i32, libc::SIGKILL) },
        0
    );
    let killed = Instant::now();
    drop(firewall);

    let (names, records) = journal_names(&store);
    // Only names that were sent come back: no corrupt or invented record.
    let all: HashSet<&str> = sent.iter().map(|(n, _)| n.as_str()).collect();
    for name in &names {
        assert!(
            all.contains(name.as_str()),
            "a record no query made: {name}"
        );
    }
    assert_eq!(
        records,
        names.len(),
        "each name once: distinct names never coalesce"
    );
    // Everything answered more than the loss window (plus scheduling slack)
    // before the kill is durable.
    let window = Duration::from_millis(1500);
    let old: Vec<&str> = sent
        .iter()
        .filter(|(_, at)| killed.duration_since(*at) > window)
        .map(|(n, _)| n.as_str())
        .collect();
    assert!(
        old.len() > 500,
        "the test ran long enough: {} old names",
        old.len()
    );
    let missing: Vec<&&str> = old.iter().filter(|n| !names.contains(**n)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} records older than the loss window lost: {:?}",
        missing.len(),
        old.len(),
        &missing[..missing.len().min(5)]
    );

    // The counters agree with the journal within the window.
    let counters = StoreReader::open(&store).unwrap().counters().unwrap();
    assert!(
        counters.blocked_total >= old.len() as u64,
        "{} < {}",
        counters.blocked_total,
        old.len()
    );
    assert!(counters.blocked_total <= sent.len() as u64);

    // A new firewall opens the store (its torn tail cut) and writes on.
    let mut bed = Testbed::start_with(&opts, tacet_e2e::Firewall::start);
    let reply = bed.query("after.crash.blocked.test", "A");
    assert_eq!(reply.status, "NOERROR", "{}", reply.raw);
    bed.stop();
    let (after, _) = journal_names(&store);
    assert!(after.contains("after.crash.blocked.test"));
    assert!(after.is_superset(&names), "reopening lost nothing");
}
