//! tacet's verdict for each name on standard input, as `name<TAB>B|A|U`
//! (blocked, allowed, unlisted), for the lists given as arguments, for a
//! query of type A. Names that are not names print `X`. The comparison
//! with AdGuard Home (`bench/agh-compare/compare.sh`) reads its output
//! beside that of `bench/agh-compare`'s Go program.
//!
//! `cargo run --release -p tacet-rules --example verdicts -- LIST... < NAMES`

// Example code: a failed unwrap is a broken setup.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, Write};

use tacet_rules::{normalize_name, ListInfo, RuleSetBuilder, Verdict};

fn main() {
    let mut builder = RuleSetBuilder::new();
    for path in std::env::args().skip(1) {
        let file = std::fs::File::open(&path).unwrap();
        let info = ListInfo {
            id: path.clone(),
            title: path.clone(),
        };
        let report = builder
            .add_list(info, tacet_rules::parse::list_reader(file).unwrap())
            .unwrap();
        eprintln!("{path}: {} lines, {} rules", report.lines, report.rules);
        for (kind, n) in &report.problems {
            eprintln!("  {n:>8}  not used: {kind}");
        }
    }
    let set = builder.build();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let raw = line.trim().to_ascii_lowercase();
        if raw.is_empty() {
            continue;
        }
        let v = match normalize_name(&raw) {
            Err(_) => "X",
            Ok(name) => match set.lookup_query(&name, Some(1)) {
                Verdict::Blocked(_) => "B",
                Verdict::Allowed(_) => "A",
                Verdict::Unlisted => "U",
            },
        };
        writeln!(out, "{raw}\t{v}").unwrap();
    }
}
