//! What the engine reports to the runtime and, through it, to the user.

use std::net::SocketAddr;
use std::time::Instant;

use tacet_rules::RuleRef;

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
        /// The block rule that matched, in the rule set in force.
        rule: RuleRef,
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
