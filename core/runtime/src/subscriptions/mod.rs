//! Lists subscribed to by URL: fetched ([`fetch`]), checked
//! ([`validate`]) and kept in the store
//! ([`tacet_store::subscriptions`]), on a schedule ([`next_check_unix_ms`])
//! or when asked.
//!
//! An update runs on the caller's thread (a shell's scheduler, the CLI),
//! never on the firewall's I/O thread: [`update`] fetches each list into
//! a staged file, reads it completely, and only if it is a list (not a
//! web page, not empty, not nine tenths smaller than before) renames it
//! over the last good copy. Anything else (the server down, 404, 500, a
//! body cut short, too large, a stall) keeps the last good copy and
//! records why, which [`tacet_store::subscriptions::list`] shows. The
//! caller then recomposes the rules
//! ([`crate::rule_sources::ListSource::StoreSubscriptions`] reads the
//! copies) and swaps them in with [`crate::Firewall::set_rules`], if
//! [`UpdateReport::changed`] says something did.

pub mod catalog;
pub mod fetch;
pub mod validate;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tacet_rules::ListInfo;
use tacet_store::subscriptions::{self as store, Listed, Subscription};
use tacet_store::StoreError;

pub use fetch::{FetchError, FetchLimits, Fetched, Fetcher, Validators};
pub use validate::Refusal;

/// How often a list is checked when nothing goes wrong: once a day.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// The first retry after a failed check; each further failure doubles it,
/// up to the interval.
pub const FIRST_RETRY: Duration = Duration::from_secs(15 * 60);
/// Checks are spread over this share of the interval either side (a
/// day's checks fall between 21.6 and 26.4 hours), so that lists, and the
/// phones subscribed to one list, do not all ask at the same moment.
pub const JITTER_PERCENT: u64 = 10;

/// The ids no subscription may take: the built-in lists', the custom
/// and pasted lists'.
pub fn reserved_ids() -> Vec<&'static str> {
    tacet_rules::curated::catalog()
        .iter()
        .map(|l| l.id)
        .chain([
            crate::rule_sources::CUSTOM_LIST_ID,
            crate::rule_sources::PASTED_LIST_ID,
        ])
        .collect()
}

/// Subscribes the store in `dir` to `url`; see
/// [`tacet_store::subscriptions::add`]. The list is fetched at the next
/// update (it is due at once).
pub fn subscribe(
    dir: &Path,
    url: &str,
    title: Option<&str>,
    allow_http: bool,
) -> Result<Subscription, StoreError> {
    store::add(dir, url, title, allow_http, &reserved_ids(), now_unix_ms())
}

/// The wall clock, in milliseconds since 1970.
pub fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// When `sub` is next due: at once if never checked; after a failure,
/// [`FIRST_RETRY`] doubled per further failure, at most `interval`;
/// otherwise `interval` after the last check, give or take
/// [`JITTER_PERCENT`]. The jitter is drawn from the list's id and the
/// time of its last check, so it differs between lists and between days
/// but every process computes the same time.
pub fn next_check_unix_ms(sub: &Subscription, interval: Duration) -> u64 {
    let Some(last) = sub.last_checked_unix_ms else {
        return sub.added_unix_ms;
    };
    let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
    let wait = if sub.failures > 0 {
        let retry = u64::try_from(FIRST_RETRY.as_millis()).unwrap_or(u64::MAX);
        let doubled = retry.saturating_mul(1u64 << sub.failures.saturating_sub(1).min(20));
        doubled.min(interval_ms)
    } else {
        let spread = interval_ms / 100 * JITTER_PERCENT;
        let draw = jitter_draw(&sub.id, last) % (2 * spread + 1);
        (interval_ms - spread).saturating_add(draw)
    };
    last.saturating_add(wait)
}

/// A well-mixed number from the id and the check time (FNV-1a, then a
/// 64-bit finalizer).
fn jitter_draw(id: &str, last: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes().chain(last.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// The ids of the lists due at `now_unix_ms`, and the earliest time one
/// will be due after that (`None`: none ever, e.g. no list or all damaged).
pub fn due(listed: &[Listed], now_unix_ms: u64, interval: Duration) -> (Vec<String>, Option<u64>) {
    let mut now_due = Vec::new();
    let mut next = None::<u64>;
    for sub in listed.iter().flatten() {
        let at = next_check_unix_ms(sub, interval);
        if at <= now_unix_ms {
            now_due.push(sub.id.clone());
        } else {
            next = Some(next.map_or(at, |n| n.min(at)));
        }
    }
    (now_due, next)
}

/// What an update did to one list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A new copy was taken.
    Changed {
        /// Rules in the copy it replaced (0: none).
        before: u64,
        /// Rules in the new copy.
        after: u64,
    },
    /// The server said (304), or the body showed, that the copy is current.
    Unchanged,
    /// No new copy: the last good one stays, and this is why.
    Kept(String),
    /// The list was removed while it was being fetched.
    Removed,
}

/// One list's update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListUpdate {
    /// The list's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// What happened.
    pub outcome: Outcome,
}

/// What an update did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateReport {
    /// Per list, in the order checked.
    pub lists: Vec<ListUpdate>,
}

impl UpdateReport {
    /// Whether any copy changed: the rules must then be recomposed.
    pub fn changed(&self) -> bool {
        self.lists
            .iter()
            .any(|l| matches!(l.outcome, Outcome::Changed { .. }))
    }
}

/// Hears how an update goes, to show progress. Every method has a default
/// that does nothing.
pub trait Progress {
    /// List `id` is being fetched.
    fn fetching(&mut self, id: &str, title: &str) {
        let _ = (id, title);
    }
    /// `bytes` have come of `total` (the Content-Length, if any).
    fn downloaded(&mut self, bytes: u64, total: Option<u64>) {
        let _ = (bytes, total);
    }
    /// The download is whole and is being read as a list.
    fn checking(&mut self) {}
    /// The list is done.
    fn done(&mut self, update: &ListUpdate) {
        let _ = update;
    }
}

/// A [`Progress`] that shows nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quiet;

impl Progress for Quiet {}

/// Which lists an update checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Which {
    /// Every list.
    All,
    /// The lists due by their schedule at the time of the call.
    Due(Duration),
    /// These lists (an unknown id is an error, before anything is fetched).
    Only(Vec<String>),
}

/// How an update goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpdateOptions {
    /// Take a list even if it lost most of its rules or has none (never a
    /// web page, never a failed download).
    pub force: bool,
}

/// Updates the lists `which` of the store in `dir`, one after the other,
/// holding the store's update lock (waiting for another updater first,
/// if `wait`; else returning `Ok(None)` when one is at work). A list that
/// fails keeps its last good copy and records why; `Err` is only for a
/// store that cannot be used at all or an unknown id.
pub fn update(
    dir: &Path,
    which: &Which,
    fetcher: &Fetcher,
    options: UpdateOptions,
    wait: bool,
    progress: &mut dyn Progress,
) -> Result<Option<UpdateReport>, StoreError> {
    let listed = store::list(dir)?;
    let chosen: Vec<&Listed> = match which {
        Which::All => listed.iter().collect(),
        Which::Due(interval) => {
            let (ids, _) = due(&listed, now_unix_ms(), *interval);
            listed
                .iter()
                .filter(|l| l.as_ref().is_ok_and(|s| ids.contains(&s.id)))
                .collect()
        }
        Which::Only(ids) => {
            let mut chosen = Vec::new();
            for id in ids {
                let found = listed.iter().find(|l| match l {
                    Ok(s) => &s.id == id,
                    Err(d) => &d.id == id,
                });
                match found {
                    Some(l) => chosen.push(l),
                    None => {
                        return Err(StoreError::Subscription {
                            why: format!("no list {id:?} is subscribed to (see `tacet lists`)"),
                        })
                    }
                }
            }
            chosen
        }
    };
    let Some(_lock) = store::lock_updates(dir, wait)? else {
        return Ok(None);
    };
    let mut report = UpdateReport::default();
    for listed in chosen {
        let update = match listed {
            Ok(sub) => {
                progress.fetching(&sub.id, &sub.title);
                update_one(dir, sub, fetcher, options, progress)?
            }
            Err(damaged) => ListUpdate {
                id: damaged.id.clone(),
                title: damaged.id.clone(),
                outcome: Outcome::Kept(format!("{}: remove it and subscribe again", damaged.why)),
            },
        };
        progress.done(&update);
        report.lists.push(update);
    }
    Ok(Some(report))
}

/// Fetches, checks and records one list.
fn update_one(
    dir: &Path,
    sub: &Subscription,
    fetcher: &Fetcher,
    options: UpdateOptions,
    progress: &mut dyn Progress,
) -> Result<ListUpdate, StoreError> {
    let mut sub = sub.clone();
    let result = |sub: &Subscription, outcome| ListUpdate {
        id: sub.id.clone(),
        title: sub.title.clone(),
        outcome,
    };
    // "Changed since?" only makes sense for a copy that is really there.
    let has_copy = sub.has_copy() && store::copy_matches(dir, &sub);
    let validators = if has_copy {
        Validators {
            etag: sub.etag.as_deref(),
            last_modified: sub.last_modified.as_deref(),
        }
    } else {
        Validators::default()
    };
    let mut staged = store::stage_copy(dir, &sub.id)?;
    let fetched = fetcher.fetch(&sub.url, validators, &mut staged, &mut |bytes, total| {
        progress.downloaded(bytes, total)
    });
    let info = match fetched {
        Err(e) => {
            let why = e.to_string();
            sub.record_failure(now_unix_ms(), &why);
            return recorded(dir, &sub, None, result(&sub, Outcome::Kept(why)));
        }
        Ok(Fetched::NotModified) => {
            sub.record_not_modified(now_unix_ms());
            return recorded(dir, &sub, None, result(&sub, Outcome::Unchanged));
        }
        Ok(Fetched::Body(info)) => info,
    };
    if has_copy && staged.len() == sub.copy_bytes && staged.crc32() == sub.copy_crc32 {
        sub.record_not_modified(now_unix_ms());
        sub.etag = info.etag;
        sub.last_modified = info.last_modified;
        return recorded(dir, &sub, None, result(&sub, Outcome::Unchanged));
    }
    progress.checking();
    let before = if has_copy { Some(sub.names) } else { None };
    let checked = validate::check_list(
        staged.path(),
        ListInfo {
            id: sub.id.clone(),
            title: sub.title.clone(),
        },
        info.content_type.as_deref(),
        before,
        options.force,
    );
    let now = now_unix_ms();
    match checked {
        Err(refusal) => {
            let why = refusal.to_string();
            sub.record_failure(now, &why);
            recorded(dir, &sub, None, result(&sub, Outcome::Kept(why)))
        }
        Ok(report) => {
            sub.record_not_modified(now);
            sub.last_changed_unix_ms = Some(now);
            sub.names = report.rules;
            sub.lines = report.lines;
            sub.unused_lines = report.counts.unused;
            sub.copy_bytes = staged.len();
            sub.copy_crc32 = staged.crc32();
            sub.etag = info.etag;
            sub.last_modified = info.last_modified;
            let outcome = Outcome::Changed {
                before: before.unwrap_or(0),
                after: report.rules,
            };
            recorded(dir, &sub, Some(staged), result(&sub, outcome))
        }
    }
}

/// Records `sub` (with its new copy) and returns `update`, or
/// [`Outcome::Removed`] if the list went meanwhile.
fn recorded(
    dir: &Path,
    sub: &Subscription,
    copy: Option<tacet_store::Staged>,
    update: ListUpdate,
) -> Result<ListUpdate, StoreError> {
    if store::record(dir, sub, copy)? {
        Ok(update)
    } else {
        Ok(ListUpdate {
            outcome: Outcome::Removed,
            ..update
        })
    }
}

#[cfg(test)]
mod tests;
