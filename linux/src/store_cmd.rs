//! `tacet stats`, `journal`, `export`, `block` and `allow`: reading the
//! store a running (or stopped) firewall writes, and editing its custom
//! list. Readers never lock the store, so they work while the firewall runs.

use crate::out::outln;
use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tacet_store::{
    format_utc, qtype_name, render_hourly_chart, Action, CustomRuleKind, Filter, JournalRecord,
    Reason, StoreReader,
};

/// Where the firewall keeps its counters and journal by default.
pub const DEFAULT_STORE: &str = "/var/lib/tacet";
/// The file, in the store directory, holding the running firewall's pid.
pub const PID_FILE: &str = "tacet.pid";

/// Which store to read.
#[derive(clap::Args, Debug, Clone)]
pub struct StoreArg {
    /// The store directory.
    #[arg(long = "store", value_name = "DIR", default_value = DEFAULT_STORE)]
    pub dir: PathBuf,
}

/// Arguments of `tacet stats`.
#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    #[command(flatten)]
    store: StoreArg,
    /// How many of the most blocked names to show.
    #[arg(long, default_value_t = 10)]
    top: usize,
}

/// Filters shared by `journal` and `export`.
#[derive(clap::Args, Debug, Clone)]
pub struct FilterArgs {
    /// Only names containing this text.
    #[arg(long, value_name = "TEXT")]
    name: Option<String>,
    /// Only blocked, allowed or failed entries (allowed ones exist in
    /// discovery mode; failed ones are answers that could not be used).
    #[arg(long, value_name = "ACTION", value_parser = ["blocked", "allowed", "failed"])]
    action: Option<String>,
    /// Only entries from the last N minutes.
    #[arg(long, value_name = "MINUTES")]
    since_minutes: Option<u64>,
    /// Only entries blocked by this list id.
    #[arg(long, value_name = "ID")]
    list: Option<String>,
    /// Only entries of this app.
    #[arg(long, value_name = "APP")]
    app: Option<String>,
    /// Only entries of this device (`tacet serve`): its name (from
    /// --device or the leases) or its address.
    #[arg(long, value_name = "DEVICE", conflicts_with = "app")]
    device: Option<String>,
}

impl FilterArgs {
    fn filter(&self) -> Filter {
        Filter {
            name_contains: self.name.clone(),
            action: self.action.as_deref().map(|a| match a {
                "allowed" => Action::Allowed,
                "failed" => Action::Failed,
                _ => Action::Blocked,
            }),
            since_unix_ms: self
                .since_minutes
                .map(|m| now_ms().saturating_sub(m * 60_000)),
            until_unix_ms: None,
            app: match &self.device {
                Some(device) if device.parse::<IpAddr>().is_err() => {
                    Some(device.to_ascii_lowercase())
                }
                _ => self.app.clone(),
            },
            list_id: self.list.clone(),
            client: self.device.as_deref().and_then(|d| d.parse().ok()),
        }
    }
}

/// Arguments of `tacet journal`.
#[derive(clap::Args, Debug)]
pub struct JournalArgs {
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    filter: FilterArgs,
    /// How many entries to show, newest first.
    #[arg(long, short = 'n', default_value_t = 50)]
    limit: usize,
    /// Keep printing new entries as the firewall writes them.
    #[arg(long, short = 'f')]
    follow: bool,
}

/// Arguments of `tacet export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    filter: FilterArgs,
    /// csv or json.
    #[arg(long, default_value = "csv", value_parser = ["csv", "json"])]
    format: String,
    /// Write to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Arguments of `tacet block` and `tacet allow`.
#[derive(clap::Args, Debug)]
pub struct EditArgs {
    /// The name, such as api-mifit.huami.com (its subdomains follow).
    name: String,
    #[command(flatten)]
    store: StoreArg,
}

fn open(dir: &Path) -> Result<StoreReader, String> {
    StoreReader::open(dir).map_err(|e| {
        format!(
            "{e} (is the firewall running with --store {}?)",
            dir.display()
        )
    })
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The local time zone's offset from UTC, in minutes, for "today".
fn utc_offset_minutes() -> i32 {
    // The type is the C library's time_t, whatever its width there.
    let now = (now_ms() / 1000).try_into().unwrap_or(0);
    // SAFETY: localtime_r writes only into the tm it is given.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::localtime_r(&now, &mut tm) }.is_null() {
        return 0;
    }
    i32::try_from(tm.tm_gmtoff / 60).unwrap_or(0)
}

/// `tacet stats`.
pub fn stats(args: StatsArgs) -> Result<ExitCode, String> {
    let reader = open(&args.store.dir)?;
    let counters = reader.counters().map_err(|e| e.to_string())?;
    let now = now_ms();
    let offset = utc_offset_minutes();
    let unique = counters.unique_names.count();
    outln!("Blocked attempts today: {}", counters.today(now, offset))?;
    outln!("Blocked attempts in all: {}", counters.blocked_total)?;
    outln!(
        "Distinct names blocked:  {}{}",
        unique.value,
        if unique.exact { "" } else { " (estimate)" }
    )?;
    if counters.allowed_total > 0 {
        outln!("Allowed (discovery mode): {}", counters.allowed_total)?;
    }
    if counters.failed_total > 0 {
        outln!(
            "Failed (upstream answers not usable): {}",
            counters.failed_total
        )?;
    }
    if let Some(since) = counters.since_unix_ms {
        outln!("Counting since {}", format_utc(since))?;
    }
    outln!(
        "\nLast 24 hours:\n{}",
        render_hourly_chart(&counters, now, offset)
    )?;
    let top = counters.top_names.top(args.top);
    if !top.is_empty() {
        outln!("Most blocked:")?;
        for t in top {
            let approx = if t.error > 0 { "~" } else { "" };
            outln!("  {approx}{:>8}  {}", t.count, t.name)?;
        }
    }
    if !counters.by_list.is_empty() {
        outln!("\nBy list:")?;
        for (list, n) in &counters.by_list {
            outln!("  {n:>8}  {list}")?;
        }
    }
    let by_device = blocked_by_device(&reader)?;
    if !by_device.is_empty() {
        outln!("\nBy device or app (blocked, in the journal):")?;
        for (who, n) in by_device.iter().take(args.top) {
            outln!("  {n:>8}  {who}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The most records read for the per-device counts (the journal is
/// bounded by size; this bounds the time).
const DEVICE_SCAN_MAX: usize = 200_000;

/// Blocked attempts in the journal per device (`tacet serve`: its name, or
/// its address when unnamed) or app, most first.
fn blocked_by_device(reader: &StoreReader) -> Result<Vec<(String, u64)>, String> {
    let filter = Filter {
        action: Some(Action::Blocked),
        ..Filter::default()
    };
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut after = None;
    let mut read = 0;
    while read < DEVICE_SCAN_MAX {
        let page = reader
            .query(&filter, after.as_ref(), 1000)
            .map_err(|e| e.to_string())?;
        read += page.records.len();
        for record in &page.records {
            let e = &record.entry;
            let who = e.app.clone().unwrap_or_else(|| e.client.to_string());
            *counts.entry(who).or_insert(0) += u64::from(e.count);
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let mut counts: Vec<(String, u64)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(counts)
}

fn describe(record: &JournalRecord) -> String {
    let e = &record.entry;
    let why = match &e.reason {
        Reason::Rule { list_id, line } => format!("{list_id}:{line}"),
        Reason::Cname { via, list_id, line } => format!("CNAME {via} ({list_id}:{line})"),
        Reason::LearnedAddress { addr } => format!("address {addr}"),
        Reason::BadAnswer { problem } => format!("bad answer ({problem})"),
        other => other.kind().to_owned(),
    };
    let repeats = if e.count > 1 {
        format!(" x{}", e.count)
    } else {
        String::new()
    };
    let app = e
        .app
        .as_deref()
        .map(|a| format!(" [{a}]"))
        .unwrap_or_default();
    format!(
        "{}  {:<7} {:<5} {}{repeats}  ({why}) from {}{app}",
        format_utc(e.time_unix_ms),
        e.action.as_str(),
        qtype_name(e.qtype),
        e.name,
        e.client
    )
}

/// `tacet journal`.
pub fn journal(args: JournalArgs) -> Result<ExitCode, String> {
    let reader = open(&args.store.dir)?;
    let filter = args.filter.filter();
    // The reader's pages hold one record at least: `-n 0` asks for the
    // newest only to know where --follow starts, and prints none.
    let page = reader
        .query(&filter, None, args.limit.max(1))
        .map_err(|e| e.to_string())?;
    let mut newest = page.records.first().map_or(0, |r| r.seq);
    let shown = page.records.len().min(args.limit);
    // Print oldest first, like a log, so --follow continues downwards.
    for record in page.records.iter().take(shown).rev() {
        outln!("{}", describe(record))?;
    }
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let page = reader
            .query(&filter, None, 200)
            .map_err(|e| e.to_string())?;
        let fresh: Vec<_> = page.records.iter().filter(|r| r.seq > newest).collect();
        for record in fresh.iter().rev() {
            outln!("{}", describe(record))?;
        }
        newest = newest.max(page.records.first().map_or(0, |r| r.seq));
    }
}

/// `tacet export`.
pub fn export(args: ExportArgs) -> Result<ExitCode, String> {
    let reader = open(&args.store.dir)?;
    let filter = args.filter.filter();
    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let written = match args.format.as_str() {
        "json" => reader.export_json(&filter, out),
        _ => reader.export_csv(&filter, out),
    }
    .map_err(|e| e.to_string())?;
    if let Some(path) = &args.output {
        eprintln!("tacet: exported {written} entries to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `tacet block NAME` and `tacet allow NAME`: edits the custom list and
/// asks a running firewall to re-read its rules.
pub fn edit(args: EditArgs, kind: CustomRuleKind) -> Result<ExitCode, String> {
    std::fs::create_dir_all(&args.store.dir)
        .map_err(|e| format!("cannot create {}: {e}", args.store.dir.display()))?;
    let changed = tacet_store::set_custom_rule(&args.store.dir, &args.name, Some(kind))
        .map_err(|e| e.to_string())?;
    let verb = if kind == CustomRuleKind::Block {
        "blocked"
    } else {
        "allowed"
    };
    if !changed {
        outln!("{} is already {verb} by your custom list", args.name)?;
        return Ok(ExitCode::SUCCESS);
    }
    match running_firewall(&args.store.dir) {
        Some(pid) => {
            // SAFETY: kill only sends a signal to the pid the firewall wrote.
            unsafe { libc::kill(pid, libc::SIGHUP) };
            outln!(
                "{} is now {verb}; the running firewall (pid {pid}) applies it now",
                args.name
            )?;
        }
        None => outln!(
            "{} is now {verb}; the firewall applies it when it starts",
            args.name
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The pid of a firewall running on this store, if one is.
pub fn running_firewall(dir: &Path) -> Option<libc::pid_t> {
    let pid: libc::pid_t = std::fs::read_to_string(dir.join(PID_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: signal 0 only checks that the process exists.
    (pid > 0 && unsafe { libc::kill(pid, 0) } == 0).then_some(pid)
}
