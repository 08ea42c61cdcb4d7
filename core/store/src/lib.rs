//! tacet-store: the on-disk store of the firewall, in the runtime layer.
//!
//! A store is a directory holding settings, compiled rules, counters and a
//! journal of what was blocked. One process writes it ([`Store`], which holds
//! an exclusive lock); any number of others read it ([`StoreReader`], no
//! lock) while it is being written, e.g. the iOS app beside its VPN extension.
//!
//! Read it in this order:
//! - [`entry`]: what a journal entry says;
//! - `journal`: frames, segments, the writer (batching, coalescing, rotation,
//!   the size bound) and the lock-free reader;
//! - [`counters`]: totals, per day and hour, per list, top names, distinct names;
//! - [`query`] and `export`: newest-first paging, filters, CSV and JSON;
//! - [`custom`]: the user's block/allow list;
//! - [`subscriptions`]: lists subscribed to by URL, their status and last
//!   good copies;
//! - `store`: the directory, [`Store`] and [`StoreReader`].
//!
//! Guarantees: a crash (or `kill -9`) loses at most the records of the last
//! [`StoreConfig::flush_interval_ms`] (1 s) and the repeat counts of
//! coalescing windows still open (at most [`StoreConfig::coalesce_window_ms`],
//! 60 s, of repeats); it never corrupts older records. Counters agree with the
//! journal after a crash, because opening replays the records their snapshot
//! misses.
//!
//! What it must never do: panic on bad bytes (a garbled journal or counters
//! file is skipped and reported, never trusted); fail or stall the packet
//! path on an I/O error (write errors are counted in [`StoreStatus`] and the
//! caller carries on); let a reader write, lock, or otherwise disturb the
//! writer; read the clock (time comes in as `now_unix_ms`); log a name or
//! address above DEBUG.

mod chart;
pub mod counters;
pub mod custom;
pub mod entry;
mod error;
mod export;
mod fsutil;
mod journal;
pub mod query;
mod store;
pub mod subscriptions;

pub use chart::render_hourly_chart;
pub use counters::{Counters, TopName, UniqueCount};
pub use custom::{set as set_custom_rule, CustomRule, CustomRuleKind, CUSTOM_FILE};
pub use entry::{qtype_name, Action, JournalEntry, JournalRecord, Reason};
pub use error::StoreError;
pub use export::{format_utc, CSV_HEADER};
pub use fsutil::{write_atomic, Staged};
pub use query::{Cursor, Filter, Page};
pub use store::{
    Deadline, Store, StoreConfig, StoreReader, StoreStatus, Wake, COUNTERS_FILE, LOCK_FILE,
    RULES_FILE, SETTINGS_FILE,
};
