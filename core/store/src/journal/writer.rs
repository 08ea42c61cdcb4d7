//! The journal writer: batches frames, coalesces retry storms, rotates and
//! bounds segments, and survives a full disk.
//!
//! Call order (from the runtime's one I/O thread): [`JournalWriter::record`]
//! for each event, [`JournalWriter::poll`] when the deadline from
//! [`JournalWriter::deadline`] has passed, [`JournalWriter::flush_all`] to make
//! everything durable. Time only enters as `now` (ms since the Unix epoch).
//!
//! Coalescing: the first attempt of a (name, query type, action, reason,
//! client, app) goes into the batch at once, so it is durable within the flush
//! interval (1 s) like any other record. Later attempts within the coalescing
//! window (60 s from the first) only bump an in-memory count; one repeat frame
//! carries that count when the window closes, on `flush_all`, on rotation, or
//! when the group table is full. So a storm costs one entry and one repeat
//! frame per window on disk, and the group table is bounded. The price: on a
//! crash, the repeat counts of windows still open are lost (at most one window,
//! 60 s, of repeats); the fact that the name was blocked is not.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::frame::{self, REPEAT_FRAME_LEN};
use super::segment;
use crate::entry::JournalEntry;
use crate::error::StoreError;
use crate::fsutil;

/// Sizes and times the writer works within.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// All segments together never exceed this.
    pub(crate) max_bytes: u64,
    /// One segment's size; the bound keeps `max_bytes / segment_bytes` of them.
    pub(crate) segment_bytes: u64,
    pub(crate) flush_interval_ms: u64,
    pub(crate) coalesce_window_ms: u64,
    pub(crate) max_groups: usize,
    /// A batch this large is written at once, whatever its age.
    pub(crate) max_batch_bytes: usize,
}

/// What the writer knows of one segment file.
#[derive(Debug, Clone)]
pub(crate) struct SegmentInfo {
    pub(crate) number: u64,
    pub(crate) bytes: u64,
    /// An upper bound of the highest sequence number in the segment.
    pub(crate) last_seq: u64,
}

/// Attempts of one (name, qtype, action, reason, client, app) within a window.
struct Group {
    key: JournalEntry,
    seq: u64,
    closes_at_ms: u64,
    pending: u32,
    pending_last_ms: u64,
}

impl Group {
    fn matches(&self, e: &JournalEntry) -> bool {
        let k = &self.key;
        k.name == e.name
            && k.qtype == e.qtype
            && k.action == e.action
            && k.reason == e.reason
            && k.client == e.client
            && k.app == e.app
    }
}

/// Keyed at random per process: entries come from apps, lists and the
/// network. A match of the hash is confirmed against the entry itself.
type RandomState = foldhash::fast::RandomState;

/// The group table's keys are [`hash_key`]'s keyed hashes already: used as
/// they are, not hashed again.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed here; any other input still spreads.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

fn hash_key(hasher: &RandomState, e: &JournalEntry) -> u64 {
    let mut h = hasher.build_hasher();
    e.name.hash(&mut h);
    e.qtype.hash(&mut h);
    e.action.hash(&mut h);
    e.reason.hash(&mut h);
    e.client.hash(&mut h);
    e.app.hash(&mut h);
    h.finish()
}

/// Counts of what went wrong, for the store's status.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriterStats {
    pub(crate) write_failures: u64,
    pub(crate) records_dropped: u64,
    pub(crate) bytes_skipped_on_open: u64,
    /// Files named like segments that were moved aside at open.
    pub(crate) segments_set_aside: u64,
}

/// Moves a segment the writer cannot use aside (see [`segment::set_aside`]).
fn set_aside(path: &Path, why: &str, stats: &mut WriterStats) -> Result<(), StoreError> {
    let aside = segment::set_aside(path).map_err(|e| StoreError::io(path, e))?;
    log::warn!(
        "journal: {} cannot be used ({why}); moved to {}",
        path.display(),
        aside.display()
    );
    stats.segments_set_aside += 1;
    Ok(())
}

/// Why the writer wants to be woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriterWake {
    Flush,
    CloseGroups,
}

/// The single writer of a store's journal.
pub(crate) struct JournalWriter {
    dir: PathBuf,
    limits: Limits,
    closed: VecDeque<SegmentInfo>,
    closed_bytes: u64,
    current: SegmentInfo,
    file: Option<File>,
    batch: Vec<u8>,
    batch_records: u64,
    batch_last_seq: u64,
    batch_since_ms: Option<u64>,
    next_seq: u64,
    /// The last record written to the file (it survives a crash of the process).
    written_seq: u64,
    /// The last record synced (it survives power loss too).
    durable_seq: u64,
    /// Records written since the last sync.
    unsynced_records: u64,
    /// The current segment's length at the last sync.
    synced_bytes: u64,
    groups: HashMap<u64, Group, BuildHasherDefault<KeyHasher>>,
    hasher: RandomState,
    pending_groups: usize,
    groups_close_at_ms: Option<u64>,
    pub(crate) stats: WriterStats,
}

impl JournalWriter {
    /// Opens the journal in `dir`: cuts a torn tail off the newest segment and
    /// continues after the highest sequence number found (or `min_next_seq`).
    pub(crate) fn open(dir: &Path, limits: Limits, min_next_seq: u64) -> Result<Self, StoreError> {
        let mut stats = WriterStats::default();
        // Whatever is named like a segment but cannot be one (a directory,
        // a link) is moved out of the way, and so is a segment that cannot
        // be read: the journal starts with the rest.
        let strangers = segment::strangers(dir).map_err(|e| StoreError::io(dir, e))?;
        for path in strangers {
            set_aside(&path, "not a regular file", &mut stats)?;
        }
        let mut list = segment::list(dir).map_err(|e| StoreError::io(dir, e))?;
        let mut newest = Vec::new();
        while let Some((_, path)) = list.last() {
            match segment::read(path) {
                Ok(Some(data)) => {
                    newest = data;
                    break;
                }
                Ok(None) => {}
                Err(e) => set_aside(path, &e.to_string(), &mut stats)?,
            }
            list.pop();
        }
        let mut max_seq = 0;
        let mut infos = Vec::with_capacity(list.len());
        for (i, (number, path)) in list.iter().enumerate() {
            let is_last = i + 1 == list.len();
            let bytes = if is_last {
                let data = &newest;
                let mut scan = frame::Scan::new(data);
                max_seq = max_seq.max(scan.by_ref().map(|f| f.seq()).max().unwrap_or(0));
                stats.bytes_skipped_on_open += scan.skipped as u64;
                if scan.valid_end < data.len() {
                    // A torn or garbled tail: cut it so new frames follow a valid one.
                    let f = OpenOptions::new()
                        .write(true)
                        .open(path)
                        .map_err(|e| StoreError::io(path, e))?;
                    f.set_len(scan.valid_end as u64)
                        .and_then(|()| f.sync_data())
                        .map_err(|e| StoreError::io(path, e))?;
                    log::info!(
                        "journal: cut {} bytes of torn tail",
                        data.len() - scan.valid_end
                    );
                }
                scan.valid_end as u64
            } else {
                // Unreadable older segments are skipped by readers and
                // rotated away in their turn; their size still counts. One
                // too large to be a segment would make rotation delete good
                // ones to make room: it goes aside.
                let len = fs::metadata(path).map_or(0, |m| m.len());
                if len > segment::MAX_READ {
                    set_aside(path, "too large to be a segment", &mut stats)?;
                    continue;
                }
                len
            };
            infos.push(SegmentInfo {
                number: *number,
                bytes,
                last_seq: 0,
            });
        }
        if max_seq == 0 {
            // The newest segment was empty: the highest number is further back.
            for (_, path) in list.iter().rev().skip(1) {
                let Ok(Some(data)) = segment::read(path) else {
                    continue;
                };
                if let Some(m) = frame::Scan::new(&data).map(|f| f.seq()).max() {
                    max_seq = m;
                    break;
                }
            }
        }
        // Segments found at open are only known to hold numbers up to max_seq.
        for info in &mut infos {
            info.last_seq = max_seq;
        }
        let next_seq = (max_seq + 1).max(min_next_seq).max(1);
        let current = match infos.pop() {
            Some(last) if last.bytes < limits.segment_bytes / 2 => last,
            Some(last) => {
                let number = last.number + 1;
                infos.push(last);
                SegmentInfo {
                    number,
                    bytes: 0,
                    last_seq: 0,
                }
            }
            None => SegmentInfo {
                number: 1,
                bytes: 0,
                last_seq: 0,
            },
        };
        let synced_bytes = current.bytes;
        let mut w = JournalWriter {
            dir: dir.to_path_buf(),
            closed_bytes: infos.iter().map(|s| s.bytes).sum(),
            closed: infos.into(),
            current,
            file: None,
            batch: Vec::with_capacity(limits.max_batch_bytes + 4096),
            batch_records: 0,
            batch_last_seq: 0,
            batch_since_ms: None,
            next_seq,
            written_seq: next_seq - 1,
            durable_seq: next_seq - 1,
            unsynced_records: 0,
            synced_bytes,
            groups: HashMap::default(),
            hasher: RandomState::default(),
            pending_groups: 0,
            groups_close_at_ms: None,
            stats,
            limits,
        };
        w.open_current()
            .map_err(|e| StoreError::io(w.current_path(), e))?;
        Ok(w)
    }

    fn current_path(&self) -> PathBuf {
        self.dir.join(segment::file_name(self.current.number))
    }

    fn open_current(&mut self) -> std::io::Result<()> {
        let path = self.current_path();
        let created = !path.exists();
        let f = OpenOptions::new().create(true).append(true).open(&path)?;
        if created {
            // The new name must survive a crash too, or its frames would vanish with it.
            fsutil::sync_dir(&self.dir)?;
        }
        self.file = Some(f);
        Ok(())
    }

    /// Journals one event (coalescing retries) and writes the batch if it is due.
    pub(crate) fn record(&mut self, now: u64, e: JournalEntry) {
        let hash = hash_key(&self.hasher, &e);
        let mut coalesced = false;
        let mut needs_rotation = false;
        if let Some(g) = self.groups.get_mut(&hash) {
            if now < g.closes_at_ms && g.matches(&e) {
                if g.pending == 0 {
                    // The group's repeat frame will need room in this segment.
                    let used = self.current.bytes + self.batch.len() as u64;
                    let reserved = (self.pending_groups + 1) * REPEAT_FRAME_LEN;
                    if used + reserved as u64 > self.limits.segment_bytes {
                        needs_rotation = true;
                    } else {
                        self.pending_groups += 1;
                        self.groups_close_at_ms = Some(
                            self.groups_close_at_ms
                                .map_or(g.closes_at_ms, |t| t.min(g.closes_at_ms)),
                        );
                    }
                }
                if !needs_rotation {
                    g.pending = g.pending.saturating_add(e.count);
                    g.pending_last_ms = g.pending_last_ms.max(e.time_unix_ms);
                    coalesced = true;
                }
            }
        }
        if !coalesced {
            self.append_entry(now, hash, e, needs_rotation);
        }
        self.poll(now);
    }

    fn append_entry(&mut self, now: u64, hash: u64, e: JournalEntry, mut rotate: bool) {
        let bound = frame::entry_frame_len_bound(&e) + REPEAT_FRAME_LEN;
        let used = self.current.bytes + self.batch.len() as u64;
        let reserved = (self.pending_groups * REPEAT_FRAME_LEN + bound) as u64;
        rotate |= used + reserved > self.limits.segment_bytes;
        if rotate && used > 0 {
            self.rotate(now);
        }
        // A group this entry replaces (its window closed) gets its repeat frame first.
        if let Some(old) = self.groups.remove(&hash) {
            if old.pending > 0 {
                self.pending_groups -= 1;
                self.emit_repeat(now, old.seq, old.pending, old.pending_last_ms);
            }
        }
        if self.groups.len() >= self.limits.max_groups {
            self.close_all_groups(now);
        }
        let seq = self.take_seq();
        frame::encode_entry(&mut self.batch, seq, &e);
        self.note_batched(now, seq);
        self.groups.insert(
            hash,
            Group {
                key: e,
                seq,
                closes_at_ms: now.saturating_add(self.limits.coalesce_window_ms),
                pending: 0,
                pending_last_ms: 0,
            },
        );
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    fn note_batched(&mut self, now: u64, seq: u64) {
        self.batch_records += 1;
        self.batch_last_seq = seq;
        self.batch_since_ms.get_or_insert(now);
    }

    fn emit_repeat(&mut self, now: u64, of_seq: u64, delta: u32, last_ms: u64) {
        let seq = self.take_seq();
        frame::encode_repeat(&mut self.batch, seq, of_seq, delta, last_ms);
        self.note_batched(now, seq);
    }

    /// Writes repeat frames for every group with pending attempts and forgets all groups.
    fn close_all_groups(&mut self, now: u64) {
        // Emptied in place: the table keeps its room, so filling it again
        // (every name new, as in a flood of random names) does not regrow
        // it from nothing each time, and no group is moved out to be
        // dropped.
        let mut due: Vec<(u64, u32, u64)> = Vec::new();
        self.groups.retain(|_, g| {
            if g.pending > 0 {
                due.push((g.seq, g.pending, g.pending_last_ms));
            }
            false
        });
        due.sort_unstable();
        for (of_seq, delta, last) in due {
            self.emit_repeat(now, of_seq, delta, last);
        }
        self.pending_groups = 0;
        self.groups_close_at_ms = None;
    }

    /// Writes repeat frames for groups whose window has closed, and forgets them.
    fn close_due_groups(&mut self, now: u64) {
        let mut due: Vec<(u64, u32, u64)> = Vec::new();
        self.groups.retain(|_, g| {
            let open = g.closes_at_ms > now;
            if !open && g.pending > 0 {
                due.push((g.seq, g.pending, g.pending_last_ms));
            }
            open
        });
        due.sort_unstable();
        for (of_seq, delta, last) in due {
            self.emit_repeat(now, of_seq, delta, last);
        }
        self.pending_groups = self.groups.values().filter(|g| g.pending > 0).count();
        self.groups_close_at_ms = self
            .groups
            .values()
            .filter(|g| g.pending > 0)
            .map(|g| g.closes_at_ms)
            .min();
    }

    /// Attempts counted in open windows but not journaled yet, each as its
    /// entry carrying the pending count and the time of the last attempt:
    /// what a reader in another process adds to see the counters live.
    pub(crate) fn pending_repeats(&self) -> Vec<JournalEntry> {
        let mut pending: Vec<JournalEntry> = self
            .groups
            .values()
            .filter(|g| g.pending > 0)
            .map(|g| JournalEntry {
                count: g.pending,
                time_unix_ms: g.pending_last_ms,
                ..g.key.clone()
            })
            .collect();
        pending.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        pending
    }

    /// The last record written to the segment files.
    pub(crate) fn written_seq(&self) -> u64 {
        self.written_seq
    }

    /// Does whatever time has made due: closes windows, writes an old or large batch.
    pub(crate) fn poll(&mut self, now: u64) {
        if self.groups_close_at_ms.is_some_and(|t| t <= now) {
            self.close_due_groups(now);
        }
        let old = self
            .batch_since_ms
            .is_some_and(|t| now >= t.saturating_add(self.limits.flush_interval_ms));
        if old {
            self.write_batch(true);
        } else if self.batch.len() >= self.limits.max_batch_bytes {
            self.write_batch(false);
        }
    }

    /// When `poll` next has something to do, and why; `None` while nothing is pending.
    pub(crate) fn deadline(&self) -> Option<(u64, WriterWake)> {
        let flush = self.batch_since_ms.map(|t| {
            (
                t.saturating_add(self.limits.flush_interval_ms),
                WriterWake::Flush,
            )
        });
        let close = self
            .groups_close_at_ms
            .map(|t| (t, WriterWake::CloseGroups));
        match (flush, close) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    /// Makes everything journaled so far durable, pending repeat counts
    /// included; groups stay open for further repeats. Returns whether it all
    /// reached the disk.
    pub(crate) fn flush_all(&mut self, now: u64) -> bool {
        let mut pending: Vec<(u64, u32, u64)> = self
            .groups
            .values_mut()
            .filter(|g| g.pending > 0)
            .map(|g| (g.seq, std::mem::take(&mut g.pending), g.pending_last_ms))
            .collect();
        pending.sort_unstable();
        for (of_seq, delta, last) in pending {
            self.emit_repeat(now, of_seq, delta, last);
        }
        self.pending_groups = 0;
        self.groups_close_at_ms = None;
        self.write_batch(true)
    }

    /// Appends the batch to the current segment, and with `sync` makes
    /// everything written so far durable (fdatasync). A large batch is written
    /// without a sync, so a burst costs one sync per flush interval, not one
    /// per batch: what is written survives a crash of the process, and the
    /// sync at the deadline covers power loss.
    ///
    /// On failure the segment is cut back to its last good length (the last
    /// synced one if the sync failed), what is lost is dropped and counted,
    /// and the coalescing windows are forgotten (their entries may be gone).
    fn write_batch(&mut self, sync: bool) -> bool {
        let write = (|| {
            if self.batch.is_empty() {
                return Ok(());
            }
            if self.file.is_none() {
                self.open_current()?;
            }
            let f = self.file.as_mut().ok_or(std::io::ErrorKind::NotFound)?;
            f.write_all(&self.batch)
        })();
        if let Err(e) = write {
            return self.fail(&e, self.current.bytes);
        }
        if !self.batch.is_empty() {
            self.current.bytes += self.batch.len() as u64;
            self.current.last_seq = self.batch_last_seq;
            self.written_seq = self.batch_last_seq;
            self.unsynced_records += self.batch_records;
            self.batch.clear();
            self.batch_records = 0;
        }
        if !sync || self.unsynced_records == 0 {
            if sync {
                self.batch_since_ms = None;
            }
            return true;
        }
        let synced = self.file.as_ref().map(File::sync_data);
        match synced {
            Some(Ok(())) => {
                self.synced_bytes = self.current.bytes;
                self.durable_seq = self.written_seq;
                self.unsynced_records = 0;
                self.batch_since_ms = None;
                true
            }
            Some(Err(e)) => self.fail(&e, self.synced_bytes),
            None => self.fail(&std::io::ErrorKind::NotFound.into(), self.synced_bytes),
        }
    }

    /// Undoes a failed write (`keep_bytes` = the length before it) or a
    /// failed sync (`keep_bytes` = the last synced length), and counts the loss.
    fn fail(&mut self, e: &std::io::Error, keep_bytes: u64) -> bool {
        let lost = if keep_bytes < self.current.bytes {
            // The sync failed: what was written since the last sync is not trusted.
            let lost = self.unsynced_records;
            self.current.bytes = keep_bytes;
            self.written_seq = self.durable_seq;
            self.unsynced_records = 0;
            lost
        } else {
            self.batch_records
        };
        log::warn!("journal: dropped {lost} records: {e}");
        if let Some(f) = &self.file {
            if f.set_len(keep_bytes).is_err() {
                // The file's length is now unknown; reopen before the next write.
                self.file = None;
            }
        }
        self.stats.write_failures += 1;
        self.stats.records_dropped += lost;
        self.batch.clear();
        self.batch_records = 0;
        if self.unsynced_records == 0 {
            self.batch_since_ms = None;
        }
        self.groups.clear();
        self.pending_groups = 0;
        self.groups_close_at_ms = None;
        false
    }

    /// Closes the current segment (all windows with it) and starts the next.
    fn rotate(&mut self, now: u64) {
        self.close_all_groups(now);
        self.write_batch(true);
        let next = SegmentInfo {
            number: self.current.number + 1,
            bytes: 0,
            last_seq: 0,
        };
        let old = std::mem::replace(&mut self.current, next);
        self.synced_bytes = 0;
        self.closed_bytes += old.bytes;
        self.closed.push_back(old);
        self.file = None;
        if let Err(e) = self.open_current() {
            // Retried by the next write; counted there if it fails again.
            log::warn!("journal: cannot start segment: {e}");
        }
    }

    /// The oldest segment, if the journal is over its bound without it.
    pub(crate) fn excess(&self) -> Option<&SegmentInfo> {
        let over = self.closed_bytes + self.limits.segment_bytes.max(self.current.bytes)
            > self.limits.max_bytes;
        if over {
            self.closed.front()
        } else {
            None
        }
    }

    /// Deletes the oldest segment.
    pub(crate) fn delete_oldest(&mut self) {
        if let Some(old) = self.closed.pop_front() {
            self.closed_bytes -= old.bytes;
            let path = self.dir.join(segment::file_name(old.number));
            if let Err(e) = fs::remove_file(&path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    log::warn!("journal: cannot delete old segment: {e}");
                }
            }
        }
    }

    /// Deletes every segment and starts afresh; sequence numbers keep growing.
    pub(crate) fn clear(&mut self) -> Result<(), StoreError> {
        self.batch.clear();
        self.batch_records = 0;
        self.batch_since_ms = None;
        self.groups.clear();
        self.pending_groups = 0;
        self.groups_close_at_ms = None;
        self.file = None;
        let mut all: Vec<SegmentInfo> = self.closed.drain(..).collect();
        let next = self.current.number + 1;
        all.push(self.current.clone());
        for s in all {
            let path = self.dir.join(segment::file_name(s.number));
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(path, e)),
            }
        }
        self.closed_bytes = 0;
        self.current = SegmentInfo {
            number: next,
            bytes: 0,
            last_seq: 0,
        };
        self.synced_bytes = 0;
        self.unsynced_records = 0;
        self.written_seq = self.next_seq - 1;
        self.durable_seq = self.next_seq - 1;
        self.open_current()
            .map_err(|e| StoreError::io(self.current_path(), e))
    }

    /// Every record up to this number is on disk (unless counted as dropped).
    pub(crate) fn durable_seq(&self) -> u64 {
        self.durable_seq
    }

    /// The last sequence number handed out.
    pub(crate) fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Records not yet synced: batched in memory, or written but not synced.
    pub(crate) fn pending_records(&self) -> u64 {
        self.batch_records + self.unsynced_records
    }

    pub(crate) fn open_groups(&self) -> usize {
        self.groups.len()
    }

    /// Bytes on disk (written, not batched) and segment files.
    pub(crate) fn disk_usage(&self) -> (u64, usize) {
        (
            self.closed_bytes + self.current.bytes,
            self.closed.len() + 1,
        )
    }
}
