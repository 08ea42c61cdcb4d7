//! Records N blocked attempts of distinct names into a fresh store, as a
//! stream of new blocked names does: for instruction counts under
//! valgrind, which do not move with the machine's load.
//!
//! `valgrind --tool=callgrind target/release/examples/record_loop [N]`

// Measurement tool: a failed setup is a broken run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tacet_store::{Action, JournalEntry, Reason, Store, StoreConfig};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(dir.path(), StoreConfig::default()).expect("open store");
    let mut now_ms = 1_700_000_000_000u64;
    for i in 0..n {
        now_ms += 1;
        let e = JournalEntry {
            time_unix_ms: now_ms,
            name: format!("n{i}.tracker.example.com"),
            qtype: 1,
            action: Action::Blocked,
            reason: Reason::Rule {
                list_id: "hagezi-light".into(),
                line: i as u32,
            },
            client: std::net::Ipv4Addr::new(10, 111, 222, 2).into(),
            app: None,
            count: 1,
        };
        store.record(now_ms, e);
    }
    store.shutdown(now_ms);
}
