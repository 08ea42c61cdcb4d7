//! The store directory: the one writer ([`Store`]) and its read-only readers
//! ([`StoreReader`]).
//!
//! ```text
//! <dir>/lock              flock'ed by the writer for its lifetime; readers never touch it
//! <dir>/journal.00000001  journal segments, oldest first (see `journal`)
//! <dir>/counters.json     the counters snapshot (atomic replace)
//! <dir>/custom.txt        the user's block/allow rules (atomic replace)
//! <dir>/settings.json     the runtime's settings, opaque to the store (atomic replace)
//! <dir>/rules.bin         compiled rules, written by the runtime with `write_atomic`
//! <dir>/lists/            subscribed lists: status and last good copy (see `subscriptions`)
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::counters::Counters;
use crate::custom::{self, CustomRule, CustomRuleKind};
use crate::entry::{Action, JournalEntry};
use crate::error::StoreError;
use crate::export;
use crate::fsutil;
use crate::journal::reader::replay_into;
use crate::journal::writer::{JournalWriter, Limits, WriterWake};
use crate::query::{self, Cursor, Filter, Page};

/// The lock file's name.
pub const LOCK_FILE: &str = "lock";
/// The counters snapshot's name.
pub const COUNTERS_FILE: &str = "counters.json";
/// The settings file's name.
pub const SETTINGS_FILE: &str = "settings.json";
/// The compiled rules' file name (written and mapped by the runtime).
pub const RULES_FILE: &str = "rules.bin";
/// The live view of attempts counted in open coalescing windows but not
/// journaled yet (they are written when the window closes, up to a minute
/// later). Rewritten at most once per flush interval while it changes, never
/// synced: it is a view for readers in other processes, not a record.
pub const LIVE_FILE: &str = "live.bin";

/// How the writer bounds and paces the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The journal never takes more than this on disk (at least 128 KiB).
    pub journal_max_bytes: u64,
    /// How many segments the journal is split into; the oldest goes first,
    /// so between `(n-1)/n` and all of the bound holds history (2 to 64).
    pub journal_segments: u32,
    /// The longest a journaled record waits in memory before it is written
    /// and synced: the loss window on a crash.
    pub flush_interval_ms: u64,
    /// Attempts with the same name, query type, action, reason, client and
    /// app within this window of the first become one record with a count.
    pub coalesce_window_ms: u64,
    /// At most this many coalescing windows are open at once (memory bound).
    pub max_open_windows: usize,
    /// Journal allowed queries too (discovery mode), under the same bound.
    pub discovery: bool,
    /// Counters are saved at most this long after they changed.
    pub counters_save_interval_ms: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            journal_max_bytes: 4 << 20,
            journal_segments: 8,
            flush_interval_ms: 1_000,
            coalesce_window_ms: 60_000,
            max_open_windows: 1024,
            discovery: false,
            counters_save_interval_ms: 60_000,
        }
    }
}

impl StoreConfig {
    fn limits(&self) -> Limits {
        let max_bytes = self.journal_max_bytes.max(128 << 10);
        let segments = u64::from(self.journal_segments.clamp(2, 64));
        let segment_bytes = (max_bytes / segments).max(16 << 10);
        // Open windows reserve room for their repeat frame in the current
        // segment; keep that reserve a small part of it.
        let max_groups = (segment_bytes as usize / (4 * crate::journal::frame::REPEAT_FRAME_LEN))
            .min(self.max_open_windows)
            .max(16);
        Limits {
            max_bytes,
            segment_bytes,
            flush_interval_ms: self.flush_interval_ms,
            coalesce_window_ms: self.coalesce_window_ms,
            max_groups,
            max_batch_bytes: (segment_bytes as usize / 4).min(64 << 10),
        }
    }
}

/// Why the writer wants to be called again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Journaled records are waiting to be written and synced.
    FlushJournal,
    /// A coalescing window with repeats closes and its count must be written.
    CloseWindows,
    /// The counters changed and are due to be saved.
    SaveCounters,
    /// Readers' live view of repeats in open windows is out of date.
    UpdateLive,
}

/// When to call [`Store::tick`] next, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    /// The time (ms since the Unix epoch).
    pub at_unix_ms: u64,
    /// Why.
    pub why: Wake,
}

/// The writer's health and progress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStatus {
    /// Every record with a sequence number up to this is on disk and synced
    /// (it survives a crash or power loss), except those counted in
    /// `records_dropped`.
    pub durable_seq: u64,
    /// The last sequence number handed out.
    pub last_seq: u64,
    /// Records not yet synced: batched in memory, or written but not synced
    /// (a large burst is written at once and synced at the flush deadline).
    pub pending_records: u64,
    /// Coalescing windows open in memory.
    pub open_windows: usize,
    /// Journal bytes on disk.
    pub journal_bytes: u64,
    /// Journal segment files.
    pub journal_segments: usize,
    /// Batches that could not be written or synced (e.g. the disk was full).
    pub journal_write_failures: u64,
    /// Records lost with those batches.
    pub records_dropped: u64,
    /// Counter snapshots that could not be saved.
    pub counters_save_failures: u64,
    /// Garbage bytes skipped in the newest segment when the store was opened
    /// (a torn write from a crash, or corruption).
    pub bytes_skipped_on_open: u64,
    /// Files named like journal segments that could not be used when the
    /// store was opened, moved aside as `<name>.damaged`.
    pub segments_set_aside: u64,
}

/// The store's one writer: journals events, keeps counters, edits custom
/// rules. It holds the store's lock for its lifetime.
///
/// Call order from the runtime's I/O thread: [`Store::record`] per event;
/// [`Store::tick`] at (or after) the deadline it last returned, and after a
/// burst of `record`s, to learn the next deadline; [`Store::shutdown`] on the
/// way out. Nothing here reads the clock.
pub struct Store {
    dir: PathBuf,
    config: StoreConfig,
    journal: JournalWriter,
    counters: Counters,
    /// The snapshot on disk covers journal records up to this number.
    saved_seq: u64,
    dirty_since_ms: Option<u64>,
    /// When the live file first fell behind the writer's state.
    live_stale_since_ms: Option<u64>,
    /// Whether the live file on disk lists any pending repeats.
    live_on_disk: bool,
    counters_save_failures: u64,
    _lock: std::fs::File,
}

impl Store {
    /// Opens (creating if needed) the store in `dir` for writing: takes the
    /// lock, cuts a torn journal tail, loads the counters and replays the
    /// journal records they miss.
    pub fn open(dir: &Path, config: StoreConfig) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = fsutil::try_lock(&lock_path)
            .map_err(|e| StoreError::io(&lock_path, e))?
            .ok_or(StoreError::Locked { path: lock_path })?;
        let mut counters = load_counters(dir)?;
        let journal = JournalWriter::open(dir, config.limits(), counters.journal_seq + 1)?;
        let saved_seq = counters.journal_seq;
        let replayed = replay_into(dir, &mut counters)?;
        let mut store = Store {
            dir: dir.to_path_buf(),
            config,
            journal,
            counters,
            saved_seq,
            dirty_since_ms: None,
            live_stale_since_ms: None,
            live_on_disk: true,
            counters_save_failures: 0,
            _lock: lock,
        };
        if replayed > 0 {
            // Save now, so rotation never has to wait on an older snapshot.
            store.save_counters();
        }
        store.enforce_bound(0);
        Ok(store)
    }

    /// Journals and counts one event. Never fails the caller: write errors
    /// are counted in [`Store::status`]. Allowed events are only taken in
    /// discovery mode.
    pub fn record(&mut self, now_unix_ms: u64, entry: JournalEntry) {
        if entry.action == Action::Allowed && !self.config.discovery {
            return;
        }
        self.counters.count(&entry, entry.count, entry.time_unix_ms);
        self.dirty_since_ms.get_or_insert(now_unix_ms);
        self.live_stale_since_ms.get_or_insert(now_unix_ms);
        self.journal.record(now_unix_ms, entry);
        self.enforce_bound(now_unix_ms);
    }

    /// Does what is due (write the batch, close windows, save counters) and
    /// returns the next deadline; `None` while nothing is pending, so an idle
    /// runtime needs no timer.
    pub fn tick(&mut self, now_unix_ms: u64) -> Option<Deadline> {
        self.journal.poll(now_unix_ms);
        if self.save_due().is_some_and(|t| now_unix_ms >= t) {
            self.snapshot(now_unix_ms);
        }
        self.enforce_bound(now_unix_ms);
        if self.live_due().is_some_and(|t| now_unix_ms >= t) {
            self.write_live();
        }
        self.deadline()
    }

    fn live_due(&self) -> Option<u64> {
        self.live_stale_since_ms
            .map(|t| t.saturating_add(self.config.flush_interval_ms))
    }

    /// Rewrites the live file with the repeats of open windows, against the
    /// journal as written now. Failing costs readers only freshness.
    fn write_live(&mut self) {
        self.live_stale_since_ms = None;
        let pending = self.journal.pending_repeats();
        if pending.is_empty() && !self.live_on_disk {
            return;
        }
        let bytes = crate::journal::frame::encode_live(self.journal.written_seq(), &pending);
        let path = self.dir.join(LIVE_FILE);
        let tmp = self.dir.join(format!("{LIVE_FILE}.tmp"));
        let written = std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, &path));
        self.live_on_disk = written.is_err() || !pending.is_empty();
    }

    /// The next deadline, without doing anything.
    pub fn deadline(&self) -> Option<Deadline> {
        let journal = self.journal.deadline().map(|(at, why)| Deadline {
            at_unix_ms: at,
            why: match why {
                WriterWake::Flush => Wake::FlushJournal,
                WriterWake::CloseGroups => Wake::CloseWindows,
            },
        });
        let save = self.save_due().map(|at| Deadline {
            at_unix_ms: at,
            why: Wake::SaveCounters,
        });
        let live = self.live_due().map(|at| Deadline {
            at_unix_ms: at,
            why: Wake::UpdateLive,
        });
        [journal, save, live]
            .into_iter()
            .flatten()
            .min_by_key(|d| d.at_unix_ms)
    }

    fn save_due(&self) -> Option<u64> {
        self.dirty_since_ms
            .map(|t| t.saturating_add(self.config.counters_save_interval_ms))
    }

    /// Writes and syncs everything journaled so far, repeat counts of open
    /// windows included. Returns the durable sequence number.
    pub fn flush(&mut self, now_unix_ms: u64) -> u64 {
        self.journal.flush_all(now_unix_ms);
        self.enforce_bound(now_unix_ms);
        self.journal.durable_seq()
    }

    /// Flushes the journal and saves the counters; the store stays usable.
    fn snapshot(&mut self, now_unix_ms: u64) {
        self.journal.flush_all(now_unix_ms);
        if !self.save_counters() {
            // Try again one interval later rather than on every tick.
            self.dirty_since_ms = Some(now_unix_ms);
        }
    }

    /// Saves the counters as covering every sequence number handed out so far.
    /// The journal must be flushed first, so the two agree.
    fn save_counters(&mut self) -> bool {
        self.counters.journal_seq = self.journal.last_seq();
        let path = self.dir.join(COUNTERS_FILE);
        match fsutil::write_atomic(&path, &self.counters.snapshot_json()) {
            Ok(()) => {
                self.saved_seq = self.counters.journal_seq;
                self.dirty_since_ms = None;
                true
            }
            Err(e) => {
                log::warn!("store: cannot save counters: {e}");
                self.counters_save_failures += 1;
                false
            }
        }
    }

    /// Deletes the oldest segments while the journal is over its bound,
    /// saving the counters first if they do not yet cover what goes.
    fn enforce_bound(&mut self, now_unix_ms: u64) {
        while let Some(oldest) = self.journal.excess() {
            if oldest.last_seq > self.saved_seq {
                self.snapshot(now_unix_ms);
            }
            // Deleted even if the save failed: the bound (and freeing a full
            // disk) comes first; the counters in memory are still right.
            self.journal.delete_oldest();
        }
    }

    /// Flushes the journal and saves the counters, then releases the lock.
    pub fn shutdown(mut self, now_unix_ms: u64) -> StoreStatus {
        self.snapshot(now_unix_ms);
        self.status()
    }

    /// Deletes the whole journal (counters stay: they are since install).
    pub fn clear_journal(&mut self, now_unix_ms: u64) -> Result<(), StoreError> {
        self.snapshot(now_unix_ms);
        self.journal.clear()
    }

    /// The counters, live (including attempts not yet written).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The writer's progress and failure counts.
    pub fn status(&self) -> StoreStatus {
        let (journal_bytes, journal_segments) = self.journal.disk_usage();
        StoreStatus {
            durable_seq: self.journal.durable_seq(),
            last_seq: self.journal.last_seq(),
            pending_records: self.journal.pending_records(),
            open_windows: self.journal.open_groups(),
            journal_bytes,
            journal_segments,
            journal_write_failures: self.journal.stats.write_failures,
            records_dropped: self.journal.stats.records_dropped,
            counters_save_failures: self.counters_save_failures,
            bytes_skipped_on_open: self.journal.stats.bytes_skipped_on_open,
            segments_set_aside: self.journal.stats.segments_set_aside,
        }
    }

    /// Turns discovery mode (journaling allowed queries) on or off.
    pub fn set_discovery(&mut self, on: bool) {
        self.config.discovery = on;
    }

    /// Adds (or changes) a custom rule for `name` in `custom.txt`, atomically.
    /// Returns whether the file changed; the runtime then re-applies rules.
    pub fn add_custom_rule(
        &mut self,
        name: &str,
        kind: CustomRuleKind,
    ) -> Result<bool, StoreError> {
        custom::set(&self.dir, name, Some(kind))
    }

    /// Removes the custom rule for `name`, if any. Returns whether the file changed.
    pub fn remove_custom_rule(&mut self, name: &str) -> Result<bool, StoreError> {
        custom::set(&self.dir, name, None)
    }

    /// Replaces the settings file atomically (its format is the runtime's).
    pub fn save_settings(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.dir.join(SETTINGS_FILE);
        fsutil::write_atomic(&path, bytes).map_err(|e| StoreError::io(path, e))
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A reader of this store (sees what has been flushed).
    pub fn reader(&self) -> StoreReader {
        StoreReader {
            dir: self.dir.clone(),
        }
    }
}

impl Drop for Store {
    /// Best effort on the way out: a store dropped without `shutdown` still
    /// writes what it has. (A crash skips this; the journal is built for that.)
    fn drop(&mut self) {
        if self.journal.pending_records() > 0 || self.dirty_since_ms.is_some() {
            let now = self.dirty_since_ms.unwrap_or(0);
            self.snapshot(now);
        }
    }
}

fn load_counters(dir: &Path) -> Result<Counters, StoreError> {
    let path = dir.join(COUNTERS_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Counters::from_json(&bytes).unwrap_or_else(|| {
            // Rebuilt from the journal by the replay; only history older
            // than the journal is lost.
            log::warn!("store: counters file is unreadable; rebuilding from the journal");
            Counters::default()
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Counters::default()),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

/// A read-only view of a store, for another process (the app, the CLI) or
/// thread. It takes no lock and writes nothing, so it can never block or
/// corrupt the writer; each call reads the files afresh, so it is live up to
/// the writer's last flush.
#[derive(Debug, Clone)]
pub struct StoreReader {
    dir: PathBuf,
}

impl StoreReader {
    /// Opens the store in `dir` for reading; the directory must exist.
    pub fn open(dir: &Path) -> Result<StoreReader, StoreError> {
        std::fs::read_dir(dir).map_err(|source| StoreError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(StoreReader {
            dir: dir.to_path_buf(),
        })
    }

    /// The counters as of the writer's last flush: the snapshot plus the
    /// journal records written after it.
    pub fn counters(&self) -> Result<Counters, StoreError> {
        let mut counters = load_counters(&self.dir)?;
        for _ in 0..3 {
            let snapshot_seq = counters.journal_seq;
            replay_into(&self.dir, &mut counters)?;
            // The writer saves a snapshot before it deletes the segments it
            // covers. If a new snapshot appeared while we replayed, segments
            // we needed may be gone: start again from the new snapshot.
            let now = load_counters(&self.dir)?;
            if now.journal_seq == snapshot_seq {
                break;
            }
            counters = now;
        }
        self.add_live(&mut counters);
        Ok(counters)
    }

    /// Adds the writer's pending repeats, when its live file was written
    /// against exactly the journal just replayed (otherwise the repeats may
    /// already be in it, or belong to records not read: leave them out).
    fn add_live(&self, counters: &mut Counters) {
        let Ok(bytes) = std::fs::read(self.dir.join(LIVE_FILE)) else {
            return;
        };
        if let Some((basis, pending)) = crate::journal::frame::decode_live(&bytes) {
            if basis == counters.journal_seq {
                for e in &pending {
                    counters.count(e, e.count, e.time_unix_ms);
                }
            }
        }
    }

    /// Up to `limit` journal records matching `filter`, newest first, older
    /// than `after` (the previous page's `next`), or from the newest if `None`.
    pub fn query(
        &self,
        filter: &Filter,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        query::query(&self.dir, filter, after, limit)
    }

    /// Writes the matching records as CSV, oldest first; returns how many.
    pub fn export_csv(&self, filter: &Filter, out: impl Write) -> Result<u64, StoreError> {
        export::export_csv(&self.dir, filter, out)
    }

    /// Writes the matching records as a JSON array, oldest first; returns how many.
    pub fn export_json(&self, filter: &Filter, out: impl Write) -> Result<u64, StoreError> {
        export::export_json(&self.dir, filter, out)
    }

    /// The user's custom rules.
    pub fn custom_rules(&self) -> Result<Vec<CustomRule>, StoreError> {
        custom::read(&self.dir)
    }

    /// The settings file's bytes, if the runtime saved any.
    pub fn settings(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.dir.join(SETTINGS_FILE);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(path, e)),
        }
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
