//! The compiled rule set: an immutable, checksummed byte layout that lookups
//! read in place, from a `Vec<u8>` or a memory-mapped file alike.
//!
//! # File format, version 6
//!
//! All integers are little-endian.
//!
//! | bytes | what |
//! |---|---|
//! | 8 | magic `TACETRUL` |
//! | 4 | format version (6) |
//! | 4 | reserved, 0 |
//! | 8 × 9 | lengths of the nine sections below, in order |
//! | … | lists: `u32` count, then per list `u32` length + UTF-8 id, `u32` length + UTF-8 title |
//! | … | names: the name table, below |
//! | … | listed names: zero bytes up to a multiple of 32 in the file, then a 32-byte slot per name in record order, then the overflow (below) |
//! | … | kinds: `u64` rule entries without line (list and flags), indexed by a record's kind |
//! | … | shared entries: `u64` rule entries for names that carry several rules; the last of each name's run has bit 62 set |
//! | … | IPv4 rules: 16-byte records (4 address bytes big-endian, prefix length, 3 zero bytes, `u64` entry) sorted by (prefix length, address) |
//! | … | IPv6 rules: 32-byte records (16 address bytes, prefix length, 7 zero bytes, `u64` entry), same order |
//! | … | patterns: adblock patterns and rules with conditions, empty or as [`crate::patterns`] describes; decoded and indexed on load |
//! | … | origin: at most 64 KiB the compiler recorded (see [`RuleSet::origin`]); opaque here |
//! | 4 | CRC-32 (IEEE) of every byte before it |
//!
//! A rule entry packs the 1-based line (bits 0–31), the list (bits 32–47),
//! and flags: subtree (48), allow (49), important (50).
//!
//! ## The name table
//!
//! | bytes | what |
//! |---|---|
//! | 8 | hash seed |
//! | 8 | record count `n` (distinct names) |
//! | 8 | label counts: bit `i` set when some name has `i + 1` labels (bit 63: 64 or more) |
//! | 1, 1, 1, 1, 4 | directory bits `d` (at most 30), remainder bits `r`, kind bits `k`, value bits `v`, 4 zero bytes |
//! | 8 | raiser slots `s`: 0 (no raisers), a power of two from 2 to 2^17 (the index below), or `u64::MAX` (too many raisers to index) |
//! | 8 × ⌈2^d / 128⌉ | samples, one per group of 128 buckets: bits 0–31 the records before the group, bits 32–41, 42–51, 52–61 the records in the group before its 2nd, 3rd and 4th block of 32 buckets; the rest zero |
//! | 8 × ⌈(2^d + n) / 64⌉ | bucket sizes in unary, bucket after bucket: a 0 per record, then a 1; `u64` words, LSB first, zero-padded |
//! | n + 8 | tags: a byte per record, the top `t = min(r, 8)` remainder bits, then 8 zero bytes |
//! | ⌈n·w/8⌉ + 16 | records, `w = (r − t) + k + v` bits each: the other remainder bits, then the payload; packed LSB-first with no gaps, then 16 zero bytes |
//! | 8 × `s` | the raisers' index: `u64` keys (`hash | 1`) by linear probing from slot `(hash >> 1) mod s`; 0 is a free slot, and at least one is free |
//!
//! ## The listed names
//!
//! Each name as listed (`api.huami.com`), in a 32-byte slot at `32 × i`
//! for record `i`: a name of up to 32 bytes zero-padded; a longer one as
//! its first 24 bytes, the `u32` offset and `u16` length of its rest in
//! the overflow, a zero byte and `0xff` (no name byte is ever `0xff`). The
//! overflow holds the rests of the longer names, in slot order, back to
//! back. The loader checks that no slot is empty, that the pad is zero,
//! and that the rests tile the overflow exactly (each starting where the
//! one before ends, 9 to 229 bytes), so that a confirmation never reads
//! outside the section.
//!
//! ## Hashes and buckets
//!
//! Each distinct rule name is hashed to 64 bits: a chain over its labels
//! from the TLD leftwards (`h = absorb(absorb(start(seed), "com"), "huami")`
//! for `huami.com`, one wyhash-style folded multiply per label of up to 16
//! bytes; see `table.rs`), so a lookup gets the hashes of the name and of
//! all its parents from one right-to-left pass. The table keeps the top
//! `d + r` bits of each hash: the top `d` pick a bucket, with
//! `d = ⌈log2 n⌉`, so one name per bucket or fewer on average; the next `r`
//! are the remainder, split between the tag and the record. The payload is
//! a kind (an index into the kinds; the index just past them means "several
//! rules": the value then indexes the shared entries) and a value (the
//! line). Records and tags are in hash order, so the records of bucket `b`
//! follow those of all buckets before it; where they start is the count of
//! zeros before the `b`-th one of the sizes, found from the sample of `b`'s
//! block and a select within at most two words. `k` and `v` are as small as
//! the data allows: one list with one kind of line and no name with several
//! rules gives `k = 0`, and `v` is the bit length of the largest line
//! number. The loader checks that the samples and sizes agree with each
//! other and with `n`, and that the pads are zero, so a lookup never reads
//! outside its bucket's records.
//!
//! ## Size: six bytes a name
//!
//! `r` is what is left of 48 bits a name (6 bytes) once the payload and the
//! directory are paid for: `r = ⌊48 − k − v − (2^d + n)/n − 0.5·2^d/n⌋`,
//! kept within 24..=40 (see `builder::rem_bits_for`). For one list of a
//! million lines: `d = 20`, `v = 20`, sizes 2.05 bits and samples 0.52 bits
//! a name, so `r = 25`, and a name costs 8 (tag) + 17 + 20 (record) + 2.57 =
//! 47.6 bits = 5.95 bytes. Lists of a few thousand names keep up to 40 bits;
//! lists with many lists' rules or very long ones keep at least 24 and may
//! then cost a little more than six bytes. A name with an allow or
//! `$important` subtree rule (a raiser, below) costs 16 to 32 bytes more in
//! the raisers' index: allowlists are short, and most blocklists have none.
//!
//! ## Exactness
//!
//! The table stores truncated hashes: a query name that is in no list but
//! whose top `d + r` hash bits equal a listed name's hits its record. Every
//! hit is therefore confirmed against the listed name itself, in the
//! listed names' section (its slot, at an address known from the record's
//! index, asked for as soon as the tag matches; for the few names of more
//! than 32 bytes also the rest: read only on a hit, so a blocked name
//! costs one more read and a lookup of an unlisted name reads nothing of
//! it, bar the rare chance hit below). An unlisted name is
//! never blocked; the table below is now how often a lookup of one pays
//! for that extra read. Format v5 had no names and blocked on the hash
//! alone: 22 false blocks in 10^9 random names at a million generated
//! names, against 0 with the confirmation, in the same run (`cargo run
//! --release -p tacet-rules --example false_blocks`; an earlier
//! measurement with other random names found 55).
//!
//! The listed names cost the file, not the memory lookups touch: 32
//! bytes a name and the rest of longer names (5 % of HaGeZi's names are
//! longer than 32 bytes, 1.4 % longer than 48), so that nearly every
//! confirmation is one read of one cache line. A slot of 48 or 64 bytes
//! would spare more names the second read at 16 or 32 bytes a name more
//! in the file (`SLOT` and `SLOT_PREFIX` in this file).
//!
//! For names not chosen to collide (the 64-bit hash taken as uniform), a
//! probe matches falsely with probability `n / 2^(d + r)` (the names per
//! bucket, at most 1, over `2^r`). A query probes at most once per label
//! (fewer when no listed name has that many labels: with no one-label
//! rule, the TLD is not probed; and fewer once a name matches, see
//! Lookups). So, at most:
//!
//! | list | `d` | `r` | false match per probe | per query of 4 probes |
//! |---|---|---|---|---|
//! | HaGeZi light, 176k names | 18 | 26 | 1.0e-8 | 4.0e-8 |
//! | 1M generated names | 20 | 25 | 2.8e-8 | 1.1e-7 |
//! | 2M generated names | 21 | 24 | 5.7e-8 | 2.3e-7 |
//! | any list (the floor `r = 24`) | | 24 | at most 6.0e-8 | at most 2.4e-7 |
//!
//! A false match costs one read of the listed names and nothing else: the
//! walk goes on as if the probe had missed. Six bytes a name with a line
//! number kept for the journal (the line alone takes 20 of the 48 bits at
//! a million lines) leave these few bits of hash. Two listed
//! names never share the kept bits: the builder checks every pair that does
//! against the names themselves (at a million names about one build in 64
//! has such a pair) and builds again with the next seed, keeping one more
//! bit after every four failed seeds (a lookup takes the first record
//! whose kept bits match, so these must be unique for the confirmation to
//! find the right name). A name crafted to collide gains nothing: it is
//! confirmed like any other.
//!
//! ## Lookups
//!
//! A lookup hashes each label once and, per label probed, reads its block's
//! sample and one or two words of sizes (together 2.6 bits a name: 320 KB
//! at a million names, mostly in cache) and the bucket's tags (a byte a
//! name). Only a record whose tag matches is read: for an unlisted name one
//! probe in about 270 (`n / 2^d / 2^8`). A first pass over the labels, TLD
//! first, hashes them (a name of up to 64 bytes is copied between zero
//! bytes first, so that a label of up to 16 bytes takes two loads and no
//! bounds checks). Then, longest name first, each probe's sample is read
//! and its sizes, tags and records are prefetched where the sample says
//! they should be, so the cache misses of all probes overlap; prefetch
//! instructions (x86-64 and AArch64) do not hold the lookup up for lines
//! it ends up not reading. The second pass probes the longest name first.
//!
//! Within a class the longest matching name is reported, and a parent only
//! matters if it carries a rule of a stronger class: an allow or an
//! `$important` rule, and as a parent only a subtree one. Those names are
//! the *raisers*; the builder indexes their full 64-bit hashes (a power of
//! two of slots, at least two a name). Once a probe matches, the walk goes
//! on only through parents in that index, and stops at an `$important`
//! allow. The parents of a blocked name's match are no longer probed:
//! `www.ads.example` under a rule for `ads.example` costs two probes, not
//! one per label; and a set with no allow or `$important` rule never probes
//! past a match. Sets with more than 65,536 raisers are not indexed (the
//! index would pass 1 MiB); their lookups probe every label, as before.
//! The index changes which probes are made, never the verdict: a parent it
//! skips may carry rules, but none of a class stronger than one already
//! found, so none that could decide (a false match of truncated hashes
//! is confirmed away like any other).

use std::fmt;
use std::io::{self, Write};
use std::net::IpAddr;
use std::ops::Range;
use std::sync::Arc;

use crate::patterns::Patterns;
use crate::table::{self, Cuts, Shape, MAX_DIR_BITS, MAX_RECORD_BITS, RECORD_PAD, TAG_PAD};
use crate::{ListId, ListInfo, RuleRef, Verdict};

const MAGIC: &[u8; 8] = b"TACETRUL";
/// The compiled format this crate writes and reads.
pub const FORMAT_VERSION: u32 = 6;
const SECTIONS: usize = 9;
const HEADER_LEN: usize = 8 + 4 + 4 + 8 * SECTIONS;
/// The most bytes of the origin section (see [`RuleSet::origin`]).
pub const MAX_ORIGIN: usize = 1 << 16;
/// The longest listed name (as [`crate::normalize_name`] allows).
const MAX_NAME: usize = 253;
/// Fixed part of the names section: seed, count, label counts, shape and
/// padding, raiser slots.
const NAMES_HEADER: usize = 8 + 8 + 8 + 8 + 8;
const CRC_LEN: usize = 4;
/// The most probes of one lookup: one per label, and no listed name has
/// more than 127 labels (253 bytes).
const MAX_PROBES: usize = 128;
/// The most names the raisers' index holds (2^17 slots of 8 bytes, 1 MiB,
/// at this many); with more, lookups probe every label.
pub(crate) const MAX_RAISERS: usize = 1 << 16;
const V4_RECORD: usize = 16;
const V6_RECORD: usize = 32;

pub(crate) const SUBTREE: u64 = 1 << 48;
pub(crate) const ALLOW: u64 = 1 << 49;
pub(crate) const IMPORTANT: u64 = 1 << 50;
/// Marks the last shared entry of a name.
pub(crate) const LAST: u64 = 1 << 62;

/// Packs a rule entry; see the module docs.
pub(crate) fn pack(rule: RuleRef, subtree: bool, allow: bool, important: bool) -> u64 {
    u64::from(rule.line)
        | u64::from(rule.list.0) << 32
        | if subtree { SUBTREE } else { 0 }
        | if allow { ALLOW } else { 0 }
        | if important { IMPORTANT } else { 0 }
}

fn rule_of(entry: u64) -> RuleRef {
    // Truncating casts are the point: each field sits in its own bits.
    RuleRef {
        list: ListId((entry >> 32) as u16),
        line: entry as u32,
    }
}

/// The class of a rule entry in the order allow/block decisions look at them:
/// 0 block, 1 allow, 2 important block, 3 important allow.
pub(crate) fn class_of(entry: u64) -> usize {
    usize::from(entry & ALLOW != 0) | usize::from(entry & IMPORTANT != 0) << 1
}

/// Why compiled bytes were refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// Shorter than the fixed header and checksum.
    TooShort {
        /// The length found.
        len: usize,
    },
    /// The first bytes are not `TACETRUL`: not a compiled tacet rule set.
    BadMagic,
    /// Written by another version of the format.
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
    },
    /// The header announces more or fewer bytes than there are (a cut
    /// download or a partial write).
    LengthMismatch {
        /// The length the header announces.
        expected: u64,
        /// The length found.
        found: usize,
    },
    /// The checksum does not match: the bytes were changed after writing.
    Checksum {
        /// The checksum stored in the file.
        stored: u32,
        /// The checksum of the bytes read.
        computed: u32,
    },
    /// A section is malformed although the checksum matched (a bug in the
    /// writer, or a file crafted to match).
    BadSection(&'static str),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { len } => write!(f, "compiled rules: only {len} bytes, too short to be a rule set"),
            Self::BadMagic => write!(f, "compiled rules: not a tacet rule set (bad magic bytes)"),
            Self::UnsupportedVersion { found } => write!(
                f,
                "compiled rules: format version {found}, this build reads version {FORMAT_VERSION}; compile the lists again"
            ),
            Self::LengthMismatch { expected, found } => {
                write!(f, "compiled rules: truncated or padded: header says {expected} bytes, found {found}")
            }
            Self::Checksum { stored, computed } => write!(
                f,
                "compiled rules: corrupt: checksum {computed:08x} does not match the stored {stored:08x}"
            ),
            Self::BadSection(what) => write!(f, "compiled rules: malformed {what} section"),
        }
    }
}

impl std::error::Error for LoadError {}

/// The bytes a rule set reads from: any owner of a byte slice, such as a
/// `Vec<u8>` or a `memmap2::Mmap`.
pub type Bytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// Where the name table sits in the bytes, and its shape.
#[derive(Clone, Debug, Default)]
struct NameTable {
    /// The section's length in bytes.
    len: usize,
    seed: u64,
    count: usize,
    /// Bit `i` set when some name has `i + 1` labels (bit 63: 64 or more).
    labels: u64,
    cuts: Cuts,
    /// Records per bucket, in 1/65,536ths: where in its block a bucket's
    /// records should begin.
    load: usize,
    samples: Range<usize>,
    sizes: Range<usize>,
    tags: Range<usize>,
    records: Range<usize>,
    raisers: Raisers,
}

/// The names with a rule that outranks a plain block (an allow or
/// `$important` subtree rule): after a match, the only parents a lookup
/// still needs to probe.
#[derive(Clone, Debug, Default)]
enum Raisers {
    /// No name carries an allow or `$important` subtree rule: the deepest
    /// match decides.
    #[default]
    None,
    /// The names that do, by hash, in this open-addressed table of `u64`
    /// keys (a power of two of them).
    Indexed(Range<usize>),
    /// Too many names do to index them: every label is probed.
    Unindexed,
}

/// The name table's sections, as slices, for one lookup.
struct Sections<'a> {
    samples: &'a [u8],
    sizes: &'a [u8],
    tags: &'a [u8],
    records: &'a [u8],
    /// The listed names' slots.
    slots: &'a [u8],
}

/// Address rules of one family: record ranges grouped by prefix length.
#[derive(Clone, Debug, Default)]
struct AddrTable {
    range: Range<usize>,
    /// (prefix length, record indices), longest prefix first.
    by_len: Vec<(u8, Range<usize>)>,
}

/// An immutable set of rules from several lists: cheap to share (`Arc`),
/// swapped whole to change rules, `Send + Sync`.
///
/// Its bytes are the compiled file itself, so a set loaded with
/// [`RuleSet::from_bytes`] over a memory map costs almost no heap.
pub struct RuleSet {
    bytes: Bytes,
    names: NameTable,
    listed: Listed,
    origin: Range<usize>,
    kinds: Range<usize>,
    shared: Range<usize>,
    v4: AddrTable,
    v6: AddrTable,
    lists: Vec<ListInfo>,
    patterns: Patterns,
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleSet")
            .field("bytes", &self.as_bytes().len())
            .field("names", &self.name_count())
            .field("lists", &self.lists)
            .finish()
    }
}

impl Default for RuleSet {
    fn default() -> Self {
        Self::empty()
    }
}

/// The rule kept in each class during one lookup.
#[derive(Default)]
pub(crate) struct Matches {
    entries: [Option<u64>; 4],
    /// Bit `c` set when class `c` has a rule.
    classes: u8,
}

impl Matches {
    /// Keeps the first rule of each class: lookups go from the longest
    /// name to the shortest, so the journal names the rule closest to the
    /// query.
    pub(crate) fn add(&mut self, entry: u64, exact_query: bool) {
        if entry & SUBTREE != 0 || exact_query {
            let class = class_of(entry);
            if let Some(slot @ None) = self.entries.get_mut(class) {
                *slot = Some(entry);
                self.classes |= 1 << class;
            }
        }
    }

    /// Whether a rule of a class above every one kept so far could still
    /// change the verdict: `false` once an `$important` allow is kept.
    fn may_rise(&self) -> bool {
        self.classes & 1 << 3 == 0
    }

    fn verdict(&self) -> Verdict {
        let [block, allow, important_block, important_allow] = self.entries;
        if let Some(e) = important_allow {
            Verdict::Allowed(rule_of(e))
        } else if let Some(e) = important_block {
            Verdict::Blocked(rule_of(e))
        } else if let Some(e) = allow {
            Verdict::Allowed(rule_of(e))
        } else if let Some(e) = block {
            Verdict::Blocked(rule_of(e))
        } else {
            Verdict::Unlisted
        }
    }
}

impl RuleSet {
    /// A rule set that matches nothing.
    pub fn empty() -> Self {
        let bytes = encode(&[], &NamesSection::empty(), &[], &[], &[], &[], &[]);
        // The empty encoding always loads; the fallback is never built.
        Self::from_vec(bytes).unwrap_or_else(|_| Self {
            bytes: Arc::new(Vec::new()),
            names: NameTable::default(),
            listed: Listed::default(),
            origin: 0..0,
            kinds: 0..0,
            shared: 0..0,
            v4: AddrTable::default(),
            v6: AddrTable::default(),
            lists: Vec::new(),
            patterns: Patterns::default(),
        })
    }

    /// Reads a compiled rule set in place. `bytes` is typically a
    /// `memmap2::Mmap` (the runtime maps the file) or a `Vec<u8>`.
    ///
    /// Checks the magic, version, lengths and checksum of the whole file
    /// (which reads every page once; they stay clean, shared page cache) and
    /// the structure of each section. Corrupt or cut files are refused with a
    /// [`LoadError`].
    pub fn from_bytes(bytes: Bytes) -> Result<Self, LoadError> {
        Self::from_checked(bytes)
    }

    /// Whether `prefix` (a file's first bytes) starts like a compiled rule
    /// set: for telling a user who gives one where a text list goes.
    pub fn looks_compiled(prefix: &[u8]) -> bool {
        prefix.starts_with(MAGIC)
    }

    fn from_checked(bytes: Bytes) -> Result<Self, LoadError> {
        let data: &[u8] = (*bytes).as_ref();
        let len = data.len();
        if len < HEADER_LEN + CRC_LEN {
            return Err(LoadError::TooShort { len });
        }
        if data.get(..8) != Some(&MAGIC[..]) {
            return Err(LoadError::BadMagic);
        }
        let version = read_u32(data, 8).ok_or(LoadError::TooShort { len })?;
        if version != FORMAT_VERSION {
            return Err(LoadError::UnsupportedVersion { found: version });
        }
        let mut sections = [0u64; SECTIONS];
        for (i, s) in sections.iter_mut().enumerate() {
            *s = read_u64(data, 16 + 8 * i).ok_or(LoadError::TooShort { len })?;
        }
        let expected = sections
            .iter()
            .try_fold((HEADER_LEN + CRC_LEN) as u64, |acc, s| acc.checked_add(*s))
            .unwrap_or(u64::MAX);
        if expected != len as u64 {
            return Err(LoadError::LengthMismatch {
                expected,
                found: len,
            });
        }
        let body = len - CRC_LEN;
        let stored = read_u32(data, body).ok_or(LoadError::TooShort { len })?;
        let computed = crc32fast::hash(data.get(..body).unwrap_or_default());
        if stored != computed {
            return Err(LoadError::Checksum { stored, computed });
        }
        // Every section length fits: their sum equals the file length.
        let mut ranges: [Range<usize>; SECTIONS] = Default::default();
        let mut at = HEADER_LEN;
        for (range, s) in ranges.iter_mut().zip(sections) {
            let end = at + s as usize;
            *range = at..end;
            at = end;
        }
        let [lists_r, names_r, listed_r, kinds_r, shared_r, v4_r, v6_r, patterns_r, origin_r] =
            ranges;
        if origin_r.len() > MAX_ORIGIN {
            return Err(LoadError::BadSection("origin"));
        }
        let lists = decode_lists(data.get(lists_r).unwrap_or_default())?;
        if kinds_r.len() % 8 != 0 {
            return Err(LoadError::BadSection("kinds"));
        }
        if shared_r.len() % 8 != 0 {
            return Err(LoadError::BadSection("shared entries"));
        }
        let v4 = addr_table(data, v4_r, V4_RECORD, 32, "IPv4 rules")?;
        let v6 = addr_table(data, v6_r, V6_RECORD, 128, "IPv6 rules")?;
        let names = name_table(data, names_r)?;
        let patterns = Patterns::decode(data.get(patterns_r).unwrap_or_default())
            .ok_or(LoadError::BadSection("patterns"))?;
        let listed = listed_names(data, listed_r, names.count)?;
        Ok(Self {
            bytes,
            names,
            listed,
            origin: origin_r,
            kinds: kinds_r,
            shared: shared_r,
            v4,
            v6,
            lists,
            patterns,
        })
    }

    /// [`RuleSet::from_bytes`] over an owned buffer.
    pub fn from_vec(bytes: Vec<u8>) -> Result<Self, LoadError> {
        Self::from_bytes(Arc::new(bytes))
    }

    /// The compiled bytes: write them to a file and load them later with
    /// [`RuleSet::from_bytes`].
    pub fn as_bytes(&self) -> &[u8] {
        (*self.bytes).as_ref()
    }

    /// Writes the compiled form to `out`.
    pub fn write_to(&self, mut out: impl Write) -> io::Result<()> {
        out.write_all(self.as_bytes())
    }

    /// The lists this set was built from, indexed by [`ListId`].
    pub fn lists(&self) -> &[ListInfo] {
        &self.lists
    }

    /// The list with this id, if any.
    pub fn list(&self, id: ListId) -> Option<&ListInfo> {
        self.lists.get(usize::from(id.0))
    }

    /// How many distinct names carry rules.
    pub fn name_count(&self) -> usize {
        self.names.count
    }

    /// The bytes of the name table: all that lookups of unlisted names read
    /// (about six a name). The listed names, which a lookup reads only to
    /// confirm a hit, and the other sections are not counted.
    pub fn name_table_len(&self) -> usize {
        self.names.len
    }

    /// How many address rules (addresses and ranges) the set holds.
    pub fn addr_count(&self) -> usize {
        self.v4.range.len() / V4_RECORD + self.v6.range.len() / V6_RECORD
    }

    /// Looks `name` up: lowercase ASCII (punycode), no trailing dot, as
    /// [`crate::normalize_name`] gives. One pass over the name from its last
    /// label to its first hashes the name and every parent; then the hashes
    /// are looked up in the name table (one bucket each), the longest name
    /// first. Allocates nothing.
    ///
    /// Decision, from strongest to weakest: an `$important` allow, an
    /// `$important` block, an allow, a block; within a class, the rule on the
    /// longest matching name is reported. So once a name matches, its
    /// parents are probed only if they carry a rule of a stronger class
    /// (see the module docs: a blocked name's match ends the walk unless a
    /// parent could outrank it).
    ///
    /// A hash hit is confirmed against the listed name itself (kept in the
    /// file, read only on a hit): an unlisted name is never blocked by a
    /// chance match of hash bits. Rules with `$dnstype` do not apply here
    /// (the query type is not known); [`RuleSet::lookup_query`] applies
    /// them.
    pub fn lookup(&self, name: &str) -> Verdict {
        self.lookup_with::<true>(name, None)
    }

    /// [`RuleSet::lookup`] for a query of type `qtype` (1 for A, 28 for
    /// AAAA, …): `$dnstype` rules apply only to the types they list.
    /// Patterns (see [`crate::patterns`]) are checked after the name
    /// table, a few indexed candidates each time; a set without them
    /// costs one branch more. A name of the device itself (see
    /// [`crate::parse::is_machine_name`]) is never blocked.
    pub fn lookup_query(&self, name: &str, qtype: Option<u16>) -> Verdict {
        self.lookup_with::<true>(name, qtype)
    }

    /// [`RuleSet::lookup`] without confirming hash hits against the listed
    /// names: what format v5 did. Only for benchmarks that count the
    /// false blocks confirmation prevents; never use it to filter.
    #[doc(hidden)]
    pub fn lookup_hash_only(&self, name: &str) -> Verdict {
        self.lookup_with::<false>(name, None)
    }

    #[inline(always)]
    fn lookup_with<const CONFIRM: bool>(&self, name: &str, qtype: Option<u16>) -> Verdict {
        let mut found = Matches::default();
        if self.names.count != 0 {
            // Nearly every name has at most 64 bytes, and at most eight
            // labels that some listed name has as many of.
            let mut buf = table::Padded::new();
            let seed = self.names.seed;
            let bytes = name.as_bytes();
            let short = table::ShortHashes::new(&mut buf, bytes, seed)
                .is_some_and(|h| self.walk::<8, CONFIRM>(bytes, h, &mut found));
            if !short {
                self.walk_long::<CONFIRM>(name, &mut found);
            }
        }
        if !self.patterns.is_empty() {
            self.patterns
                .each_match(name, qtype, |entry| found.add(entry, true));
        }
        match found.verdict() {
            Verdict::Blocked(_) if crate::parse::is_machine_name(name) => Verdict::Unlisted,
            verdict => verdict,
        }
    }

    /// How many pattern rules (see [`crate::patterns`]) the set holds.
    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// The bytes this set was built from, as its compiler recorded them
    /// with [`RuleSet::with_origin`]: opaque to this crate (the runtime
    /// keeps its lists' sizes and dates there, to tell whether a compiled
    /// file is still current). Empty when none was recorded.
    pub fn origin(&self) -> &[u8] {
        self.as_bytes().get(self.origin.clone()).unwrap_or_default()
    }

    /// The same rules with `origin` recorded in them (see
    /// [`RuleSet::origin`]), at most [`MAX_ORIGIN`] bytes: copies the
    /// compiled bytes once.
    pub fn with_origin(&self, origin: &[u8]) -> Result<RuleSet, LoadError> {
        if origin.len() > MAX_ORIGIN {
            return Err(LoadError::BadSection("origin"));
        }
        let data = self.as_bytes();
        let mut lens = [0usize; SECTIONS];
        for (i, l) in lens.iter_mut().enumerate() {
            *l = read_u64(data, 16 + 8 * i)
                .and_then(|v| usize::try_from(v).ok())
                .ok_or(LoadError::BadSection("header"))?;
        }
        let old = lens[SECTIONS - 1];
        lens[SECTIONS - 1] = origin.len();
        let body_end = data.len().saturating_sub(CRC_LEN + old);
        let body = data
            .get(HEADER_LEN..body_end)
            .ok_or(LoadError::BadSection("header"))?;
        let mut out = Vec::with_capacity(HEADER_LEN + body.len() + origin.len() + CRC_LEN);
        out.resize(HEADER_LEN, 0);
        out.extend_from_slice(body);
        out.extend_from_slice(origin);
        Self::from_vec(frame(&lens, out))
    }

    /// How lookups find the raisers: "none", "indexed" or "unindexed".
    #[cfg(test)]
    pub(crate) fn raisers_mode(&self) -> &'static str {
        match self.names.raisers {
            Raisers::None => "none",
            Raisers::Indexed(_) => "indexed",
            Raisers::Unindexed => "unindexed",
        }
    }

    /// [`RuleSet::lookup`] for names of more than 64 bytes or more than
    /// eight probed labels.
    #[cold]
    #[inline(never)]
    fn walk_long<const CONFIRM: bool>(&self, name: &str, found: &mut Matches) {
        let bytes = name.as_bytes();
        let hashes = table::LongHashes::new(bytes, self.names.seed);
        self.walk::<MAX_PROBES, CONFIRM>(bytes, hashes, found);
    }

    /// Looks up `name` given the chain hashes of its labels, TLD first
    /// (each with where its suffix starts in `name`), with room for `N`
    /// probes, adding what matches to `found`; `false` (before adding
    /// any) when it needs more (only when `N` is below [`MAX_PROBES`]).
    /// With `CONFIRM`, a hit counts only if the listed name is the suffix
    /// itself.
    #[inline(always)]
    fn walk<const N: usize, const CONFIRM: bool>(
        &self,
        name: &[u8],
        hashes: impl Iterator<Item = (u64, usize)>,
        found: &mut Matches,
    ) -> bool {
        let t = &self.names;
        let data = self.as_bytes();
        let sections = Sections {
            samples: data.get(t.samples.clone()).unwrap_or_default(),
            sizes: data.get(t.sizes.clone()).unwrap_or_default(),
            tags: data.get(t.tags.clone()).unwrap_or_default(),
            records: data.get(t.records.clone()).unwrap_or_default(),
            slots: data.get(self.listed.slots.clone()).unwrap_or_default(),
        };
        // 1. TLD first, hash each label, keeping the hashes of the label
        // counts some listed name has. Label counts no listed name has are
        // not probed (most lists have no name of one label, so the TLD is
        // not).
        // (hash, records before its block, where its suffix starts).
        let mut probes = [(0u64, 0usize, 0usize); N];
        let mut n = 0;
        let mut listed_depths = t.labels;
        for (hash, from) in hashes {
            let listed = listed_depths & 1 != 0;
            // The last bit stands for every depth from 64 on.
            listed_depths = listed_depths >> 1 | listed_depths & 1 << 63;
            if !listed {
                continue;
            }
            let Some(slot) = probes.get_mut(n) else {
                if N < MAX_PROBES {
                    return false;
                }
                // No listed name has more labels than this.
                break;
            };
            *slot = (hash, 0, from);
            n += 1;
        }
        let probes = probes.get_mut(..n).unwrap_or_default();
        // Then, in the order of step 2 (the longest name first), read each
        // probe's sample and prefetch what it will read next: the cache
        // misses of all probes overlap, and the first one needed is asked
        // for first.
        for (hash, first, _) in probes.iter_mut().rev() {
            *first = self.prefetch_probe(&sections, *hash);
        }
        // 2. The longest name first: once one matches, only its parents
        // that carry a stronger rule are probed.
        for &(hash, first, from) in probes.iter().rev() {
            if found.classes != 0 {
                if !found.may_rise() {
                    break;
                }
                match &t.raisers {
                    Raisers::None => break,
                    Raisers::Indexed(keys) => {
                        if !raises(data.get(keys.clone()).unwrap_or_default(), hash) {
                            continue;
                        }
                    }
                    Raisers::Unindexed => {}
                }
            }
            if let Some((i, kind, value)) = self.probe(&sections, hash, first) {
                if !CONFIRM || self.is_listed(data, i, name.get(from..).unwrap_or_default()) {
                    self.add_payload(data, found, kind, value, from == 0);
                }
            }
        }
        true
    }

    /// Reads the sample of `hash`'s block (the records before it) and
    /// prefetches what the probe will read next, where it should be if the
    /// block's records are spread evenly: the bucket's sizes, its tags, and
    /// the 64 bytes of records around its first (its records are in these
    /// lines 98 % of the time at a million names, in the single line of
    /// the first only 78 %). Prefetches do not wait for memory: the misses
    /// of all probes overlap, and a line no probe ends up reading (parents
    /// past a match, a guess that was off) costs bandwidth, not time.
    #[inline(always)]
    fn prefetch_probe(&self, s: &Sections<'_>, hash: u64) -> usize {
        let t = &self.names;
        let bucket = t.cuts.bucket(hash);
        let block = bucket / table::BLOCK;
        let first = table::records_before_block(s.samples, block);
        let guess = first.wrapping_add((bucket % table::BLOCK).wrapping_mul(t.load) >> 16);
        table::prefetch(s.sizes, table::block_sizes(block, first) / 8);
        table::prefetch(s.tags, guess);
        let record = t.cuts.record_byte(guess);
        table::prefetch(s.records, record.saturating_sub(32));
        table::prefetch(s.records, record + 32);
        first
    }

    /// The payload of the record whose kept hash bits are `hash`'s, if any,
    /// given the records before its block: the bucket's records from the
    /// sizes, then their tags, then the record whose tag matches. For an
    /// unlisted name, one probe in about 270 reads a record from the table;
    /// the others read record 0, which stays in cache, so that no branch
    /// depends on whether a tag matched.
    #[inline(always)]
    fn probe(&self, s: &Sections<'_>, hash: u64, first: usize) -> Option<(usize, u64, u64)> {
        let cuts = &self.names.cuts;
        let range = table::bucket_records(s.sizes, cuts.bucket(hash), first);
        let (tag, stored) = cuts.tag_and_stored(hash);
        let len = range.end - range.start;
        let hits = table::tag_matches(s.tags, range.start, len, tag);
        if len > 8 || hits & hits.wrapping_sub(1) != 0 {
            return self.probe_each(s, range, tag, stored);
        }
        let i = if hits != 0 {
            let i = range.start + hits.trailing_zeros() as usize / 8;
            // The listed name this hit is confirmed against: asked for
            // now, so that it arrives while the record is compared.
            table::prefetch(s.slots, i * SLOT);
            i
        } else {
            0
        };
        let record = cuts.record(s.records, i);
        let found = hits != 0 && cuts.stored(record) == stored;
        found.then(|| {
            let (kind, value) = cuts.payload(record);
            (i, kind, value)
        })
    }

    /// Whether record `i`'s listed name is `name`: one read of its slot
    /// (and, for a name of more than [`SLOT`] bytes, of the rest in the
    /// overflow), only after a hash hit.
    #[inline]
    fn is_listed(&self, data: &[u8], i: usize, name: &[u8]) -> bool {
        let slots = data.get(self.listed.slots.clone()).unwrap_or_default();
        let at = i.saturating_mul(SLOT);
        let Some(Ok(slot)) = slots
            .get(at..at.saturating_add(SLOT))
            .map(<&[u8; SLOT]>::try_from)
        else {
            return false;
        };
        if slot[SLOT - 1] != LONG_SLOT {
            // Zero-padded: a shorter name differs at its end.
            return name.len() <= SLOT
                && slot[..name.len()] == *name
                && slot.get(name.len()).is_none_or(|&b| b == 0);
        }
        let Some((prefix, rest)) = name.split_at_checked(SLOT_PREFIX) else {
            return false;
        };
        if rest.len() <= SLOT - SLOT_PREFIX || slot[..SLOT_PREFIX] != *prefix {
            return false;
        }
        let from = read_u32(slot, SLOT_PREFIX).unwrap_or(0) as usize;
        let len = usize::from(u16::from_le_bytes([
            slot[SLOT_PREFIX + 4],
            slot[SLOT_PREFIX + 5],
        ]));
        let overflow = data.get(self.listed.overflow.clone()).unwrap_or_default();
        overflow.get(from..from.saturating_add(len)) == Some(rest)
    }

    /// [`RuleSet::probe`] for a bucket of more than eight records or with
    /// several records of the same tag: every candidate in turn.
    #[cold]
    fn probe_each(
        &self,
        s: &Sections<'_>,
        range: Range<usize>,
        tag: u8,
        stored: u64,
    ) -> Option<(usize, u64, u64)> {
        let cuts = &self.names.cuts;
        let mut at = range.start;
        while at < range.end {
            let mut hits = table::tag_matches(s.tags, at, range.end - at, tag);
            while hits != 0 {
                let i = at + hits.trailing_zeros() as usize / 8;
                let record = cuts.record(s.records, i);
                // No two records share the kept bits: the first is the one.
                if cuts.stored(record) == stored {
                    let (kind, value) = cuts.payload(record);
                    return Some((i, kind, value));
                }
                hits &= hits - 1;
            }
            at += 8;
        }
        None
    }

    /// Adds the rules of one table record: kind `k` is `kinds[k]` with
    /// line `value`; the kind after the last is a run of shared entries
    /// starting at index `value` (see `builder`).
    fn add_payload(
        &self,
        data: &[u8],
        found: &mut Matches,
        kind: u64,
        value: u64,
        exact_query: bool,
    ) {
        let kinds = data.get(self.kinds.clone()).unwrap_or_default();
        let at = usize::try_from(kind).unwrap_or(usize::MAX);
        if let Some(entry) = read_u64(kinds, at.saturating_mul(8)) {
            found.add(entry | (value & 0xffff_ffff), exact_query);
            return;
        }
        // A run of shared entries ends with the one marked `LAST`; a run
        // holds at most one entry per class.
        let shared = data.get(self.shared.clone()).unwrap_or_default();
        let index = usize::try_from(value).unwrap_or(usize::MAX);
        for i in index..index.saturating_add(4) {
            let Some(entry) = read_u64(shared, i.saturating_mul(8)) else {
                break;
            };
            found.add(entry & !LAST, exact_query);
            if entry & LAST != 0 {
                break;
            }
        }
    }

    /// The networks of the block rules among the address rules, as
    /// (network address, prefix length), IPv4 first, shortest prefix first: what a shell routes into
    /// the tunnel so that traffic to them reaches the firewall and is
    /// rejected. A block network that an allow rule overlaps and would win
    /// over (see [`RuleSet::lookup_addr`]) is left out: routing it in would
    /// make the allowed addresses unreachable, since the tunnel only carries
    /// DNS out. Packets to it that reach the tunnel anyway are still judged
    /// address by address.
    pub fn blocked_networks(&self) -> Vec<(IpAddr, u8)> {
        let mut blocks = Vec::new();
        let mut allows = Vec::new();
        for (table, record) in [(&self.v4, V4_RECORD), (&self.v6, V6_RECORD)] {
            let records = self.as_bytes().get(table.range.clone()).unwrap_or_default();
            let addr_len = if record == V4_RECORD { 4 } else { 16 };
            for rec in records.chunks_exact(record) {
                let (Some(&len), Some(entry)) = (rec.get(addr_len), read_u64(rec, record - 8))
                else {
                    continue;
                };
                let addr = if record == V4_RECORD {
                    let octets: [u8; 4] = rec
                        .get(..4)
                        .and_then(|b| b.try_into().ok())
                        .unwrap_or_default();
                    IpAddr::from(octets)
                } else {
                    let octets: [u8; 16] = rec
                        .get(..16)
                        .and_then(|b| b.try_into().ok())
                        .unwrap_or_default();
                    IpAddr::from(octets)
                };
                let important = entry & IMPORTANT != 0;
                if entry & ALLOW != 0 {
                    allows.push((addr, len, important));
                } else {
                    blocks.push((addr, len, important));
                }
            }
        }
        let mut out: Vec<(IpAddr, u8)> = blocks
            .into_iter()
            .filter(|&(net, len, important)| {
                !allows.iter().any(|&(a, a_len, a_important)| {
                    (a_important || !important) && networks_overlap(net, len, a, a_len)
                })
            })
            .map(|(net, len, _)| (net, len))
            .collect();
        out.dedup();
        out
    }

    /// Looks an address up in the address rules (addresses and CIDR ranges).
    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is looked up as IPv4.
    /// The same allow/block order as [`RuleSet::lookup`] applies; within a
    /// class, the longest prefix is reported.
    pub fn lookup_addr(&self, addr: IpAddr) -> Verdict {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        let (table, record, key): (&AddrTable, usize, [u8; 16]) = match addr {
            IpAddr::V4(v4) => {
                let mut key = [0u8; 16];
                key[..4].copy_from_slice(&v4.octets());
                (&self.v4, V4_RECORD, key)
            }
            IpAddr::V6(v6) => (&self.v6, V6_RECORD, v6.octets()),
        };
        let addr_len = if record == V4_RECORD { 4 } else { 16 };
        let records = self.as_bytes().get(table.range.clone()).unwrap_or_default();
        let mut found = Matches::default();
        // Longest prefix first: the first rule of each class is kept.
        for (len, idx) in &table.by_len {
            let masked = mask_bytes(&key, addr_len, *len);
            let Some(masked) = masked.get(..addr_len) else {
                continue;
            };
            let net_of = |i: usize| {
                records
                    .get(i * record..i * record + addr_len)
                    .unwrap_or_default()
            };
            // Binary search within the records of this prefix length.
            let (mut lo, mut hi) = (idx.start, idx.end);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if net_of(mid) < masked {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            let mut i = lo;
            while i < idx.end && net_of(i) == masked {
                if let Some(entry) = read_u64(records, i * record + record - 8) {
                    found.add(entry, true);
                }
                i += 1;
            }
        }
        found.verdict()
    }
}

/// Whether two networks share an address: one contains the other.
fn networks_overlap(a: IpAddr, a_len: u8, b: IpAddr, b_len: u8) -> bool {
    let key = |addr: IpAddr| -> ([u8; 16], usize) {
        match addr {
            IpAddr::V4(v4) => {
                let mut key = [0u8; 16];
                key[..4].copy_from_slice(&v4.octets());
                (key, 4)
            }
            IpAddr::V6(v6) => (v6.octets(), 16),
        }
    };
    let ((ka, la), (kb, lb)) = (key(a), key(b));
    if la != lb {
        return false;
    }
    let len = a_len.min(b_len);
    mask_bytes(&ka, la, len) == mask_bytes(&kb, lb, len)
}

/// Clears the bits of `key[..addr_len]` beyond the first `len` bits.
fn mask_bytes(key: &[u8; 16], addr_len: usize, len: u8) -> [u8; 16] {
    let mut out = [0u8; 16];
    let full = usize::from(len / 8);
    for (i, (o, k)) in out.iter_mut().zip(key).enumerate().take(addr_len) {
        if i < full {
            *o = *k;
        } else if i == full {
            let bits = len % 8;
            *o = k & (0xffu8.checked_shl(u32::from(8 - bits)).unwrap_or(0));
        }
    }
    out
}

/// The key a raiser's hash is stored under: never 0, which marks a free
/// slot.
pub(crate) fn raiser_key(hash: u64) -> u64 {
    hash | 1
}

/// The slot a raiser's key is looked for first, among `slots` (a power of
/// two).
pub(crate) fn raiser_slot(hash: u64, slots: usize) -> usize {
    (hash >> 1) as usize & (slots - 1)
}

/// Whether the raisers' index `keys` (a power of two of `u64` slots, at
/// least one free, as the loader checks) holds `hash`.
#[inline]
fn raises(keys: &[u8], hash: u64) -> bool {
    let slots = keys.len() / 8;
    if slots == 0 {
        return false;
    }
    let key = raiser_key(hash);
    let mut at = raiser_slot(hash, slots);
    for _ in 0..slots {
        match read_u64(keys, at * 8) {
            Some(k) if k == key => return true,
            Some(0) | None => return false,
            Some(_) => at = (at + 1) & (slots - 1),
        }
    }
    false
}

fn read_u32(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

fn read_u64(data: &[u8], at: usize) -> Option<u64> {
    let bytes = data.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

fn decode_lists(mut data: &[u8]) -> Result<Vec<ListInfo>, LoadError> {
    const BAD: LoadError = LoadError::BadSection("lists");
    fn take<'a>(data: &mut &'a [u8], n: usize) -> Result<&'a [u8], LoadError> {
        if data.len() < n {
            return Err(BAD);
        }
        let (head, tail) = data.split_at(n);
        *data = tail;
        Ok(head)
    }
    fn take_u32(data: &mut &[u8]) -> Result<u32, LoadError> {
        let b = take(data, 4)?;
        read_u32(b, 0).ok_or(BAD)
    }
    fn take_str(data: &mut &[u8]) -> Result<String, LoadError> {
        let n = take_u32(data)? as usize;
        let b = take(data, n)?;
        String::from_utf8(b.to_vec()).map_err(|_| BAD)
    }
    let count = take_u32(&mut data)?;
    if count > u32::from(u16::MAX) + 1 {
        return Err(BAD);
    }
    let mut lists = Vec::new();
    for _ in 0..count {
        let id = take_str(&mut data)?;
        let title = take_str(&mut data)?;
        lists.push(ListInfo { id, title });
    }
    if !data.is_empty() {
        return Err(BAD);
    }
    Ok(lists)
}

/// A built name table, ready to be written (see `builder`).
pub(crate) struct NamesSection {
    pub seed: u64,
    pub count: usize,
    /// Bit `i` set when some name has `i + 1` labels (bit 63: 64 or more).
    pub labels: u64,
    pub shape: Shape,
    /// A sample per [`table::GROUP`] buckets (see [`table::records_before_block`]).
    pub samples: Vec<u64>,
    /// Bucket sizes in unary, 64 bits a word.
    pub sizes: Vec<u64>,
    /// A tag per record, with [`TAG_PAD`] zero bytes after them.
    pub tags: Vec<u8>,
    /// Bit-packed records, with [`RECORD_PAD`] zero bytes after them.
    pub records: Vec<u8>,
    /// The raisers' index (see [`Raisers`]): empty for none, `None` when
    /// there are too many to index.
    pub raisers: Option<Vec<u64>>,
    /// The names themselves, in record order: what a hash hit is
    /// confirmed against.
    pub listed: ListedNames,
}

/// The bytes of one listed name's slot: the name itself when it has at
/// most this many bytes, zero-padded, so that confirming a hit is one read
/// at an address known from the record's index.
pub(crate) const SLOT: usize = 32;
/// The bytes of a longer name kept in its slot; the rest is in the
/// overflow, found from the slot.
const SLOT_PREFIX: usize = 24;
/// The last byte of a slot that holds the start of a longer name (no name
/// byte is ever 0xff).
const LONG_SLOT: u8 = 0xff;

/// The listed names in record order, as written to the file: a
/// [`SLOT`]-byte slot per name, then the overflow of the longer ones.
#[derive(Debug, Default)]
pub(crate) struct ListedNames {
    slots: Vec<u8>,
    overflow: Vec<u8>,
    scratch: Vec<u8>,
}

impl ListedNames {
    /// Room for `count` names.
    pub fn with_capacity(count: usize) -> Self {
        Self {
            slots: Vec::with_capacity(count * SLOT),
            ..Self::default()
        }
    }

    /// Appends the name whose reversed key (`com.huami.api`) is `key`, in
    /// its usual order (`api.huami.com`). `false` when the overflow passes
    /// 4 GiB, which names of at most 253 bytes, fewer than 2^32 of them,
    /// never make.
    pub fn push_reversed_key(&mut self, key: &[u8]) -> bool {
        let name = &mut self.scratch;
        name.clear();
        for (i, label) in key.rsplit(|&b| b == b'.').enumerate() {
            if i > 0 {
                name.push(b'.');
            }
            name.extend_from_slice(label);
        }
        let mut slot = [0u8; SLOT];
        if name.len() <= SLOT {
            slot[..name.len()].copy_from_slice(name);
        } else {
            let (Ok(at), Ok(len)) = (
                u32::try_from(self.overflow.len()),
                u16::try_from(name.len() - SLOT_PREFIX),
            ) else {
                return false;
            };
            slot[..SLOT_PREFIX].copy_from_slice(&name[..SLOT_PREFIX]);
            slot[SLOT_PREFIX..SLOT_PREFIX + 4].copy_from_slice(&at.to_le_bytes());
            slot[SLOT_PREFIX + 4..SLOT_PREFIX + 6].copy_from_slice(&len.to_le_bytes());
            slot[SLOT - 1] = LONG_SLOT;
            self.overflow.extend_from_slice(&name[SLOT_PREFIX..]);
        }
        self.slots.extend_from_slice(&slot);
        true
    }
}

/// Zero bytes before the slots of a listed names' section that starts at
/// byte `start` of the file: slots begin on a multiple of [`SLOT`], so
/// that none straddles two cache lines.
fn slot_pad(start: usize) -> usize {
    (SLOT - start % SLOT) % SLOT
}

/// Where the listed names sit in the bytes (see [`ListedNames`]).
#[derive(Clone, Debug, Default)]
struct Listed {
    slots: Range<usize>,
    overflow: Range<usize>,
}

/// Checks the listed names' section for `count` names: the pad, a slot
/// per name (none empty), and an overflow that is exactly the longer
/// names' rests, in order, each within it. A lookup reads a name only
/// after a hash hit, and only within the section, so a file that passes
/// is never read out of bounds.
fn listed_names(data: &[u8], range: Range<usize>, count: usize) -> Result<Listed, LoadError> {
    const BAD: LoadError = LoadError::BadSection("listed names");
    let section = data.get(range.clone()).ok_or(BAD)?;
    let pad = slot_pad(range.start);
    let slots_len = count.checked_mul(SLOT).ok_or(BAD)?;
    let (head, overflow) = section
        .split_at_checked(pad.checked_add(slots_len).ok_or(BAD)?)
        .ok_or(BAD)?;
    let (zeros, slots) = head.split_at_checked(pad).ok_or(BAD)?;
    if zeros.iter().any(|&b| b != 0) {
        return Err(BAD);
    }
    let mut next = 0usize;
    for slot in slots.chunks_exact(SLOT) {
        if slot.first() == Some(&0) {
            return Err(BAD);
        }
        if slot.last() != Some(&LONG_SLOT) {
            continue;
        }
        let at = read_u32(slot, SLOT_PREFIX).ok_or(BAD)? as usize;
        let len = slot
            .get(SLOT_PREFIX + 4..SLOT_PREFIX + 6)
            .map_or(0, |b| usize::from(u16::from_le_bytes([b[0], b[1]])));
        if at != next || len <= SLOT - SLOT_PREFIX || len > MAX_NAME - SLOT_PREFIX {
            return Err(BAD);
        }
        next += len;
    }
    if next != overflow.len() {
        return Err(BAD);
    }
    let slots_start = range.start + pad;
    Ok(Listed {
        slots: slots_start..slots_start + slots_len,
        overflow: slots_start + slots_len..range.end,
    })
}

impl NamesSection {
    pub fn empty() -> Self {
        let shape = Shape {
            rem_bits: table::TAG_BITS,
            ..Shape::default()
        };
        let (samples, sizes) =
            table::directory(shape, std::iter::empty()).unwrap_or((vec![0], vec![1]));
        Self {
            seed: 0,
            count: 0,
            labels: 0,
            shape,
            samples,
            sizes,
            tags: vec![0; TAG_PAD],
            records: vec![0; RECORD_PAD],
            raisers: Some(Vec::new()),
            listed: ListedNames::default(),
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.seed.to_le_bytes());
        out.extend_from_slice(&(self.count as u64).to_le_bytes());
        out.extend_from_slice(&self.labels.to_le_bytes());
        let s = self.shape;
        for b in [s.dir_bits, s.rem_bits, s.kind_bits, s.value_bits] {
            out.push(u8::try_from(b).unwrap_or(u8::MAX));
        }
        out.extend_from_slice(&[0; 4]);
        let slots = self.raisers.as_ref().map_or(u64::MAX, |k| k.len() as u64);
        out.extend_from_slice(&slots.to_le_bytes());
        for d in &self.samples {
            out.extend_from_slice(&d.to_le_bytes());
        }
        for w in &self.sizes {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&self.tags);
        out.extend_from_slice(&self.records);
        for k in self.raisers.iter().flatten() {
            out.extend_from_slice(&k.to_le_bytes());
        }
    }
}

fn name_table(data: &[u8], range: Range<usize>) -> Result<NameTable, LoadError> {
    const BAD: LoadError = LoadError::BadSection("names");
    let section = data.get(range.clone()).ok_or(BAD)?;
    let seed = read_u64(section, 0).ok_or(BAD)?;
    let count = read_u64(section, 8).ok_or(BAD)?;
    let count = u32::try_from(count).map_err(|_| BAD)? as usize;
    let labels = read_u64(section, 16).ok_or(BAD)?;
    if (labels == 0) != (count == 0) {
        return Err(BAD);
    }
    let raiser_slots = read_u64(section, 32).ok_or(BAD)?;
    let shape_bytes = section.get(24..32).ok_or(BAD)?;
    let [dir_bits, rem_bits, kind_bits, value_bits, 0, 0, 0, 0] = *shape_bytes else {
        return Err(BAD);
    };
    let shape = Shape {
        dir_bits: u32::from(dir_bits),
        rem_bits: u32::from(rem_bits),
        kind_bits: u32::from(kind_bits),
        value_bits: u32::from(value_bits),
    };
    let record_bits = shape.record_bits();
    if shape.dir_bits > MAX_DIR_BITS || !shape.is_valid() || record_bits > MAX_RECORD_BITS {
        return Err(BAD);
    }
    let samples_len = shape.samples().checked_mul(8).ok_or(BAD)?;
    let sizes_len = shape
        .buckets()
        .checked_add(count)
        .map(|bits| bits.div_ceil(64) * 8)
        .ok_or(BAD)?;
    let records_len = count
        .checked_mul(record_bits as usize)
        .map(|b| b.div_ceil(8))
        .and_then(|b| b.checked_add(RECORD_PAD))
        .ok_or(BAD)?;
    let tags_len = count.checked_add(TAG_PAD).ok_or(BAD)?;
    let samples = NAMES_HEADER..NAMES_HEADER.checked_add(samples_len).ok_or(BAD)?;
    let sizes = samples.end..samples.end.checked_add(sizes_len).ok_or(BAD)?;
    let tags = sizes.end..sizes.end.checked_add(tags_len).ok_or(BAD)?;
    let records = tags.end..tags.end.checked_add(records_len).ok_or(BAD)?;
    let raisers_len = match raiser_slots {
        0 | u64::MAX => 0,
        n if n.is_power_of_two() && n >= 2 && n <= 2 * MAX_RAISERS as u64 => n as usize * 8,
        _ => return Err(BAD),
    };
    let raisers = records.end..records.end.checked_add(raisers_len).ok_or(BAD)?;
    if raisers.end != section.len() {
        return Err(BAD);
    }
    // At least one free slot, so that a search for an absent key ends.
    let keys = section.get(raisers.clone()).ok_or(BAD)?;
    if raisers_len != 0 && !keys.chunks_exact(8).any(|k| k.iter().all(|&b| b == 0)) {
        return Err(BAD);
    }
    // The pads are zero, as written: a file differing only there is refused
    // like any other altered one.
    let zero = |r: Range<usize>| section.get(r).is_some_and(|b| b.iter().all(|&x| x == 0));
    if !zero(tags.end - TAG_PAD..tags.end) || !zero(records.end - RECORD_PAD..records.end) {
        return Err(BAD);
    }
    if !table::check_directory(
        shape,
        count,
        section.get(samples.clone()).ok_or(BAD)?,
        section.get(sizes.clone()).ok_or(BAD)?,
    ) {
        return Err(BAD);
    }
    let at = |r: Range<usize>| range.start + r.start..range.start + r.end;
    Ok(NameTable {
        len: section.len(),
        seed,
        count,
        labels,
        cuts: Cuts::new(shape),
        // In u64: `count << 16` overflows a 32-bit usize (armv7 phones).
        load: usize::try_from(((count as u64) << 16) >> shape.dir_bits).unwrap_or(usize::MAX),
        samples: at(samples),
        sizes: at(sizes),
        tags: at(tags),
        records: at(records),
        raisers: match raiser_slots {
            0 => Raisers::None,
            u64::MAX => Raisers::Unindexed,
            _ => Raisers::Indexed(at(raisers)),
        },
    })
}

fn addr_table(
    data: &[u8],
    range: Range<usize>,
    record: usize,
    max_len: u8,
    what: &'static str,
) -> Result<AddrTable, LoadError> {
    let bytes = data.get(range.clone()).ok_or(LoadError::BadSection(what))?;
    if bytes.len() % record != 0 {
        return Err(LoadError::BadSection(what));
    }
    let addr_len = if record == V4_RECORD { 4 } else { 16 };
    let mut by_len: Vec<(u8, Range<usize>)> = Vec::new();
    let mut prev: Option<(u8, &[u8])> = None;
    for (i, rec) in bytes.chunks_exact(record).enumerate() {
        let net = rec.get(..addr_len).ok_or(LoadError::BadSection(what))?;
        let len = *rec.get(addr_len).ok_or(LoadError::BadSection(what))?;
        if len > max_len {
            return Err(LoadError::BadSection(what));
        }
        // Lookups binary-search each prefix length: the order must hold.
        if prev.is_some_and(|p| p > (len, net)) {
            return Err(LoadError::BadSection(what));
        }
        prev = Some((len, net));
        match by_len.last_mut() {
            Some((l, r)) if *l == len => r.end = i + 1,
            _ => by_len.push((len, i..i + 1)),
        }
    }
    by_len.reverse();
    Ok(AddrTable { range, by_len })
}

/// An address rule ready to be written: network, prefix length, entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct AddrRecord {
    pub len: u8,
    pub net: IpAddr,
    pub entry: u64,
}

/// Lays out a compiled file with no origin; `v4` and `v6` must already be
/// sorted by (length, network).
pub(crate) fn encode(
    lists: &[ListInfo],
    names: &NamesSection,
    kinds: &[u64],
    shared: &[u64],
    v4: &[AddrRecord],
    v6: &[AddrRecord],
    patterns: &[u8],
) -> Vec<u8> {
    // The header's room first: the file is laid out in this one buffer,
    // which a million names make tens of megabytes.
    let slots = names.listed.slots.len() + names.listed.overflow.len();
    let mut sections = Vec::with_capacity(HEADER_LEN + names.records.len() + slots * 5 / 4);
    sections.resize(HEADER_LEN, 0);
    push_u32(&mut sections, lists.len());
    for l in lists {
        for s in [&l.id, &l.title] {
            push_u32(&mut sections, s.len());
            sections.extend_from_slice(s.as_bytes());
        }
    }
    let lists_len = sections.len() - HEADER_LEN;
    names.encode_into(&mut sections);
    let names_len = sections.len() - HEADER_LEN - lists_len;
    let listed = &names.listed;
    let pad = slot_pad(sections.len());
    sections.resize(sections.len() + pad, 0);
    sections.extend_from_slice(&listed.slots);
    sections.extend_from_slice(&listed.overflow);
    let listed_len = sections.len() - HEADER_LEN - lists_len - names_len;
    for e in kinds.iter().chain(shared) {
        sections.extend_from_slice(&e.to_le_bytes());
    }
    let mut v4_bytes = Vec::with_capacity(v4.len() * V4_RECORD);
    for r in v4 {
        if let IpAddr::V4(a) = r.net {
            v4_bytes.extend_from_slice(&a.octets());
            v4_bytes.extend_from_slice(&[r.len, 0, 0, 0]);
            v4_bytes.extend_from_slice(&r.entry.to_le_bytes());
        }
    }
    let mut v6_bytes = Vec::with_capacity(v6.len() * V6_RECORD);
    for r in v6 {
        if let IpAddr::V6(a) = r.net {
            v6_bytes.extend_from_slice(&a.octets());
            v6_bytes.extend_from_slice(&[r.len, 0, 0, 0, 0, 0, 0, 0]);
            v6_bytes.extend_from_slice(&r.entry.to_le_bytes());
        }
    }
    let lens = [
        lists_len,
        names_len,
        listed_len,
        kinds.len() * 8,
        shared.len() * 8,
        v4_bytes.len(),
        v6_bytes.len(),
        patterns.len(),
        0,
    ];
    sections.extend_from_slice(&v4_bytes);
    sections.extend_from_slice(&v6_bytes);
    sections.extend_from_slice(patterns);
    frame(&lens, sections)
}

/// Fills in the header of `out` (its first [`HEADER_LEN`] bytes, room
/// left for it before the sections, of the lengths `lens`, in order) and
/// appends the checksum.
fn frame(lens: &[usize; SECTIONS], mut out: Vec<u8>) -> Vec<u8> {
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    for s in lens {
        header.extend_from_slice(&(*s as u64).to_le_bytes());
    }
    if let Some(room) = out.get_mut(..HEADER_LEN) {
        room.copy_from_slice(&header);
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn push_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}
