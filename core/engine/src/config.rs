//! The engine's settings: virtual resolver addresses, how blocked names are
//! answered, and the bounds on pending upstream queries.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::learned::LearnedLimits;

/// The IPv4 address of the virtual resolver announced to the phone.
///
/// It sits in the tunnel's own 10.111.222.0/24 prefix, so routing the tunnel
/// prefix routes the resolver; nothing real ever answers there.
pub const DEFAULT_RESOLVER_V4: Ipv4Addr = Ipv4Addr::new(10, 111, 222, 53);

/// The IPv6 address of the virtual resolver: a unique-local address under
/// `fd74:6163:6574::/48` (the global id spells "tacet" in ASCII).
pub const DEFAULT_RESOLVER_V6: Ipv6Addr = Ipv6Addr::new(0xfd74, 0x6163, 0x6574, 0, 0, 0, 0, 0x53);

/// The tunnel's IPv4 network, as every shell addresses the TUN
/// (10.111.222.1/24): the resolver lies inside it.
pub const TUNNEL_V4: (Ipv4Addr, u8) = (Ipv4Addr::new(10, 111, 222, 0), 24);

/// The tunnel's IPv6 network (fd74:6163:6574::1/64).
pub const TUNNEL_V6: (Ipv6Addr, u8) = (Ipv6Addr::new(0xfd74, 0x6163, 0x6574, 0, 0, 0, 0, 0), 64);

/// Whether `addr` lies in the tunnel's own networks: never an upstream
/// (its queries would come back to the firewall), never learned.
pub fn in_tunnel(addr: std::net::IpAddr) -> bool {
    let (v4, v4_len) = TUNNEL_V4;
    let (v6, v6_len) = TUNNEL_V6;
    crate::Route {
        addr: v4.into(),
        prefix_len: v4_len,
    }
    .contains(addr)
        || crate::Route {
            addr: v6.into(),
            prefix_len: v6_len,
        }
        .contains(addr)
}

/// How a blocked name is answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BlockMode {
    /// A gets `0.0.0.0`, AAAA gets `::`, every other type an empty NOERROR
    /// answer (NODATA). Apps then fail fast on a connect to an unroutable
    /// address instead of retrying the lookup, which NXDOMAIN invites.
    #[default]
    NullAddress,
    /// NXDOMAIN for every type: the name does not exist.
    Nxdomain,
    /// NODATA for every type: the name exists but has no such record.
    Nodata,
    /// REFUSED for every type.
    Refused,
}

/// Settings of one [`crate::Engine`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The virtual resolver's IPv4 address.
    pub resolver_v4: Ipv4Addr,
    /// The virtual resolver's IPv6 address.
    pub resolver_v6: Ipv6Addr,
    /// How blocked names are answered.
    pub block_mode: BlockMode,
    /// The TTL, in seconds, of block answers (and of the SOA in negative
    /// ones).
    ///
    /// The default, 10 s, is AdGuard Home's choice and ours for the same
    /// reasons: an app's retry loop is then served from the phone's own DNS
    /// cache instead of waking the tunnel many times a second, while a name
    /// the user has just allowed works again within seconds.
    pub block_ttl: u32,
    /// How long an allowed query may wait for the upstream before the client
    /// is answered SERVFAIL.
    ///
    /// The default, 3 s, is below the 5 s after which glibc and Android's
    /// resolver retry, so the client hears the failure before it would resend.
    pub upstream_timeout: Duration,
    /// The most queries waiting for the upstream at once; one more is
    /// answered SERVFAIL at once. Bounds memory when the upstream is slow.
    pub max_pending: usize,
    /// The most of those from one client of serve mode (a device on the
    /// LAN), so that one device flooding names the upstream is slow to
    /// answer cannot take the table from the others; past it, its queries
    /// get SERVFAIL at once (counted in `Stats::client_pending_refused`).
    pub max_pending_per_client: usize,
    /// Whether allowed queries are reported as events too (discovery mode).
    pub report_allowed: bool,
    /// Whether the canary names that make browsers and OSes switch off
    /// their own encrypted DNS ([`CANARY_NAMES`]) are answered NXDOMAIN, so
    /// their queries stay visible to the firewall.
    pub answer_canaries: bool,
    /// Seeds the TCP stack's initial sequence numbers; the runtime hands in
    /// a random one (the engine has no randomness of its own).
    pub seed: u64,
    /// Whether blocked names are still resolved upstream in the background
    /// (the app only ever sees the block answer), so that connections to
    /// their addresses can be rejected too.
    pub learn_addresses: bool,
    /// Bounds and TTL floor and ceiling of the learned addresses.
    pub learned: LearnedLimits,
    /// How long changes to the learned addresses are gathered before one
    /// "routes changed" event carries them all: re-routing costs a shell a
    /// new tunnel interface (Android) or new network settings (iOS).
    pub routes_debounce: Duration,
    /// ICMP errors sent per second at most, after a burst of as many
    /// (RFC 1812 §4.3.2.8 asks routers to rate-limit them).
    pub icmp_per_second: u32,
    /// Addresses never learned as blocked, whatever a blocked name resolves
    /// to: the upstream resolvers (routing them into the tunnel would cut
    /// the firewall off from its own upstream).
    pub never_block: Vec<std::net::IpAddr>,
}

/// Names whose NXDOMAIN tells Firefox to keep its DNS-over-HTTPS off
/// (`use-application-dns.net`) and Apple devices to keep iCloud Private
/// Relay off for this network (`mask.icloud.com`, `mask-h2.icloud.com`).
pub const CANARY_NAMES: &[&str] = &[
    "use-application-dns.net",
    "mask.icloud.com",
    "mask-h2.icloud.com",
];

impl Default for Config {
    fn default() -> Self {
        Self {
            resolver_v4: DEFAULT_RESOLVER_V4,
            resolver_v6: DEFAULT_RESOLVER_V6,
            block_mode: BlockMode::default(),
            block_ttl: 10,
            upstream_timeout: Duration::from_secs(3),
            max_pending: 4096,
            max_pending_per_client: 512,
            report_allowed: false,
            answer_canaries: true,
            seed: 0,
            learn_addresses: true,
            learned: LearnedLimits::default(),
            routes_debounce: Duration::from_secs(1),
            icmp_per_second: 20,
            never_block: Vec::new(),
        }
    }
}
