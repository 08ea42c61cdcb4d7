//! Simulates one million blocked attempts with realistic repetition and
//! checks the store against the truth: counters exact, journal within its
//! bound, and the CPU each record costs.
//!
//! Names: the first 5,000 domains of a real blocklist, queried with Zipf(1.0)
//! popularity, each by "its" app, alternating A and AAAA, at 10,000/s of
//! simulated time.
//!
//! Run: `cargo run --release -p tacet-store --example simulate [-- LIST [ATTEMPTS]]`
//! (LIST defaults to /work/shared/data/blocklists/hagezi/domains/light.txt).

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use tacet_store::{Action, Filter, JournalEntry, Reason, Store, StoreConfig, StoreReader};

const NAMES: usize = 5_000;

/// xorshift64*: a small deterministic generator, so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct we hand it.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let list = args
        .next()
        .unwrap_or_else(|| "/work/shared/data/blocklists/hagezi/domains/light.txt".into());
    let attempts: u64 = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let text = std::fs::read_to_string(&list)?;
    let names: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .take(NAMES)
        .collect();
    // Zipf(1.0) over the names: cumulative weights for inverse sampling.
    let mut cdf = Vec::with_capacity(names.len());
    let mut acc = 0.0;
    for k in 1..=names.len() {
        acc += 1.0 / k as f64;
        cdf.push(acc);
    }
    let apps = [
        "com.social.app",
        "com.news.reader",
        "com.game.fun",
        "com.shop.deals",
        "com.weather",
    ];

    let dir = tempfile::tempdir()?;
    let config = StoreConfig::default();
    let bound = config.journal_max_bytes;
    let mut store = Store::open(dir.path(), config)?;
    let mut truth: HashMap<&str, u64> = HashMap::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start_ms = 1_700_000_000_000u64;
    let mut deadline = None;
    let wall = Instant::now();
    let cpu = cpu_seconds();
    for i in 0..attempts {
        let now = start_ms + i / 10; // 10,000 per second
        let u = rng.next_f64() * acc;
        let k = cdf.partition_point(|&c| c < u).min(names.len() - 1);
        let name = names[k];
        *truth.entry(name).or_default() += 1;
        let e = JournalEntry {
            time_unix_ms: now,
            name: name.to_owned(),
            qtype: if i % 2 == 0 { 1 } else { 28 },
            action: Action::Blocked,
            reason: Reason::Rule {
                list_id: "hagezi-light".into(),
                line: k as u32 + 1,
            },
            client: "10.111.222.2".parse()?,
            app: Some(apps[k % apps.len()].to_owned()),
            count: 1,
        };
        store.record(now, e);
        if deadline.is_none_or(|d: u64| now >= d) {
            deadline = store.tick(now).map(|d| d.at_unix_ms);
        }
    }
    let end_ms = start_ms + attempts / 10;
    let status = store.shutdown(end_ms);
    let cpu = cpu_seconds() - cpu;
    let wall = wall.elapsed().as_secs_f64();

    let reader = StoreReader::open(dir.path())?;
    let counters = reader.counters()?;
    let mut want: Vec<(&str, u64)> = truth.iter().map(|(n, c)| (*n, *c)).collect();
    want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let top = counters.top_names.top(20);
    let top_exact = top
        .iter()
        .zip(&want)
        .all(|(t, w)| t.name == w.0 && t.count == w.1 && t.error == 0);
    let mut records = 0u64;
    let mut journal_attempts = 0u64;
    let mut after = None;
    loop {
        let page = reader.query(&Filter::default(), after.as_ref(), 1000)?;
        records += page.records.len() as u64;
        journal_attempts += page
            .records
            .iter()
            .map(|r| u64::from(r.entry.count))
            .sum::<u64>();
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    let unique = counters.unique_names.count();
    println!("attempts                 {attempts}");
    println!(
        "distinct names           {} (counted: {} {})",
        truth.len(),
        unique.value,
        if unique.exact {
            "exact"
        } else {
            "HyperLogLog estimate"
        }
    );
    println!(
        "blocked_total            {} ({})",
        counters.blocked_total,
        if counters.blocked_total == attempts {
            "exact"
        } else {
            "WRONG"
        }
    );
    println!(
        "by list hagezi-light     {}",
        counters.by_list.get("hagezi-light").copied().unwrap_or(0)
    );
    println!("top 20 names exact       {top_exact}");
    println!(
        "journal on disk          {} bytes in {} segments (bound {bound})",
        status.journal_bytes, status.journal_segments
    );
    println!("store dir on disk        {} bytes", dir_bytes(dir.path()));
    println!(
        "journal records kept     {records}, standing for {journal_attempts} attempts (the newest)"
    );
    println!("write failures           {}", status.journal_write_failures);
    println!(
        "wall                     {wall:.2} s, {:.0} records/s",
        attempts as f64 / wall
    );
    println!("cpu                      {cpu:.2} s, {:.2} µs per attempt; at 10,000/s: {:.1} % of one core",
        cpu / attempts as f64 * 1e6, cpu / attempts as f64 * 1e4 * 100.0);
    let ok = counters.blocked_total == attempts && top_exact && status.journal_bytes <= bound;
    if !ok {
        return Err("the store disagrees with the truth".into());
    }
    Ok(())
}
