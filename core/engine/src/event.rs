//! What the engine reports to the runtime and, through it, to the user.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use tacet_rules::RuleRef;

use crate::answer::AnswerProblem;

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
    /// The device that asked may only reach the names its policy lists
    /// ([`crate::device::DevicePolicy`]), and this is not one of them.
    NotForDevice,
}

/// Why a packet to an address was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RejectReason {
    /// A blocked name resolved to the address; the rule that blocks the
    /// name, which the rejection is counted under.
    LearnedAddress(RuleRef),
    /// An address or CIDR rule lists it.
    AddressRule(RuleRef),
}

/// A transport: of a query, or of a rejected packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TCP (a rejected packet is answered with a reset).
    Tcp,
    /// UDP (a rejected packet is answered with ICMP "administratively
    /// prohibited").
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
        /// The address and port the query was sent to (a virtual resolver,
        /// or a hard-coded one routed into the tunnel).
        server: SocketAddr,
        /// The query's transport. With `client` and `server`, what a shell
        /// needs to ask the OS which app sent it.
        transport: Protocol,
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
    /// A blocked name resolved to `addr` (learned or refreshed): connections
    /// there are rejected for `ttl`. Serve mode's hook for a gateway's
    /// firewall: each event adds (or extends) one element of a set with a
    /// timeout, as dnsmasq's `--nftset` does; `RoutesChanged` carries the
    /// whole set, for a resync. An address later found shared with an
    /// allowed name leaves the set (`SharedAddress`, and the next
    /// `RoutesChanged`).
    AddressLearned {
        /// When.
        at: Instant,
        /// The address.
        addr: IpAddr,
        /// The blocked name it belongs to (for a CNAME, the blocked name
        /// in the chain).
        name: String,
        /// How long it stays rejected from `at` (the answer's TTL within
        /// the learned table's floor and ceiling).
        ttl: std::time::Duration,
        /// The client whose query led to the lookup (the first one while a
        /// name's recent lookup is reused); `None` for an enforced name,
        /// looked up before anyone asked.
        client: Option<SocketAddr>,
    },
    /// The set of networks the tunnel must route in changed; it is given
    /// whole. Learned addresses are gathered over the debounce interval; a
    /// change of address rules is announced at once. Shells re-route with it.
    RoutesChanged {
        /// Every network to route into the tunnel, besides the resolvers:
        /// the networks of address and CIDR block rules, then the learned
        /// addresses they do not already cover, as host routes.
        routes: Vec<Route>,
    },
    /// An allowed query's upstream answer could not be read whole, so it
    /// was not relayed: the app got SERVFAIL. A hostile or broken network
    /// resolver, worth showing the user.
    AnswerRefused {
        /// When.
        at: Instant,
        /// The app's address and port.
        client: SocketAddr,
        /// The address and port the query was sent to.
        server: SocketAddr,
        /// The query's transport.
        transport: Protocol,
        /// The name asked for, in rule form.
        name: String,
        /// The record type asked for.
        qtype: u16,
        /// What was wrong with the answer.
        problem: AnswerProblem,
    },
    /// A query was let through (reported only in discovery mode), once its
    /// answer was relayed (or it failed): a query whose answer turned out
    /// to lead to a blocked name is reported as blocked instead, never both.
    Allowed {
        /// When.
        at: Instant,
        /// The app's address and port.
        client: SocketAddr,
        /// The address and port the query was sent to.
        server: SocketAddr,
        /// The query's transport.
        transport: Protocol,
        /// The name asked for, in rule form.
        name: String,
        /// The record type asked for.
        qtype: u16,
        /// The allow rule that matched, if one did.
        rule: Option<RuleRef>,
    },
}

/// A network routed into the tunnel so that connections to it reach the
/// firewall and are rejected: a learned address (a host route) or the
/// network of an address rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    /// The network's first address (host bits are zero).
    pub addr: IpAddr,
    /// The prefix length: 32 or 128 for one address.
    pub prefix_len: u8,
}

impl Route {
    /// The route to one address.
    pub fn host(addr: IpAddr) -> Self {
        let prefix_len = if addr.is_ipv4() { 32 } else { 128 };
        Self { addr, prefix_len }
    }

    /// Whether `addr` lies in this network.
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.addr, addr) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let keep = u32::MAX.checked_shl(32 - u32::from(self.prefix_len.min(32)));
                let mask = keep.unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let keep = u128::MAX.checked_shl(128 - u32::from(self.prefix_len.min(128)));
                let mask = keep.unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// `addr/prefix_len`, as `ip route` and the shells take it.
impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

#[cfg(test)]
mod tests {
    use super::Route;

    #[test]
    fn routes_contain_their_addresses() {
        let net = |a: &str, len| Route {
            addr: a.parse().unwrap(),
            prefix_len: len,
        };
        assert!(net("10.0.0.0", 8).contains("10.200.3.4".parse().unwrap()));
        assert!(!net("10.0.0.0", 8).contains("11.0.0.1".parse().unwrap()));
        assert!(net("0.0.0.0", 0).contains("11.0.0.1".parse().unwrap()));
        assert!(!net("0.0.0.0", 0).contains("::1".parse().unwrap()));
        assert!(net("2001:db8::", 32).contains("2001:db8:5::1".parse().unwrap()));
        assert!(!net("2001:db8::", 32).contains("2001:db9::1".parse().unwrap()));
        assert!(Route::host("192.0.2.1".parse().unwrap()).contains("192.0.2.1".parse().unwrap()));
        assert!(!Route::host("192.0.2.1".parse().unwrap()).contains("192.0.2.2".parse().unwrap()));
        assert_eq!(net("2001:db8::", 32).to_string(), "2001:db8::/32");
        assert_eq!(
            Route::host("192.0.2.1".parse().unwrap()).to_string(),
            "192.0.2.1/32"
        );
    }
}
