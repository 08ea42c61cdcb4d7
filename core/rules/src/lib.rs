//! tacet-rules: the rules layer of tacet, sans-IO.
//!
//! Reads block and allow lists from any [`std::io::BufRead`] and answers one
//! question fast: is this DNS name (or address) blocked, allowed, or not
//! listed, and by which list and line?
//!
//! This crate never opens files, sockets or threads and never reads a clock:
//! callers hand it readers, writers and byte slices (a memory-mapped compiled
//! list is just an owner of a `&[u8]` here). Bad input is reported, never a
//! panic: every line that is not used is listed with its number and the reason.
//!
//! # Modules, in the order data flows through them
//!
//! - [`parse`]: the line parser, over any `BufRead`, one bounded line at a time.
//! - [`name`]: names in the one form rules compare (lowercase, punycode, no
//!   trailing dot, length-checked).
//! - [`report`]: the [`ParseReport`]: counts per kind of line, and the unused
//!   lines with number, excerpt and reason.
//! - `builder`: [`RuleSetBuilder`], which compiles lists into a [`RuleSet`].
//! - [`compiled`]: the immutable, checksummed, memory-mappable [`RuleSet`].
//! - [`curated`]: the lists that ship with tacet, and the default set.
//! - [`enforce`]: the names a small list blocks, to resolve before any app asks.
//!
//! # What a line means
//!
//! Adblock lines mean what they mean to AdGuard Home, whose filtering
//! library (`urlfilter`) was read for it and is compared on real lists by
//! `bench/agh-compare`; the few places tacet reads a line otherwise are
//! listed under "Choices" below.
//!
//! | line | meaning |
//! |---|---|
//! | `0.0.0.0 a.example b.example` (any address, IPv4 or IPv6) | hosts line: blocks exactly `a.example` and `b.example`, not their subdomains (hosts files list every name) |
//! | `127.0.0.1 localhost`, `::1 ip6-localhost`, `255.255.255.255 broadcasthost`, `0.0.0.0 0.0.0.0`, `127.0.0.1 localhost4.localdomain4` | hosts header: ignored (see [`is_machine_name`]) |
//! | `a.example` | blocks `a.example` and all its subdomains |
//! | `\|\|a.example^`, `\|\|a.example^\|`, `\|\|a.example\|`, `\|\|a.example/*` | blocks `a.example` and all its subdomains |
//! | `\|a.example^`, `\|a.example\|` | blocks exactly `a.example` |
//! | `*.a.example`, `\|\|*.a.example^` | blocks `a.example` **and** all its subdomains (see below) |
//! | `\|\|ads*.a.example^`, `\|\|*ads.a.example^` | `*` is any run of characters, dots included: `ads1.a.example`, `x.ads.b.a.example`; `xads.a.example` only for the second |
//! | `\|\|prefix.a` (no `^`) | any name with a label that starts with `prefix.a`: `prefix.a`, `x.prefix.a.com`, `prefix.ab` |
//! | `a.example^` (no `\|\|`) | any name that ends with `a.example`: `x.a.example`, and `xa.example` too |
//! | `ads*.example`, `_ad_*` (a `*`, `^` or `\|` and no anchor) | a pattern that may match anywhere in a name |
//! | `/^ad[0-9]+\./`, `/tracker/$important`, `@@/^ok\./` | a regular expression ([`regex`] syntax) matched against the name, lowercase and without the trailing dot, anywhere unless anchored; letters in either case; see [`patterns`] |
//! | `(^\|\.)ads\.example$`, `^ads\.` (bare, Pi-hole's regex lists) | not used: Pi-hole syntax, not adblock (write it as `/…/`) |
//! | `@@` before any of these, or a line of an allow list | allows what the rule matches |
//! | `1.2.3.4`, `10.0.0.0/8`, `2001:db8::/32`, `\|\|1.2.3.4^`, `9.9.9.9^`, `@@…` | address rule, see [`RuleSet::lookup_addr`] |
//! | `# …`, `! …`, `[Adblock Plus 2.0]`, blank | ignored |
//! | text after ` #` (a `#` after whitespace) | comment, removed |
//!
//! Patterns and rules with conditions sit beside the name table in a small
//! indexed matcher ([`patterns`]): a lookup checks only those a suffix or
//! a label start of the name could match, and runs one
//! [`regex::bytes::RegexSet`] search for all the `/…/` rules (only in a
//! set that has some). Regexes with look-around or backreferences, which
//! the `regex` crate does not match, and regexes that compile to more
//! than [`patterns::REGEX_SIZE_LIMIT`] bytes are reported as unused with
//! that reason; a set keeps at most [`patterns::MAX_REGEXES`].
//!
//! Modifiers (AdGuard's DNS modifiers):
//!
//! - `$important`: an important block beats an allow, an important allow
//!   beats everything.
//! - `$badfilter` switches off every rule, in any list of the set, with the
//!   same pattern and allow/important flags (so `||a.example^$badfilter`
//!   also switches off a plain `a.example` line, which means the same, and,
//!   as in AdGuard, `||a.example^$dnstype=A`).
//! - `$dnstype=A|AAAA`, `$dnstype=~MX`: the rule applies only to (or not to)
//!   queries of those types; [`RuleSet::lookup_query`] takes the type, and
//!   [`RuleSet::lookup`] (type unknown) applies only rules without a type.
//! - `$denyallow=a.com|b.com`: the rule applies to no name at or under
//!   these (`*$denyallow=…` blocks everything else).
//! - `$dnsrewrite=NXDOMAIN`, `REFUSED`, `SERVFAIL`, `NOERROR;;`, `0.0.0.0`,
//!   `::`, `127.0.0.1`, `::1`: a block, answered the way tacet answers
//!   blocks. Any other rewrite is reported: tacet does not make up answers.
//! - `$client`, `$ctag`: on a block rule, reported (they pick clients of a
//!   home-network server); on an allow rule, dropped, and the rule allows
//!   for every query, as does `@@…$dnsrewrite`: an allow rule is never
//!   lost. `$third-party`, `$domain`, `$script` and the other modifiers
//!   of web filtering: reported; AdGuard Home does not use those rules
//!   either. `$~script` and other negated request types are ignored, as
//!   AdGuard Home ignores them. An unknown modifier: reported.
//!
//! Reported, never read as a name: cosmetic rules (`example.com##.ad`),
//! regular expressions (`/ads/`, Pi-hole `(^|\.)ads\.com$`; AdGuard Home
//! reads `/…/`, tacet does not yet), URLs and paths (`||a.example/ads^`,
//! `||a.example:8080^`: AdGuard Home never matches them against a name),
//! patterns AdGuard refuses as too wide (`*`, `|a`), words that are not
//! names (a last label of digits such as `10.0.0`, `123`, `300.1.1.1`; an
//! `_` or a leading or trailing `-` in it, such as `_prebid_`,
//! `-banner-ads.`; bad punycode such as `xn--zz`), a hosts address alone
//! (`127.0.0.1`), block rules for the device's own names (`localhost` and
//! the others [`is_machine_name`] knows, which are never blocked whatever
//! rule matches), invalid names (bad characters, a label over 63 bytes, a
//! name over 253), lines that are not UTF-8 or longer than
//! [`parse::MAX_LINE_BYTES`], dnsmasq and Unbound syntax.
//!
//! Names are case-insensitive, a trailing dot is ignored, and Unicode names
//! are converted to punycode (IDNA, UTS #46) before they are stored.
//!
//! # Choices, and why
//!
//! Where tacet reads a line otherwise than AdGuard Home (measured on
//! popular names by `bench/agh-compare`, see the README):
//! - a plain `a.example` line blocks the name and its subdomains (AdGuard
//!   Home: the name only, as a hosts line); lists of plain names are
//!   published to mean the name and what is under it;
//! - `*.d` and `||*.d^` block `d` too (below);
//! - ` #` starts a comment on any line (AdGuard Home reads
//!   `||a.example^ # why` as a rule that never matches);
//! - names of the device itself are never blocked;
//! - `/regex/` rules with look-around or backreferences are reported, not
//!   used (Go's `regexp`, which AdGuard Home uses, has neither, so
//!   AdGuard Home cannot apply them either).
//!
//! - **`*.d` blocks `d` too.** Wildcard lists are published as the same
//!   lists as their domain versions (HaGeZi's `wildcard/` and `domains/`
//!   files hold the same entries): the publisher means "this name and
//!   everything under it". Reading `*.d` as "only below `d`" would leave every
//!   listed name itself reachable. The same holds for `||*.d^`.
//! - **Allow beats block**, whatever the depth: `@@||a.example^` keeps
//!   `x.ads.a.example` reachable even when `||ads.a.example^` is listed. This
//!   is AdGuard's rule, and it is what a "keep working" list needs. The only
//!   exception is `$important`, also as in AdGuard: an important block beats
//!   an ordinary allow, and an important allow beats everything.
//!   The order is: important allow, important block, allow, block.
//! - **A hosts line blocks the exact name**; any address in the first column
//!   is accepted (`0.0.0.0`, `127.0.0.1`, `::`, or another address: tacet
//!   never redirects, it blocks).
//! - **The reported rule** is the one on the longest matching name within the
//!   deciding class, and for one name the first line of the first list.
//!
//! # Compiled form
//!
//! A [`RuleSet`] is the compiled file itself (see [`compiled`] for the
//! layout and its costs): a table of truncated name hashes, one bucket per
//! name or fewer, each name's top hash bits in a tag byte and the rest
//! bit-packed with its list, flags and line (six bytes a name, all that
//! lookups of unlisted names read); the listed names themselves, which
//! every hash hit is confirmed against (read only on a hit, so an unlisted
//! name is never blocked by a chance match of hash bits); address tables;
//! a version and a CRC-32. [`RuleSetBuilder::build`]
//! produces it in memory,
//! [`RuleSet::write_to`] saves it, and [`RuleSet::from_bytes`] reads it in
//! place from any byte owner, such as a memory map, after checking it.
//! A `RuleSet` is immutable and `Send + Sync`: the engine holds it in an
//! `Arc` and swaps the whole value, so a query sees the old set or the new.

pub mod builder;
pub mod compiled;
pub mod curated;
pub mod enforce;
pub mod name;
pub mod parse;
pub mod patterns;
pub mod report;
mod table;

pub use builder::{BuildError, RuleSetBuilder};
pub use compiled::{Bytes, LoadError, RuleSet};
pub use name::{normalize_name, NameError};
pub use parse::is_machine_name;
pub use report::{LineKind, ParseReport, Problem, UnusedLine};

/// Which list a rule came from: an index into the lists given to the builder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListId(pub u16);

/// Where a matching rule stands: its list and its 1-based line number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RuleRef {
    /// The list the rule came from.
    pub list: ListId,
    /// The 1-based line number of the rule in that list.
    pub line: u32,
}

/// The answer of a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A block rule matched and no allow rule overrode it.
    Blocked(RuleRef),
    /// An allow rule matched: the name stays reachable.
    Allowed(RuleRef),
    /// No rule matched.
    Unlisted,
}

/// What a list is called, for reports and the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListInfo {
    /// A short stable id, such as `xiaomi-telemetry` or `custom`.
    pub id: String,
    /// A human title.
    pub title: String,
}

#[cfg(test)]
mod tests;
