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
//! | line | meaning |
//! |---|---|
//! | `0.0.0.0 a.example b.example` (any address, IPv4 or IPv6) | hosts line: blocks exactly `a.example` and `b.example`, not their subdomains (hosts files list every name) |
//! | `127.0.0.1 localhost`, `::1 ip6-localhost`, `255.255.255.255 broadcasthost`, `0.0.0.0 0.0.0.0` | hosts header: ignored |
//! | `a.example` | blocks `a.example` and all its subdomains |
//! | `\|\|a.example^` (also `\|\|a.example^\|`) | blocks `a.example` and all its subdomains |
//! | `\|a.example^` | blocks exactly `a.example` (AdGuard's DNS syntax) |
//! | `*.a.example`, `\|\|*.a.example^` | blocks `a.example` **and** all its subdomains (see below) |
//! | `@@\|\|a.example^`, `@@a.example`, `@@*.a.example` | allows `a.example` and all its subdomains |
//! | `1.2.3.4`, `10.0.0.0/8`, `2001:db8::/32`, `\|\|1.2.3.4^`, `@@…` | address rule, see [`RuleSet::lookup_addr`] |
//! | `# …`, `! …`, `[Adblock Plus 2.0]`, blank | ignored |
//! | text after ` #` (a `#` after whitespace) | comment, removed |
//!
//! Modifiers: `$important` and `$badfilter` are understood (alone or
//! together, on name and address rules); any other modifier makes the line
//! unused, because dropping it would block more than the line says.
//! `$badfilter` switches off every rule, in any list of the set, with the same
//! name, scope and allow/important flags (so `||a.example^$badfilter` also
//! switches off a plain `a.example` line, which means the same).
//!
//! Reported, never read as a name: cosmetic rules (`example.com##.ad`),
//! regular expressions (`/ads/`, Pi-hole `(^|\.)ads\.com$`), URLs and paths
//! (`||a.example/ads^`), `||a.example` without `^` (adblock would also match
//! `a.example.evil`), a `*` anywhere but a leading `*.`, invalid names (bad
//! characters, a label over 63 bytes, a name over 253), lines that are not
//! UTF-8 or longer than [`parse::MAX_LINE_BYTES`], dnsmasq and Unbound syntax.
//!
//! Names are case-insensitive, a trailing dot is ignored, and Unicode names
//! are converted to punycode (IDNA, UTS #46) before they are stored.
//!
//! # Choices, and why
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
pub mod report;
mod table;

pub use builder::{BuildError, RuleSetBuilder};
pub use compiled::{Bytes, LoadError, RuleSet};
pub use name::{normalize_name, NameError};
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
