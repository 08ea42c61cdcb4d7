//! Journal frames: the length- and checksum-framed unit that journal files are made of.
//!
//! ```text
//! frame   = magic(4) len(u32 LE) crc32(u32 LE, over len and payload) payload(len)
//! payload = 1 seq(u64) time(u64) count(u32) qtype(u16) action(u8) reason client name app   (entry)
//!         | 2 seq(u64) of_seq(u64) delta(u32) last_time(u64)                               (repeat)
//! ```
//!
//! All integers are little-endian; strings are a length byte and UTF-8 bytes.
//! The magic starts with 0xFF, a byte that never occurs in UTF-8, so a name or
//! app string cannot contain it. After a bad frame a reader resyncs by
//! scanning for the next magic; the checksum makes a false match there
//! practically impossible.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::entry::{Action, JournalEntry, Reason};

/// Marks the start of every frame.
pub(crate) const MAGIC: [u8; 4] = [0xFF, b'T', b'J', 0x01];
/// Magic, length and checksum.
pub(crate) const HEADER_LEN: usize = 12;
/// No valid payload is longer: a larger length field is corruption.
pub(crate) const MAX_PAYLOAD: usize = 2048;
/// The exact size of a repeat frame (kind, seq, of_seq, delta, last time).
pub(crate) const REPEAT_FRAME_LEN: usize = HEADER_LEN + 1 + 8 + 8 + 4 + 8;

const KIND_ENTRY: u8 = 1;
const KIND_REPEAT: u8 = 2;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    /// The first occurrence of an entry (or of a new coalescing window).
    Entry { seq: u64, entry: JournalEntry },
    /// More attempts of the entry `of_seq`, which is in the same segment.
    Repeat {
        seq: u64,
        of_seq: u64,
        delta: u32,
        last_unix_ms: u64,
    },
}

impl Frame {
    pub(crate) fn seq(&self) -> u64 {
        match self {
            Frame::Entry { seq, .. } | Frame::Repeat { seq, .. } => *seq,
        }
    }
}

/// Appends an entry frame to `out`.
pub(crate) fn encode_entry(out: &mut Vec<u8>, seq: u64, e: &JournalEntry) {
    let start = begin(out);
    out.push(KIND_ENTRY);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&e.time_unix_ms.to_le_bytes());
    out.extend_from_slice(&e.count.to_le_bytes());
    out.extend_from_slice(&e.qtype.to_le_bytes());
    out.push(match e.action {
        Action::Blocked => 0,
        Action::Allowed => 1,
        Action::Failed => 2,
    });
    match &e.reason {
        Reason::NoRule => out.push(0),
        Reason::Rule { list_id, line } => {
            out.push(1);
            put_str(out, list_id);
            out.extend_from_slice(&line.to_le_bytes());
        }
        Reason::Cname { via, list_id, line } => {
            out.push(2);
            put_str(out, via);
            put_str(out, list_id);
            out.extend_from_slice(&line.to_le_bytes());
        }
        Reason::LearnedAddress { addr } => {
            out.push(3);
            put_ip(out, *addr);
        }
        Reason::Canary => out.push(4),
        Reason::Bypass => out.push(5),
        Reason::BadAnswer { problem } => {
            out.push(6);
            put_str(out, problem);
        }
        Reason::NotForDevice => out.push(7),
    }
    put_ip(out, e.client);
    put_str(out, &e.name);
    match &e.app {
        None => out.push(0),
        Some(app) => {
            out.push(1);
            put_str(out, app);
        }
    }
    finish(out, start);
}

/// Appends a repeat frame to `out`.
pub(crate) fn encode_repeat(
    out: &mut Vec<u8>,
    seq: u64,
    of_seq: u64,
    delta: u32,
    last_unix_ms: u64,
) {
    let start = begin(out);
    out.push(KIND_REPEAT);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&of_seq.to_le_bytes());
    out.extend_from_slice(&delta.to_le_bytes());
    out.extend_from_slice(&last_unix_ms.to_le_bytes());
    finish(out, start);
}

/// An upper bound of the encoded size of an entry, to decide rotation before encoding.
pub(crate) fn entry_frame_len_bound(e: &JournalEntry) -> usize {
    // Fixed fields, plus every string at its length byte and capped length.
    let strs = [
        Some(e.name.as_str()),
        e.app.as_deref(),
        match &e.reason {
            Reason::Rule { list_id, .. } | Reason::Cname { list_id, .. } => Some(&**list_id),
            Reason::BadAnswer { problem } => Some(problem.as_str()),
            _ => None,
        },
        match &e.reason {
            Reason::Cname { via, .. } => Some(via.as_str()),
            _ => None,
        },
    ];
    let str_bytes: usize = strs.iter().flatten().map(|s| 1 + s.len().min(255)).sum();
    HEADER_LEN + 1 + 8 + 8 + 4 + 2 + 1 + 1 + 4 + 17 * 2 + 1 + str_bytes
}

fn begin(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&[0; 8]);
    start
}

fn finish(out: &mut [u8], start: usize) {
    let payload_start = start + HEADER_LEN;
    let len = (out.len() - payload_start) as u32;
    let len_bytes = len.to_le_bytes();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&len_bytes);
    crc.update(out.get(payload_start..).unwrap_or_default());
    let crc = crc.finalize().to_le_bytes();
    if let Some(h) = out.get_mut(start + 4..payload_start) {
        h[..4].copy_from_slice(&len_bytes);
        h[4..].copy_from_slice(&crc);
    }
}

/// Cuts a string to at most 255 bytes, on a character boundary.
fn capped(s: &str) -> &str {
    if s.len() <= 255 {
        return s;
    }
    let mut end = 255;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let s = capped(s);
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

fn put_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            out.push(4);
            out.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            out.push(6);
            out.extend_from_slice(&v6.octets());
        }
    }
}

/// Reads typed values off a payload; every getter returns `None` past the end.
struct Payload<'a> {
    rest: &'a [u8],
}

impl<'a> Payload<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }
    fn str(&mut self) -> Option<String> {
        let n = self.u8()? as usize;
        std::str::from_utf8(self.take(n)?).ok().map(str::to_owned)
    }
    fn ip(&mut self) -> Option<IpAddr> {
        match self.u8()? {
            4 => Some(IpAddr::V4(Ipv4Addr::from(self.array::<4>()?))),
            6 => Some(IpAddr::V6(Ipv6Addr::from(self.array::<16>()?))),
            _ => None,
        }
    }
}

/// Decodes a payload whose checksum already matched; `None` if it is not a
/// frame this version understands (or has trailing bytes).
fn decode_payload(bytes: &[u8]) -> Option<Frame> {
    let mut p = Payload { rest: bytes };
    let frame = match p.u8()? {
        KIND_ENTRY => {
            let seq = p.u64()?;
            let time_unix_ms = p.u64()?;
            let count = p.u32()?;
            let qtype = p.u16()?;
            let action = match p.u8()? {
                0 => Action::Blocked,
                1 => Action::Allowed,
                2 => Action::Failed,
                _ => return None,
            };
            let reason = match p.u8()? {
                0 => Reason::NoRule,
                1 => Reason::Rule {
                    list_id: p.str()?.into(),
                    line: p.u32()?,
                },
                2 => Reason::Cname {
                    via: p.str()?,
                    list_id: p.str()?.into(),
                    line: p.u32()?,
                },
                3 => Reason::LearnedAddress { addr: p.ip()? },
                4 => Reason::Canary,
                5 => Reason::Bypass,
                6 => Reason::BadAnswer { problem: p.str()? },
                7 => Reason::NotForDevice,
                _ => return None,
            };
            let client = p.ip()?;
            let name = p.str()?;
            let app = match p.u8()? {
                0 => None,
                1 => Some(p.str()?),
                _ => return None,
            };
            Frame::Entry {
                seq,
                entry: JournalEntry {
                    time_unix_ms,
                    name,
                    qtype,
                    action,
                    reason,
                    client,
                    app,
                    count,
                },
            }
        }
        KIND_REPEAT => Frame::Repeat {
            seq: p.u64()?,
            of_seq: p.u64()?,
            delta: p.u32()?,
            last_unix_ms: p.u64()?,
        },
        _ => return None,
    };
    p.rest.is_empty().then_some(frame)
}

/// The entry frames of a live file (see `store::LIVE_FILE`): its basis
/// sequence number, and the pending repeats it lists.
pub(crate) fn encode_live(basis_seq: u64, pending: &[JournalEntry]) -> Vec<u8> {
    let mut out = basis_seq.to_le_bytes().to_vec();
    for e in pending {
        encode_entry(&mut out, basis_seq, e);
    }
    out
}

/// Reads a live file; `None` if it is too short to hold its basis.
pub(crate) fn decode_live(bytes: &[u8]) -> Option<(u64, Vec<JournalEntry>)> {
    let basis = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let pending = Scan::new(bytes.get(8..)?)
        .filter_map(|frame| match frame {
            Frame::Entry { entry, .. } => Some(entry),
            Frame::Repeat { .. } => None,
        })
        .collect();
    Some((basis, pending))
}

/// Walks the frames of a journal segment, skipping anything that is not a
/// whole, checksummed, understood frame.
pub(crate) struct Scan<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// End of the last valid frame: everything after it is a torn or corrupt tail.
    pub(crate) valid_end: usize,
    /// Bytes skipped so far because they were not part of a valid frame.
    pub(crate) skipped: usize,
}

impl<'a> Scan<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Scan {
            bytes,
            pos: 0,
            valid_end: 0,
            skipped: 0,
        }
    }

    /// The frame at `pos`, and its total length, if one starts there.
    fn frame_at(&self, pos: usize) -> Option<(Frame, usize)> {
        let header = self.bytes.get(pos..pos.checked_add(HEADER_LEN)?)?;
        if header.get(..4)? != MAGIC {
            return None;
        }
        let len_bytes: [u8; 4] = header.get(4..8)?.try_into().ok()?;
        let crc_bytes: [u8; 4] = header.get(8..12)?.try_into().ok()?;
        let len = u32::from_le_bytes(len_bytes) as usize;
        if len > MAX_PAYLOAD {
            return None;
        }
        let payload = self.bytes.get(pos + HEADER_LEN..pos + HEADER_LEN + len)?;
        let mut crc = crc32fast::Hasher::new();
        crc.update(&len_bytes);
        crc.update(payload);
        if crc.finalize() != u32::from_le_bytes(crc_bytes) {
            return None;
        }
        Some((decode_payload(payload)?, HEADER_LEN + len))
    }

    /// The next position after `from` where the magic's first byte occurs.
    fn resync(&self, from: usize) -> usize {
        self.bytes
            .get(from..)
            .and_then(|rest| rest.iter().position(|&b| b == MAGIC[0]))
            .map_or(self.bytes.len(), |i| from + i)
    }
}

impl Iterator for Scan<'_> {
    type Item = Frame;

    fn next(&mut self) -> Option<Frame> {
        while self.pos < self.bytes.len() {
            if let Some((frame, len)) = self.frame_at(self.pos) {
                self.pos += len;
                self.valid_end = self.pos;
                return Some(frame);
            }
            let next = self.resync(self.pos + 1);
            self.skipped += next - self.pos;
            self.pos = next;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> JournalEntry {
        JournalEntry {
            time_unix_ms: 1_700_000_000_000,
            name: "tracker.example.com".into(),
            qtype: 1,
            action: Action::Blocked,
            reason: Reason::Rule {
                list_id: "hagezi-light".into(),
                line: 42,
            },
            client: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            app: Some("com.example.app".into()),
            count: 1,
        }
    }

    #[test]
    fn repeat_frame_bytes_are_fixed() {
        let mut out = Vec::new();
        encode_repeat(&mut out, 7, 3, 5, 0x0102);
        assert_eq!(out.len(), REPEAT_FRAME_LEN);
        // magic, len = 29, then the payload: kind 2, seq 7, of 3, delta 5, last 0x0102
        assert_eq!(&out[..8], &[0xFF, b'T', b'J', 0x01, 29, 0, 0, 0]);
        assert_eq!(
            &out[12..],
            &[
                2, 7, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0,
                0
            ]
        );
    }

    #[test]
    fn every_reason_round_trips() {
        let reasons = [
            Reason::NoRule,
            Reason::Rule {
                list_id: "l".into(),
                line: 9,
            },
            Reason::Cname {
                via: "cdn.tracker.net".into(),
                list_id: "l".into(),
                line: 1,
            },
            Reason::LearnedAddress {
                addr: "2001:db8::1".parse().unwrap(),
            },
            Reason::Canary,
            Reason::Bypass,
            Reason::BadAnswer {
                problem: "answer: record length past the end".to_owned(),
            },
            Reason::NotForDevice,
        ];
        let mut out = Vec::new();
        let mut want = Vec::new();
        for (i, reason) in reasons.into_iter().enumerate() {
            let mut e = entry();
            e.reason = reason;
            e.action = [Action::Blocked, Action::Allowed, Action::Failed][i % 3];
            e.app = (i % 2 == 0).then(|| "app".to_string());
            e.client = "fd00::2".parse().unwrap();
            assert!(
                out.len() + entry_frame_len_bound(&e) >= {
                    let mut one = Vec::new();
                    encode_entry(&mut one, i as u64, &e);
                    out.len() + one.len()
                }
            );
            encode_entry(&mut out, i as u64, &e);
            want.push(Frame::Entry {
                seq: i as u64,
                entry: e,
            });
        }
        let got: Vec<Frame> = Scan::new(&out).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn long_strings_are_cut_on_a_char_boundary() {
        let mut e = entry();
        e.app = Some("é".repeat(200));
        let mut out = Vec::new();
        encode_entry(&mut out, 1, &e);
        let Some(Frame::Entry { entry, .. }) = Scan::new(&out).next() else {
            panic!("no frame")
        };
        assert_eq!(entry.app.unwrap().len(), 254);
    }

    #[test]
    fn a_flipped_bit_loses_only_that_frame() {
        let mut out = Vec::new();
        for seq in 0..3 {
            encode_entry(&mut out, seq, &entry());
        }
        let one = out.len() / 3;
        out[one + 20] ^= 0x10;
        let seqs: Vec<u64> = Scan::new(&out).map(|f| f.seq()).collect();
        assert_eq!(seqs, vec![0, 2]);
    }

    #[test]
    fn a_torn_tail_is_reported() {
        let mut out = Vec::new();
        encode_entry(&mut out, 0, &entry());
        let whole = out.len();
        encode_entry(&mut out, 1, &entry());
        out.truncate(whole + 10);
        let mut scan = Scan::new(&out);
        assert_eq!(scan.by_ref().count(), 1);
        assert_eq!(scan.valid_end, whole);
        assert_eq!(scan.skipped, 10);
    }
}
