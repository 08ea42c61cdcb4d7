//! What the engine reports to the runtime and, through it, to the user.

use std::net::{IpAddr, SocketAddr};
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
    /// The name is allowed, but its answer leads through `via` (a CNAME or
    /// an HTTPS/SVCB target), which a block rule matches: a tracker cloaked
    /// behind an innocent name.
    Cname {
        /// The blocked name the answer led to.
        via: String,
        /// The rule that blocks it.
        rule: RuleRef,
    },
}

/// Why a packet to an address was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RejectReason {
    /// A blocked name resolved to the address.
    LearnedAddress,
    /// An address or CIDR rule lists it.
    AddressRule(RuleRef),
}

/// The transport of a rejected packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// TCP, answered with a reset.
    Tcp,
    /// UDP, answered with ICMP "administratively prohibited".
    Udp,
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
    /// A packet to a blocked address was rejected: one blocked attempt,
    /// counted under the name the address belongs to.
    Rejected {
        /// When.
        at: Instant,
        /// The app's address and port.
        client: SocketAddr,
        /// The address and port it tried to reach.
        destination: SocketAddr,
        /// TCP or UDP.
        protocol: Protocol,
        /// The blocked name the address belongs to (or the address itself,
        /// for an address rule).
        name: String,
        /// Why.
        reason: RejectReason,
    },
    /// An allowed name and a blocked one resolve to the same address (a
    /// CDN): the address stays reachable, and the blocked name is blocked
    /// by name only.
    SharedAddress {
        /// When.
        at: Instant,
        /// The shared address.
        addr: IpAddr,
        /// The blocked name.
        blocked_name: String,
        /// The allowed name.
        allowed_name: String,
    },
    /// The set of addresses the tunnel must route in changed; it is given
    /// whole, gathered over the debounce interval. Shells re-route with it.
    RoutesChanged {
        /// Every address to route into the tunnel, besides the resolvers.
        addrs: Vec<IpAddr>,
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
