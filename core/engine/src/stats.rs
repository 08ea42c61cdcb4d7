//! Counters of what the engine saw and did.

/// Counters since the engine was created. Every DNS query is counted once in
/// `queries` and then exactly once in `blocked` or `allowed` (a malformed
/// one is counted in `malformed` instead).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// DNS queries received from the phone.
    pub queries: u64,
    /// Queries answered with a block answer: the blocked attempts.
    pub blocked: u64,
    /// Distinct names blocked at least once (exact up to
    /// [`crate::UNIQUE_NAMES_TRACKED`] names, a lower bound beyond).
    pub unique_blocked: u64,
    /// Queries let through: not listed, allowed by a rule, or while paused.
    pub allowed: u64,
    /// Allowed queries sent to the upstream resolver (background lookups
    /// of blocked names are counted in `background_queries` instead).
    pub forwarded: u64,
    /// Upstream answers relayed back to the phone.
    pub answered: u64,
    /// Allowed queries answered SERVFAIL: the upstream failed, timed out,
    /// or too many queries were already waiting, or its answer was refused.
    pub upstream_failures: u64,
    /// Upstream answers not relayed because they could not be read whole
    /// (malformed, truncated, another question, not a response...); the
    /// app got SERVFAIL (counted in `upstream_failures` too), or nothing
    /// was learned from a background lookup.
    pub answers_refused: u64,
    /// Packets or DNS messages that could not be parsed, dropped.
    pub malformed: u64,
    /// Queries sent to some other address than the virtual resolvers (a
    /// hard-coded resolver routed into the tunnel), answered by the
    /// firewall all the same.
    pub bypass_attempts: u64,
    /// Queries that came over TCP.
    pub tcp_queries: u64,
    /// TCP connections to the resolvers refused with a reset because every
    /// connection slot was taken (a flood, or an app that never closes).
    pub tcp_refused: u64,
    /// Answers to serve-mode UDP clients cut to their question with TC set,
    /// being longer than the client takes (it asks again over TCP).
    pub truncated_for_client: u64,
    /// Queries blocked because the device's policy does not list the name
    /// (counted in `blocked` too).
    pub device_blocked: u64,
    /// Serve-mode queries answered SERVFAIL at once because their client
    /// already had `max_pending_per_client` waiting for the upstream.
    pub client_pending_refused: u64,
    /// Blocked attempts that were packets to blocked addresses, rejected
    /// (counted in `blocked` too).
    pub rejected: u64,
    /// Rejects not sent because ICMP errors were over their rate.
    pub rejects_rate_limited: u64,
    /// Queries blocked because their answer led to a blocked name (counted
    /// in `blocked` too).
    pub cname_blocked: u64,
    /// Blocked names resolved in the background to learn their addresses.
    pub background_queries: u64,
    /// Lookups of enforced names (small lists resolved before any app asks).
    pub enforce_lookups: u64,
    /// Blocked names not resolved in the background because too many such
    /// lookups were already waiting or remembered (still blocked by name).
    pub background_skipped: u64,
    /// Addresses in blocked names' answers not learned: not globally
    /// reachable (LAN, loopback, link-local, CGNAT, multicast,
    /// documentation...), an upstream's or a resolver's own, or over the
    /// name's limit.
    pub learned_refused: u64,
    /// Addresses an allowed and a blocked name share, left reachable.
    pub shared_addresses: u64,
    /// Addresses rejected right now.
    pub learned_addresses: u64,
    /// Connections and datagrams to the resolvers on ports other than 53
    /// (DNS over TLS or QUIC probes), refused with a reset or an ICMP
    /// error.
    pub resolver_ports_refused: u64,
    /// Well-formed packets that are not DNS for the firewall (for example
    /// IPv6 router solicitations the kernel sends into every new tunnel).
    pub ignored: u64,
}
