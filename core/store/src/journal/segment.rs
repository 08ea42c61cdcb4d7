//! Journal segments: the numbered files `journal.00000001`, `journal.00000002`…
//! that together hold the journal, oldest first.
//!
//! Each segment is self-contained: the writer closes every coalescing window
//! before it starts a new segment, so a repeat frame always follows its entry
//! in the same file. That lets a reader (and rotation) treat segments one at a
//! time, and deleting the oldest segment never orphans a count.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::frame::{Frame, Scan};
use crate::entry::JournalRecord;

const PREFIX: &str = "journal.";

/// The file name of segment `number`.
pub(crate) fn file_name(number: u64) -> String {
    format!("{PREFIX}{number:08}")
}

/// The segment number a file name stands for, if it is a segment's.
fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A reader never loads more of one segment than this: the writer's are
/// far smaller (see `StoreConfig`), so a larger file is not one of them.
pub(crate) const MAX_READ: u64 = 64 << 20;

/// The segments in `dir`, oldest (lowest number) first: regular files
/// named like one. Anything else with such a name (a directory, a FIFO, a
/// symbolic link) is left out: see [`strangers`].
pub(crate) fn list(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for item in fs::read_dir(dir)? {
        let item = item?;
        let Some(n) = item.file_name().to_str().and_then(parse_name) else {
            continue;
        };
        // The entry's own type: a symbolic link is not followed.
        if item.file_type().is_ok_and(|t| t.is_file()) {
            out.push((n, item.path()));
        }
    }
    out.sort_unstable_by_key(|(n, _)| *n);
    Ok(out)
}

/// What in `dir` is named like a segment but is not a regular file.
pub(crate) fn strangers(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for item in fs::read_dir(dir)? {
        let item = item?;
        let named_like_one = item.file_name().to_str().and_then(parse_name).is_some();
        if named_like_one && !item.file_type().is_ok_and(|t| t.is_file()) {
            out.push(item.path());
        }
    }
    Ok(out)
}

/// Reads a whole segment; `None` if it no longer exists (rotated away by the
/// writer between listing and opening). A file over [`MAX_READ`] is an
/// error, not read.
pub(crate) fn read(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    file.take(MAX_READ + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_READ {
        return Err(io::Error::other(format!(
            "larger than {} MiB, not a journal segment",
            MAX_READ >> 20
        )));
    }
    Ok(Some(bytes))
}

/// Moves a segment the journal cannot use out of its way, kept for whoever
/// wants to look: `journal.00000003` becomes `journal.00000003.damaged`
/// (or `.damaged.2`, `.damaged.3`...), which no reader or rotation takes
/// for a segment. Returns the new path.
pub(crate) fn set_aside(path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::other("not a segment's name"))?;
    for i in 1..=100 {
        let aside = match i {
            1 => path.with_file_name(format!("{name}.damaged")),
            i => path.with_file_name(format!("{name}.damaged.{i}")),
        };
        if fs::symlink_metadata(&aside).is_err() {
            fs::rename(path, &aside)?;
            return Ok(aside);
        }
    }
    Err(io::Error::other(
        "too many damaged copies already set aside",
    ))
}

/// The valid frames of a segment, in file order.
pub(crate) fn frames(bytes: &[u8]) -> Vec<Frame> {
    let mut last_seq = None;
    Scan::new(bytes)
        // Sequence numbers only grow within a segment; a frame that goes back
        // can only come from corruption that happened to checksum, so it is dropped.
        .filter(|f| {
            let ok = last_seq.is_none_or(|last| f.seq() > last);
            if ok {
                last_seq = Some(f.seq());
            }
            ok
        })
        .collect()
}

/// The records of a segment, oldest first, each with its repeats folded in.
/// Repeats whose entry is missing (lost to corruption) are dropped.
pub(crate) fn records(frames: Vec<Frame>) -> Vec<JournalRecord> {
    let mut out: Vec<JournalRecord> = Vec::with_capacity(frames.len());
    let mut by_seq: HashMap<u64, usize> = HashMap::new();
    for frame in frames {
        match frame {
            Frame::Entry { seq, entry } => {
                by_seq.insert(seq, out.len());
                out.push(JournalRecord {
                    seq,
                    last_unix_ms: entry.time_unix_ms,
                    entry,
                });
            }
            Frame::Repeat {
                of_seq,
                delta,
                last_unix_ms,
                ..
            } => {
                if let Some(r) = by_seq.get(&of_seq).and_then(|&i| out.get_mut(i)) {
                    r.entry.count = r.entry.count.saturating_add(delta);
                    r.last_unix_ms = r.last_unix_ms.max(last_unix_ms);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_ignored() {
        assert_eq!(file_name(12), "journal.00000012");
        assert_eq!(parse_name("journal.00000012"), Some(12));
        assert_eq!(parse_name("journal.123456789"), Some(123_456_789));
        assert_eq!(parse_name("journal.0001.tmp"), None);
        assert_eq!(parse_name("journal."), None);
        assert_eq!(parse_name("counters.json"), None);
    }

    use crate::entry::{Action, JournalEntry, Reason};
    use crate::journal::frame::{encode_entry, encode_repeat};
    use proptest::prelude::*;

    /// Frames as written, with where each one ends in the bytes.
    fn written(spec: &[(u8, u32, bool)]) -> (Vec<u8>, Vec<(Frame, usize)>) {
        let mut bytes = Vec::new();
        let mut out = Vec::new();
        let mut seq = 0;
        let mut last_entry = None;
        for &(name, count, repeat) in spec {
            seq += 1;
            let frame = match (repeat, last_entry) {
                (true, Some(of_seq)) => {
                    encode_repeat(&mut bytes, seq, of_seq, count, u64::from(count));
                    Frame::Repeat {
                        seq,
                        of_seq,
                        delta: count,
                        last_unix_ms: u64::from(count),
                    }
                }
                _ => {
                    let entry = JournalEntry {
                        time_unix_ms: seq * 1000,
                        name: format!("n{name}.example.com"),
                        qtype: 28,
                        action: Action::Blocked,
                        reason: Reason::Rule {
                            list_id: "l".into(),
                            line: u32::from(name),
                        },
                        client: "fd00::1".parse().unwrap(),
                        app: (name % 2 == 0).then(|| "app".into()),
                        count,
                    };
                    encode_entry(&mut bytes, seq, &entry);
                    last_entry = Some(seq);
                    Frame::Entry { seq, entry }
                }
            };
            out.push((frame, bytes.len()));
        }
        (bytes, out)
    }

    fn spec() -> impl Strategy<Value = Vec<(u8, u32, bool)>> {
        prop::collection::vec((any::<u8>(), 1u32..1000, prop::bool::weighted(0.3)), 1..40)
    }

    proptest! {
        #[test]
        fn a_truncated_segment_yields_exactly_the_whole_frames(spec in spec(), cut in 0.0f64..=1.0) {
            let (bytes, want) = written(&spec);
            let cut = (bytes.len() as f64 * cut) as usize;
            let got = frames(&bytes[..cut]);
            let expected: Vec<Frame> =
                want.into_iter().filter(|(_, end)| *end <= cut).map(|(f, _)| f).collect();
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn a_garbled_segment_never_yields_a_frame_that_was_not_written(
            spec in spec(),
            garble in prop::collection::vec((0.0f64..1.0, any::<u8>()), 1..20),
            insert in prop::collection::vec(any::<u8>(), 0..64),
            at in 0.0f64..=1.0,
        ) {
            let (mut bytes, want) = written(&spec);
            let first_bad = garble
                .iter()
                .map(|(pos, _)| (bytes.len() as f64 * pos) as usize)
                .min()
                .unwrap_or(usize::MAX);
            for (pos, b) in &garble {
                let i = (bytes.len() as f64 * pos) as usize;
                bytes[i] ^= b | 1;
            }
            let at = (bytes.len() as f64 * at) as usize;
            let first_bad = first_bad.min(if insert.is_empty() { usize::MAX } else { at });
            bytes.splice(at..at, insert);
            let got = frames(&bytes);
            for f in &got {
                prop_assert!(want.iter().any(|(w, _)| w == f), "invented frame {:?}", f);
            }
            // Every frame wholly before the first damage survives.
            for (w, end) in &want {
                if *end <= first_bad {
                    prop_assert!(got.contains(w));
                }
            }
            // And folding them into records never panics or over-counts.
            let total: u64 = records(got).iter().map(|r| u64::from(r.entry.count)).sum();
            let max: u64 = spec.iter().map(|s| u64::from(s.1)).sum();
            prop_assert!(total <= max);
        }
    }
}
