//! The builder: reads lists through the parser, keeps their rules in compact
//! buffers, and compiles them into a [`RuleSet`].

use std::collections::HashSet;
use std::io::{self, BufRead};
use std::net::IpAddr;

use std::collections::HashMap;

use crate::compiled::{
    self, class_of, pack, AddrRecord, NamesSection, ALLOW, IMPORTANT, LAST, SUBTREE,
};
use crate::name::{normalize_into, push_reversed};
use crate::parse::{
    is_hosts_header_name, is_machine_name, parse_line, Line, LineReader, Modifiers, MAX_LINE_BYTES,
};
use crate::patterns::{self, PatternRule, Patterns, Start};
use crate::report::{LineKind, ParseReport, Problem};
use crate::table::{self, Cuts, Shape, RECORD_PAD, TAG_PAD};
use crate::{ListId, ListInfo, RuleRef, RuleSet};

/// The flags a `$badfilter` compares (everything but list and line).
const FLAG_BITS: u64 = SUBTREE | ALLOW | IMPORTANT;
/// The line bits of an entry.
const LINE: u64 = 0xffff_ffff;
/// List and line: the order rules of one name are considered in.
const ORDER: u64 = 0xffff_ffff_ffff;

/// One name rule: where its reversed key sits in the key arena, and its entry.
#[derive(Clone, Copy)]
struct NameRecord {
    /// The key's hash (see `table`), filled in by `compile`.
    hash: u64,
    start: u32,
    len: u8,
    entry: u64,
}

/// Collects lists and builds a [`RuleSet`].
///
/// Memory while building is about 24 bytes per rule plus the names
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
    /// Rules the name table cannot hold (see [`crate::patterns`]).
    patterns: Vec<PatternRule>,
    /// `$badfilter`s of patterns (see [`PatternRule::badfilter_key`]).
    pattern_badfilters: HashSet<(Start, bool, Vec<u8>, u64)>,
    /// Block patterns no index covers, against [`patterns::MAX_SCANNED`].
    scanned_blocks: usize,
    /// `/regex/` rules, against [`patterns::MAX_REGEXES`].
    regexes: usize,
    scratch: String,
}

impl std::fmt::Debug for RuleSetBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSetBuilder")
            .field("lists", &self.lists)
            .field("names", &self.names.len())
            .field("addrs", &self.addrs.len())
            .field("patterns", &self.patterns.len())
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
        self.names.len() + self.addrs.len() + self.patterns.len()
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
                    Ok(()) if !(n.allow || allow_all) && is_machine_name(&self.scratch) => {
                        report.unused_line(number, text, Problem::MachineName);
                    }
                    Ok(()) => {
                        let allow = n.allow || allow_all;
                        let entry = pack(rule, n.subtree, allow, n.mods.important);
                        let start = if n.subtree { Start::Label } else { Start::Name };
                        if n.mods.badfilter {
                            let mut key = Vec::new();
                            push_reversed(&self.scratch, &mut key);
                            self.badfilters.insert((key, entry & FLAG_BITS));
                            self.pattern_badfilters.insert((
                                start,
                                true,
                                self.scratch.as_bytes().to_vec(),
                                entry & (ALLOW | IMPORTANT),
                            ));
                            report.count(n.kind);
                        } else if n.mods.has_conditions() {
                            let body = self.scratch.as_bytes().to_vec();
                            match self.pattern(entry, start, true, body, &n.mods) {
                                Ok(()) => {
                                    report.rules += 1;
                                    report.count(LineKind::Pattern);
                                }
                                Err(p) => report.unused_line(number, text, p),
                            }
                        } else {
                            self.push_name(entry);
                            report.rules += 1;
                            report.count(n.kind);
                        }
                    }
                },
                Line::Pattern(p) => {
                    let allow = p.allow || allow_all;
                    let entry = pack(rule, true, allow, p.mods.important);
                    // A regex is kept as written (`\D` is not `\d`); it
                    // matches letters in either case.
                    let body = if p.start == Start::Regex {
                        p.body.as_bytes().to_vec()
                    } else {
                        p.body.to_ascii_lowercase().into_bytes()
                    };
                    if p.mods.badfilter {
                        self.pattern_badfilters.insert((
                            p.start,
                            p.end,
                            body,
                            entry & (ALLOW | IMPORTANT),
                        ));
                        report.count(LineKind::BadFilter);
                    } else {
                        match self.pattern(entry, p.start, p.end, body, &p.mods) {
                            Ok(()) => {
                                report.rules += 1;
                                report.count(LineKind::Pattern);
                            }
                            Err(problem) => report.unused_line(number, text, problem),
                        }
                    }
                }
                Line::Hosts { names } => {
                    let (mut used, mut header) = (0u32, 0u32);
                    for word in names.split_whitespace() {
                        match normalize_into(word, &mut self.scratch) {
                            Ok(()) if is_hosts_header_name(&self.scratch) => header += 1,
                            Ok(()) => {
                                self.push_name(pack(rule, false, allow_all, false));
                                report.rules += 1;
                                used += 1;
                            }
                            Err(_) if is_hosts_header_name(word) => header += 1,
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

    /// Keeps a pattern rule, its `$denyallow` names normalized; refuses a
    /// block pattern no index covers beyond [`patterns::MAX_SCANNED`].
    fn pattern(
        &mut self,
        entry: u64,
        start: Start,
        end: bool,
        body: Vec<u8>,
        mods: &Modifiers<'_>,
    ) -> Result<(), Problem> {
        let mut denyallow = Vec::new();
        for d in mods.denyallow.unwrap_or_default().split('|') {
            if d.is_empty() {
                continue;
            }
            match crate::normalize_name(d) {
                Ok(n) => denyallow.push(n),
                Err(e) => return Err(Problem::BadModifierValue(format!("denyallow={d}: {e}"))),
            }
        }
        let rule = PatternRule {
            entry,
            start,
            end,
            body,
            types: mods.types.clone(),
            denyallow,
        };
        if start == Start::Regex {
            if self.regexes >= patterns::MAX_REGEXES {
                return Err(Problem::TooManyRegexes);
            }
            self.regexes += 1;
        }
        if entry & ALLOW == 0 && Patterns::is_scanned(&rule) {
            if self.scanned_blocks >= patterns::MAX_SCANNED {
                return Err(Problem::TooManyPatterns);
            }
            self.scanned_blocks += 1;
        }
        self.patterns.push(rule);
        Ok(())
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
        self.names.push(NameRecord {
            hash: 0,
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
        // Unreachable short of more than 2^32 names or lines: the only
        // failures are sizes the format cannot address. An empty set beats a panic inside
        // the firewall; `try_build` reports the error instead.
        self.try_build().unwrap_or_default()
    }

    /// Compiles the rules, reporting the (never expected) failure of the
    /// format (more than 2^32 names) instead of returning an empty set.
    pub fn try_build(self) -> Result<RuleSet, BuildError> {
        RuleSet::from_vec(self.compile()?).map_err(BuildError::Load)
    }

    /// Compiles the rules into the bytes of a compiled file (see
    /// [`crate::compiled`]): write them out, load them with
    /// [`RuleSet::from_bytes`].
    pub fn compile(self) -> Result<Vec<u8>, BuildError> {
        self.compile_with(None)
    }

    /// [`RuleSetBuilder::compile`], keeping at least `rem_bits` hash bits
    /// per name beyond the bucket's instead of what the size budget leaves
    /// (tests keep a few, to force collisions).
    pub(crate) fn compile_with(mut self, rem_bits: Option<u32>) -> Result<Vec<u8>, BuildError> {
        let mut names = std::mem::take(&mut self.names);
        if !self.badfilters.is_empty() {
            names.retain(|r| {
                !self
                    .badfilters
                    .contains(&(self.key(r).to_vec(), r.entry & FLAG_BITS))
            });
        }
        // Two different names must never share the hash bits the table
        // keeps: a seed where they do is replaced (for a million names
        // about n^2 / 2^(d + r + 1) = 1/64 of seeds do), and should seeds
        // keep failing, which only a tiny `rem_bits` makes likely, a bit
        // more is kept.
        let mut seed = 0u64;
        let mut extra = 0;
        let built = loop {
            if let Some(built) = self.name_table(&mut names, seed, rem_bits, extra)? {
                break built;
            }
            seed += 1;
            if seed % 4 == 0 {
                extra += 1;
            }
        };
        let (section, kinds, shared) = built;

        let mut addrs = std::mem::take(&mut self.addrs);
        if !self.badfilters.is_empty() {
            addrs.retain(|a| {
                let key = format!("{}/{}", a.net, a.len).into_bytes();
                !self.badfilters.contains(&(key, a.entry & FLAG_BITS))
            });
        }
        addrs.sort_by_key(|a| (a.len, a.net, a.entry & ORDER));
        let mut pattern_rules = std::mem::take(&mut self.patterns);
        if !self.pattern_badfilters.is_empty() {
            pattern_rules.retain(|r| !self.pattern_badfilters.contains(&r.badfilter_key()));
        }
        let (v4, v6): (Vec<AddrRecord>, Vec<AddrRecord>) = addrs
            .into_iter()
            .partition(|a| matches!(a.net, IpAddr::V4(_)));
        Ok(compiled::encode(
            &self.lists,
            &section,
            &kinds,
            &shared,
            &v4,
            &v6,
            &Patterns::encode(&pattern_rules),
        ))
    }

    /// Builds the name table with `seed`, or `None` when two different
    /// names share the hash bits it keeps (or, for hashes as unlucky, a
    /// directory sample overflows). Keeps `rem_bits` remainder bits, or
    /// what [`rem_bits_for`] gives, and `extra` more. Returns the section,
    /// the kinds and the shared entries.
    #[allow(clippy::type_complexity)]
    fn name_table(
        &self,
        names: &mut [NameRecord],
        seed: u64,
        rem_bits: Option<u32>,
        extra: u32,
    ) -> Result<Option<(NamesSection, Vec<u64>, Vec<u64>)>, BuildError> {
        for r in names.iter_mut() {
            r.hash = table::hash_reversed(seed, self.key(r));
        }
        // By hash, then by list and line so the first rule of each class wins.
        names.sort_unstable_by_key(|r| (r.hash, r.entry & ORDER));

        // (hash, kind index or SHARED_KIND, value) per distinct name.
        const SHARED_KIND: u64 = u64::MAX;
        let mut rows: Vec<(u64, u64, u64)> = Vec::new();
        let mut kinds: Vec<u64> = Vec::new();
        let mut kind_of: HashMap<u64, u64> = HashMap::new();
        let mut shared: Vec<u64> = Vec::new();
        let mut max_value = 0u64;
        // Hashes of names with an allow or `$important` subtree rule.
        let mut raisers: Vec<u64> = Vec::new();
        // Bit `i`: some name has `i + 1` labels (the last bit: 64 or more).
        let mut labels = 0u64;
        // The names themselves, in the rows' order: what lookups confirm
        // a hash hit against.
        let mut listed = compiled::ListedNames::with_capacity(names.len());
        let mut i = 0;
        while let Some(first) = names.get(i) {
            let key = self.key(first);
            let mut j = i;
            // Per class (block, allow, important block, important allow):
            // a subtree rule covers an exact one, so it is kept over it.
            let mut best: [Option<u64>; 4] = [None; 4];
            while let Some(r) = names.get(j) {
                if r.hash != first.hash {
                    break;
                }
                if self.key(r) != key {
                    return Ok(None);
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
            if best.iter().skip(1).flatten().any(|e| e & SUBTREE != 0) {
                raisers.push(first.hash);
            }
            let mut kept = best.iter().flatten().copied().peekable();
            let Some(one) = kept.next() else { break };
            let row = if kept.peek().is_none() {
                let kind_entry = one & !LINE;
                let next = kinds.len() as u64;
                let kind = *kind_of.entry(kind_entry).or_insert_with(|| {
                    kinds.push(kind_entry);
                    next
                });
                (first.hash, kind, one & LINE)
            } else {
                let index = shared.len() as u64;
                if index > u64::from(u32::MAX) {
                    return Err(BuildError::TooLarge);
                }
                shared.push(one);
                shared.extend(kept);
                if let Some(last) = shared.last_mut() {
                    *last |= LAST;
                }
                (first.hash, SHARED_KIND, index)
            };
            max_value = max_value.max(row.2);
            let depth = key.iter().filter(|&&b| b == b'.').count().min(63);
            labels |= 1 << depth;
            if !listed.push_reversed_key(key) {
                return Err(BuildError::TooLarge);
            }
            rows.push(row);
            i = j;
        }

        let count = rows.len();
        if u32::try_from(count).is_err() {
            return Err(BuildError::TooLarge);
        }
        // Kinds index `kinds`; the next index means "shared".
        let kind_max = (kinds.len() as u64).saturating_sub(u64::from(shared.is_empty()));
        let dir_bits = Shape::dir_bits_for(count);
        let (kind_bits, value_bits) = (table::bits_for(kind_max), table::bits_for(max_value));
        let rem_bits =
            rem_bits.unwrap_or_else(|| rem_bits_for(count, dir_bits, kind_bits + value_bits));
        let shape = Shape {
            dir_bits,
            rem_bits: (rem_bits.max(1) + extra).min(63 - dir_bits),
            kind_bits,
            value_bits,
        };
        let cuts = Cuts::new(shape);
        // Rows are in hash order, so names that share the kept bits are
        // next to each other.
        if rows
            .windows(2)
            .any(|w| matches!(w, [a, b] if cuts.key(a.0) == cuts.key(b.0)))
        {
            return Ok(None);
        }
        let bits = shape.record_bits();
        if bits > table::MAX_RECORD_BITS {
            return Err(BuildError::TooLarge);
        }
        let Some((samples, sizes)) = table::directory(shape, rows.iter().map(|r| cuts.bucket(r.0)))
        else {
            return Ok(None);
        };
        let mut tags = vec![0u8; count + TAG_PAD];
        let mut records = vec![0u8; (count * bits as usize).div_ceil(8) + RECORD_PAD];
        for (n, &(hash, kind, value)) in rows.iter().enumerate() {
            if let Some(t) = tags.get_mut(n) {
                (*t, _) = cuts.tag_and_stored(hash);
            }
            let kind = if kind == SHARED_KIND {
                kinds.len() as u64
            } else {
                kind
            };
            table::write_record(&mut records, n, bits, cuts.pack(hash, kind, value));
        }
        let section = NamesSection {
            seed,
            count,
            labels,
            shape,
            samples,
            sizes,
            tags,
            records,
            raisers: raiser_index(&raisers),
            listed,
        };
        Ok(Some((section, kinds, shared)))
    }
}

/// The open-addressed index of the raisers' hashes (a power of two of
/// slots, at least two a name), or `None` when there are too many to index.
fn raiser_index(hashes: &[u64]) -> Option<Vec<u64>> {
    if hashes.is_empty() {
        return Some(Vec::new());
    }
    if hashes.len() > compiled::MAX_RAISERS {
        return None;
    }
    let slots = (2 * hashes.len()).next_power_of_two();
    let mut keys = vec![0u64; slots];
    for &h in hashes {
        let mut at = compiled::raiser_slot(h, slots);
        while keys.get(at).is_some_and(|&k| k != 0) {
            at = (at + 1) & (slots - 1);
        }
        if let Some(k) = keys.get_mut(at) {
            *k = compiled::raiser_key(h);
        }
    }
    Some(keys)
}

/// Why compiling failed; not expected in practice.
#[derive(Debug)]
pub enum BuildError {
    /// More rules than the format can address.
    TooLarge,
    /// The compiled bytes did not load back.
    Load(compiled::LoadError),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge => write!(f, "too many rules for the compiled format"),
            Self::Load(e) => write!(f, "the compiled rules did not load back: {e}"),
        }
    }
}

impl std::error::Error for BuildError {}

/// What a compiled name may cost, in bits, all parts of the name table
/// counted: the size the format is built to (six bytes).
pub(crate) const NAME_BITS: u64 = 48;
/// The fewest remainder bits a table keeps, whatever the budget: a probe
/// for an unlisted name then matches falsely at most once in 2^24 (16.8
/// million) times.
pub(crate) const MIN_REM_BITS: u32 = 24;
/// The most remainder bits a table keeps: small lists get near-exact
/// tables, not ever larger ones.
pub(crate) const MAX_REM_BITS: u32 = 40;

/// The remainder bits (tag included) that keep a table of `count` names
/// within [`NAME_BITS`] a name, given its directory bits and the payload
/// bits of a record: the budget less the directory (unary sizes and
/// samples) and the payload, within [`MIN_REM_BITS`]..=[`MAX_REM_BITS`].
pub(crate) fn rem_bits_for(count: usize, dir_bits: u32, payload_bits: u32) -> u32 {
    let n = count.max(1) as u64;
    let buckets = 1u64 << dir_bits;
    let directory = buckets + n + 64 * buckets.div_ceil(table::GROUP as u64);
    let per_name = (NAME_BITS * n).saturating_sub(directory) / n;
    let rem = per_name.saturating_sub(u64::from(payload_bits));
    u32::try_from(rem)
        .unwrap_or(u32::MAX)
        .clamp(MIN_REM_BITS, MAX_REM_BITS)
}
