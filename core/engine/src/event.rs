//! What the engine reports to the runtime and, through it, to the user.

use std::net::SocketAddr;
use std::time::Instant;

use tacet_rules::RuleRef;

/// Why a query was answered with a block answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockReason {
    /// A block rule matched the name.
    Rule(RuleRef),
    /// A canary name ([`crate::config::CANARY_NAMES`]), answered NXDOMAIN so
    /// browsers keep their DNS with the firewall.
    Canary,
}

/// Something worth telling the user or the store about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A query was answered with a block answer: one blocked attempt.
    Blocked {
        /// When.
        at: Instant,
        /// The app's address and port.
        client: SocketAddr,
        /// The name asked for, in rule form.
        name: String,
        /// The record type asked for.
        qtype: u16,
        /// Why it was blocked (a rule refers to the rule set in force).
        reason: BlockReason,
    },
    /// A query was let through (reported only in discovery mode).
    Allowed {
        /// When.
        at: Instant,
        /// The app's address and port.
        client: SocketAddr,
        /// The name asked for, in rule form.
        name: String,
        /// The record type asked for.
        qtype: u16,
        /// The allow rule that matched, if one did.
        rule: Option<RuleRef>,
    },
}
