//! `tacet lists`: the lists subscribed to by URL. Show them with their
//! status, add and remove them, and update them now (a progress bar when a
//! download and its check take more than a moment). A running firewall on
//! the same store is told to re-read its lists (SIGHUP), as `tacet block`
//! does. Fetching, checking and keeping are the runtime's and the store's.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tacet_runtime::subscriptions::{
    self, FetchLimits, Fetcher, ListUpdate, Outcome, Progress, UpdateOptions, UpdateReport, Which,
};
use tacet_store::subscriptions::{self as store, Listed, Subscription};

use crate::out::outln;
use crate::store_cmd::{running_firewall, DEFAULT_STORE};

/// Arguments of `tacet lists`.
#[derive(clap::Args, Debug)]
pub struct ListsArgs {
    /// The store directory (where `tacet run --store` keeps its lists).
    #[arg(long = "store", value_name = "DIR", default_value = DEFAULT_STORE, global = true)]
    store: PathBuf,
    /// Print the lists' status as JSON, for scripts.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    action: Option<ListsAction>,
}

#[derive(clap::Subcommand, Debug)]
enum ListsAction {
    /// Subscribe to a list by URL (or by its id in `tacet lists catalog`)
    /// and fetch it now; it is then checked for changes once a day.
    Add {
        /// Where the list is published (https://), or a catalogue id.
        url: String,
        /// What to call it (default: the URL's file name); its id is made
        /// from this.
        #[arg(long, value_name = "TITLE")]
        title: Option<String>,
        /// Accept a plain http:// URL, whose list anyone on the way can
        /// change (only for a network you trust).
        #[arg(long)]
        allow_http: bool,
        /// Only subscribe; the firewall fetches it at its next check.
        #[arg(long)]
        no_fetch: bool,
        #[command(flatten)]
        fetch: FetchArgs,
    },
    /// Show well-known lists to subscribe to: what each blocks, about how
    /// many rules it holds, its licence and URL.
    Catalog,
    /// Unsubscribe from a list: its copy goes too.
    Remove {
        /// The list's id, as `tacet lists` shows it.
        id: String,
    },
    /// Check lists for changes now (all, or the ones named), and take
    /// each new copy that is a list.
    Update {
        /// The lists' ids; none: every list.
        ids: Vec<String>,
        /// Take a new copy even if it lost most of its rules or has none
        /// (a web page or a failed download is never taken).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        fetch: FetchArgs,
    },
}

/// How lists are fetched.
#[derive(clap::Args, Debug, Clone)]
pub struct FetchArgs {
    /// Extra trusted CA certificates (PEM) for the lists' servers, besides
    /// the system's (a self-hosted list, tests).
    #[arg(long = "ca", value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Give up on a server that sends nothing for this long.
    #[arg(long, value_name = "SECS", default_value_t = FetchLimits::default().stall.as_secs())]
    stall_secs: u64,
    /// The most one list may hold, decoded, in MiB (at most 256).
    #[arg(long, value_name = "MIB", default_value_t = FetchLimits::default().max_bytes >> 20)]
    max_mib: u64,
}

impl FetchArgs {
    fn fetcher(&self) -> Result<Fetcher, String> {
        let max_mib = FetchLimits::default().max_bytes >> 20;
        fetcher(
            self.ca.as_deref(),
            FetchLimits {
                stall: Duration::from_secs(self.stall_secs.max(1)),
                max_bytes: self.max_mib.clamp(1, max_mib) << 20,
                ..FetchLimits::default()
            },
        )
    }
}

/// A fetcher trusting the system's roots and the CA file `ca`.
pub fn fetcher(ca: Option<&Path>, limits: FetchLimits) -> Result<Fetcher, String> {
    let extra = match ca {
        Some(path) => Some(
            std::fs::read(path)
                .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?,
        ),
        None => None,
    };
    Fetcher::new(extra.as_deref(), limits)
        .map_err(|e| format!("cannot set up HTTPS for lists: {e}"))
}

/// `tacet lists ...`.
pub fn lists(args: ListsArgs) -> Result<ExitCode, String> {
    let dir = args.store.as_path();
    match args.action {
        None => show(dir, args.json),
        Some(ListsAction::Add {
            url,
            title,
            allow_http,
            no_fetch,
            fetch,
        }) => {
            // A catalogue id stands for its URL, under its title.
            let known = (!url.contains("://"))
                .then(|| subscriptions::catalog::find(url.trim()))
                .flatten();
            let (url, title) = match known {
                Some(list) => (
                    list.url.to_owned(),
                    title.or_else(|| Some(list.title.to_owned())),
                ),
                None => (url, title),
            };
            let sub = subscriptions::subscribe(dir, url.trim(), title.as_deref(), allow_http)
                .map_err(|e| e.to_string())?;
            outln!("subscribed to {} as {}", sub.url, sub.id)?;
            if no_fetch {
                tell_firewall(dir, "fetches it at its next check")?;
                return Ok(ExitCode::SUCCESS);
            }
            let report = run_update(dir, &Which::Only(vec![sub.id]), &fetch, false)?;
            finish(dir, &report)
        }
        Some(ListsAction::Catalog) => {
            let listed = store::list(dir).unwrap_or_default();
            let subscribed = |url: &str| listed.iter().any(|l| matches!(l, Ok(s) if s.url == url));
            for list in subscriptions::catalog::catalog() {
                let mark = if subscribed(list.url) {
                    "  (subscribed)"
                } else {
                    ""
                };
                outln!("{}  {}{mark}", list.id, list.title)?;
                outln!("    {}", list.blocks)?;
                outln!(
                    "    about {} rules · {} · {}",
                    thousands(u64::from(list.approx_rules)),
                    list.licence,
                    list.url
                )?;
            }
            outln!("subscribe with: tacet lists add ID")?;
            Ok(ExitCode::SUCCESS)
        }
        Some(ListsAction::Remove { id }) => {
            if !store::remove(dir, &id).map_err(|e| e.to_string())? {
                return Err(format!(
                    "no list {id:?} is subscribed to (see `tacet lists`)"
                ));
            }
            outln!("unsubscribed from {id}")?;
            tell_firewall(dir, "stops using it now")?;
            Ok(ExitCode::SUCCESS)
        }
        Some(ListsAction::Update { ids, force, fetch }) => {
            let which = if ids.is_empty() {
                Which::All
            } else {
                Which::Only(ids)
            };
            let report = run_update(dir, &which, &fetch, force)?;
            finish(dir, &report)
        }
    }
}

fn run_update(
    dir: &Path,
    which: &Which,
    fetch: &FetchArgs,
    force: bool,
) -> Result<UpdateReport, String> {
    let fetcher = fetch.fetcher()?;
    if store::lock_updates(dir, false)
        .map_err(|e| e.to_string())?
        .is_none()
    {
        eprintln!("tacet: waiting for the update under way (the firewall's) to finish");
    }
    let mut bar = Bar::new(dir);
    let report = subscriptions::update(
        dir,
        which,
        &fetcher,
        UpdateOptions { force },
        true,
        &mut bar,
    )
    .map_err(|e| e.to_string())?
    .ok_or("another update holds the store's lists")?;
    Ok(report)
}

/// Tells a running firewall, says what happened, and fails when a list
/// could not be updated (for scripts and cron).
fn finish(dir: &Path, report: &UpdateReport) -> Result<ExitCode, String> {
    if report.changed() {
        tell_firewall(dir, "uses the new copies now")?;
    }
    let kept = report
        .lists
        .iter()
        .filter(|l| matches!(l.outcome, Outcome::Kept(_)))
        .count();
    if kept > 0 {
        eprintln!(
            "tacet: {kept} of {} list(s) not updated (see `tacet lists`)",
            report.lists.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn tell_firewall(dir: &Path, what: &str) -> Result<(), String> {
    if let Some(pid) = running_firewall(dir) {
        // SAFETY: kill only sends a signal to the pid the firewall wrote.
        unsafe { libc::kill(pid, libc::SIGHUP) };
        outln!("the running firewall (pid {pid}) {what}")?;
    }
    Ok(())
}

fn describe_update(u: &ListUpdate, names_now: Option<u64>) -> String {
    match &u.outcome {
        Outcome::Changed { before: 0, after } => format!("{}: new copy, {after} names", u.id),
        Outcome::Changed { before, after } => {
            format!("{}: new copy, {after} names (was {before})", u.id)
        }
        Outcome::Unchanged => format!("{}: unchanged", u.id),
        Outcome::Kept(why) => match names_now {
            Some(n) if n > 0 => format!("{}: kept the last good copy ({n} names): {why}", u.id),
            _ => format!("{}: no copy yet: {why}", u.id),
        },
        Outcome::Removed => format!("{}: removed meanwhile", u.id),
    }
}

/// A progress bar that shows itself only once a list has taken more than
/// a moment, and only on a terminal.
struct Bar {
    bar: ProgressBar,
    started: Instant,
    shown: bool,
    dir: PathBuf,
}

/// How long a list may take before its progress is shown.
const MOMENT: Duration = Duration::from_millis(700);

impl Bar {
    fn new(dir: &Path) -> Self {
        Self {
            bar: ProgressBar::hidden(),
            started: Instant::now(),
            shown: false,
            dir: dir.to_owned(),
        }
    }

    fn show_if_slow(&mut self, total: Option<u64>) {
        if self.shown || self.started.elapsed() < MOMENT {
            return;
        }
        self.shown = true;
        let template = match total {
            Some(_) => "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
            None => "{spinner} {msg} {bytes} {bytes_per_sec}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            self.bar.set_style(style);
        }
        self.bar.set_draw_target(ProgressDrawTarget::stderr());
        self.bar.enable_steady_tick(Duration::from_millis(120));
    }
}

impl Progress for Bar {
    fn fetching(&mut self, id: &str, _title: &str) {
        self.bar = ProgressBar::hidden();
        self.bar.set_message(format!("{id}: downloading"));
        self.started = Instant::now();
        self.shown = false;
    }

    fn downloaded(&mut self, bytes: u64, total: Option<u64>) {
        if let Some(total) = total {
            self.bar.set_length(total);
        }
        self.bar.set_position(bytes);
        self.show_if_slow(total);
    }

    fn checking(&mut self) {
        self.show_if_slow(None);
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
            self.bar.set_style(style);
        }
        let msg = self
            .bar
            .message()
            .replace("downloading", "reading it as a list");
        self.bar.set_message(msg);
    }

    fn done(&mut self, update: &ListUpdate) {
        self.bar.finish_and_clear();
        let names = store::get(&self.dir, &update.id)
            .ok()
            .flatten()
            .and_then(Result::ok)
            .filter(Subscription::has_copy)
            .map(|s| s.names);
        let line = describe_update(update, names);
        let _ = outln!("{line}");
    }
}

/// `tacet lists`: each list with its status.
fn show(dir: &Path, json: bool) -> Result<ExitCode, String> {
    let listed = store::list(dir).map_err(|e| e.to_string())?;
    if json {
        let rows: Vec<serde_json::Value> = listed.iter().map(json_row).collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    if listed.is_empty() {
        outln!("No lists subscribed to. `tacet lists add URL` subscribes to one.")?;
        return Ok(ExitCode::SUCCESS);
    }
    let now = subscriptions::now_unix_ms();
    for entry in &listed {
        match entry {
            Ok(sub) => show_one(dir, sub, now)?,
            Err(damaged) => {
                outln!("{}  (status unreadable)", damaged.id)?;
                outln!("    {}", damaged.why)?;
                if store::copy_path(dir, &damaged.id).exists() {
                    outln!("    its last copy still filters; `tacet lists remove {}` and add it again to update it", damaged.id)?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show_one(dir: &Path, sub: &Subscription, now: u64) -> Result<(), String> {
    outln!("{}  {}", sub.id, sub.title)?;
    outln!("    {}", sub.url)?;
    if sub.has_copy() {
        outln!(
            "    {} names, {} lines, {} not used; {} bytes",
            sub.names,
            sub.lines,
            sub.unused_lines,
            sub.copy_bytes
        )?;
        if !store::copy_path(dir, &sub.id).exists() {
            outln!("    its copy is missing: the next update fetches it whole")?;
        }
    } else {
        outln!("    no copy yet")?;
    }
    let when = |t: Option<u64>| t.map_or_else(|| "never".to_owned(), |t| ago(now, t));
    outln!(
        "    checked {}, changed {}, next check {}",
        when(sub.last_checked_unix_ms),
        when(sub.last_changed_unix_ms),
        until(
            now,
            subscriptions::next_check_unix_ms(sub, subscriptions::DEFAULT_INTERVAL)
        )
    )?;
    if let Some(why) = &sub.last_error {
        let kept = if sub.has_copy() {
            format!(
                "; filtering with the copy of {}",
                when(sub.last_changed_unix_ms)
            )
        } else {
            String::new()
        };
        outln!(
            "    last check failed ({} in a row): {why}{kept}",
            sub.failures
        )?;
    }
    Ok(())
}

fn json_row(entry: &Listed) -> serde_json::Value {
    match entry {
        Ok(sub) => {
            let mut v = serde_json::to_value(sub).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "next_check_unix_ms".into(),
                    subscriptions::next_check_unix_ms(sub, subscriptions::DEFAULT_INTERVAL).into(),
                );
            }
            v
        }
        Err(d) => serde_json::json!({ "id": d.id, "damaged": d.why }),
    }
}

/// "2025-04-01 10:00 UTC (3 h ago)".
fn ago(now: u64, t: u64) -> String {
    format!("{} ({} ago)", short_utc(t), span(now.saturating_sub(t)))
}

fn until(now: u64, t: u64) -> String {
    if t <= now {
        "now (due)".to_owned()
    } else {
        format!("in {}", span(t - now))
    }
}

fn short_utc(t: u64) -> String {
    let full = tacet_store::format_utc(t);
    // 2025-04-01T10:00:00.000Z -> 2025-04-01 10:00 UTC
    match (full.get(..10), full.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => full,
    }
}

fn span(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_plainly() {
        assert_eq!(span(5_000), "5 s");
        assert_eq!(span(3 * 3_600_000), "3 h");
        assert_eq!(span(3 * 86_400_000), "3 days");
        assert_eq!(short_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(until(10, 5), "now (due)");
        assert_eq!(until(0, 120_000), "in 2 min");
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod catalog_tests {
    #[test]
    fn thousands_are_grouped() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(47_000), "47,000");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
    }
}
