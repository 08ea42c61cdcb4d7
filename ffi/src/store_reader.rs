//! The `StoreReader` object: a read-only view of a store, for the UI (on
//! iOS the app, a different process from the packet tunnel extension that
//! writes the store), with its records: journal entries and pages, the
//! filter, counters, custom rules.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};

/// A read-only view of a store directory. It takes no lock and writes
/// nothing, so it never disturbs the firewall writing the store; each call
/// reads what the writer has flushed (within about a second).
#[derive(uniffi::Object)]
pub struct StoreReader {
    inner: tacet_store::StoreReader,
}

#[uniffi::export]
impl StoreReader {
    /// Opens the store in `dir` for reading. Fails with `StoreUnavailable`
    /// if the directory does not exist or cannot be read.
    #[uniffi::constructor]
    pub fn open(dir: String) -> Result<Arc<Self>> {
        Ok(Arc::new(Self::open_dir(Path::new(&dir))?))
    }

    /// The counters since install, with the `top_names` most-blocked names.
    pub fn counters(&self, top_names: u32) -> Result<StoreCounters> {
        Ok(StoreCounters::new(
            &self.inner.counters().map_err(Error::from)?,
            top_names,
        ))
    }

    /// Blocked attempts in each of the last `hours` hours up to the one of
    /// `now_unix_ms`, oldest first (at most 168).
    pub fn hourly_blocked(&self, now_unix_ms: u64, hours: u32) -> Result<Vec<u64>> {
        let counters = self.inner.counters().map_err(Error::from)?;
        Ok(counters.hourly(now_unix_ms, hours as usize))
    }

    /// Blocked attempts since local midnight, given the local offset from
    /// UTC in minutes.
    pub fn blocked_today(&self, now_unix_ms: u64, utc_offset_minutes: i32) -> Result<u64> {
        let counters = self.inner.counters().map_err(Error::from)?;
        Ok(counters.today(now_unix_ms, utc_offset_minutes))
    }

    /// One page of the journal, newest first: up to `limit` entries
    /// matching `filter` (search with `filter.nameContains`), starting after
    /// `cursor` (the previous page's `next`), or at the newest if `None`.
    pub fn journal(
        &self,
        filter: JournalFilter,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<JournalPage> {
        Ok(self.page(filter, cursor.as_deref(), limit)?)
    }

    /// Writes the entries matching `filter` to the file `path` (replaced if
    /// it exists), oldest first, as CSV or JSON; returns how many.
    pub fn export_journal(
        &self,
        path: String,
        format: ExportFormat,
        filter: JournalFilter,
    ) -> Result<u64> {
        Ok(self.export(Path::new(&path), format, filter)?)
    }

    /// The user's per-name block and allow rules, in order.
    pub fn custom_rules(&self) -> Result<Vec<CustomRule>> {
        let rules = self.inner.custom_rules().map_err(Error::from)?;
        Ok(rules.into_iter().map(CustomRule::from).collect())
    }
}

impl StoreReader {
    fn open_dir(dir: &Path) -> Result<Self, Error> {
        Ok(Self {
            inner: tacet_store::StoreReader::open(dir)?,
        })
    }

    fn page(
        &self,
        filter: JournalFilter,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<JournalPage, Error> {
        let cursor = cursor.map(str::parse::<tacet_store::Cursor>).transpose()?;
        let page = self
            .inner
            .query(&filter.into_filter()?, cursor.as_ref(), limit as usize)?;
        Ok(JournalPage {
            entries: page.records.into_iter().map(JournalEntry::from).collect(),
            next: page.next.map(|c| c.to_string()),
        })
    }

    fn export(
        &self,
        path: &Path,
        format: ExportFormat,
        filter: JournalFilter,
    ) -> Result<u64, Error> {
        let filter = filter.into_filter()?;
        let file_error = |e| Error::File(PathBuf::from(path), e);
        let mut out = BufWriter::new(std::fs::File::create(path).map_err(file_error)?);
        let count = match format {
            ExportFormat::Csv => self.inner.export_csv(&filter, &mut out)?,
            ExportFormat::Json => self.inner.export_json(&filter, &mut out)?,
        };
        out.flush().map_err(file_error)?;
        Ok(count)
    }
}

/// What the firewall did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum JournalAction {
    /// Answered with a block answer (or a connection rejected).
    Blocked,
    /// Let through (journaled only in discovery mode).
    Allowed,
    /// Sent upstream, but the answer could not be used: the app got SERVFAIL.
    Failed,
}

impl From<tacet_store::Action> for JournalAction {
    fn from(a: tacet_store::Action) -> Self {
        match a {
            tacet_store::Action::Blocked => Self::Blocked,
            tacet_store::Action::Allowed => Self::Allowed,
            tacet_store::Action::Failed => Self::Failed,
        }
    }
}

impl From<JournalAction> for tacet_store::Action {
    fn from(a: JournalAction) -> Self {
        match a {
            JournalAction::Blocked => Self::Blocked,
            JournalAction::Allowed => Self::Allowed,
            JournalAction::Failed => Self::Failed,
        }
    }
}

/// Why the firewall did what it did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum JournalReason {
    /// A rule matched the name.
    Rule {
        /// The list of the rule (a curated id, `custom` or `pasted`).
        list_id: String,
        /// The rule's 1-based line in that list.
        line: u32,
    },
    /// A name in the answer's CNAME chain matched a rule.
    Cname {
        /// The chained name that matched.
        via: String,
        /// The list of the rule.
        list_id: String,
        /// The rule's line.
        line: u32,
    },
    /// A connection to an address of a blocked name was rejected.
    LearnedAddress {
        /// The rejected address.
        address: String,
    },
    /// A canary name was answered to keep DNS visible.
    Canary,
    /// A resolver bypass was stopped.
    Bypass,
    /// No rule matched (an allowed query, in discovery mode).
    NoRule,
    /// The upstream's answer could not be read whole, so it was not relayed.
    BadAnswer {
        /// What was wrong with it.
        problem: String,
    },
}

impl From<tacet_store::Reason> for JournalReason {
    fn from(r: tacet_store::Reason) -> Self {
        use tacet_store::Reason as R;
        match r {
            R::Rule { list_id, line } => Self::Rule {
                list_id: list_id.to_string(),
                line,
            },
            R::Cname { via, list_id, line } => Self::Cname {
                via,
                list_id: list_id.to_string(),
                line,
            },
            R::LearnedAddress { addr } => Self::LearnedAddress {
                address: addr.to_string(),
            },
            R::Canary => Self::Canary,
            R::Bypass => Self::Bypass,
            R::NoRule => Self::NoRule,
            R::BadAnswer { problem } => Self::BadAnswer { problem },
            // Only `tacet serve` writes it (a device's allowlist-only
            // policy); the apps never read such a store, and a list id of
            // its own keeps their reason enum as it is.
            R::NotForDevice => Self::Rule {
                list_id: "device-policy".to_owned(),
                line: 0,
            },
        }
    }
}

/// One journal entry: a query (or repeats of it, coalesced) the firewall
/// blocked, or allowed in discovery mode.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct JournalEntry {
    /// Unique and increasing over the store's life.
    pub seq: u64,
    /// The first attempt, in ms since the Unix epoch.
    pub time_unix_ms: u64,
    /// The last attempt, in ms since the Unix epoch.
    pub last_unix_ms: u64,
    /// The name asked for (lowercase, no final dot).
    pub name: String,
    /// The DNS query type number (1 = A, 28 = AAAA...), 0 for a connection.
    pub qtype: u16,
    /// The query type's name (`A`, `AAAA`, `HTTPS`, `TYPE99`...).
    pub qtype_name: String,
    /// What was done.
    pub action: JournalAction,
    /// Why.
    pub reason: JournalReason,
    /// The client's address inside the tunnel.
    pub client: String,
    /// The app that asked, where the platform can tell.
    pub app: Option<String>,
    /// How many attempts this entry stands for.
    pub count: u32,
}

impl From<tacet_store::JournalRecord> for JournalEntry {
    fn from(r: tacet_store::JournalRecord) -> Self {
        let e = r.entry;
        Self {
            seq: r.seq,
            time_unix_ms: e.time_unix_ms,
            last_unix_ms: r.last_unix_ms,
            qtype_name: tacet_store::qtype_name(e.qtype).into_owned(),
            name: e.name,
            qtype: e.qtype,
            action: e.action.into(),
            reason: e.reason.into(),
            client: e.client.to_string(),
            app: e.app,
            count: e.count,
        }
    }
}

/// One page of the journal.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct JournalPage {
    /// The entries, newest first.
    pub entries: Vec<JournalEntry>,
    /// Pass this to get the next (older) page; `None` on the last page.
    pub next: Option<String>,
}

/// Which journal entries to return; every field left `None` matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct JournalFilter {
    /// The name contains this, ignoring case (search).
    #[uniffi(default)]
    pub name_contains: Option<String>,
    /// Only this action.
    #[uniffi(default)]
    pub action: Option<JournalAction>,
    /// Attempts at or after this time (ms since the Unix epoch).
    #[uniffi(default)]
    pub since_unix_ms: Option<u64>,
    /// First attempt at or before this time.
    #[uniffi(default)]
    pub until_unix_ms: Option<u64>,
    /// Only this app.
    #[uniffi(default)]
    pub app: Option<String>,
    /// Only rules of this list.
    #[uniffi(default)]
    pub list_id: Option<String>,
    /// Only this client address.
    #[uniffi(default)]
    pub client: Option<String>,
}

impl JournalFilter {
    fn into_filter(self) -> Result<tacet_store::Filter, Error> {
        let f = self;
        let client = f
            .client
            .map(|c| {
                c.parse::<IpAddr>().map_err(|_| {
                    Error::Input(format!(
                        "filter client '{}' is not an IP address",
                        c.chars().take(64).collect::<String>()
                    ))
                })
            })
            .transpose()?;
        Ok(tacet_store::Filter {
            name_contains: f.name_contains,
            action: f.action.map(Into::into),
            since_unix_ms: f.since_unix_ms,
            until_unix_ms: f.until_unix_ms,
            app: f.app,
            list_id: f.list_id,
            client,
        })
    }
}

/// The format of a journal export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ExportFormat {
    /// CSV with a header line.
    Csv,
    /// A JSON array of objects.
    Json,
}

/// One of the most-blocked names.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TopName {
    /// The name.
    pub name: String,
    /// Attempts counted for it (at most `error` too many).
    pub count: u64,
    /// How much `count` may overstate; 0 means exact.
    pub error: u64,
}

/// The counters of a store, since install.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreCounters {
    /// Blocked attempts.
    pub blocked_total: u64,
    /// Allowed queries journaled in discovery mode.
    pub allowed_total: u64,
    /// Queries failed because the upstream's answer could not be used.
    pub failed_total: u64,
    /// When the first attempt was counted (ms since the Unix epoch).
    pub since_unix_ms: Option<u64>,
    /// Distinct blocked names.
    pub unique_blocked: u64,
    /// Whether `unique_blocked` is exact (an estimate beyond 2048 names).
    pub unique_exact: bool,
    /// Blocked attempts per list id.
    pub by_list: HashMap<String, u64>,
    /// The most-blocked names, most first.
    pub top_names: Vec<TopName>,
}

impl StoreCounters {
    fn new(c: &tacet_store::Counters, top_names: u32) -> Self {
        let unique = c.unique_names.count();
        Self {
            blocked_total: c.blocked_total,
            allowed_total: c.allowed_total,
            failed_total: c.failed_total,
            since_unix_ms: c.since_unix_ms,
            unique_blocked: unique.value,
            unique_exact: unique.exact,
            by_list: c.by_list.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            top_names: c
                .top_names
                .top(top_names as usize)
                .into_iter()
                .map(|t| TopName {
                    name: t.name,
                    count: t.count,
                    error: t.error,
                })
                .collect(),
        }
    }
}

/// Whether a user rule blocks or allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CustomRuleKind {
    /// Blocks the name and its subdomains.
    Block,
    /// Allows the name and its subdomains.
    Allow,
}

/// One of the user's per-name rules.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CustomRule {
    /// The name (lowercase, no final dot).
    pub name: String,
    /// Block or allow.
    pub kind: CustomRuleKind,
}

impl From<tacet_store::CustomRule> for CustomRule {
    fn from(r: tacet_store::CustomRule) -> Self {
        Self {
            name: r.name,
            kind: match r.kind {
                tacet_store::CustomRuleKind::Block => CustomRuleKind::Block,
                tacet_store::CustomRuleKind::Allow => CustomRuleKind::Allow,
            },
        }
    }
}
