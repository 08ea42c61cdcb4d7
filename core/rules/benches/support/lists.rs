//! Test lists for benchmarks: real lists from the shared test data, and
//! large generated lists made by recombining their real labels.

use std::collections::HashSet;
use std::path::PathBuf;

/// A path under the shared test data, `../shared/data` beside the
/// checkout (found from whichever crate includes this file).
pub fn data(path: &str) -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let checkout = manifest
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .unwrap_or(&manifest);
    checkout.join("../shared/data").join(path)
}

/// The names of a one-domain-a-line list.
pub fn domain_list(path: &str) -> Vec<String> {
    std::fs::read_to_string(data(path))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The names of the Umbrella top 100,000 (`rank,name`): realistic, mostly
/// allowed, query traffic.
pub fn popular_names() -> Vec<String> {
    std::fs::read_to_string(data("popular/umbrella-top-sites-100000.csv"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            l.split_once(',')
                .map(|(_, n)| n.trim().to_ascii_lowercase())
        })
        .filter(|n| !n.is_empty())
        .collect()
}

/// `count` distinct names generated from the HaGeZi light domain list:
/// each is a real leftmost label, then (half the time) a real middle label,
/// then the real parent (all labels after the first) of another listed name.
/// A fixed xorshift seed makes every run generate the same list.
pub fn generated(count: usize) -> Vec<String> {
    let base = domain_list("blocklists/hagezi/domains/light.txt");
    let mut firsts = Vec::new();
    let mut parents = Vec::new();
    for name in &base {
        if let Some((first, parent)) = name.split_once('.') {
            firsts.push(first);
            if parent.contains('.') || parent.len() > 3 {
                parents.push(parent);
            }
        }
    }
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n.max(1) as u64) as usize
    };
    let mut seen = HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    while out.len() < count && !firsts.is_empty() && !parents.is_empty() {
        let first = firsts[next(firsts.len())];
        let parent = parents[next(parents.len())];
        let name = if next(2) == 0 {
            format!("{first}.{}.{parent}", firsts[next(firsts.len())])
        } else {
            format!("{first}.{parent}")
        };
        if name.len() <= 253 && seen.insert(name.clone()) {
            out.push(name);
        }
    }
    out
}

/// The names as a list text, one a line.
pub fn as_text(names: &[String]) -> String {
    let mut text = String::with_capacity(names.iter().map(|n| n.len() + 1).sum());
    for n in names {
        text.push_str(n);
        text.push('\n');
    }
    text
}

/// Blocked queries for a list: `www.` and every 97th listed name, so the
/// walk goes through parents as it does for real traffic; one a line.
pub fn blocked_queries(names: &[String], count: usize) -> String {
    names
        .iter()
        .step_by(97)
        .take(count)
        .map(|n| format!("www.{n}\n"))
        .collect()
}

/// `indexed` AdGuard patterns of the shapes real lists have (`*` inside a
/// label, `||prefix` without `^`, `name^` without `||`, allow patterns),
/// each indexed by a suffix or a label's start, and `scanned` that no
/// index covers (tried on every lookup).
pub fn pattern_lines(indexed: usize, scanned: usize) -> String {
    let mut out = String::new();
    for i in 0..indexed {
        let line = match i % 5 {
            0 => format!("||iad{i}-*.braze{i}.com^"),
            1 => format!("||*launches{i}.appsflyersdk{i}.com^"),
            2 => format!("@@||clk{i}*.tradedoubler{i}.com^|"),
            3 => format!("||fkp{i}.samsungcloud"),
            _ => format!("dlsdk{i}.appsflyer{i}.com^"),
        };
        out.push_str(&line);
        out.push('\n');
    }
    for i in 0..scanned {
        out.push_str(&format!("*-banner{i}-*\n"));
    }
    out
}
