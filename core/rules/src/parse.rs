//! The line parser: reads a list from any [`BufRead`], one bounded line at a
//! time, and says what each line is.
//!
//! Name checks (IDNA, lengths) happen in the builder, which owns the reusable
//! buffers; this module only recognises syntax.

use std::io::{self, BufRead};
use std::net::IpAddr;

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
    /// An address or CIDR range.
    Addr(AddrRule),
    /// A line that cannot be used, and why.
    Unused(Problem),
}

/// Adblock modifiers that mean something for DNS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Modifiers {
    pub important: bool,
    pub badfilter: bool,
}

/// A name rule as written, before normalization.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NameRule<'a> {
    pub kind: LineKind,
    pub name: &'a str,
    /// False only for `|name^`, which means exactly the name.
    pub subtree: bool,
    pub allow: bool,
    pub mods: Modifiers,
}

/// An address rule: `addr/len`, with host bits cleared.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct AddrRule {
    pub net: IpAddr,
    pub len: u8,
    pub allow: bool,
    pub mods: Modifiers,
}

/// Names that hosts files list for the machine itself, not to block.
const HOSTS_HEADER_NAMES: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "local",
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
/// [`LineKind::Header`]).
pub(crate) fn is_hosts_header_name(name: &str) -> bool {
    HOSTS_HEADER_NAMES
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
        || parse_ip(name).is_some()
}

/// Markers of cosmetic (element hiding, CSS, scriptlet, HTML filtering)
/// rules in adblock syntax. Each can follow a domain (`example.com##.ad`),
/// which must never be read as the domain.
const COSMETIC_MARKERS: &[&str] = &[
    "##", "#@#", "#?#", "#@?#", "#$#", "#@$#", "#%#", "#@%#", "$$", "$@$",
];

/// Characters that no name, hosts line or DNS adblock rule contains, but
/// regular expressions do.
const REGEX_ONLY_CHARS: &[char] = &['(', ')', '\\', '[', ']', '{', '}', '+', '?'];

/// Characters that, left in a plain line, show it is a regular expression.
const REGEX_CHARS: &[char] = &['^', '$', '(', ')', '|', '\\', '[', ']', '{', '}', '+', '?'];

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
        // A '$' with nothing after it, or before it, is a regex anchor.
        Some((p, m)) if !p.is_empty() && !m.is_empty() => match parse_modifiers(m) {
            Ok(mods) => (p, Some(mods)),
            Err(problem) => return Line::Unused(problem),
        },
        Some(_) => return Line::Unused(Problem::Regex),
        None => (body, None),
    };
    let has_mods = mods.is_some();
    let mods = mods.unwrap_or_default();

    if let Some(inner) = pattern.strip_prefix("||") {
        return parse_adblock(inner, allow, mods);
    }
    if let Some(inner) = pattern.strip_prefix('|') {
        return parse_exact_adblock(inner, allow, mods);
    }
    if let Some(name) = pattern.strip_prefix("*.") {
        return name_rule(LineKind::Wildcard, name, allow, mods);
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
            let _ = ip;
            return Line::Hosts { names };
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
    if first.contains(REGEX_CHARS) {
        return Line::Unused(Problem::Regex);
    }
    let kind = if allow {
        LineKind::AdblockAllow
    } else {
        LineKind::Domain
    };
    name_rule(kind, first, allow, mods)
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

/// `||name^` and its variants, after the `||`.
fn parse_adblock(inner: &str, allow: bool, mods: Modifiers) -> Line<'_> {
    let name = if let Some(n) = inner.strip_suffix("^|") {
        n
    } else if let Some(n) = inner.strip_suffix('^') {
        n
    } else if inner.contains(['/', ':', '^']) {
        return Line::Unused(Problem::Path);
    } else {
        return Line::Unused(Problem::NoSeparator);
    };
    if name.contains(['/', ':', '^', '|', '?', '=', '&']) {
        return Line::Unused(Problem::Path);
    }
    if let Some(ip) = parse_ip(name) {
        return addr_rule(ip, None, allow, mods);
    }
    // `||*.name^` is read as `||name^`: see the crate docs on wildcards.
    let name = name.strip_prefix("*.").unwrap_or(name);
    let kind = if allow {
        LineKind::AdblockAllow
    } else {
        LineKind::Adblock
    };
    name_rule(kind, name, allow, mods)
}

/// `|name^` (after the `|`): in AdGuard's DNS syntax, exactly `name`.
fn parse_exact_adblock(inner: &str, allow: bool, mods: Modifiers) -> Line<'_> {
    let Some(name) = inner.strip_suffix("^|").or_else(|| inner.strip_suffix('^')) else {
        return Line::Unused(Problem::Path);
    };
    if name.contains(['/', ':', '^', '|', '?', '=', '&', '*']) {
        return Line::Unused(Problem::Path);
    }
    if let Some(ip) = parse_ip(name) {
        return addr_rule(ip, None, allow, mods);
    }
    match name_rule(
        if allow {
            LineKind::AdblockAllow
        } else {
            LineKind::Adblock
        },
        name,
        allow,
        mods,
    ) {
        Line::Name(rule) => Line::Name(NameRule {
            subtree: false,
            ..rule
        }),
        other => other,
    }
}

fn name_rule(kind: LineKind, name: &str, allow: bool, mods: Modifiers) -> Line<'_> {
    if name.contains('*') {
        return Line::Unused(Problem::InnerWildcard);
    }
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
        subtree: true,
        allow,
        mods,
    })
}

fn addr_rule(ip: IpAddr, len: Option<u8>, allow: bool, mods: Modifiers) -> Line<'static> {
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    if len > max {
        return Line::Unused(Problem::BadAddress);
    }
    Line::Addr(AddrRule {
        net: mask(ip, len),
        len,
        allow,
        mods,
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

/// Parses `$important,badfilter`; any other modifier makes the line unused,
/// because applying the rule without it would block more than it says.
fn parse_modifiers(text: &str) -> Result<Modifiers, Problem> {
    let mut mods = Modifiers::default();
    for m in text.split(',').map(str::trim) {
        match m {
            "important" => mods.important = true,
            "badfilter" => mods.badfilter = true,
            other => return Err(Problem::UnsupportedModifier(other.to_owned())),
        }
    }
    Ok(mods)
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
                    badfilter: false
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
                    important: false,
                    badfilter: true
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
        assert_eq!(unused("/ads[0-9]+\\.example/"), Problem::Regex);
        assert_eq!(unused("/banner/$important"), Problem::Regex);
        assert_eq!(unused("(^|\\.)lgsmartad\\.com$"), Problem::Regex);
        assert_eq!(unused("^[a-rt-z][a-z]{10,14}$"), Problem::Regex);
        assert_eq!(unused("||example.com/ads^"), Problem::Path);
        assert_eq!(unused("||example.com/ads"), Problem::Path);
        assert_eq!(unused("example.com/ads"), Problem::Path);
        assert_eq!(unused("https://example.com/"), Problem::Path);
        assert_eq!(unused("|https://example.com^"), Problem::Path);
        assert_eq!(unused("|example.com"), Problem::Path);
        assert_eq!(unused("||example.com"), Problem::NoSeparator);
        assert_eq!(
            unused("||example.com^$third-party"),
            Problem::UnsupportedModifier("third-party".into())
        );
        assert_eq!(
            unused("||example.com^$dnstype=AAAA"),
            Problem::UnsupportedModifier("dnstype=AAAA".into())
        );
        assert_eq!(unused("ads*.example.com"), Problem::InnerWildcard);
        assert_eq!(unused("*"), Problem::InnerWildcard);
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
