//! Rules the name table cannot hold: adblock patterns (`||ads*.example^`,
//! `||iad-*.braze.com^`, `dlsdk.appsflyer.com^`, `||prefix.`), and rules
//! with conditions (`$dnstype`, `$denyallow`).
//!
//! # Semantics (AdGuard Home's, from `urlfilter`)
//!
//! AdGuard Home turns a pattern into a regular expression and matches it
//! against the query name (or, for `||` patterns, against `http://` and
//! the name): `*` is any run of characters, `^` is a separator, which in a
//! name (letters, digits, `-`, `_`, `.`) can only be its end, a leading
//! `|` anchors at the start, a trailing `|` at the end, a leading `||` at
//! the start of the name or of any of its labels; anything else is a
//! literal, and without anchors a pattern may match anywhere in the name.
//! A pattern here is that, matched without regular expressions: a start
//! ([`Start`]), a body of literal bytes with `*` and `^`, and whether it
//! is anchored at the end.
//!
//! # Cost
//!
//! Patterns are indexed so that a lookup checks only the few that could
//! match: one whose end is fixed (`…something.tvsquared.com^`) by the
//! whole labels of that end (`tvsquared.com`), found by hashing the
//! name's suffixes; one that starts a label (`||prefix…`) by its first
//! four bytes, found by hashing four bytes at each label's start; one with
//! a run of four literal bytes anywhere (`*-banner-*`) by those, found by
//! hashing every four bytes of the name (only when a set has such
//! patterns); the rest (at most [`MAX_SCANNED`] block rules) are tried on
//! every lookup. A bit filter over the keys (16 bits a key) answers most
//! probes without touching the key list. A set without patterns costs one
//! branch.
//!
//! # Regular expressions
//!
//! A `/re/` rule (AdGuard's regex rule, with the same modifiers and `@@`)
//! matches when the regular expression matches the query name (lowercase,
//! no trailing dot) anywhere, unless anchored with `^`/`$`; letters match
//! in either case, as adblock rules do without `$match-case`. All the
//! regex rules of a set are compiled into one [`regex::bytes::RegexSet`]
//! when the set is loaded, so a lookup runs one search for them all (and
//! only in a set that has some). Each rule must compile within
//! [`REGEX_SIZE_LIMIT`] bytes, a set holds at most [`MAX_REGEXES`], and
//! the set compiles within [`REGEX_SET_SIZE_LIMIT`] with a lazy DFA cache
//! of at most [`REGEX_DFA_LIMIT`]: a hostile list or compiled file cannot
//! make the firewall allocate without bound. Look-around and
//! backreferences, which the `regex` crate (by design: its searches take
//! linear time) does not have, make a rule unused with that reason.

use crate::compiled::{ALLOW, IMPORTANT};
use crate::name::normalize_name;

/// How many unindexed patterns (substrings, `*` before every fixed part)
/// a set keeps: each is tried on every lookup. Block rules beyond are
/// reported as unused; allow rules are always kept (losing one would block
/// what a list allows).
pub const MAX_SCANNED: usize = 64;

/// How many `/regex/` rules (block and allow) a set keeps; beyond, they
/// are reported as unused.
pub const MAX_REGEXES: usize = 256;
/// The longest regular expression read, in bytes.
pub const MAX_REGEX_LEN: usize = 1024;
/// The most memory one regular expression may compile to, in bytes.
pub const REGEX_SIZE_LIMIT: usize = 64 << 10;
/// The most memory a set's regular expressions may compile to together:
/// [`MAX_REGEXES`] rules of [`REGEX_SIZE_LIMIT`] each, and some slack.
pub const REGEX_SET_SIZE_LIMIT: usize = MAX_REGEXES * REGEX_SIZE_LIMIT + (1 << 20);
/// The most memory the lazy DFA of a set's regular expressions caches.
pub const REGEX_DFA_LIMIT: usize = 2 << 20;

/// Bytes of a label's start that index a `||prefix` pattern.
const PREFIX_KEY: usize = 4;
/// The bit filter's size bounds, in bits (512 bytes to 512 KiB).
const FILTER_MIN_BITS: usize = 1 << 12;
const FILTER_MAX_BITS: usize = 1 << 22;

/// Where a pattern may start matching.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Start {
    /// No anchor: anywhere in the name.
    Any,
    /// `||`: at the start of the name or of one of its labels.
    Label,
    /// `|`: at the start of the name.
    Name,
    /// `/re/`: the body is a regular expression, matched anywhere in the
    /// name (see the module docs).
    Regex,
}

/// A query type condition (`$dnstype=A|~AAAA`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Types {
    /// The rule applies only to these types (when not empty).
    pub only: Vec<u16>,
    /// The rule never applies to these.
    pub not: Vec<u16>,
}

impl Types {
    pub(crate) fn is_empty(&self) -> bool {
        self.only.is_empty() && self.not.is_empty()
    }

    /// AdGuard's `matchDNSType`; with no known type, a rule for listed
    /// types does not apply.
    fn admits(&self, qtype: Option<u16>) -> bool {
        if self.is_empty() {
            return true;
        }
        match qtype {
            Some(t) => !self.not.contains(&t) && (self.only.is_empty() || self.only.contains(&t)),
            None => self.only.is_empty(),
        }
    }
}

/// One pattern rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PatternRule {
    /// The rule's entry (list, line, allow and important flags).
    pub entry: u64,
    pub start: Start,
    /// Anchored at the name's end (`^` or `|` last).
    pub end: bool,
    /// Lowercase bytes: literals, `*` (any run) and `^` (the end).
    pub body: Vec<u8>,
    pub types: Types,
    /// `$denyallow`: normalized names under which the rule does not apply.
    pub denyallow: Vec<String>,
}

/// What indexes a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    /// The hash of a suffix (whole labels) every matching name ends with,
    /// and its label count.
    Suffix(u64, u32),
    /// The hash of the first bytes of a label every matching name has.
    Prefix(u64),
    /// A run of literal bytes (at least four, its start and length in the
    /// body) every matching name has somewhere: indexed by its first few
    /// four-byte windows (see `Patterns::new`).
    Infix(usize, usize),
    /// None: tried on every lookup.
    Scan,
    /// A regular expression: matched by the set's [`regex::bytes::RegexSet`].
    Regex,
}

impl PatternRule {
    fn key(&self) -> Key {
        if self.start == Start::Regex {
            return Key::Regex;
        }
        let has_star = self.body.contains(&b'*');
        if self.end {
            let tail_at = self
                .body
                .iter()
                .rposition(|&b| b == b'*')
                .map_or(0, |i| i + 1);
            let tail = self.body.get(tail_at..).unwrap_or_default();
            if !tail.contains(&b'^') && !tail.is_empty() {
                // Anchored at a label (or the name) with no `*`: the tail is
                // itself a suffix of whole labels.
                if !has_star && self.start != Start::Any {
                    return Key::Suffix(suffix_key(tail), depth(tail));
                }
                // Otherwise it ends the name but may begin inside a label:
                // the labels after its first dot are whole.
                if let Some(dot) = tail.iter().position(|&b| b == b'.') {
                    let whole = tail.get(dot + 1..).unwrap_or_default();
                    if !whole.is_empty() {
                        return Key::Suffix(suffix_key(whole), depth(whole));
                    }
                }
            }
        }
        if self.start != Start::Any {
            let lit = self
                .body
                .iter()
                .position(|&b| b == b'*' || b == b'^')
                .unwrap_or(self.body.len());
            if lit >= PREFIX_KEY {
                return Key::Prefix(prefix_key(self.body.get(..PREFIX_KEY).unwrap_or_default()));
            }
        }
        // The longest run of literal bytes, as AdGuard's "shortcut".
        let mut best = (0, 0);
        let mut at = 0;
        for run in self.body.split(|&b| b == b'*' || b == b'^') {
            if run.len() > best.1 {
                best = (at, run.len());
            }
            at += run.len() + 1;
        }
        if best.1 >= PREFIX_KEY {
            Key::Infix(best.0, best.1)
        } else {
            Key::Scan
        }
    }

    /// Whether the rule applies to `name` (normalized) queried for `qtype`.
    /// A regex rule's name match is the set's (see [`Patterns`]): here
    /// it never matches.
    pub(crate) fn matches(&self, name: &str, qtype: Option<u16>) -> bool {
        self.applies(name, qtype) && self.matches_name(name.as_bytes())
    }

    /// Whether the rule's conditions (`$dnstype`, `$denyallow`) let it
    /// apply to `name` queried for `qtype`.
    fn applies(&self, name: &str, qtype: Option<u16>) -> bool {
        if !self.types.admits(qtype) {
            return false;
        }
        !(!self.denyallow.is_empty()
            && (name.parse::<std::net::IpAddr>().is_ok()
                || self.denyallow.iter().any(|d| is_within(name, d))))
    }

    fn matches_name(&self, name: &[u8]) -> bool {
        let body = &self.body;
        match self.start {
            Start::Regex => false,
            Start::Name => glob(body, name, self.end, false),
            Start::Label => {
                glob(body, name, self.end, false)
                    || name.iter().enumerate().any(|(i, &b)| {
                        b == b'.'
                            && glob(body, name.get(i + 1..).unwrap_or_default(), self.end, false)
                    })
            }
            Start::Any => glob(body, name, self.end, true),
        }
    }

    /// What `$badfilter` compares: everything but list, line, and (as in
    /// AdGuard) the `$dnstype` and `$denyallow` conditions.
    pub(crate) fn badfilter_key(&self) -> (Start, bool, Vec<u8>, u64) {
        (
            self.start,
            self.end,
            self.body.clone(),
            self.entry & (ALLOW | IMPORTANT),
        )
    }
}

/// The labels of a suffix.
fn depth(suffix: &[u8]) -> u32 {
    u32::try_from(suffix.iter().filter(|&&b| b == b'.').count() + 1).unwrap_or(u32::MAX)
}

/// `name` is `parent` or under it.
fn is_within(name: &str, parent: &str) -> bool {
    name.strip_suffix(parent)
        .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

/// Matches `pattern` (literals, `*`, and `^` = the end) against the start
/// of `s` (anywhere in `s` when `anywhere`, as if the pattern began with a
/// `*`), or up to the end of `s` when `end`. Greedy, backtracking to the
/// last `*` only: at worst |pattern| × |s| steps (both bounded).
fn glob(pattern: &[u8], s: &[u8], end: bool, anywhere: bool) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    // Where to resume after the last `*`, and the bytes it took so far.
    let mut star: Option<(usize, usize)> = anywhere.then_some((0, 0));
    loop {
        match pattern.get(p) {
            None if !end || i == s.len() => return true,
            Some(b'*') => {
                star = Some((p + 1, i));
                p += 1;
                continue;
            }
            Some(b'^') if i == s.len() => {
                p += 1;
                continue;
            }
            Some(&c) if c != b'^' && s.get(i) == Some(&c) => {
                p += 1;
                i += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((resume, si)) if si < s.len() => {
                star = Some((resume, si + 1));
                p = resume;
                i = si + 1;
            }
            _ => return false,
        }
    }
}

const MIX1: u64 = 0x9e37_79b9_7f4a_7c15;
const MIX2: u64 = 0xc2b2_ae3d_27d4_eb4f;

/// The first eight bytes of `b` (fewer, zero-padded), little-endian.
#[inline]
fn head8(b: &[u8]) -> u64 {
    if let Some(Ok(w)) = b.get(..8).map(<[u8; 8]>::try_from) {
        return u64::from_le_bytes(w);
    }
    let mut w = [0u8; 8];
    let n = b.len().min(8);
    if let (Some(to), Some(from)) = (w.get_mut(..n), b.get(..n)) {
        to.copy_from_slice(from);
    }
    u64::from_le_bytes(w)
}

/// The key of a suffix: its length and first eight bytes, mixed (two
/// multiplications: a key is a hint, the full match decides).
#[inline]
fn suffix_key(suffix: &[u8]) -> u64 {
    (head8(suffix).wrapping_mul(MIX1) ^ suffix.len() as u64).wrapping_mul(MIX2)
}

/// The key of four bytes; `salt` keeps label prefixes and infixes apart.
#[inline]
fn four_key(four: &[u8], salt: u64) -> u64 {
    let w = four
        .get(..4)
        .and_then(|f| <[u8; 4]>::try_from(f).ok())
        .unwrap_or_default();
    (u64::from(u32::from_le_bytes(w)) ^ salt).wrapping_mul(MIX1)
}

const PREFIX_SALT: u64 = 0x5bd1_e995_0000_0000;
const INFIX_SALT: u64 = 0x27d4_eb2f_0000_0000;

fn prefix_key(four: &[u8]) -> u64 {
    four_key(four, PREFIX_SALT)
}

fn infix_key(four: &[u8]) -> u64 {
    four_key(four, INFIX_SALT)
}

/// Why a regular expression cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RegexProblem {
    /// It uses look-around or backreferences.
    Lookaround,
    /// It does not compile (within the limits): why, in a line.
    Invalid(String),
}

/// Compiles `sources` as the regex rules of a set are (see the module
/// docs), within `size_limit`.
fn compile_set<'a>(
    sources: impl IntoIterator<Item = &'a [u8]>,
    size_limit: usize,
) -> Result<regex::bytes::RegexSet, regex::Error> {
    let mut patterns = Vec::new();
    for s in sources {
        // Regex sources are checked to be printable ASCII before.
        let source = String::from_utf8_lossy(s);
        // Go's regexp (AdGuard Home's) takes Unicode classes such as
        // `\pL`, and on a name they match its ASCII letters; with Unicode
        // off they would not compile. Only such a regex gets Unicode, with
        // its `\w`, `\d`, `\s` and `\b` kept ASCII as Go's always are (a
        // Unicode `\w` alone compiles past the size limit).
        patterns.push(if uses_unicode_class(&source) {
            format!("(?u:{})", ascii_perl_classes(&source)).into()
        } else {
            source
        });
    }
    regex::bytes::RegexSetBuilder::new(patterns.iter().map(|p| p.as_ref()))
        .unicode(false)
        .case_insensitive(true)
        .size_limit(size_limit)
        .dfa_size_limit(REGEX_DFA_LIMIT)
        .build()
}

/// Checks one regex rule's source: at most [`MAX_REGEX_LEN`] printable
/// ASCII bytes that compile within [`REGEX_SIZE_LIMIT`].
pub(crate) fn check_regex(source: &str) -> Result<(), RegexProblem> {
    if source.len() > MAX_REGEX_LEN {
        return Err(RegexProblem::Invalid(format!(
            "longer than {MAX_REGEX_LEN} bytes"
        )));
    }
    if let Some(c) = source.chars().find(|c| !is_regex_char(*c)) {
        return Err(RegexProblem::Invalid(format!(
            "holds {c:?}, which no name has"
        )));
    }
    match compile_set([source.as_bytes()], REGEX_SIZE_LIMIT) {
        Ok(_) => Ok(()),
        Err(_) if uses_lookaround(source) => Err(RegexProblem::Lookaround),
        Err(regex::Error::CompiledTooBig(limit)) => Err(RegexProblem::Invalid(format!(
            "compiles to more than {} KiB",
            limit >> 10
        ))),
        Err(e) => {
            let text = e.to_string();
            let why = text
                .lines()
                .find_map(|l| l.strip_prefix("error: "))
                .unwrap_or("does not parse");
            Err(RegexProblem::Invalid(why.chars().take(120).collect()))
        }
    }
}

/// The characters a regex rule may hold: printable ASCII.
fn is_regex_char(c: char) -> bool {
    c.is_ascii_graphic() || c == ' '
}

/// `source` with its Perl classes and word boundaries ASCII-only in a
/// regex that has Unicode on: `(?-u:\w)` outside a bracket class, and
/// inside one the ASCII ranges themselves (`\w` as `0-9A-Za-z_`). A
/// negated class inside brackets (`[\W]`) is left as it is.
fn ascii_perl_classes(source: &str) -> String {
    let mut out = String::with_capacity(source.len() + 16);
    let mut chars = source.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    out.push(c);
                    break;
                };
                match (in_class, e) {
                    (false, 'w' | 'W' | 'd' | 'D' | 's' | 'S' | 'b' | 'B') => {
                        out.push_str("(?-u:\\");
                        out.push(e);
                        out.push(')');
                    }
                    (true, 'w') => out.push_str("0-9A-Za-z_"),
                    (true, 'd') => out.push_str("0-9"),
                    (true, 's') => out.push_str("\\t\\n\\x0B\\f\\r "),
                    _ => {
                        out.push(c);
                        out.push(e);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` (after an optional `^`) first in a class is a literal.
                let rest = chars.as_str();
                let skip = match rest.as_bytes() {
                    [b'^', b']', ..] => 2,
                    [b']', ..] | [b'^', ..] => 1,
                    _ => 0,
                };
                out.push_str(rest.get(..skip).unwrap_or_default());
                for _ in 0..skip {
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Whether `source` has a Unicode class (`\p…`, `\P…`) outside an escape.
fn uses_unicode_class(source: &str) -> bool {
    let b = source.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'\\' {
            if matches!(b.get(i + 1), Some(b'p' | b'P')) {
                return true;
            }
            // Skip the escaped character, a backslash included.
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// Whether `source` has a look-around group or a backreference.
fn uses_lookaround(source: &str) -> bool {
    let b = source.as_bytes();
    ["(?=", "(?!", "(?<=", "(?<!"]
        .iter()
        .any(|m| source.contains(m))
        || b.windows(2).enumerate().any(|(i, w)| {
            // A backslash that is not itself escaped, then a digit or `k<`.
            let escaped = b
                .get(..i)
                .unwrap_or_default()
                .iter()
                .rev()
                .take_while(|&&c| c == b'\\')
                .count()
                % 2
                == 1;
            w.first() == Some(&b'\\')
                && !escaped
                && w.get(1).is_some_and(|c| matches!(c, b'1'..=b'9' | b'k'))
        })
}

/// The pattern rules of a set, indexed for lookups.
#[derive(Clone, Debug, Default)]
pub(crate) struct Patterns {
    rules: Vec<PatternRule>,
    /// The regex rules, compiled together, and the rule of each.
    regexes: Option<(regex::bytes::RegexSet, Vec<u32>)>,
    /// (key, rule index), sorted by key.
    keyed: Vec<(u64, u32)>,
    /// Indices of the rules no key indexes.
    scanned: Vec<u32>,
    /// Bit `key >> shift` of every key.
    filter: Vec<u64>,
    shift: u32,
    /// The step between the four-byte windows of a name that are probed
    /// for infixes (0: no rule has one, none are probed).
    infix_step: usize,
    /// Bit `d - 1`: some suffix key has `d` labels (bit 63: 64 or more).
    suffix_depths: u64,
    /// Whether some rule has a prefix key.
    prefixes: bool,
}

impl Patterns {
    /// Indexes `rules`; `None` when their regular expressions do not
    /// compile together within the limits (see the module docs).
    pub(crate) fn new(rules: Vec<PatternRule>) -> Option<Self> {
        let mut keyed = Vec::new();
        let mut scanned = Vec::new();
        let mut regex_rules = Vec::new();
        let keys: Vec<Key> = rules.iter().map(PatternRule::key).collect();
        // A run of `len` literal bytes in a name holds a window starting
        // at a multiple of `step` when `len >= 4 + step - 1`: with the
        // shortest run known, names are probed every `step` bytes, and
        // each run is indexed by its first `step` windows.
        let infix_step = keys
            .iter()
            .filter_map(|k| match k {
                Key::Infix(_, len) => Some((len + 1 - PREFIX_KEY).min(PREFIX_KEY)),
                _ => None,
            })
            .min()
            .unwrap_or(0);
        for (i, (r, key)) in rules.iter().zip(&keys).enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            match *key {
                Key::Suffix(k, _) | Key::Prefix(k) => keyed.push((k, i)),
                Key::Infix(at, _) => {
                    for off in 0..infix_step {
                        let from = at + off;
                        if let Some(four) = r.body.get(from..from + PREFIX_KEY) {
                            keyed.push((infix_key(four), i));
                        }
                    }
                }
                Key::Scan => scanned.push(i),
                Key::Regex => regex_rules.push(i),
            }
        }
        let regexes = if regex_rules.is_empty() {
            None
        } else {
            if regex_rules.len() > MAX_REGEXES {
                return None;
            }
            let sources = regex_rules
                .iter()
                .filter_map(|&i| rules.get(i as usize))
                .map(|r| r.body.as_slice());
            Some((
                compile_set(sources, REGEX_SET_SIZE_LIMIT).ok()?,
                regex_rules,
            ))
        };
        keyed.sort_unstable();
        keyed.dedup();
        let suffix_depths = keys.iter().fold(0u64, |m, k| match k {
            Key::Suffix(_, d) => m | 1 << (d.saturating_sub(1)).min(63),
            _ => m,
        });
        let prefixes = keys.iter().any(|k| matches!(k, Key::Prefix(_)));
        // 16 bits a key: a probe for a key not there reads the key list
        // about once in 16 (fewer when keys repeat).
        let bits = (keyed.len() * 16)
            .next_power_of_two()
            .clamp(FILTER_MIN_BITS, FILTER_MAX_BITS);
        let shift = 64 - bits.trailing_zeros();
        let mut filter = vec![0u64; bits / 64];
        for &(key, _) in &keyed {
            let bit = (key >> shift) as usize;
            if let Some(w) = filter.get_mut(bit / 64) {
                *w |= 1 << (bit % 64);
            }
        }
        Some(Self {
            rules,
            regexes,
            keyed,
            scanned,
            filter,
            shift,
            infix_step,
            suffix_depths,
            prefixes,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether a rule would go to the scanned list (for the builder's cap).
    pub(crate) fn is_scanned(rule: &PatternRule) -> bool {
        rule.key() == Key::Scan
    }

    /// Calls `each` with the rules of `key`: a bit test, and only when
    /// the bit is set a search of the keys.
    #[inline(always)]
    fn candidates(&self, key: u64, each: &mut impl FnMut(&PatternRule)) {
        let bit = (key >> self.shift) as usize;
        if self
            .filter
            .get(bit / 64)
            .is_some_and(|w| w & (1 << (bit % 64)) != 0)
        {
            self.keyed_rules(key, each);
        }
    }

    #[inline(never)]
    fn keyed_rules(&self, key: u64, each: &mut impl FnMut(&PatternRule)) {
        let from = self.keyed.partition_point(|&(k, _)| k < key);
        for &(k, i) in self.keyed.get(from..).unwrap_or_default() {
            if k != key {
                break;
            }
            if let Some(r) = self.rules.get(i as usize) {
                each(r);
            }
        }
    }

    /// Calls `found` with the entry of every rule that applies to `name`.
    pub(crate) fn each_match(&self, name: &str, qtype: Option<u16>, mut found: impl FnMut(u64)) {
        let b = name.as_bytes();
        let mut check = |r: &PatternRule| {
            if r.matches(name, qtype) {
                found(r.entry);
            }
        };
        // The suffixes of as many labels as some suffix key has, found
        // from the end: most keys have two labels, so most names cost one
        // probe.
        if self.suffix_depths != 0 {
            let deepest = 64 - self.suffix_depths.leading_zeros();
            let (mut end, mut depth) = (b.len(), 0u32);
            loop {
                let head = b.get(..end).unwrap_or_default();
                let start = head.iter().rposition(|&c| c == b'.').map_or(0, |d| d + 1);
                depth += 1;
                if self.suffix_depths & 1 << (depth - 1).min(63) != 0 {
                    self.candidates(suffix_key(b.get(start..).unwrap_or_default()), &mut check);
                }
                if start == 0 || depth >= deepest && deepest < 64 {
                    break;
                }
                end = start - 1;
            }
        }
        // The first bytes of each label.
        if self.prefixes {
            let mut at = 0;
            loop {
                let rest = b.get(at..).unwrap_or_default();
                if let Some(head) = rest.get(..PREFIX_KEY) {
                    self.candidates(prefix_key(head), &mut check);
                }
                match rest.iter().position(|&c| c == b'.') {
                    Some(dot) => at += dot + 1,
                    None => break,
                }
            }
        }
        if self.infix_step > 0 {
            let mut i = 0;
            while let Some(four) = b.get(i..i + PREFIX_KEY) {
                self.candidates(infix_key(four), &mut check);
                i += self.infix_step;
            }
        }
        for &i in &self.scanned {
            if let Some(r) = self.rules.get(i as usize) {
                check(r);
            }
        }
        if let Some((set, rules)) = &self.regexes {
            // Most names match none: one search, and the second (which
            // says which) only on a match.
            if set.is_match(b) {
                for m in set.matches(b).iter() {
                    if let Some(r) = rules.get(m).and_then(|&i| self.rules.get(i as usize)) {
                        if r.applies(name, qtype) {
                            found(r.entry);
                        }
                    }
                }
            }
        }
    }

    /// The section bytes (see [`Patterns::decode`]).
    pub(crate) fn encode(rules: &[PatternRule]) -> Vec<u8> {
        let mut out = Vec::new();
        if rules.is_empty() {
            return out;
        }
        push_len(&mut out, rules.len());
        for r in rules {
            out.extend_from_slice(&r.entry.to_le_bytes());
            out.push(match r.start {
                Start::Any => 0,
                Start::Label => 1,
                Start::Name => 2,
                Start::Regex => 3,
            });
            out.push(u8::from(r.end));
            push_len(&mut out, r.body.len());
            out.extend_from_slice(&r.body);
            for list in [&r.types.only, &r.types.not] {
                push_len(&mut out, list.len());
                for t in list {
                    out.extend_from_slice(&t.to_le_bytes());
                }
            }
            push_len(&mut out, r.denyallow.len());
            for d in &r.denyallow {
                push_len(&mut out, d.len());
                out.extend_from_slice(d.as_bytes());
            }
        }
        out
    }

    /// Reads the section: `u32` count, then per rule its entry (`u64`),
    /// start (0 any, 1 label, 2 name, 3 regex), end (0 or 1), body (`u32`
    /// length and bytes), the `$dnstype` lists (`u32` count and `u16`s,
    /// "only" then "not") and the `$denyallow` names (`u32` count, each a
    /// `u32` length and bytes); all little-endian. Every field is checked:
    /// a body holds only name bytes, `*` and `^` (a regex: printable ASCII
    /// that compiles within the limits), names are normalized.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() {
            return Some(Self::default());
        }
        let mut r = Reader { bytes, at: 0 };
        let count = r.len()?;
        let mut rules = Vec::with_capacity(count.min(bytes.len() / 16));
        for _ in 0..count {
            let entry = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
            let start = match r.take(1)?.first()? {
                0 => Start::Any,
                1 => Start::Label,
                2 => Start::Name,
                3 => Start::Regex,
                _ => return None,
            };
            let end = match r.take(1)?.first()? {
                0 => false,
                1 => true,
                _ => return None,
            };
            let n = r.len()?;
            let body = r.take(n)?.to_vec();
            // Bodies are at most a name long (the parser's bound), which
            // bounds a match's steps.
            if start == Start::Regex {
                // What the set's compilation leaves to check: its limits
                // bound the memory of all the rules together.
                if end
                    || body.len() > MAX_REGEX_LEN
                    || !body.iter().all(|&b| is_regex_char(char::from(b)))
                {
                    return None;
                }
            } else if body.len() > crate::name::MAX_NAME_LEN
                || !body.iter().all(|&b| is_body_byte(b))
            {
                return None;
            }
            let mut types = Types::default();
            for list in [&mut types.only, &mut types.not] {
                let n = r.len()?;
                for _ in 0..n {
                    list.push(u16::from_le_bytes(r.take(2)?.try_into().ok()?));
                }
            }
            let n = r.len()?;
            let mut denyallow = Vec::new();
            for _ in 0..n {
                let len = r.len()?;
                let d = std::str::from_utf8(r.take(len)?).ok()?;
                if normalize_name(d).ok()? != d {
                    return None;
                }
                denyallow.push(d.to_owned());
            }
            rules.push(PatternRule {
                entry,
                start,
                end,
                body,
                types,
                denyallow,
            });
        }
        // As the builder keeps them: every unindexed block rule is tried
        // on every lookup.
        let scanned_blocks = rules
            .iter()
            .filter(|r| r.entry & ALLOW == 0 && r.key() == Key::Scan)
            .count();
        if r.at != bytes.len() || scanned_blocks > MAX_SCANNED {
            return None;
        }
        Self::new(rules)
    }
}

/// The bytes a pattern body may hold (after lowercasing).
pub(crate) fn is_body_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.' | b'*' | b'^')
}

fn push_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let out = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(out)
    }

    fn len(&mut self) -> Option<usize> {
        let n = u32::from_le_bytes(self.take(4)?.try_into().ok()?);
        // No count can exceed the bytes left.
        let n = usize::try_from(n).ok()?;
        (n <= self.bytes.len() - self.at).then_some(n)
    }
}

/// The query types `$dnstype` names, by their names in DNS (RFC 1035 and
/// later), plus `TYPEnnn` (RFC 3597).
pub(crate) fn rr_type(name: &str) -> Option<u16> {
    const TYPES: &[(&str, u16)] = &[
        ("a", 1),
        ("ns", 2),
        ("cname", 5),
        ("soa", 6),
        ("ptr", 12),
        ("hinfo", 13),
        ("mx", 15),
        ("txt", 16),
        ("rp", 17),
        ("afsdb", 18),
        ("sig", 24),
        ("key", 25),
        ("aaaa", 28),
        ("loc", 29),
        ("srv", 33),
        ("naptr", 35),
        ("kx", 36),
        ("cert", 37),
        ("dname", 39),
        ("apl", 42),
        ("ds", 43),
        ("sshfp", 44),
        ("ipseckey", 45),
        ("rrsig", 46),
        ("nsec", 47),
        ("dnskey", 48),
        ("dhcid", 49),
        ("nsec3", 50),
        ("nsec3param", 51),
        ("tlsa", 52),
        ("smimea", 53),
        ("hip", 55),
        ("cds", 59),
        ("cdnskey", 60),
        ("openpgpkey", 61),
        ("csync", 62),
        ("zonemd", 63),
        ("svcb", 64),
        ("https", 65),
        ("spf", 99),
        ("eui48", 108),
        ("eui64", 109),
        ("tkey", 249),
        ("tsig", 250),
        ("ixfr", 251),
        ("axfr", 252),
        ("any", 255),
        ("uri", 256),
        ("caa", 257),
    ];
    let lower = name.to_ascii_lowercase();
    if let Some(n) = lower.strip_prefix("type") {
        return n.parse().ok().filter(|&t| t != 0);
    }
    TYPES.iter().find(|(n, _)| *n == lower).map(|&(_, t)| t)
}

/// Counts of pattern rules by index kind, for tests and reports.
#[cfg(test)]
pub(crate) fn key_kinds(rules: &[PatternRule]) -> std::collections::HashMap<&'static str, usize> {
    let mut out = std::collections::HashMap::new();
    for r in rules {
        let k = match r.key() {
            Key::Suffix(..) => "suffix",
            Key::Prefix(_) => "prefix",
            Key::Infix(..) => "infix",
            Key::Scan => "scan",
            Key::Regex => "regex",
        };
        *out.entry(k).or_insert(0) += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(start: Start, body: &str, end: bool) -> PatternRule {
        PatternRule {
            entry: 1,
            start,
            end,
            body: body.as_bytes().to_vec(),
            types: Types::default(),
            denyallow: Vec::new(),
        }
    }

    #[test]
    fn unicode_classes_are_found_outside_escapes_and_perl_classes_kept_ascii() {
        assert!(uses_unicode_class(r"^\pL"));
        assert!(uses_unicode_class(r"a\P{Greek}"));
        assert!(!uses_unicode_class(r"^\\pL"));
        assert!(uses_unicode_class(r"^\\\pL"));
        assert!(!uses_unicode_class(r"plain\.example"));
        assert_eq!(
            ascii_perl_classes(r"^\w+\b[\w.-]\d[^\s]\pL\\w[]\d]"),
            r"^(?-u:\w)+(?-u:\b)[0-9A-Za-z_.-](?-u:\d)[^\t\n\x0B\f\r ]\pL\\w[]0-9]"
        );
    }

    #[test]
    fn glob_matches_like_adguards_regex() {
        assert!(glob(b"ads*.example.com", b"ads1.example.com", true, false));
        assert!(glob(b"ads*.example.com", b"ads.x.example.com", true, false));
        // `*` may be empty, as `.*` is.
        assert!(glob(b"ads*.example.com", b"ads.example.com", true, false));
        assert!(!glob(b"ads*.example.com", b"ad.example.com", true, false));
        assert!(glob(
            b"*launches.appsflyersdk.com",
            b"launches.appsflyersdk.com",
            true,
            false
        ));
        assert!(glob(
            b"*launches.appsflyersdk.com",
            b"xlaunches.appsflyersdk.com",
            true,
            false
        ));
        assert!(!glob(
            b"*launches.appsflyersdk.com",
            b"launches.appsflyersdk.com.x",
            true,
            false
        ));
        assert!(glob(b"example.org", b"example.org.evil", false, false));
        assert!(glob(b"a^", b"a", false, false));
        assert!(!glob(b"a^b", b"ab", true, false));
        assert!(glob(b"*", b"", true, false));
        assert!(glob(b"-banner-", b"a-banner-b.example", false, true));
        assert!(glob(b"b*.c", b"a.b.x.c", true, true));
        assert!(!glob(b"b*.c", b"a.b.x.cd", true, true));
        assert!(!glob(b"-banner-", b"a-banner.example", false, true));
    }

    #[test]
    fn starts() {
        let label = rule(Start::Label, "iad-*.braze.com", true);
        assert!(label.matches_name(b"iad-01.braze.com"));
        assert!(label.matches_name(b"x.iad-01.braze.com"));
        assert!(!label.matches_name(b"xiad-01.braze.com"));
        let any = rule(Start::Any, "dlsdk.appsflyer.com", true);
        assert!(any.matches_name(b"dlsdk.appsflyer.com"));
        assert!(any.matches_name(b"xdlsdk.appsflyer.com"));
        assert!(!any.matches_name(b"dlsdk.appsflyer.com.evil"));
        let name = rule(Start::Name, "ads", false);
        assert!(name.matches_name(b"adserver.example"));
        assert!(!name.matches_name(b"x.ads.example"));
    }

    #[test]
    fn keys_index_what_they_can() {
        let rules = [
            rule(Start::Label, "iad-*.braze.com", true),
            rule(Start::Any, "dlsdk.appsflyer.com", true),
            rule(Start::Label, "fkp.samsungcloudsolution.", false),
            rule(Start::Any, "_prebid_", false),
            rule(Start::Label, "x.example", true),
            rule(Start::Label, "ab*", false),
        ];
        let k = key_kinds(&rules);
        assert_eq!(
            (
                k.get("suffix"),
                k.get("prefix"),
                k.get("infix"),
                k.get("scan")
            ),
            (Some(&3), Some(&1), Some(&1), Some(&1))
        );
        let p = Patterns::new(rules.to_vec()).unwrap();
        let hits = |n: &str| {
            let mut c = 0;
            p.each_match(n, None, |_| c += 1);
            c
        };
        assert_eq!(hits("iad-7.braze.com"), 1);
        assert_eq!(hits("a.fkp.samsungcloudsolution.com"), 1);
        assert_eq!(hits("xdlsdk.appsflyer.com"), 1);
        assert_eq!(hits("a_prebid_b.example"), 1);
        assert_eq!(hits("y.x.example"), 1);
        assert_eq!(hits("abc.example"), 1);
        assert_eq!(hits("x.ab"), 1);
        assert_eq!(hits("braze.com"), 0);
        assert_eq!(hits("unrelated.example"), 0);
    }

    #[test]
    fn encoding_round_trips_and_refuses_junk() {
        let mut r = rule(Start::Label, "ads*.example", true);
        r.types.only = vec![28];
        r.denyallow = vec!["ok.example".into()];
        let bytes = Patterns::encode(&[r.clone(), rule(Start::Any, "_x_", false)]);
        let p = Patterns::decode(&bytes).unwrap();
        assert_eq!(p.rules.first(), Some(&r));
        for cut in 0..bytes.len() {
            assert!(Patterns::decode(&bytes[..cut]).is_none_or(|p| p.is_empty()));
        }
        let mut bad = bytes.clone();
        // The body's first byte: after count, entry, start, end and length.
        bad[4 + 8 + 1 + 1 + 4] = b'A';
        assert!(Patterns::decode(&bad).is_none());
    }

    #[test]
    fn types_and_denyallow() {
        let mut r = rule(Start::Label, "ads.example", true);
        r.types.only = vec![28];
        assert!(r.matches("ads.example", Some(28)));
        assert!(!r.matches("ads.example", Some(1)));
        assert!(!r.matches("ads.example", None));
        r.types = Types {
            only: vec![],
            not: vec![1],
        };
        assert!(!r.matches("ads.example", Some(1)));
        assert!(r.matches("ads.example", None));
        let mut d = rule(Start::Any, "*", false);
        d.denyallow = vec!["ok.com".into()];
        assert!(d.matches("evil.net", None));
        assert!(!d.matches("a.ok.com", None));
        assert!(!d.matches("1.2.3.4", None));
    }

    /// AdGuard's `patternToRegexp`, for a name: `||` is the start of the
    /// name or of a label, `|` its start, `^` a separator (in a name, only
    /// its end), `*` any run, a trailing `|` or `^` its end.
    fn reference(start: Start, body: &str, end: bool) -> regex::Regex {
        let mut re = String::from(match start {
            Start::Label => "^([a-z0-9_.-]+\\.)?",
            Start::Name => "^",
            Start::Any => "",
            Start::Regex => unreachable!("regex rules are not globs"),
        });
        for c in body.chars() {
            match c {
                '*' => re.push_str(".*"),
                '^' => re.push_str("([^ a-zA-Z0-9.%_-]|$)"),
                c => re.push_str(&regex::escape(&c.to_string())),
            }
        }
        if end {
            re.push('$');
        }
        regex::Regex::new(&re).unwrap()
    }

    proptest::proptest! {
        #[test]
        fn matches_as_adguards_regex_does(
            start in proptest::sample::select(vec![Start::Any, Start::Label, Start::Name]),
            body in "[ab.*^-]{1,8}",
            end: bool,
            names in proptest::collection::vec("[ab-]{1,4}(\\.[ab-]{1,4}){0,3}", 1..20),
        ) {
            let r = rule(start, &body, end);
            let re = reference(start, &body, end);
            let p = Patterns::new(vec![r.clone()]).unwrap();
            for name in &names {
                let mut hit = false;
                p.each_match(name, None, |_| hit = true);
                proptest::prop_assert_eq!(r.matches_name(name.as_bytes()), re.is_match(name), "{} {:?}", name, r);
                // The index never hides a match.
                proptest::prop_assert_eq!(hit, re.is_match(name), "indexed: {} {:?}", name, r);
            }
        }
    }

    #[test]
    fn rr_types() {
        assert_eq!(rr_type("AAAA"), Some(28));
        assert_eq!(rr_type("https"), Some(65));
        assert_eq!(rr_type("TYPE65"), Some(65));
        assert_eq!(rr_type("nope"), None);
        assert_eq!(rr_type("TYPE0"), None);
    }
}
