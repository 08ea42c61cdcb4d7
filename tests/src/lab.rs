//! A phone and an upstream namespace joined by a veth pair: the test network.
//!
//! ```text
//!   phone ns                                upstream ns
//!   ┌──────────────────────────┐  veth     ┌──────────────────────┐
//!   │ tacet0 (TUN) 10.111.222.1├─ph0───up0─┤ dnsmasq 10.200.0.2:53│
//!   │ dig, getent, burst       │10.200.0.1 │         fd00:200::2  │
//!   └──────────────────────────┘           └──────────────────────┘
//! ```
//!
//! The addresses are the same in every lab: each lab lives in its own pair of
//! namespaces, so they never meet, and the firewall's tunnel prefix is fixed
//! anyway.

use crate::netns::Netns;

/// The phone side of the veth pair, IPv4.
pub const PHONE_V4: &str = "10.200.0.1";
/// The upstream side of the veth pair, IPv4: where dnsmasq listens.
pub const UPSTREAM_V4: &str = "10.200.0.2";
/// The phone side of the veth pair, IPv6.
pub const PHONE_V6: &str = "fd00:200::1";
/// The upstream side of the veth pair, IPv6: where dnsmasq listens too.
pub const UPSTREAM_V6: &str = "fd00:200::2";
/// An address on the veth subnet that no host holds: queries to it vanish
/// (no ARP reply, no ICMP), like an upstream that went away.
pub const BLACKHOLE_V4: &str = "10.200.0.99";

/// Two namespaces and the veth pair between them.
///
/// Fields drop in order: nothing here owns processes, so whoever starts
/// dnsmasq or the firewall in a lab must drop them before the lab.
#[derive(Debug)]
pub struct Lab {
    /// Where the firewall, its TUN and the clients run.
    pub phone: Netns,
    /// Where the upstream resolver runs.
    pub upstream: Netns,
}

impl Lab {
    /// Creates both namespaces and the addressed veth pair.
    pub fn new() -> Self {
        let lab = Self {
            phone: Netns::new("ph"),
            upstream: Netns::new("up"),
        };
        // Both ends are created straight inside their namespaces, so the
        // fixed names never meet in the root namespace.
        crate::netns::run_ok(std::process::Command::new("ip").args([
            "link",
            "add",
            "ph0",
            "netns",
            lab.phone.name(),
            "type",
            "veth",
            "peer",
            "name",
            "up0",
            "netns",
            lab.upstream.name(),
        ]));
        for (ns, dev, v4, v6) in [
            (&lab.phone, "ph0", PHONE_V4, PHONE_V6),
            (&lab.upstream, "up0", UPSTREAM_V4, UPSTREAM_V6),
        ] {
            // Up first, addresses after: an IPv6 address added while the
            // link is down is not answered for (neighbour solicitations)
            // until its link-local address is through duplicate address
            // detection, so the first TCP connection over IPv6 lost its
            // SYN and took a second (the SYN's retransmission).
            ns.ip(&["link", "set", dev, "up"]);
            ns.ip(&["addr", "add", &format!("{v4}/24"), "dev", dev]);
            // nodad: the address is usable at once instead of after
            // duplicate address detection (about a second).
            ns.ip(&[
                "-6",
                "addr",
                "add",
                &format!("{v6}/64"),
                "dev",
                dev,
                "nodad",
            ]);
        }
        lab
    }
}

impl Default for Lab {
    fn default() -> Self {
        Self::new()
    }
}
