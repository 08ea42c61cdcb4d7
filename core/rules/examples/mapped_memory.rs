//! Dirty memory of a memory-mapped 2M-name compiled rule set.
//!
//! Run: `cargo run --release -p tacet-rules --example mapped_memory`
//!
//! Builds a 2,000,000-name list (see `benches/support/lists.rs`), compiles it
//! to a file, then starts itself again to measure in a fresh process:
//! `Private_Dirty` and `Rss` from `/proc/self/smaps_rollup` before and after
//! mapping the file, loading it (checksum included) and looking up the
//! Umbrella top 100,000 plus 100,000 listed names.

// Measurement tool: a failed unwrap is a broken setup, not bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../benches/support/lists.rs"]
// Shared with the benchmarks; this example uses part of it.
#[allow(dead_code)]
mod lists;

use std::fs::File;
use std::sync::Arc;
use std::time::Instant;

use tacet_rules::{ListInfo, RuleSet, RuleSetBuilder, Verdict};

fn smaps(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn measure(path: &str, queries_path: &str) {
    let queries: Vec<String> = std::fs::read_to_string(queries_path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let (dirty0, rss0) = (smaps("Private_Dirty:"), smaps("Rss:"));
    let t = Instant::now();
    let file = File::open(path).unwrap();
    // SAFETY: the file is ours and not modified while mapped.
    let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
    let set = RuleSet::from_bytes(Arc::new(map)).unwrap();
    let load = t.elapsed();
    let blocked = queries
        .iter()
        .filter(|q| matches!(set.lookup(q), Verdict::Blocked(_)))
        .count();
    let (dirty1, rss1) = (smaps("Private_Dirty:"), smaps("Rss:"));
    println!(
        "mapped {} bytes ({} names), load+verify {:.1} ms, {} of {} queries blocked",
        set.as_bytes().len(),
        set.name_count(),
        load.as_secs_f64() * 1e3,
        blocked,
        queries.len()
    );
    println!(
        "Private_Dirty: {dirty0} kB -> {dirty1} kB (+{} kB); Rss: {rss0} kB -> {rss1} kB (+{} kB, clean file pages)",
        dirty1.saturating_sub(dirty0),
        rss1.saturating_sub(rss0)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, cmd, path, queries] = args.as_slice() {
        if cmd == "measure" {
            measure(path, queries);
            return;
        }
    }
    let dir = std::env::temp_dir();
    let rules_path = dir.join("tacet-2M.rules");
    let queries_path = dir.join("tacet-2M.queries");
    let names = lists::generated(2_000_000);
    let text = lists::as_text(&names);
    let t = Instant::now();
    let mut b = RuleSetBuilder::new();
    b.add_list(
        ListInfo {
            id: "generated".into(),
            title: "generated 2M".into(),
        },
        text.as_bytes(),
    )
    .unwrap();
    let parsed = t.elapsed();
    let bytes = b.compile().unwrap();
    println!(
        "compiled {} names in {:.2} s (parse {:.2} s): {} bytes, {:.2} bytes/name",
        names.len(),
        t.elapsed().as_secs_f64(),
        parsed.as_secs_f64(),
        bytes.len(),
        bytes.len() as f64 / names.len() as f64
    );
    // Synced, so the page cache holds clean pages: freshly written pages
    // would count as dirty in whichever process maps them first.
    let mut file = File::create(&rules_path).unwrap();
    std::io::Write::write_all(&mut file, &bytes).unwrap();
    file.sync_all().unwrap();
    let mut queries = lists::popular_names();
    queries.extend(names.iter().step_by(20).map(|n| format!("www.{n}")));
    std::fs::write(&queries_path, queries.join("\n")).unwrap();
    drop((names, text, bytes));
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "measure",
            rules_path.to_str().unwrap(),
            queries_path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_file(rules_path);
    let _ = std::fs::remove_file(queries_path);
}
