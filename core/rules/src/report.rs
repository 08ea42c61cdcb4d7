//! The parse report: how every line of a list was used, and why each unused
//! line was not.

use std::collections::BTreeMap;
use std::fmt;

use crate::name::NameError;

/// How many unused lines a report describes one by one. Beyond this only the
/// counts grow: a pasted file of garbage must not cost memory in proportion to
/// its size, but the user is still told how many lines were not used.
pub const MAX_UNUSED_DETAILS: usize = 1000;

/// The longest excerpt of a line kept in a report, in characters.
pub const EXCERPT_CHARS: usize = 80;

/// What kind of line a line was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LineKind {
    /// Empty or only whitespace.
    Blank,
    /// A `#` or `!` comment.
    Comment,
    /// A line that describes the machine, not a block: hosts lines for
    /// `localhost`, `broadcasthost`, `ip6-*`, `0.0.0.0 0.0.0.0`, and adblock
    /// headers such as `[Adblock Plus 2.0]`.
    Header,
    /// A hosts line (`0.0.0.0 name...`): blocks each exact name.
    Hosts,
    /// A plain domain: blocks the name and its subdomains.
    Domain,
    /// `||name^`: blocks the name and its subdomains.
    Adblock,
    /// `@@||name^` or `@@name`: allows the name and its subdomains.
    AdblockAllow,
    /// `*.name`: blocks the name and its subdomains.
    Wildcard,
    /// An adblock pattern the name table cannot hold (`||ads*.example^`,
    /// `||prefix.`, `name^`), or a rule with `$dnstype` or `$denyallow`.
    Pattern,
    /// An IPv4 or IPv6 address or CIDR range.
    Address,
    /// A `$badfilter` rule: switches off the rule it names, in every list.
    BadFilter,
    /// A line that was not used; see [`ParseReport::unused`].
    Unused,
}

/// Why a line was not used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The line is not valid UTF-8 text.
    NotUtf8,
    /// The line is longer than the parser reads (its start is reported).
    LineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// The text where a name was expected is not a valid name.
    BadName(NameError),
    /// A cosmetic (element hiding, scriptlet, HTML) rule: only a browser can
    /// apply it.
    Cosmetic,
    /// A bare regular expression (Pi-hole's regex lists, `^ads\.`), not
    /// adblock's `/.../`: read as adblock syntax it would mean something
    /// else.
    Regex,
    /// A `/.../` regular expression with look-around or backreferences,
    /// which the `regex` crate (linear-time by design) does not have.
    RegexLookaround,
    /// A `/.../` regular expression that does not compile, or not within
    /// [`crate::patterns::REGEX_SIZE_LIMIT`]: why.
    BadRegex(String),
    /// More `/.../` rules than a set keeps (see
    /// [`crate::patterns::MAX_REGEXES`]).
    TooManyRegexes,
    /// A URL or a name with a path: DNS only ever sees the name, so blocking
    /// part of a site cannot be done here, and blocking the whole name would
    /// block more than the line asks.
    Path,
    /// An adblock modifier neither tacet nor AdGuard knows.
    UnsupportedModifier(String),
    /// A modifier only a browser can apply (`$third-party`, `$domain`,
    /// `$script`, …): AdGuard Home does not use such rules either.
    BrowserOnly(String),
    /// `$client` or `$ctag`: they pick devices on a home network, which a
    /// firewall on the device itself has not.
    HomeServerOnly(String),
    /// A `$dnsrewrite` to an answer other than a block.
    Rewrite(String),
    /// A modifier with a value that does not parse (`$dnstype=BOGUS`).
    BadModifierValue(String),
    /// A pattern that matches (nearly) every name, such as `*` or `||a`:
    /// AdGuard refuses it unless a condition narrows it.
    TooWide,
    /// An address alone that hosts files map the machine's names to
    /// (`127.0.0.1`, `0.0.0.0`, `::1`): a hosts line without names.
    HostsWithoutNames,
    /// A block rule for a name of the device itself (`localhost` and
    /// names under it, `localhost4`, `ip6-loopback`, `broadcasthost`, …),
    /// which is never blocked.
    MachineName,
    /// More unindexed patterns than a set keeps (see
    /// [`crate::patterns::MAX_SCANNED`]).
    TooManyPatterns,
    /// More than one word, and the first is not an IP address (so it is not a
    /// hosts line).
    ExtraWords,
    /// An address or CIDR range that does not parse (e.g. a prefix over /32).
    BadAddress,
    /// A syntax from another tool that tacet does not read (dnsmasq
    /// `address=/…/`, Unbound `local-zone:`, …).
    ForeignSyntax(&'static str),
}

impl Problem {
    /// A short stable label for counting problems by kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotUtf8 => "not UTF-8",
            Self::LineTooLong { .. } => "line too long",
            Self::BadName(_) => "invalid name",
            Self::Cosmetic => "cosmetic rule",
            Self::Regex => "bare regular expression",
            Self::RegexLookaround => "regex with look-around",
            Self::BadRegex(_) => "invalid regex",
            Self::TooManyRegexes => "too many regexes",
            Self::Path => "URL or path",
            Self::UnsupportedModifier(_) => "unknown modifier",
            Self::BrowserOnly(_) => "browser-only modifier",
            Self::HomeServerOnly(_) => "home-network server modifier",
            Self::Rewrite(_) => "answer rewrite",
            Self::BadModifierValue(_) => "invalid modifier value",
            Self::TooWide => "too wide",
            Self::HostsWithoutNames => "hosts line without names",
            Self::MachineName => "name of the device itself",
            Self::TooManyPatterns => "too many unindexed patterns",
            Self::ExtraWords => "extra words",
            Self::BadAddress => "invalid address",
            Self::ForeignSyntax(_) => "other tool's syntax",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotUtf8 => write!(f, "not UTF-8 text"),
            Self::LineTooLong { limit } => write!(f, "line longer than {limit} bytes"),
            Self::BadName(e) => write!(f, "not a valid name: {e}"),
            Self::Cosmetic => write!(f, "cosmetic rule: only a browser can hide page elements"),
            Self::Regex => write!(
                f,
                "a bare regular expression (Pi-hole regex syntax) is not adblock syntax; write it as /.../"
            ),
            Self::RegexLookaround => write!(
                f,
                "uses lookaround/backreferences, which tacet cannot match"
            ),
            Self::BadRegex(why) => write!(f, "regular expression that tacet cannot use: {why}"),
            Self::TooManyRegexes => write!(
                f,
                "more than {} regular expressions in the lists",
                crate::patterns::MAX_REGEXES
            ),
            Self::Path => write!(f, "URL or path: DNS only sees names, not paths"),
            Self::UnsupportedModifier(m) => write!(
                f,
                "unknown modifier '${m}' (AdGuard Home does not read the rule either)"
            ),
            Self::BrowserOnly(m) => write!(
                f,
                "'${m}' applies to a browser's requests, not to DNS (AdGuard Home does not use the rule either)"
            ),
            Self::HomeServerOnly(m) => write!(
                f,
                "'${m}' picks clients of a home-network DNS server; on this device it does not apply"
            ),
            Self::Rewrite(v) => write!(
                f,
                "'$dnsrewrite={v}' rewrites the answer; tacet blocks or lets through, it does not make up answers"
            ),
            Self::BadModifierValue(m) => write!(f, "modifier '${m}' has a value that does not parse"),
            Self::TooWide => write!(
                f,
                "the pattern matches nearly every name (AdGuard refuses it too, unless $dnstype or $denyallow narrow it)"
            ),
            Self::HostsWithoutNames => write!(
                f,
                "a hosts-file address without names (blocking it would break the device's own services)"
            ),
            Self::MachineName => write!(
                f,
                "a name of the device itself (localhost and the like) is never blocked"
            ),
            Self::TooManyPatterns => write!(
                f,
                "more than {} patterns that no index covers (each is tried on every lookup)",
                crate::patterns::MAX_SCANNED
            ),
            Self::ExtraWords => write!(f, "several words, and the first is not an IP address"),
            Self::BadAddress => write!(f, "not a valid IP address or CIDR range"),
            Self::ForeignSyntax(what) => write!(f, "{what} syntax is not supported"),
        }
    }
}

/// One line that was not used (or one name on a hosts line that was not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnusedLine {
    /// The 1-based line number.
    pub line: u32,
    /// The start of the line, at most [`EXCERPT_CHARS`] characters.
    pub excerpt: String,
    /// Why it was not used.
    pub problem: Problem,
}

/// How many lines of each kind a list had.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineCounts {
    /// See [`LineKind::Blank`].
    pub blank: u64,
    /// See [`LineKind::Comment`].
    pub comment: u64,
    /// See [`LineKind::Header`].
    pub header: u64,
    /// See [`LineKind::Hosts`].
    pub hosts: u64,
    /// See [`LineKind::Domain`].
    pub domain: u64,
    /// See [`LineKind::Adblock`].
    pub adblock: u64,
    /// See [`LineKind::AdblockAllow`].
    pub adblock_allow: u64,
    /// See [`LineKind::Wildcard`].
    pub wildcard: u64,
    /// See [`LineKind::Pattern`].
    pub pattern: u64,
    /// See [`LineKind::Address`].
    pub address: u64,
    /// See [`LineKind::BadFilter`].
    pub badfilter: u64,
    /// See [`LineKind::Unused`].
    pub unused: u64,
}

impl LineCounts {
    fn slot(&mut self, kind: LineKind) -> &mut u64 {
        match kind {
            LineKind::Blank => &mut self.blank,
            LineKind::Comment => &mut self.comment,
            LineKind::Header => &mut self.header,
            LineKind::Hosts => &mut self.hosts,
            LineKind::Domain => &mut self.domain,
            LineKind::Adblock => &mut self.adblock,
            LineKind::AdblockAllow => &mut self.adblock_allow,
            LineKind::Wildcard => &mut self.wildcard,
            LineKind::Pattern => &mut self.pattern,
            LineKind::Address => &mut self.address,
            LineKind::BadFilter => &mut self.badfilter,
            LineKind::Unused => &mut self.unused,
        }
    }

    /// The count for one kind of line.
    pub fn get(&self, kind: LineKind) -> u64 {
        match kind {
            LineKind::Blank => self.blank,
            LineKind::Comment => self.comment,
            LineKind::Header => self.header,
            LineKind::Hosts => self.hosts,
            LineKind::Domain => self.domain,
            LineKind::Adblock => self.adblock,
            LineKind::AdblockAllow => self.adblock_allow,
            LineKind::Wildcard => self.wildcard,
            LineKind::Pattern => self.pattern,
            LineKind::Address => self.address,
            LineKind::BadFilter => self.badfilter,
            LineKind::Unused => self.unused,
        }
    }
}

/// How a list was read: counts per kind of line, and each unused line with its
/// number, an excerpt and the reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParseReport {
    /// Lines read.
    pub lines: u64,
    /// Rules taken from the list (a hosts line with three names gives three).
    pub rules: u64,
    /// Blank, comment and header lines.
    pub ignored: u64,
    /// Lines per kind.
    pub counts: LineCounts,
    /// Unused lines (and unused names on hosts lines), in order, at most
    /// [`MAX_UNUSED_DETAILS`] of them; `counts.unused` and `problems` keep
    /// counting beyond.
    pub unused: Vec<UnusedLine>,
    /// Unused lines and names per [`Problem::kind`], never capped.
    pub problems: BTreeMap<&'static str, u64>,
}

impl ParseReport {
    pub(crate) fn count(&mut self, kind: LineKind) {
        *self.counts.slot(kind) += 1;
        if matches!(kind, LineKind::Blank | LineKind::Comment | LineKind::Header) {
            self.ignored += 1;
        }
    }

    /// Records a problem without counting a line (a bad name on an otherwise
    /// used hosts line).
    pub(crate) fn problem(&mut self, line: u32, text: &str, problem: Problem) {
        *self.problems.entry(problem.kind()).or_insert(0) += 1;
        if self.unused.len() < MAX_UNUSED_DETAILS {
            self.unused.push(UnusedLine {
                line,
                excerpt: excerpt(text),
                problem,
            });
        }
    }

    /// Records an unused line.
    pub(crate) fn unused_line(&mut self, line: u32, text: &str, problem: Problem) {
        self.count(LineKind::Unused);
        self.problem(line, text, problem);
    }

    /// True when every line was used or deliberately ignored.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

impl ParseReport {
    /// The line counts worth showing, each with what that kind of line
    /// does, in a fixed order; kinds with no line are left out.
    pub fn count_rows(&self) -> impl Iterator<Item = (&'static str, u64)> {
        let c = &self.counts;
        [
            ("hosts lines (block the exact name)", c.hosts),
            ("plain domains (block name and subdomains)", c.domain),
            ("adblock ||name^", c.adblock),
            ("adblock @@ allow", c.adblock_allow),
            ("wildcards *.name", c.wildcard),
            (
                "adblock patterns (*, prefixes, $dnstype, $denyallow)",
                c.pattern,
            ),
            ("addresses and ranges", c.address),
            ("$badfilter", c.badfilter),
            ("comments", c.comment),
            ("blank", c.blank),
            ("headers (localhost etc.)", c.header),
            ("not used", c.unused),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
    }
}

impl fmt::Display for ParseReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} lines, {} rules", self.lines, self.rules)?;
        for (label, n) in self.count_rows() {
            writeln!(f, "  {n:>10}  {label}")?;
        }
        for (kind, n) in &self.problems {
            writeln!(f, "  {n:>10}  problem: {kind}")?;
        }
        for u in &self.unused {
            writeln!(f, "line {}: {}: {}", u.line, u.problem, u.excerpt)?;
        }
        let shown = self.unused.len() as u64;
        let total: u64 = self.problems.values().sum();
        if total > shown {
            writeln!(f, "… and {} more not shown", total - shown)?;
        }
        Ok(())
    }
}
