//! What one journal entry says: when, which name, what was done and why, for whom.

use std::net::IpAddr;
use std::sync::Arc;

/// What the firewall did with a query or connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The query got a block answer, or the connection was rejected.
    Blocked,
    /// The query went upstream (journaled only in discovery mode).
    Allowed,
    /// The query went upstream, but the answer could not be used (it could
    /// not be read whole, so it was not relayed): the app got SERVFAIL.
    Failed,
}

impl Action {
    /// The lowercase word used in exports and filters: `blocked`, `allowed`
    /// or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Blocked => "blocked",
            Action::Allowed => "allowed",
            Action::Failed => "failed",
        }
    }
}

/// Why the firewall did what it did.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A rule matched the name: a block rule, or an allow rule when the
    /// action is [`Action::Allowed`].
    Rule {
        /// The list the rule came from (e.g. `hagezi-light`, `custom`):
        /// shared, as every entry from one list names the same one.
        list_id: Arc<str>,
        /// The rule's line number in that list, from 1.
        line: u32,
    },
    /// A name in the answer's CNAME chain (or an HTTPS/SVCB target) matched a rule.
    Cname {
        /// The chained name that matched.
        via: String,
        /// The list of the matching rule.
        list_id: Arc<str>,
        /// The line of the matching rule, from 1.
        line: u32,
    },
    /// A connection to an address that a blocked name resolved to was rejected;
    /// the entry's name is the blocked name the address was learned from.
    LearnedAddress {
        /// The rejected destination address.
        addr: IpAddr,
    },
    /// A canary name (e.g. `use-application-dns.net`) was answered so that the
    /// browser or OS keeps its queries visible to the firewall.
    Canary,
    /// An attempt to go around the firewall's resolver (e.g. to a known
    /// encrypted-DNS server) was stopped.
    Bypass,
    /// No rule matched: the query was allowed (discovery mode).
    NoRule,
    /// The device that asked may only reach the names its policy lists
    /// (serve mode's allowlist-only devices), and this is not one of them.
    NotForDevice,
    /// The upstream's answer could not be read whole, so it was not relayed
    /// (a hostile or broken resolver): `problem` says what was wrong.
    BadAnswer {
        /// What was wrong, in words ("answer: record length past the end").
        problem: String,
    },
}

impl Reason {
    /// A short word for the kind of reason, used in exports and counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::Rule { .. } => "rule",
            Reason::Cname { .. } => "cname",
            Reason::LearnedAddress { .. } => "learned_address",
            Reason::Canary => "canary",
            Reason::Bypass => "bypass",
            Reason::NoRule => "no_rule",
            Reason::NotForDevice => "not_for_device",
            Reason::BadAnswer { .. } => "bad_answer",
        }
    }

    /// The list whose rule decided, if a rule did.
    pub fn list_id(&self) -> Option<&str> {
        match self {
            Reason::Rule { list_id, .. } | Reason::Cname { list_id, .. } => Some(list_id),
            _ => None,
        }
    }

    /// The line of the rule that decided, if a rule did.
    pub fn line(&self) -> Option<u32> {
        match self {
            Reason::Rule { line, .. } | Reason::Cname { line, .. } => Some(*line),
            _ => None,
        }
    }
}

/// One event to journal: a query or connection the firewall blocked (or, in
/// discovery mode, allowed).
///
/// The client's source port is deliberately not kept: it is ephemeral, says
/// nothing after the fact, and would stop retries from being coalesced. The
/// app, where the platform can tell, is what identifies the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// When it happened (first occurrence), in milliseconds since the Unix epoch.
    pub time_unix_ms: u64,
    /// The queried name, lowercase, without the trailing dot. Longer than 255
    /// bytes is cut (DNS names are at most 253).
    pub name: String,
    /// The DNS query type (1 = A, 28 = AAAA, 65 = HTTPS…), 0 for a connection.
    pub qtype: u16,
    /// What was done.
    pub action: Action,
    /// Why.
    pub reason: Reason,
    /// The client's address inside the tunnel, or on the LAN (`tacet serve`).
    pub client: IpAddr,
    /// The app that asked, where the platform can tell (package name or
    /// bundle id); in serve mode, the device's name.
    pub app: Option<String>,
    /// How many attempts this entry stands for; 1 for a single query.
    pub count: u32,
}

/// A journal entry as read back: the entry with its total repeat count, the
/// time of its last repeat, and its place in the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRecord {
    /// The record's sequence number: unique and increasing over the store's life.
    pub seq: u64,
    /// The entry; `count` is the total of all coalesced attempts, and
    /// `time_unix_ms` the first of them.
    pub entry: JournalEntry,
    /// When the last coalesced attempt happened (equal to the first if none).
    pub last_unix_ms: u64,
}

/// The name of a DNS query type as people know it (`A`, `AAAA`, `HTTPS`…),
/// or `TYPE<n>` for others; `CONNECT` for 0 (a connection, not a query).
pub fn qtype_name(qtype: u16) -> std::borrow::Cow<'static, str> {
    let known = match qtype {
        0 => "CONNECT",
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        64 => "SVCB",
        65 => "HTTPS",
        255 => "ANY",
        other => return std::borrow::Cow::Owned(format!("TYPE{other}")),
    };
    std::borrow::Cow::Borrowed(known)
}
