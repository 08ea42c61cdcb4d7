//! The builder: reads lists through the parser, keeps their rules in compact
//! buffers, and compiles them into a [`RuleSet`].

use std::collections::HashSet;
use std::io::{self, BufRead};
use std::net::IpAddr;

use crate::compiled::{self, class_of, pack, AddrRecord, ALLOW, IMPORTANT, SHARED, SUBTREE};
use crate::name::{normalize_into, push_reversed};
use crate::parse::{is_hosts_header_name, parse_line, Line, LineReader, MAX_LINE_BYTES};
use crate::report::{LineKind, ParseReport, Problem};
use crate::{ListId, ListInfo, RuleRef, RuleSet};

/// The flags a `$badfilter` compares (everything but list and line).
const FLAG_BITS: u64 = SUBTREE | ALLOW | IMPORTANT;

/// One name rule: where its reversed key sits in the key arena, and its entry.
#[derive(Clone, Copy)]
struct NameRecord {
    /// The key's first 8 bytes, big-endian: most sort comparisons end here.
    prefix: u64,
    start: u32,
    len: u8,
    entry: u64,
}

/// Collects lists and builds a [`RuleSet`].
///
/// Memory while building is about 16 bytes per rule plus the names
/// themselves, in two flat buffers (no `String` per name), so millions of
/// names can be compiled on a phone.
#[derive(Default)]
pub struct RuleSetBuilder {
    lists: Vec<ListInfo>,
    keys: Vec<u8>,
    names: Vec<NameRecord>,
    addrs: Vec<AddrRecord>,
    /// `$badfilter` rules: (reversed key or address text, flags).
    badfilters: HashSet<(Vec<u8>, u64)>,
    scratch: String,
}

impl std::fmt::Debug for RuleSetBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSetBuilder")
            .field("lists", &self.lists)
            .field("names", &self.names.len())
            .field("addrs", &self.addrs.len())
            .finish()
    }
}

impl RuleSetBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many name and address rules have been read so far.
    pub fn rule_count(&self) -> usize {
        self.names.len() + self.addrs.len()
    }

    /// Reads one list, line by line, and reports how each line was used.
    ///
    /// Fails only when reading fails, or when more than 65,536 lists are
    /// added; bad lines are reported, never fatal.
    pub fn add_list(&mut self, info: ListInfo, reader: impl BufRead) -> io::Result<ParseReport> {
        self.read(info, reader, false)
    }

    /// Reads a list whose every rule allows: a "keep working" list, or a
    /// whitelist someone published as plain names. `@@` is not needed in it
    /// (and is accepted).
    pub fn add_allow_list(
        &mut self,
        info: ListInfo,
        reader: impl BufRead,
    ) -> io::Result<ParseReport> {
        self.read(info, reader, true)
    }

    fn read(
        &mut self,
        info: ListInfo,
        reader: impl BufRead,
        allow_all: bool,
    ) -> io::Result<ParseReport> {
        let list = u16::try_from(self.lists.len())
            .map(ListId)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "more than 65536 lists"))?;
        self.lists.push(info);
        let mut report = ParseReport::default();
        let mut lines = LineReader::new(reader);
        let mut number: u32 = 0;
        while let Some(raw) = lines.next_line()? {
            number = number.saturating_add(1);
            report.lines += 1;
            let (text, valid_utf8) = match std::str::from_utf8(raw.bytes) {
                Ok(t) => (t, true),
                // Keep the valid start for the excerpt.
                Err(e) => (
                    std::str::from_utf8(raw.bytes.get(..e.valid_up_to()).unwrap_or_default())
                        .unwrap_or_default(),
                    false,
                ),
            };
            if !valid_utf8 {
                report.unused_line(number, text, Problem::NotUtf8);
                continue;
            }
            if raw.truncated {
                report.unused_line(
                    number,
                    text,
                    Problem::LineTooLong {
                        limit: MAX_LINE_BYTES,
                    },
                );
                continue;
            }
            let rule = RuleRef { list, line: number };
            match parse_line(text) {
                Line::Ignore(kind) => report.count(kind),
                Line::Unused(problem) => report.unused_line(number, text, problem),
                Line::Name(n) => match normalize_into(n.name, &mut self.scratch) {
                    Err(e) => report.unused_line(number, text, Problem::BadName(e)),
                    Ok(()) => {
                        let entry = pack(rule, n.subtree, n.allow || allow_all, n.mods.important);
                        if n.mods.badfilter {
                            let mut key = Vec::new();
                            push_reversed(&self.scratch, &mut key);
                            self.badfilters.insert((key, entry & FLAG_BITS));
                        } else {
                            self.push_name(entry);
                            report.rules += 1;
                        }
                        report.count(n.kind);
                    }
                },
                Line::Hosts { names } => {
                    let (mut used, mut header) = (0u32, 0u32);
                    for word in names.split_whitespace() {
                        if is_hosts_header_name(word) {
                            header += 1;
                            continue;
                        }
                        match normalize_into(word, &mut self.scratch) {
                            Ok(()) => {
                                self.push_name(pack(rule, false, allow_all, false));
                                report.rules += 1;
                                used += 1;
                            }
                            Err(e) => report.problem(number, text, Problem::BadName(e)),
                        }
                    }
                    report.count(match (used, header) {
                        (0, 0) => LineKind::Unused,
                        (0, _) => LineKind::Header,
                        _ => LineKind::Hosts,
                    });
                }
                Line::Addr(a) => {
                    let entry = pack(rule, true, a.allow || allow_all, a.mods.important);
                    if a.mods.badfilter {
                        let key = format!("{}/{}", a.net, a.len).into_bytes();
                        self.badfilters.insert((key, entry & FLAG_BITS));
                        report.count(LineKind::BadFilter);
                    } else {
                        self.addrs.push(AddrRecord {
                            len: a.len,
                            net: a.net,
                            entry,
                        });
                        report.rules += 1;
                        report.count(LineKind::Address);
                    }
                }
            }
        }
        Ok(report)
    }

    /// Appends the name in `self.scratch` (normalized) with its entry.
    fn push_name(&mut self, entry: u64) {
        let start = self.keys.len();
        push_reversed(&self.scratch, &mut self.keys);
        // Normalized names are at most 253 bytes; the arena is addressed with
        // 32 bits, enough for over a hundred million names.
        let (Ok(start), Ok(len)) = (u32::try_from(start), u8::try_from(self.keys.len() - start))
        else {
            self.keys.truncate(start);
            return;
        };
        let mut head = [0u8; 8];
        for (h, k) in head
            .iter_mut()
            .zip(self.keys.get(start as usize..).unwrap_or_default())
        {
            *h = *k;
        }
        self.names.push(NameRecord {
            prefix: u64::from_be_bytes(head),
            start,
            len,
            entry,
        });
    }

    fn key(&self, r: &NameRecord) -> &[u8] {
        let start = r.start as usize;
        self.keys
            .get(start..start + usize::from(r.len))
            .unwrap_or_default()
    }

    /// Compiles the rules read so far into an immutable [`RuleSet`].
    pub fn build(self) -> RuleSet {
        // Unreachable: keys are sorted and deduplicated before they reach
        // fst, the only part that can fail. An empty set beats a panic inside
        // the firewall; `try_build` reports the error instead.
        self.try_build().unwrap_or_default()
    }

    /// Compiles the rules, reporting the (never expected) failure of the
    /// underlying `fst` builder instead of returning an empty set.
    pub fn try_build(self) -> Result<RuleSet, BuildError> {
        RuleSet::from_vec(self.compile()?).map_err(BuildError::Load)
    }

    /// Compiles the rules into the bytes of a compiled file (see
    /// [`crate::compiled`]): write them out, load them with
    /// [`RuleSet::from_bytes`].
    pub fn compile(mut self) -> Result<Vec<u8>, BuildError> {
        let mut names = std::mem::take(&mut self.names);
        if !self.badfilters.is_empty() {
            names.retain(|r| {
                !self
                    .badfilters
                    .contains(&(self.key(r).to_vec(), r.entry & FLAG_BITS))
            });
        }
        // Sort by key, then by list and line so the first rule of each class wins.
        let order = |e: u64| e & 0xffff_ffff_ffff;
        names.sort_unstable_by(|a, b| {
            a.prefix
                .cmp(&b.prefix)
                .then_with(|| self.key(a).cmp(self.key(b)))
                .then(order(a.entry).cmp(&order(b.entry)))
        });

        let mut fst = fst::MapBuilder::memory();
        let mut shared: Vec<u64> = Vec::new();
        let mut i = 0;
        while i < names.len() {
            let Some(first) = names.get(i) else { break };
            let key = self.key(first);
            let mut j = i;
            // Per class (block, allow, important block, important allow):
            // a subtree rule covers an exact one, so it is kept over it.
            let mut best: [Option<u64>; 4] = [None; 4];
            while let Some(r) = names.get(j) {
                if self.key(r) != key {
                    break;
                }
                if let Some(slot) = best.get_mut(class_of(r.entry)) {
                    match slot {
                        None => *slot = Some(r.entry),
                        Some(e) if *e & SUBTREE == 0 && r.entry & SUBTREE != 0 => {
                            *slot = Some(r.entry)
                        }
                        Some(_) => {}
                    }
                }
                j += 1;
            }
            let kept: Vec<u64> = best.iter().flatten().copied().collect();
            let value = match kept.as_slice() {
                [one] => *one,
                many => {
                    let index = u64::try_from(shared.len()).map_err(|_| BuildError::TooLarge)?;
                    if index > u64::from(u32::MAX) {
                        return Err(BuildError::TooLarge);
                    }
                    shared.extend_from_slice(many);
                    SHARED | (many.len() as u64) << 32 | index
                }
            };
            fst.insert(key, value)
                .map_err(|e| BuildError::Fst(e.to_string()))?;
            i = j;
        }
        let fst_bytes = if names.is_empty() {
            Vec::new()
        } else {
            fst.into_inner()
                .map_err(|e| BuildError::Fst(e.to_string()))?
        };

        let mut addrs = std::mem::take(&mut self.addrs);
        if !self.badfilters.is_empty() {
            addrs.retain(|a| {
                let key = format!("{}/{}", a.net, a.len).into_bytes();
                !self.badfilters.contains(&(key, a.entry & FLAG_BITS))
            });
        }
        addrs.sort_by_key(|a| (a.len, a.net, order(a.entry)));
        let (v4, v6): (Vec<AddrRecord>, Vec<AddrRecord>) = addrs
            .into_iter()
            .partition(|a| matches!(a.net, IpAddr::V4(_)));
        Ok(compiled::encode(&self.lists, &fst_bytes, &shared, &v4, &v6))
    }
}

/// Why compiling failed; not expected in practice.
#[derive(Debug)]
pub enum BuildError {
    /// The `fst` builder refused the keys.
    Fst(String),
    /// More rules than the format can address.
    TooLarge,
    /// The compiled bytes did not load back.
    Load(compiled::LoadError),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fst(e) => write!(f, "building the name index failed: {e}"),
            Self::TooLarge => write!(f, "too many rules for the compiled format"),
            Self::Load(e) => write!(f, "the compiled rules did not load back: {e}"),
        }
    }
}

impl std::error::Error for BuildError {}
