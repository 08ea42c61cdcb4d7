//! The plain records and enums that cross the FFI for the firewall: its
//! configuration, counters, the curated lists, a list's parse report and a
//! name check, with their conversions from the core types.

use std::collections::HashMap;

use tacet_rules::curated::{self, Category, CuratedList};

/// How a blocked name is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum BlockMode {
    /// A gets 0.0.0.0, AAAA gets ::, other types an empty answer (the
    /// default: apps fail fast instead of retrying).
    NullAddress,
    /// NXDOMAIN: the name does not exist.
    Nxdomain,
    /// NODATA: the name exists but has no such record.
    Nodata,
    /// REFUSED.
    Refused,
}

impl From<BlockMode> for tacet_engine::BlockMode {
    fn from(mode: BlockMode) -> Self {
        match mode {
            BlockMode::NullAddress => Self::NullAddress,
            BlockMode::Nxdomain => Self::Nxdomain,
            BlockMode::Nodata => Self::Nodata,
            BlockMode::Refused => Self::Refused,
        }
    }
}

/// What the shell configures: where DNS goes, how blocks are answered,
/// where the store lives, and which lists are on.
///
/// Start from `defaultConfig()` (the curated default lists) and change
/// what the user changed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FirewallConfig {
    /// The upstream resolvers, tried in order; needed to start. Plain DNS
    /// (the network's resolvers): an IP address (`192.0.2.1`,
    /// `2001:db8::1`) or address and port (`192.0.2.1:5353`,
    /// `[2001:db8::1]:53`). Encrypted: `tls://9.9.9.9#dns.quad9.net` (DNS
    /// over TLS) or `https://1.1.1.1/dns-query#cloudflare-dns.com` (DNS over
    /// HTTPS), by address with the certificate's name after `#` (never
    /// looked up), optionally `;pin-sha256=BASE64`. `parseUpstreams()`
    /// checks each entry; `knownEncryptedResolvers()` offers some.
    pub upstreams: Vec<String>,
    /// With encrypted upstreams: when none can be reached, send queries as
    /// plain DNS to the plain upstreams listed beside them (and say so with
    /// a `PlainFallback` event) instead of answering SERVFAIL. Off by default:
    /// strict.
    #[uniffi(default)]
    pub allow_plain_fallback: bool,
    /// Extra CA certificates (PEM) trusted for encrypted upstreams besides
    /// the system's: a self-hosted resolver.
    #[uniffi(default)]
    pub upstream_ca_pem: Option<String>,
    /// How a blocked name is answered.
    pub block_mode: BlockMode,
    /// The TTL of block answers in seconds (10 by default: short enough that
    /// a name the user allows works again within seconds).
    #[uniffi(default = 10)]
    pub block_ttl_secs: u32,
    /// The store directory (journal, counters, the user's block/allow
    /// names). `None` runs without a journal, and per-name rules are then
    /// unavailable. On iOS, a directory in the App Group container.
    #[uniffi(default)]
    pub store_dir: Option<String>,
    /// Ids of the curated lists that are on (see `curatedLists()`).
    pub enabled_lists: Vec<String>,
    /// The user's pasted list, in any syntax tacet reads; empty for none.
    #[uniffi(default)]
    pub custom_list: String,
    /// Discovery mode: journal allowed queries too, not only blocked ones.
    #[uniffi(default)]
    pub discovery: bool,
}

impl Default for FirewallConfig {
    fn default() -> Self {
        Self {
            upstreams: Vec::new(),
            allow_plain_fallback: false,
            upstream_ca_pem: None,
            block_mode: BlockMode::NullAddress,
            block_ttl_secs: tacet_engine::Config::default().block_ttl,
            store_dir: None,
            enabled_lists: curated::catalog()
                .iter()
                .filter(|l| l.default_on)
                .map(|l| l.id.to_owned())
                .collect(),
            custom_list: String::new(),
            discovery: false,
        }
    }
}

/// The firewall's counters since it was started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, uniffi::Record)]
pub struct FirewallStats {
    /// DNS queries received from the phone.
    pub queries: u64,
    /// Queries answered with a block answer.
    pub blocked: u64,
    /// Distinct names blocked at least once.
    pub unique_blocked: u64,
    /// Queries let through (not listed, allowed, or while paused).
    pub allowed: u64,
    /// Allowed queries sent to an upstream resolver.
    pub forwarded: u64,
    /// Upstream answers relayed back.
    pub answered: u64,
    /// Allowed queries answered SERVFAIL (upstream failed or timed out).
    pub upstream_failures: u64,
    /// Packets that could not be parsed, dropped.
    pub malformed: u64,
    /// Queries sent to another resolver than the firewall's (a hard-coded
    /// resolver routed into the tunnel), answered all the same.
    pub bypass_attempts: u64,
    /// Queries that came over TCP.
    pub tcp_queries: u64,
    /// Packets to blocked addresses, rejected (counted in `blocked` too).
    pub rejected: u64,
    /// Rejects not sent because ICMP errors were over their rate.
    pub rejects_rate_limited: u64,
    /// Queries blocked because their answer led to a blocked name (counted
    /// in `blocked` too).
    pub cname_blocked: u64,
    /// Blocked names resolved in the background to learn their addresses.
    pub background_queries: u64,
    /// Addresses an allowed and a blocked name share, left reachable.
    pub shared_addresses: u64,
    /// Addresses rejected right now.
    pub learned_addresses: u64,
    /// Packets that were not DNS for the firewall, dropped.
    pub ignored: u64,
}

impl From<tacet_engine::Stats> for FirewallStats {
    fn from(s: tacet_engine::Stats) -> Self {
        Self {
            queries: s.queries,
            blocked: s.blocked,
            unique_blocked: s.unique_blocked,
            allowed: s.allowed,
            forwarded: s.forwarded,
            answered: s.answered,
            upstream_failures: s.upstream_failures,
            malformed: s.malformed,
            bypass_attempts: s.bypass_attempts,
            tcp_queries: s.tcp_queries,
            rejected: s.rejected,
            rejects_rate_limited: s.rejects_rate_limited,
            cname_blocked: s.cname_blocked,
            background_queries: s.background_queries,
            shared_addresses: s.shared_addresses,
            learned_addresses: s.learned_addresses,
            ignored: s.ignored,
        }
    }
}

/// What a curated list is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ListCategory {
    /// Usage statistics, analytics, ads and location uploads.
    Telemetry,
    /// Cloud services of connected devices.
    Iot,
    /// All of one company's services.
    Company,
    /// Encrypted DNS and HTTPDNS endpoints that let apps go around the
    /// firewall's resolver.
    Bypass,
    /// Names that must keep working (an allowlist).
    KeepWorking,
}

impl From<Category> for ListCategory {
    fn from(c: Category) -> Self {
        match c {
            Category::Telemetry => Self::Telemetry,
            Category::Iot => Self::Iot,
            Category::Company => Self::Company,
            Category::Bypass => Self::Bypass,
            Category::KeepWorking => Self::KeepWorking,
        }
    }
}

/// One curated list that ships with tacet.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ListInfo {
    /// Stable id, used in `FirewallConfig.enabledLists` and the journal.
    pub id: String,
    /// Human title.
    pub title: String,
    /// What it blocks, and what it breaks.
    pub description: String,
    /// What the list is about.
    pub category: ListCategory,
    /// On for a new install.
    pub default_on: bool,
    /// Every rule in it allows.
    pub is_allowlist: bool,
}

impl From<&CuratedList> for ListInfo {
    fn from(l: &CuratedList) -> Self {
        Self {
            id: l.id.to_owned(),
            title: l.title.to_owned(),
            description: l.description.to_owned(),
            category: l.category.into(),
            default_on: l.default_on,
            is_allowlist: l.is_allowlist,
        }
    }
}

/// One line of a list that was not used, and why.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UnusedLine {
    /// The 1-based line number.
    pub line: u32,
    /// The start of the line (at most 80 characters).
    pub excerpt: String,
    /// Why it was not used, in a sentence.
    pub reason: String,
    /// The kind of problem, a short stable label (`cosmetic rule`,
    /// `invalid name`...).
    pub kind: String,
}

/// How a list was read: how many lines of each kind, and each unused line.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct ParseReport {
    /// Lines read.
    pub lines: u64,
    /// Rules taken (a hosts line with three names gives three).
    pub rules: u64,
    /// Blank, comment and header lines.
    pub ignored: u64,
    /// Lines that were not used.
    pub unused_count: u64,
    /// Hosts lines (`0.0.0.0 name`).
    pub hosts: u64,
    /// Plain domains.
    pub domains: u64,
    /// Adblock `||name^` rules.
    pub adblock: u64,
    /// Adblock `@@` allow rules.
    pub adblock_allow: u64,
    /// Wildcards `*.name`.
    pub wildcards: u64,
    /// Addresses and CIDR ranges.
    pub addresses: u64,
    /// `$badfilter` rules.
    pub badfilters: u64,
    /// Unused lines, in order (at most 1000; `unused_count` goes on).
    pub unused: Vec<UnusedLine>,
    /// Unused lines and names per kind of problem.
    pub problems: HashMap<String, u64>,
}

impl From<&tacet_rules::ParseReport> for ParseReport {
    fn from(r: &tacet_rules::ParseReport) -> Self {
        let c = &r.counts;
        Self {
            lines: r.lines,
            rules: r.rules,
            ignored: r.ignored,
            unused_count: c.unused,
            hosts: c.hosts,
            domains: c.domain,
            adblock: c.adblock,
            adblock_allow: c.adblock_allow,
            wildcards: c.wildcard,
            addresses: c.address,
            badfilters: c.badfilter,
            unused: r
                .unused
                .iter()
                .map(|u| UnusedLine {
                    line: u.line,
                    excerpt: u.excerpt.clone(),
                    reason: u.problem.to_string(),
                    kind: u.problem.kind().to_owned(),
                })
                .collect(),
            problems: r
                .problems
                .iter()
                .map(|(k, n)| ((*k).to_owned(), *n))
                .collect(),
        }
    }
}

/// What the rules say about a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Verdict {
    /// A block rule matched and no allow rule overrode it.
    Blocked,
    /// An allow rule matched: the name stays reachable.
    Allowed,
    /// No rule matched.
    Unlisted,
}

/// The answer of `Firewall.checkName`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CheckResult {
    /// The name as the rules compare it (lowercase, punycode, no final dot).
    pub name: String,
    /// Blocked, allowed or unlisted.
    pub verdict: Verdict,
    /// The id of the list whose rule decided, if one did.
    pub list_id: Option<String>,
    /// That list's title.
    pub list_title: Option<String>,
    /// The rule's 1-based line in that list.
    pub line: Option<u32>,
}

impl CheckResult {
    pub(crate) fn new(
        name: String,
        verdict: tacet_rules::Verdict,
        rules: &tacet_rules::RuleSet,
    ) -> Self {
        let (verdict, rule) = match verdict {
            tacet_rules::Verdict::Blocked(r) => (Verdict::Blocked, Some(r)),
            tacet_rules::Verdict::Allowed(r) => (Verdict::Allowed, Some(r)),
            tacet_rules::Verdict::Unlisted => (Verdict::Unlisted, None),
        };
        let list = rule.and_then(|r| rules.list(r.list));
        Self {
            name,
            verdict,
            list_id: list.map(|l| l.id.clone()),
            list_title: list.map(|l| l.title.clone()),
            line: rule.map(|r| r.line),
        }
    }
}

/// How an upstream is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum UpstreamKind {
    /// Plain DNS (the network can read and change it).
    Plain,
    /// DNS over TLS.
    Tls,
    /// DNS over HTTPS.
    Https,
}

/// One upstream as the user wrote it, checked.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UpstreamEntry {
    /// As written.
    pub text: String,
    /// Plain, TLS or HTTPS; `None` when it does not parse.
    pub kind: Option<UpstreamKind>,
    /// Its address and port (`9.9.9.9:853`), when it parses.
    pub address: Option<String>,
    /// The name its certificate must be valid for (encrypted only).
    pub server_name: Option<String>,
    /// Why it cannot be used, in words to show beside the entry.
    pub error: Option<String>,
}

impl UpstreamEntry {
    /// Checks one entry.
    pub fn parse(text: &str) -> Self {
        use tacet_runtime::upstream::Transport;
        match tacet_runtime::UpstreamSpec::parse(text) {
            Ok(spec) => {
                let (kind, server_name) = match &spec.transport {
                    Transport::Plain => (UpstreamKind::Plain, None),
                    Transport::Tls(tls) => (UpstreamKind::Tls, Some(tls.name.clone())),
                    Transport::Https { tls, .. } => (UpstreamKind::Https, Some(tls.name.clone())),
                };
                Self {
                    text: text.to_owned(),
                    kind: Some(kind),
                    address: Some(spec.addr.to_string()),
                    server_name,
                    error: None,
                }
            }
            Err(error) => Self {
                text: text.to_owned(),
                kind: None,
                address: None,
                server_name: None,
                error: Some(error),
            },
        }
    }
}

/// A well-known list the shells offer to subscribe to with one tap
/// (`ListSubscriptions.add(url, title)`); it is subscribed to when a
/// subscription has its `url`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CatalogList {
    /// A stable id.
    pub id: String,
    /// Its name.
    pub title: String,
    /// What it blocks, and what it may break, in a sentence.
    pub blocks: String,
    /// About how many rules it held when the catalogue was written (the
    /// real count is in the subscription's status after a fetch).
    pub approx_rules: u32,
    /// Its licence (an SPDX id, or where the publisher states it).
    pub licence: String,
    /// Where it is fetched from (https).
    pub url: String,
    /// Where its publisher explains it.
    pub homepage: String,
}

/// A well-known encrypted resolver the shells offer with one tap.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct KnownResolver {
    /// A stable id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it does and does not do, in a sentence.
    pub description: String,
    /// Its upstreams, DNS over TLS first, IPv4 then IPv6 (give them all to
    /// `FirewallConfig.upstreams`: they are tried in order).
    pub upstreams: Vec<String>,
}
