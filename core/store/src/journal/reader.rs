//! Reading the journal without a lock, one segment at a time, while the
//! writer may be appending, rotating or clearing.
//!
//! A segment that vanishes between listing and opening was rotated away and
//! is skipped; a torn tail (the writer mid-append) or a garbled stretch is
//! skipped frame by frame; a segment that cannot be read at all is skipped
//! with a warning. Nothing a reader does touches the files.

use std::collections::HashMap;
use std::path::Path;

use super::frame::Frame;
use super::segment;
use crate::counters::Counters;
use crate::entry::{JournalEntry, JournalRecord};
use crate::error::StoreError;

/// The segments in `dir` with their records, one segment at a time.
pub(crate) struct Segments {
    list: Vec<(u64, std::path::PathBuf)>,
}

impl Segments {
    pub(crate) fn list(dir: &Path) -> Result<Self, StoreError> {
        let list = segment::list(dir).map_err(|e| StoreError::io(dir, e))?;
        Ok(Segments { list })
    }

    /// Segment numbers, oldest first.
    pub(crate) fn numbers(&self) -> impl DoubleEndedIterator<Item = u64> + '_ {
        self.list.iter().map(|(n, _)| *n)
    }

    /// The frames of segment `number`; empty if it was rotated away, or
    /// cannot be read (with a warning: one bad file must not hide the
    /// records of all the others).
    pub(crate) fn frames(&self, number: u64) -> Result<Vec<Frame>, StoreError> {
        let Some((_, path)) = self.list.iter().find(|(n, _)| *n == number) else {
            return Ok(Vec::new());
        };
        match segment::read(path) {
            Ok(bytes) => Ok(bytes.map(|b| segment::frames(&b)).unwrap_or_default()),
            Err(e) => {
                log::warn!("journal: skipped {}: {e}", path.display());
                Ok(Vec::new())
            }
        }
    }

    /// The records of segment `number`, oldest first.
    pub(crate) fn records(&self, number: u64) -> Result<Vec<JournalRecord>, StoreError> {
        Ok(segment::records(self.frames(number)?))
    }
}

/// Adds to `counters` every journal record after `counters.journal_seq`, and
/// moves `journal_seq` on. Returns how many frames were replayed.
pub(crate) fn replay_into(dir: &Path, counters: &mut Counters) -> Result<u64, StoreError> {
    let segments = Segments::list(dir)?;
    let since = counters.journal_seq;
    // Newest first until a segment starts at or before `since`; then apply oldest first.
    let mut newer: Vec<Vec<Frame>> = Vec::new();
    for number in segments.numbers().rev() {
        let frames = segments.frames(number)?;
        let first = frames.first().map(Frame::seq);
        newer.push(frames);
        if first.is_some_and(|s| s <= since) {
            break;
        }
    }
    let mut replayed = 0;
    for frames in newer.iter().rev() {
        let mut entries: HashMap<u64, &JournalEntry> = HashMap::new();
        for frame in frames {
            match frame {
                Frame::Entry { seq, entry } => {
                    entries.insert(*seq, entry);
                    if *seq > since {
                        counters.count(entry, entry.count, entry.time_unix_ms);
                    }
                }
                Frame::Repeat {
                    seq,
                    of_seq,
                    delta,
                    last_unix_ms,
                } => {
                    if *seq > since {
                        if let Some(entry) = entries.get(of_seq) {
                            counters.count(entry, *delta, *last_unix_ms);
                        }
                    }
                }
            }
            if frame.seq() > since {
                replayed += 1;
                counters.journal_seq = counters.journal_seq.max(frame.seq());
            }
        }
    }
    Ok(replayed)
}
