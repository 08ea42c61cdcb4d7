//! The line parser: reads a list from any [`BufRead`], one bounded line at a
//! time, and says what each line is.
//!
//! Name checks (IDNA, lengths) happen in the builder, which owns the reusable
//! buffers; this module only recognises syntax.

use std::io::{self, BufRead};
use std::net::IpAddr;

use crate::patterns::{Start, Types};
use crate::report::{LineKind, Problem};

/// Lines longer than this are cut and reported: no real list line comes near
/// it, and a pasted file without newlines must not be read into memory whole.
pub const MAX_LINE_BYTES: usize = 4096;

/// The most one list file may hold. The largest public lists are tens of
/// MiB (a million names is about 30 MiB); this bound is for what never
/// ends, such as `/dev/zero` or a FIFO given by mistake.
pub const MAX_LIST_BYTES: u64 = 256 << 20;

/// A reader that fails (with `InvalidData`, saying why) once more than
/// [`MAX_LIST_BYTES`] come from `inner`, so a list that never ends is an
/// error and not a firewall reading forever.
#[derive(Debug)]
pub struct Capped<R> {
    inner: R,
    limit: u64,
    left: u64,
}

impl<R> Capped<R> {
    /// `inner`, capped at [`MAX_LIST_BYTES`].
    pub fn new(inner: R) -> Self {
        Self::with_limit(inner, MAX_LIST_BYTES)
    }

    /// `inner`, capped at `limit` bytes.
    pub fn with_limit(inner: R, limit: u64) -> Self {
        Self {
            inner,
            limit,
            left: limit,
        }
    }
}

/// A list file's contents made ready to read: capped (see [`Capped`]), and
/// refused with what to do instead when it is a compiled rule set rather
/// than a list (its bytes would be read as lines of junk).
pub fn list_reader<R: std::io::Read>(inner: R) -> std::io::Result<std::io::BufReader<Capped<R>>> {
    use std::io::BufRead as _;
    let mut reader = std::io::BufReader::with_capacity(64 << 10, Capped::new(inner));
    if crate::RuleSet::looks_compiled(reader.fill_buf()?) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "this is a compiled rule set (made by `tacet compile`), not a list: \
             `tacet check --compiled FILE NAME` reads it; give `tacet run` the \
             text lists it was made from (it compiles them itself)",
        ));
    }
    Ok(reader)
}

impl<R: std::io::Read> std::io::Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        match self.left.checked_sub(n as u64) {
            Some(left) => {
                self.left = left;
                Ok(n)
            }
            None => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "larger than {} MiB, the most one list may hold",
                    self.limit >> 20
                ),
            )),
        }
    }
}

/// Reads lines of at most [`MAX_LINE_BYTES`] bytes from a [`BufRead`],
/// reusing one buffer, so that memory stays bounded whatever the input.
pub(crate) struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
}

/// One raw line: its bytes (without the newline) and whether it was cut.
pub(crate) struct RawLine<'a> {
    pub bytes: &'a [u8],
    pub truncated: bool,
}

impl<R: BufRead> LineReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            buf: Vec::with_capacity(256),
        }
    }

    /// The next line, or `None` at the end of the input.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<RawLine<'_>>> {
        self.buf.clear();
        let mut truncated = false;
        let mut seen_any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                if !seen_any {
                    return Ok(None);
                }
                break;
            }
            seen_any = true;
            let (part, used, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (chunk.get(..i).unwrap_or_default(), i + 1, true),
                None => (chunk, chunk.len(), false),
            };
            let room = MAX_LINE_BYTES.saturating_sub(self.buf.len());
            if part.len() > room {
                truncated = true;
            }
            self.buf
                .extend_from_slice(part.get(..room.min(part.len())).unwrap_or_default());
            self.inner.consume(used);
            if done {
                break;
            }
        }
        Ok(Some(RawLine {
            bytes: &self.buf,
            truncated,
        }))
    }
}

/// What one line says, before its names are checked.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    /// Blank, comment or header: nothing to use, nothing wrong.
    Ignore(LineKind),
    /// A hosts line: the address is dropped, each following word is a name.
    Hosts { names: &'a str },
    /// One name with its scope.
    Name(NameRule<'a>),
    /// An adblock pattern the name table cannot hold (see [`crate::patterns`]).
    Pattern(PatternLine<'a>),
    /// An address or CIDR range.
    Addr(AddrRule),
    /// A line that cannot be used, and why.
    Unused(Problem),
}

/// Adblock modifiers that mean something for DNS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Modifiers<'a> {
    pub important: bool,
    pub badfilter: bool,
    /// `$dnstype`: the query types the rule applies to, or not.
    pub types: Types,
    /// `$denyallow=a.com|b.com`: names (and their subdomains) the rule
    /// leaves alone, as written.
    pub denyallow: Option<&'a str>,
}

impl Modifiers<'_> {
    /// Whether the rule applies only to some queries ($dnstype,
    /// $denyallow), so that the name table, which answers by name alone,
    /// cannot hold it.
    pub(crate) fn has_conditions(&self) -> bool {
        !self.types.is_empty() || self.denyallow.is_some()
    }
}

/// A name rule as written, before normalization.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NameRule<'a> {
    pub kind: LineKind,
    pub name: &'a str,
    /// False only for `|name^`, which means exactly the name.
    pub subtree: bool,
    pub allow: bool,
    pub mods: Modifiers<'a>,
}

/// An adblock pattern as written (see [`crate::patterns`] for what it
/// matches): its start, its body (not yet lowercased) and whether it is
/// anchored at the end.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PatternLine<'a> {
    pub start: Start,
    pub body: &'a str,
    pub end: bool,
    pub allow: bool,
    pub mods: Modifiers<'a>,
}

/// An address rule: `addr/len`, with host bits cleared.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct AddrRule {
    pub net: IpAddr,
    pub len: u8,
    pub allow: bool,
    pub mods: Modifiers<'static>,
}

/// Names that hosts files list for the machine itself, not to block: the
/// Debian, Fedora/Red Hat, macOS and Windows defaults.
const HOSTS_HEADER_NAMES: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "localhost4",
    "localhost4.localdomain4",
    "localhost6",
    "localhost6.localdomain6",
    "local",
    "localdomain",
    "broadcasthost",
    "ip6-localhost",
    "ip6-loopback",
    "ip6-localnet",
    "ip6-mcastprefix",
    "ip6-allnodes",
    "ip6-allrouters",
    "ip6-allhosts",
    "0.0.0.0",
];

/// True for a hosts-file name that describes the machine (see
/// [`LineKind::Header`]), with or without a trailing dot, in any case.
pub(crate) fn is_hosts_header_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    is_machine_name(name) || parse_ip(name).is_some()
}

/// True for a name of the device itself, which no rule may block:
/// `localhost` and every name under it (RFC 6761 §6.3), and the other
/// names hosts files give the machine. `name` is normalized (lowercase,
/// no trailing dot) or at least ASCII.
pub fn is_machine_name(name: &str) -> bool {
    let under_localhost = name.len() > 10
        && name
            .get(name.len() - 10..)
            .is_some_and(|t| t.eq_ignore_ascii_case(".localhost"));
    // Every blocked lookup asks: the first byte rules out nearly all.
    let may_be_listed = matches!(
        name.as_bytes().first(),
        Some(b'l' | b'L' | b'b' | b'B' | b'i' | b'I' | b'0')
    );
    under_localhost
        || may_be_listed
            && HOSTS_HEADER_NAMES
                .iter()
                .any(|h| h.eq_ignore_ascii_case(name))
}

/// Addresses that hosts files map the machine's names to: alone on a
/// line they are a hosts line without names, never an address to block.
fn is_hosts_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_unspecified() || v4.is_broadcast(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.is_unspecified() || v6.segments().first() == Some(&0xff02)
        }
    }
}

/// Markers of cosmetic (element hiding, CSS, scriptlet, HTML filtering)
/// rules in adblock syntax. Each can follow a domain (`example.com##.ad`),
/// which must never be read as the domain.
const COSMETIC_MARKERS: &[&str] = &[
    "##", "#@#", "#?#", "#@?#", "#$#", "#@$#", "#%#", "#@%#", "$$", "$@$",
];

/// Characters that no name, hosts line or DNS adblock rule contains, but
/// regular expressions do.
const REGEX_ONLY_CHARS: &[char] = &['(', ')', '\\', '[', ']', '{', '}', '+'];

/// Says what one line (UTF-8, without its newline) is.
pub(crate) fn parse_line(raw: &str) -> Line<'_> {
    let line = raw.trim_start_matches('\u{feff}').trim();
    if line.is_empty() {
        return Line::Ignore(LineKind::Blank);
    }
    if let Some(fast) = common_line(line) {
        return fast;
    }
    if line.starts_with('#') {
        // `##.ad` hides elements on every site; `## Ads` is a comment.
        let generic_cosmetic = line
            .strip_prefix("##")
            .is_some_and(|r| r.starts_with(['.', '[', '*', ':']));
        return if generic_cosmetic || starts_cosmetic(line) {
            Line::Unused(Problem::Cosmetic)
        } else {
            Line::Ignore(LineKind::Comment)
        };
    }
    if line.starts_with('!') {
        return Line::Ignore(LineKind::Comment);
    }
    if line.starts_with('[') && line.ends_with(']') {
        return Line::Ignore(LineKind::Header);
    }
    let line = strip_inline_comment(line);
    if COSMETIC_MARKERS.iter().any(|m| line.contains(m)) {
        return Line::Unused(Problem::Cosmetic);
    }
    if let Some(foreign) = foreign_syntax(line) {
        return Line::Unused(Problem::ForeignSyntax(foreign));
    }
    let (allow, body) = match line.strip_prefix("@@") {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    if body.len() > 1 && body.starts_with('/') && (body.ends_with('/') || body.contains("/$")) {
        return regex_rule(body, allow);
    }
    // Pi-hole and other tools' regular expressions, which adblock syntax
    // would otherwise read as literal patterns.
    if body.starts_with('^') || body.ends_with('$') && !body.ends_with("\\$") {
        return Line::Unused(Problem::Regex);
    }
    let before_mods = body.split_once('$').map_or(body, |(p, _)| p);
    if before_mods.contains("://") {
        return Line::Unused(Problem::Path);
    }
    if before_mods.contains(REGEX_ONLY_CHARS) {
        return Line::Unused(Problem::Regex);
    }
    let (pattern, mods) = match body.split_once('$') {
        Some((p, m)) if !m.is_empty() => match parse_modifiers(m, allow) {
            Ok(mods) => (p, Some(mods)),
            Err(problem) => return Line::Unused(problem),
        },
        Some(_) => return Line::Unused(Problem::Regex),
        None => (body, None),
    };
    let has_mods = mods.is_some();
    let mods = mods.unwrap_or_default();

    if let Some(inner) = pattern.strip_prefix("||") {
        return adblock(Start::Label, inner, pattern, allow, mods);
    }
    if let Some(inner) = pattern.strip_prefix('|') {
        return adblock(Start::Name, inner, pattern, allow, mods);
    }
    if let Some(name) = pattern.strip_prefix("*.") {
        if !name.contains(['*', '^', '|']) {
            return name_rule(LineKind::Wildcard, name, true, allow, mods);
        }
    }
    if pattern.contains(['*', '^', '|']) {
        return adblock(Start::Any, pattern, pattern, allow, mods);
    }

    let mut words = pattern.split_whitespace();
    let first = words.next().unwrap_or_default();
    let rest_start = first.len();
    let has_more = words.next().is_some();
    if let Some(ip) = parse_ip(first) {
        if has_more {
            if allow || has_mods {
                return Line::Unused(Problem::ExtraWords);
            }
            let names = pattern.get(rest_start..).unwrap_or_default().trim();
            return Line::Hosts { names };
        }
        if is_hosts_address(ip) && !allow && !has_mods {
            return Line::Unused(Problem::HostsWithoutNames);
        }
        return addr_rule(ip, None, allow, mods);
    }
    if let Some((addr, len)) = first.split_once('/') {
        if let Some(ip) = parse_ip(addr) {
            if has_more {
                return Line::Unused(Problem::ExtraWords);
            }
            return match len.parse::<u8>() {
                Ok(len) => addr_rule(ip, Some(len), allow, mods),
                Err(_) => Line::Unused(Problem::BadAddress),
            };
        }
        return Line::Unused(Problem::Path);
    }
    if has_more {
        return Line::Unused(Problem::ExtraWords);
    }
    if first.contains(['?', '=', '&', ':']) {
        return Line::Unused(Problem::Path);
    }
    let kind = if allow {
        LineKind::AdblockAllow
    } else {
        LineKind::Domain
    };
    name_rule(kind, first, true, allow, mods)
}

/// The shapes that make up nearly all of real lists, recognised in one scan
/// (millions of lines are read on a phone); anything else takes the full path.
fn common_line(line: &str) -> Option<Line<'_>> {
    fn plain(text: &str) -> bool {
        // A letter rules out an IPv4 address, which takes the full path.
        !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
            && text.bytes().any(|b| b.is_ascii_alphabetic())
    }
    let name = |kind, name| {
        Some(Line::Name(NameRule {
            kind,
            name,
            subtree: true,
            allow: false,
            mods: Modifiers::default(),
        }))
    };
    if plain(line) {
        return name(LineKind::Domain, line);
    }
    if let Some(inner) = line.strip_prefix("||").and_then(|r| r.strip_suffix('^')) {
        return if plain(inner) {
            name(LineKind::Adblock, inner)
        } else {
            None
        };
    }
    if let Some(inner) = line.strip_prefix("*.") {
        return if plain(inner) {
            name(LineKind::Wildcard, inner)
        } else {
            None
        };
    }
    let rest = line
        .strip_prefix("0.0.0.0")
        .or_else(|| line.strip_prefix("127.0.0.1"))?;
    let names = rest.trim_start_matches([' ', '\t']);
    (names.len() < rest.len() && plain(names)).then_some(Line::Hosts { names })
}

/// An adblock rule: `pattern` as written (for AdGuard's "too wide" check),
/// `inner` what follows its start anchor.
///
/// AdGuard's rewrites come first: a trailing `/*` is a `^`; then a
/// trailing `|` and `^` (in that order) anchor at the end. What is left
/// is a name (the name table holds it), an address, or a pattern.
fn adblock<'a>(
    start: Start,
    inner: &'a str,
    pattern: &str,
    allow: bool,
    mods: Modifiers<'a>,
) -> Line<'a> {
    let (mut body, mut end, mut written_len) = match inner.strip_suffix("/*") {
        Some(b) => (b, true, pattern.len() - 1),
        None => (inner, false, pattern.len()),
    };
    if let Some(b) = body.strip_suffix('|') {
        (body, end) = (b, true);
    }
    if let Some(b) = body.strip_suffix('^') {
        (body, end) = (b, true);
    }
    // AdGuard refuses patterns that match nearly everything, unless a
    // condition narrows them.
    if matches!(pattern, "||" | "|" | "*" | "") {
        written_len = 0;
    }
    if written_len < 3 && !mods.has_conditions() {
        return Line::Unused(Problem::TooWide);
    }
    if body.contains(['/', ':', '?', '=', '&', '|', ' ', '\t']) {
        // A name is all AdGuard Home matches a DNS pattern against: a path,
        // a port or an inner `|` never matches.
        return Line::Unused(Problem::Path);
    }
    if let Some(ip) = parse_ip(body) {
        return addr_rule(ip, None, allow, mods.into_static());
    }
    let kind = if allow {
        LineKind::AdblockAllow
    } else {
        LineKind::Adblock
    };
    let plain = |s: &str| !s.is_empty() && !s.contains(['*', '^']);
    match start {
        // `||*.name^` is read as `||name^`: see the crate docs on wildcards.
        Start::Label if end && body.strip_prefix("*.").is_some_and(plain) => {
            name_rule(kind, body.get(2..).unwrap_or_default(), true, allow, mods)
        }
        Start::Label if end && plain(body) => name_rule(kind, body, true, allow, mods),
        Start::Name if end && plain(body) => name_rule(kind, body, false, allow, mods),
        _ => {
            if let Some(ch) = body.chars().find(|&c| {
                !(c.is_ascii() && crate::patterns::is_body_byte(c.to_ascii_lowercase() as u8))
            }) {
                return Line::Unused(Problem::BadName(crate::NameError::BadChar { ch }));
            }
            if body
                .split('.')
                .any(|l| l.len() > crate::name::MAX_LABEL_LEN)
                || body.len() > crate::name::MAX_NAME_LEN
            {
                return Line::Unused(Problem::BadName(crate::NameError::TooLong {
                    len: body.len(),
                }));
            }
            Line::Pattern(PatternLine {
                start,
                body,
                end,
                allow,
                mods,
            })
        }
    }
}

/// A `/re/` rule, with modifiers after `/$` (`body` starts with `/`).
fn regex_rule(body: &str, allow: bool) -> Line<'_> {
    let (source, mods) = if body.len() >= 2 && body.ends_with('/') {
        (body.get(1..body.len() - 1).unwrap_or_default(), None)
    } else {
        match body.rfind("/$") {
            Some(at) if at > 0 => (
                body.get(1..at).unwrap_or_default(),
                Some(body.get(at + 2..).unwrap_or_default()),
            ),
            _ => return Line::Unused(Problem::BadRegex("no closing '/'".into())),
        }
    };
    let mods = match mods {
        Some(m) if !m.is_empty() => match parse_modifiers(m, allow) {
            Ok(mods) => mods,
            Err(problem) => return Line::Unused(problem),
        },
        Some(_) => return Line::Unused(Problem::BadRegex("'$' without modifiers".into())),
        None => Modifiers::default(),
    };
    if source.is_empty() && !mods.has_conditions() {
        return Line::Unused(Problem::TooWide);
    }
    match crate::patterns::check_regex(source) {
        Ok(()) => Line::Pattern(PatternLine {
            start: Start::Regex,
            body: source,
            end: false,
            allow,
            mods,
        }),
        Err(crate::patterns::RegexProblem::Lookaround) => Line::Unused(Problem::RegexLookaround),
        Err(crate::patterns::RegexProblem::Invalid(why)) => Line::Unused(Problem::BadRegex(why)),
    }
}

fn name_rule<'a>(
    kind: LineKind,
    name: &'a str,
    subtree: bool,
    allow: bool,
    mods: Modifiers<'a>,
) -> Line<'a> {
    if name.contains('/') {
        return Line::Unused(Problem::Path);
    }
    let kind = if mods.badfilter {
        LineKind::BadFilter
    } else {
        kind
    };
    Line::Name(NameRule {
        kind,
        name,
        subtree,
        allow,
        mods,
    })
}

impl Modifiers<'_> {
    /// The modifiers an address rule keeps (conditions do not apply to
    /// addresses).
    fn into_static(self) -> Modifiers<'static> {
        Modifiers {
            important: self.important,
            badfilter: self.badfilter,
            types: Types::default(),
            denyallow: None,
        }
    }
}

fn addr_rule(ip: IpAddr, len: Option<u8>, allow: bool, mods: Modifiers) -> Line<'static> {
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    if len > max {
        return Line::Unused(Problem::BadAddress);
    }
    if mods.has_conditions() {
        return Line::Unused(Problem::BadModifierValue(
            "$dnstype and $denyallow apply to names, not addresses".into(),
        ));
    }
    Line::Addr(AddrRule {
        net: mask(ip, len),
        len,
        allow,
        mods: mods.into_static(),
    })
}

/// Clears the host bits of `ip` beyond a prefix of `len` bits.
pub(crate) fn mask(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            IpAddr::V6((bits & m).into())
        }
    }
}

/// An IP address, with an IPv6 zone (`fe80::1%lo0`, seen in hosts headers)
/// removed.
fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text.split_once('%').map_or(text, |(addr, _zone)| addr);
    text.parse().ok()
}

/// Modifiers that only a browser (or AdGuard's apps, which filter web
/// traffic) can apply: AdGuard Home does not use rules that carry them
/// (`IsHostLevelNetworkRule`), or never matches them (a request type
/// other than a document).
const BROWSER_MODIFIERS: &[&str] = &[
    "domain",
    "from",
    "third-party",
    "3p",
    "first-party",
    "1p",
    "~third-party",
    "~first-party",
    "match-case",
    "~match-case",
    "document",
    "doc",
    "popup",
    "elemhide",
    "ehide",
    "generichide",
    "ghide",
    "genericblock",
    "jsinject",
    "urlblock",
    "content",
    "extension",
    "stealth",
    "empty",
    "mp4",
    "csp",
    "replace",
    "cookie",
    "redirect",
    "redirect-rule",
    "removeparam",
    "removeheader",
    "header",
    "method",
    "to",
    "permissions",
    "hls",
    "jsonprune",
    "network",
    "app",
    "all",
];

/// Request types: on a rule, AdGuard Home never matches it (a DNS query is
/// a "document" request); negated (`~script`), the rule applies as if the
/// modifier were not there.
const REQUEST_TYPES: &[&str] = &[
    "script",
    "image",
    "stylesheet",
    "css",
    "subdocument",
    "frame",
    "object",
    "xmlhttprequest",
    "xhr",
    "media",
    "font",
    "websocket",
    "ping",
    "other",
    "webrtc",
    "object-subrequest",
];

/// Parses the modifiers after `$`. `$important`, `$badfilter`, `$dnstype`,
/// `$denyallow` and the `$dnsrewrite`s that block are used; any other
/// makes the line unused (with why), because applying the rule without it
/// would block more than it says.
///
/// On an allow rule, `$dnsrewrite` (which there only switches off
/// rewrites, which tacet reads as blocks) and `$client`/`$ctag` (an allow
/// for some devices) are dropped and the rule allows for every query: an
/// allow rule is never lost, and allowing too much breaks less than
/// blocking what a list allows.
fn parse_modifiers(text: &str, allow: bool) -> Result<Modifiers<'_>, Problem> {
    let mut mods = Modifiers::default();
    for m in text.split(',').map(str::trim) {
        let (name, value) = match m.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (m, None),
        };
        match (name, value) {
            ("important", None) => mods.important = true,
            ("badfilter", None) => mods.badfilter = true,
            ("dnstype", Some(v)) => {
                for t in v.split('|') {
                    let (not, t) = match t.strip_prefix('~') {
                        Some(t) => (true, t),
                        None => (false, t),
                    };
                    let Some(t) = crate::patterns::rr_type(t) else {
                        return Err(Problem::BadModifierValue(m.to_owned()));
                    };
                    if not {
                        mods.types.not.push(t);
                    } else {
                        mods.types.only.push(t);
                    }
                }
            }
            ("denyallow", Some(v)) => {
                if v.is_empty() || v.split('|').any(|d| d.is_empty() || d.starts_with('~')) {
                    return Err(Problem::BadModifierValue(m.to_owned()));
                }
                mods.denyallow = Some(v);
            }
            ("dnsrewrite" | "client" | "ctag", _) if allow => {}
            ("dnsrewrite", value) => {
                if !rewrite_blocks(value.unwrap_or_default()) {
                    return Err(Problem::Rewrite(value.unwrap_or_default().to_owned()));
                }
            }
            ("client" | "ctag", _) => return Err(Problem::HomeServerOnly(name.to_owned())),
            _ if BROWSER_MODIFIERS.contains(&name) => {
                return Err(Problem::BrowserOnly(name.to_owned()))
            }
            _ if REQUEST_TYPES.contains(&name) => {
                return Err(Problem::BrowserOnly(name.to_owned()))
            }
            _ if name
                .strip_prefix('~')
                .is_some_and(|t| REQUEST_TYPES.contains(&t)) => {}
            _ => return Err(Problem::UnsupportedModifier(m.to_owned())),
        }
    }
    Ok(mods)
}

/// Whether a `$dnsrewrite` answer is a block, which tacet gives in its own
/// way: an error code (`NXDOMAIN`, `REFUSED`, `SERVFAIL`), an empty
/// `NOERROR`, or the unspecified or loopback address.
fn rewrite_blocks(value: &str) -> bool {
    let v = value.trim().to_ascii_lowercase();
    let v = v.strip_suffix(";;").unwrap_or(&v);
    matches!(
        v,
        "nxdomain"
            | "refused"
            | "servfail"
            | "noerror"
            | "0.0.0.0"
            | "::"
            | "127.0.0.1"
            | "::1"
            | "noerror;a;0.0.0.0"
            | "noerror;aaaa;::"
            | "noerror;a;127.0.0.1"
            | "noerror;aaaa;::1"
    )
}

/// A `#` preceded by whitespace starts a comment (hosts files write
/// `0.0.0.0 name # why`); a `#` glued to text does not (that is a cosmetic
/// rule, or garbage), so it stays and is reported.
fn strip_inline_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && i > 0 && bytes.get(i - 1).is_some_and(u8::is_ascii_whitespace) {
            return line.get(..i).unwrap_or(line).trim_end();
        }
    }
    line
}

fn starts_cosmetic(line: &str) -> bool {
    COSMETIC_MARKERS
        .iter()
        .filter(|m| m.len() > 2)
        .any(|m| line.starts_with(m))
}

fn foreign_syntax(line: &str) -> Option<&'static str> {
    if ["address=/", "server=/", "local=/", "ipset=/", "nftset=/"]
        .iter()
        .any(|p| line.starts_with(p))
    {
        Some("dnsmasq")
    } else if line.starts_with("local-zone:") || line.starts_with("local-data:") {
        Some("Unbound")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_that_never_ends_is_an_error_not_a_hang() {
        use std::io::Read as _;
        // /dev/zero's like: one endless line.
        let endless = Capped::with_limit(std::io::repeat(0), 3 << 20);
        let mut builder = crate::RuleSetBuilder::new();
        let info = crate::ListInfo {
            id: "zero".into(),
            title: "zero".into(),
        };
        let err = builder
            .add_list(info, std::io::BufReader::new(endless))
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("larger than 3 MiB"), "{err}");
        // Up to the limit, everything is read.
        let mut all = Vec::new();
        Capped::with_limit(&b"a.example\nb.example\n"[..], 20)
            .read_to_end(&mut all)
            .unwrap();
        assert_eq!(all.len(), 20);
    }
    use std::io::Cursor;

    fn name(kind: LineKind, name: &str, allow: bool) -> Line<'_> {
        Line::Name(NameRule {
            kind,
            name,
            subtree: true,
            allow,
            mods: Modifiers::default(),
        })
    }

    #[test]
    fn comments_blanks_headers() {
        assert_eq!(parse_line(""), Line::Ignore(LineKind::Blank));
        assert_eq!(parse_line("   \t"), Line::Ignore(LineKind::Blank));
        assert_eq!(parse_line("# hello"), Line::Ignore(LineKind::Comment));
        assert_eq!(parse_line("## Section"), Line::Ignore(LineKind::Comment));
        assert_eq!(parse_line("#example.com"), Line::Ignore(LineKind::Comment));
        assert_eq!(parse_line("! Title: x"), Line::Ignore(LineKind::Comment));
        assert_eq!(
            parse_line("[Adblock Plus 2.0]"),
            Line::Ignore(LineKind::Header)
        );
        assert_eq!(parse_line("\u{feff}# bom"), Line::Ignore(LineKind::Comment));
    }

    #[test]
    fn hosts_lines() {
        assert_eq!(
            parse_line("0.0.0.0 ads.example"),
            Line::Hosts {
                names: "ads.example"
            }
        );
        assert_eq!(
            parse_line("127.0.0.1\tads.example  b.example # why"),
            Line::Hosts {
                names: "ads.example  b.example"
            }
        );
        assert_eq!(
            parse_line("::1 ip6-localhost"),
            Line::Hosts {
                names: "ip6-localhost"
            }
        );
        assert_eq!(
            parse_line("fe80::1%lo0 localhost"),
            Line::Hosts { names: "localhost" }
        );
        assert!(is_hosts_header_name("localhost"));
        assert!(is_hosts_header_name("0.0.0.0"));
        assert!(!is_hosts_header_name("ads.example"));
    }

    #[test]
    fn names_and_adblock() {
        assert_eq!(
            parse_line("ads.example"),
            name(LineKind::Domain, "ads.example", false)
        );
        assert_eq!(
            parse_line("ads.example # why"),
            name(LineKind::Domain, "ads.example", false)
        );
        assert_eq!(
            parse_line("||ads.example^"),
            name(LineKind::Adblock, "ads.example", false)
        );
        assert_eq!(
            parse_line("||ads.example^|"),
            name(LineKind::Adblock, "ads.example", false)
        );
        assert_eq!(
            parse_line("@@||ok.example^"),
            name(LineKind::AdblockAllow, "ok.example", true)
        );
        assert_eq!(
            parse_line("@@ok.example"),
            name(LineKind::AdblockAllow, "ok.example", true)
        );
        assert_eq!(
            parse_line("|exact.example^"),
            Line::Name(NameRule {
                kind: LineKind::Adblock,
                name: "exact.example",
                subtree: false,
                allow: false,
                mods: Modifiers::default()
            })
        );
        assert_eq!(
            parse_line("*.ads.example"),
            name(LineKind::Wildcard, "ads.example", false)
        );
        assert_eq!(
            parse_line("||*.ads.example^"),
            name(LineKind::Adblock, "ads.example", false)
        );
        assert_eq!(
            parse_line("||ads.example^$important"),
            Line::Name(NameRule {
                kind: LineKind::Adblock,
                name: "ads.example",
                subtree: true,
                allow: false,
                mods: Modifiers {
                    important: true,
                    ..Modifiers::default()
                }
            })
        );
        assert_eq!(
            parse_line("||ads.example^$badfilter"),
            Line::Name(NameRule {
                kind: LineKind::BadFilter,
                name: "ads.example",
                subtree: true,
                allow: false,
                mods: Modifiers {
                    badfilter: true,
                    ..Modifiers::default()
                }
            })
        );
    }

    #[test]
    fn unsupported_lines_are_reported() {
        let unused = |l: &str| match parse_line(l) {
            Line::Unused(p) => p,
            other => panic!("{l:?} parsed as {other:?}"),
        };
        assert_eq!(unused("example.com##.banner"), Problem::Cosmetic);
        assert_eq!(unused("##.banner"), Problem::Cosmetic);
        assert_eq!(unused("#@#.banner"), Problem::Cosmetic);
        assert_eq!(unused("example.com#$#body { x }"), Problem::Cosmetic);
        assert_eq!(unused("example.com$$script"), Problem::Cosmetic);
        assert_eq!(
            unused("/(?<=ads)x/"),
            Problem::RegexLookaround,
            "lookbehind"
        );
        assert_eq!(unused("/a(?!b)/"), Problem::RegexLookaround);
        assert_eq!(unused("/(a)\\1/"), Problem::RegexLookaround);
        assert!(matches!(unused("/ads[/"), Problem::BadRegex(_)));
        assert!(matches!(unused("/a{99999}/"), Problem::BadRegex(_)));
        assert!(matches!(
            unused("/((a{50}){50}){50}/"),
            Problem::BadRegex(_)
        ));
        // A Unicode class Go takes is used (see patterns); one it does not
        // know is refused by both.
        assert!(matches!(unused("/\\p{Nonsense}/"), Problem::BadRegex(_)));
        assert_eq!(unused("//"), Problem::TooWide);
        assert_eq!(
            unused("/ads/$third-party"),
            Problem::BrowserOnly("third-party".into())
        );
        assert_eq!(unused("(^|\\.)lgsmartad\\.com$"), Problem::Regex);
        assert_eq!(unused("^[a-rt-z][a-z]{10,14}$"), Problem::Regex);
        assert_eq!(unused("||example.com/ads^"), Problem::Path);
        assert_eq!(unused("||example.com/ads"), Problem::Path);
        assert_eq!(unused("||example.com:8080^"), Problem::Path);
        assert_eq!(unused("example.com/ads"), Problem::Path);
        assert_eq!(unused("https://example.com/"), Problem::Path);
        assert_eq!(unused("|https://example.com^"), Problem::Path);
        assert_eq!(
            unused("||example.com^$third-party"),
            Problem::BrowserOnly("third-party".into())
        );
        assert_eq!(
            unused("||example.com^$domain=a.com"),
            Problem::BrowserOnly("domain".into())
        );
        assert_eq!(
            unused("||example.com^$script"),
            Problem::BrowserOnly("script".into())
        );
        assert_eq!(
            unused("||example.com^$client=192.168.0.1"),
            Problem::HomeServerOnly("client".into())
        );
        assert_eq!(
            unused("||example.com^$ctag=device_phone"),
            Problem::HomeServerOnly("ctag".into())
        );
        assert_eq!(
            unused("||example.com^$bogus"),
            Problem::UnsupportedModifier("bogus".into())
        );
        assert_eq!(
            unused("||example.com^$dnstype=BOGUS"),
            Problem::BadModifierValue("dnstype=BOGUS".into())
        );
        assert_eq!(
            unused("||example.com^$dnsrewrite=1.2.3.4"),
            Problem::Rewrite("1.2.3.4".into())
        );
        assert_eq!(unused("*"), Problem::TooWide);
        assert_eq!(unused("|a"), Problem::TooWide);
        assert_eq!(unused("@@*"), Problem::TooWide);
        assert_eq!(unused("127.0.0.1"), Problem::HostsWithoutNames);
        assert_eq!(unused("0.0.0.0"), Problem::HostsWithoutNames);
        assert_eq!(unused("::1"), Problem::HostsWithoutNames);
        assert_eq!(unused("example.com other.com"), Problem::ExtraWords);
        assert_eq!(unused("10.0.0.0/33"), Problem::BadAddress);
        assert_eq!(unused("10.0.0.0/x"), Problem::BadAddress);
        assert_eq!(
            unused("address=/example.com/0.0.0.0"),
            Problem::ForeignSyntax("dnsmasq")
        );
        assert_eq!(
            unused("local-zone: \"example.com\" refuse"),
            Problem::ForeignSyntax("Unbound")
        );
    }

    #[test]
    fn addresses() {
        let addr = |l: &str| match parse_line(l) {
            Line::Addr(a) => (a.net, a.len, a.allow),
            other => panic!("{l:?} parsed as {other:?}"),
        };
        assert_eq!(addr("1.2.3.4"), ("1.2.3.4".parse().unwrap(), 32, false));
        assert_eq!(addr("9.9.9.9^"), ("9.9.9.9".parse().unwrap(), 32, false));
        assert_eq!(addr("|9.9.9.9^"), ("9.9.9.9".parse().unwrap(), 32, false));
        assert_eq!(addr("10.1.2.3/8"), ("10.0.0.0".parse().unwrap(), 8, false));
        assert_eq!(
            addr("2001:db8::1"),
            ("2001:db8::1".parse().unwrap(), 128, false)
        );
        assert_eq!(
            addr("2001:db8::/32"),
            ("2001:db8::".parse().unwrap(), 32, false)
        );
        assert_eq!(
            addr("@@192.168.0.0/16"),
            ("192.168.0.0".parse().unwrap(), 16, true)
        );
        assert_eq!(addr("||1.2.3.4^"), ("1.2.3.4".parse().unwrap(), 32, false));
        assert_eq!(addr("0.0.0.0/0"), ("0.0.0.0".parse().unwrap(), 0, false));
    }

    #[test]
    fn line_reader_bounds_lines() {
        let long = "a".repeat(MAX_LINE_BYTES + 10);
        let text = format!("one\r\n{long}\nlast");
        let mut reader = LineReader::new(Cursor::new(text.into_bytes()));
        let l = reader.next_line().unwrap().unwrap();
        assert_eq!((l.bytes, l.truncated), (&b"one\r"[..], false));
        let l = reader.next_line().unwrap().unwrap();
        assert_eq!((l.bytes.len(), l.truncated), (MAX_LINE_BYTES, true));
        let l = reader.next_line().unwrap().unwrap();
        assert_eq!((l.bytes, l.truncated), (&b"last"[..], false));
        assert!(reader.next_line().unwrap().is_none());
    }

    #[test]
    fn line_reader_small_buffers() {
        let text = "alpha\nbeta\n\ngamma\n";
        let mut reader = LineReader::new(std::io::BufReader::with_capacity(2, text.as_bytes()));
        let mut lines = Vec::new();
        while let Some(l) = reader.next_line().unwrap() {
            lines.push(String::from_utf8(l.bytes.to_vec()).unwrap());
        }
        assert_eq!(lines, ["alpha", "beta", "", "gamma"]);
    }
}
