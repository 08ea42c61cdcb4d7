//! Learned addresses: where blocked names resolve to, so that connections
//! to them (from apps with hard-coded addresses, old DNS answers or their
//! own resolvers) are rejected too, and where allowed names resolve to, so
//! that an address both share (a CDN) is never blocked.
//!
//! Entries live for their DNS TTL, held between a floor (an app may keep
//! an address longer than its TTL) and a ceiling. The table is bounded:
//! when full, expired entries go first, then the one closest to expiry
//! (entries of enforced names last). One blocked name holds at most
//! [`LearnedLimits::max_per_name`] addresses. An address stays rejected
//! until [`LearnedAddrs::expire`] removes it, which the engine does at the
//! earliest expiry and then withdraws its route: while a route sends an
//! address into the tunnel, its traffic must be rejected, never dropped.
//!
//! Addresses of *enforced* names (small lists resolved before any app asks)
//! are pinned: they stay rejected past their TTL until the name's next
//! lookup replaces them, so a phone left idle keeps enforcing without a
//! timer to wake it.
//!
//! Which addresses may be learned at all is [`is_global`]'s to say: the
//! upstream may be hostile, and a blocked name's answer must never cut the
//! phone off from its LAN, its router or itself.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use tacet_rules::RuleRef;

/// Bounds of the learned-address tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LearnedLimits {
    /// Most addresses of blocked names kept.
    pub max_blocked: usize,
    /// Most addresses of allowed names remembered (to detect sharing).
    pub max_allowed: usize,
    /// Most addresses kept for one blocked name: a CDN answers with a
    /// handful, and a hostile upstream must not fill the table with one.
    pub max_per_name: usize,
    /// The shortest an address is kept, whatever its TTL.
    pub ttl_floor: Duration,
    /// The longest an address is kept, whatever its TTL.
    pub ttl_ceiling: Duration,
}

impl Default for LearnedLimits {
    fn default() -> Self {
        Self {
            max_blocked: 4096,
            max_allowed: 16_384,
            max_per_name: 16,
            // Apps and OS caches keep addresses well past short TTLs (CDNs
            // answer with 60 s); five minutes covers a typical retry loop.
            ttl_floor: Duration::from_secs(300),
            ttl_ceiling: Duration::from_secs(24 * 3600),
        }
    }
}

#[derive(Clone, Debug)]
struct Entry {
    name: String,
    expires: Instant,
}

#[derive(Clone, Debug)]
struct BlockedEntry {
    name: String,
    /// The rule that blocks `name`, which rejections are counted under.
    rule: RuleRef,
    expires: Instant,
    /// An enforced name's: kept past `expires` until its next lookup.
    pinned: bool,
}

/// What learning a blocked name's address did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Learned {
    /// The address is now rejected.
    Blocked {
        /// Whether it was not rejected before (its route is new).
        new: bool,
    },
    /// An allowed name resolves to it too: it stays reachable.
    Shared {
        /// The allowed name.
        allowed_name: String,
    },
    /// The name already holds [`LearnedLimits::max_per_name`] addresses.
    OverNameLimit,
}

/// The tables.
#[derive(Debug, Default)]
pub struct LearnedAddrs {
    limits: LearnedLimits,
    blocked: HashMap<IpAddr, BlockedEntry>,
    allowed: HashMap<IpAddr, Entry>,
    /// How many addresses each blocked name holds.
    per_name: HashMap<String, usize>,
}

impl LearnedAddrs {
    /// Empty tables with these bounds.
    pub fn new(limits: LearnedLimits) -> Self {
        Self {
            limits,
            blocked: HashMap::new(),
            allowed: HashMap::new(),
            per_name: HashMap::new(),
        }
    }

    fn expiry(&self, now: Instant, ttl: u32) -> Instant {
        let ttl = Duration::from_secs(u64::from(ttl))
            .clamp(self.limits.ttl_floor, self.limits.ttl_ceiling);
        now + ttl
    }

    /// Records that blocked `name` (blocked by `rule`) resolves to `addr`
    /// for `ttl` seconds; `pinned` for an enforced name's lookup.
    pub fn learn_blocked(
        &mut self,
        now: Instant,
        addr: IpAddr,
        name: &str,
        rule: RuleRef,
        ttl: u32,
        pinned: bool,
    ) -> Learned {
        if let Some(allowed) = self.allowed.get(&addr).filter(|e| e.expires > now) {
            return Learned::Shared {
                allowed_name: allowed.name.clone(),
            };
        }
        let expires = self.expiry(now, ttl);
        if let Some(entry) = self.blocked.get_mut(&addr) {
            entry.expires = entry.expires.max(expires);
            entry.pinned |= pinned;
            return Learned::Blocked { new: false };
        }
        if self.per_name.get(name).copied().unwrap_or(0) >= self.limits.max_per_name {
            return Learned::OverNameLimit;
        }
        self.make_room(now);
        self.blocked.insert(
            addr,
            BlockedEntry {
                name: name.to_owned(),
                rule,
                expires,
                pinned,
            },
        );
        *self.per_name.entry(name.to_owned()).or_insert(0) += 1;
        Learned::Blocked { new: true }
    }

    /// When the blocked address `addr` is forgotten, if it is learned.
    pub fn expires_at(&self, addr: IpAddr) -> Option<Instant> {
        self.blocked.get(&addr).map(|e| e.expires)
    }

    /// Records that allowed `name` resolves to `addr`. If a blocked name
    /// was learned at that address, it is shared: it is no longer rejected,
    /// and the blocked name is returned so the conflict can be reported.
    pub fn learn_allowed(
        &mut self,
        now: Instant,
        addr: IpAddr,
        name: &str,
        ttl: u32,
    ) -> Option<String> {
        let expires = self.expiry(now, ttl);
        match self.allowed.get_mut(&addr) {
            Some(entry) => entry.expires = entry.expires.max(expires),
            None => {
                make_room(&mut self.allowed, now, self.limits.max_allowed);
                self.allowed.insert(
                    addr,
                    Entry {
                        name: name.to_owned(),
                        expires,
                    },
                );
            }
        }
        self.remove_blocked(addr).map(|e| e.name)
    }

    /// The blocked name `addr` belongs to, and its rule, if it is rejected.
    pub fn lookup(&self, addr: IpAddr) -> Option<(&str, RuleRef)> {
        self.blocked.get(&addr).map(|e| (e.name.as_str(), e.rule))
    }

    /// Takes a fresh lookup of enforced `name` for one address family
    /// (`v4`): its pinned addresses of that family that the lookup no
    /// longer gave (`keep`) go at once (their time was up: the lookup was
    /// due); the caller then pins what it gave. True if an address went.
    pub fn refresh_pinned(&mut self, name: &str, v4: bool, keep: &[IpAddr]) -> bool {
        let gone: Vec<IpAddr> = self
            .blocked
            .iter()
            .filter(|(a, e)| e.pinned && e.name == name && a.is_ipv4() == v4 && !keep.contains(a))
            .map(|(a, _)| *a)
            .collect();
        for addr in &gone {
            self.remove_blocked(*addr);
        }
        !gone.is_empty()
    }

    /// Unpins the addresses of `name`, no longer enforced: they live out
    /// their TTL as any learned address does.
    pub fn unpin(&mut self, name: &str) {
        for entry in self.blocked.values_mut().filter(|e| e.name == name) {
            entry.pinned = false;
        }
    }

    /// Takes new rules: each address stays rejected under the rule that
    /// now blocks its name (`rule_of`), and goes when none does (the user
    /// allowed it). True if an address went.
    pub fn rules_changed(&mut self, mut rule_of: impl FnMut(&str) -> Option<RuleRef>) -> bool {
        let gone: Vec<IpAddr> = self
            .blocked
            .iter_mut()
            .filter_map(|(addr, entry)| match rule_of(&entry.name) {
                Some(rule) => {
                    entry.rule = rule;
                    None
                }
                None => Some(*addr),
            })
            .collect();
        for addr in &gone {
            self.remove_blocked(*addr);
        }
        !gone.is_empty()
    }

    /// Drops expired entries (pinned ones stay); true if a rejected address
    /// went away.
    pub fn expire(&mut self, now: Instant) -> bool {
        let gone: Vec<IpAddr> = self
            .blocked
            .iter()
            .filter(|(_, e)| !e.pinned && e.expires <= now)
            .map(|(a, _)| *a)
            .collect();
        for addr in &gone {
            self.remove_blocked(*addr);
        }
        self.allowed.retain(|_, e| e.expires > now);
        !gone.is_empty()
    }

    /// The rejected addresses, sorted, for the routes into the tunnel.
    pub fn addresses(&self) -> Vec<IpAddr> {
        let mut addrs: Vec<IpAddr> = self.blocked.keys().copied().collect();
        addrs.sort_unstable();
        addrs
    }

    /// How many addresses are rejected.
    pub fn len(&self) -> usize {
        self.blocked.len()
    }

    /// Whether no address is rejected.
    pub fn is_empty(&self) -> bool {
        self.blocked.is_empty()
    }

    /// The earliest expiry of a rejected address that is not pinned.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.blocked
            .values()
            .filter(|e| !e.pinned)
            .map(|e| e.expires)
            .min()
    }

    fn remove_blocked(&mut self, addr: IpAddr) -> Option<BlockedEntry> {
        let entry = self.blocked.remove(&addr)?;
        if let Some(count) = self.per_name.get_mut(&entry.name) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.per_name.remove(&entry.name);
            }
        }
        Some(entry)
    }

    /// Makes room for one more rejected address: expired ones go first,
    /// then the one that would expire soonest, pinned ones last.
    fn make_room(&mut self, now: Instant) {
        if self.blocked.len() < self.limits.max_blocked {
            return;
        }
        self.expire(now);
        while self.blocked.len() >= self.limits.max_blocked.max(1) {
            let Some(soonest) = self
                .blocked
                .iter()
                .min_by_key(|(_, e)| (e.pinned, e.expires))
                .map(|(a, _)| *a)
            else {
                return;
            };
            self.remove_blocked(soonest);
        }
    }
}

/// Makes room for one more entry: expired ones go first, then the one
/// that would expire soonest.
fn make_room(table: &mut HashMap<IpAddr, Entry>, now: Instant, max: usize) {
    if table.len() < max {
        return;
    }
    table.retain(|_, e| e.expires > now);
    while table.len() >= max.max(1) {
        let Some(soonest) = table.iter().min_by_key(|(_, e)| e.expires).map(|(a, _)| *a) else {
            return;
        };
        table.remove(&soonest);
    }
}

/// Whether `addr` is globally reachable, and so may be learned from a
/// blocked name's answer. Not: unspecified, loopback, private (RFC 1918,
/// unique-local), shared (CGNAT), link-local, multicast, broadcast,
/// documentation, benchmarking, reserved and IETF-protocol ranges
/// (following IANA's special-purpose registries), nor IPv6 forms that
/// carry one of those IPv4 addresses (mapped, compatible, NAT64). dnsmasq's
/// `--stop-dns-rebind` refuses the same kind of answer for the same reason:
/// a hostile resolver must not point a name at the phone's own network.
pub fn is_global(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

fn is_global_v4(a: Ipv4Addr) -> bool {
    let [o0, o1, o2, _] = a.octets();
    !(o0 == 0 // "this network"
        || o0 == 10
        || o0 == 127
        || (o0 == 100 && (64..128).contains(&o1)) // CGNAT, RFC 6598
        || (o0 == 169 && o1 == 254)
        || (o0 == 172 && (16..32).contains(&o1))
        || (o0 == 192 && o1 == 0 && o2 == 0) // IETF protocol assignments
        || (o0 == 192 && o1 == 0 && o2 == 2) // TEST-NET-1
        || (o0 == 192 && o1 == 88 && o2 == 99) // 6to4 relay anycast
        || (o0 == 192 && o1 == 168)
        || (o0 == 198 && (18..20).contains(&o1)) // benchmarking, RFC 2544
        || (o0 == 198 && o1 == 51 && o2 == 100) // TEST-NET-2
        || (o0 == 203 && o1 == 0 && o2 == 113) // TEST-NET-3
        || o0 >= 224) // multicast, reserved, broadcast
}

fn is_global_v6(a: Ipv6Addr) -> bool {
    let s = a.segments();
    if let Some(v4) = embedded_v4(a) {
        return is_global_v4(v4);
    }
    !(a.is_unspecified()
        || a.is_loopback()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard
        || (s[0] == 0x2001 && s[1] < 0x0200) // IETF protocol assignments
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x3fff && s[1] < 0x1000) // 3fff::/20, documentation
        || s[0] == 0x5f00 // segment routing SIDs
        || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 1)) // local-use NAT64
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`) or well-known NAT64 (`64:ff9b::a.b.c.d`)
/// address.
fn embedded_v4(a: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = a.segments();
    let o = a.octets();
    let low = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(low),
        [0, 0, 0, 0, 0, 0, _, _] if !(s[6] == 0 && s[7] <= 1) => Some(low),
        [0x0064, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const RULE: RuleRef = RuleRef {
        list: tacet_rules::ListId(0),
        line: 1,
    };

    fn learn(t: &mut LearnedAddrs, now: Instant, addr: &str, name: &str, ttl: u32) -> Learned {
        t.learn_blocked(now, ip(addr), name, RULE, ttl, false)
    }

    #[test]
    fn ttl_is_held_between_floor_and_ceiling() {
        let t0 = Instant::now();
        let mut t = LearnedAddrs::new(LearnedLimits::default());
        learn(&mut t, t0, "203.0.113.1", "tracker.example", 10);
        learn(&mut t, t0, "203.0.113.2", "tracker.example", u32::MAX);
        assert_eq!(t.next_expiry(), Some(t0 + Duration::from_secs(300)));
        assert!(!t.expire(t0 + Duration::from_secs(299)));
        assert_eq!(t.lookup(ip("203.0.113.1")), Some(("tracker.example", RULE)));
        assert!(t.expire(t0 + Duration::from_secs(300)));
        assert_eq!(t.lookup(ip("203.0.113.1")), None);
        assert_eq!(t.next_expiry(), Some(t0 + Duration::from_secs(86_400)));
    }

    #[test]
    fn an_address_an_allowed_name_uses_is_shared_either_way() {
        let t0 = Instant::now();
        let mut t = LearnedAddrs::new(LearnedLimits::default());
        // Allowed first: the blocked name cannot claim it.
        t.learn_allowed(t0, ip("198.51.100.1"), "shop.example", 60);
        assert_eq!(
            learn(&mut t, t0, "198.51.100.1", "tracker.example", 60),
            Learned::Shared {
                allowed_name: "shop.example".into()
            }
        );
        assert!(t.lookup(ip("198.51.100.1")).is_none());
        // Blocked first: the allowed name frees it.
        assert_eq!(
            learn(&mut t, t0, "198.51.100.2", "tracker.example", 60),
            Learned::Blocked { new: true }
        );
        assert_eq!(
            t.learn_allowed(t0, ip("198.51.100.2"), "cdn.example", 60),
            Some("tracker.example".into())
        );
        assert!(t.lookup(ip("198.51.100.2")).is_none());
    }

    #[test]
    fn one_name_holds_a_bounded_number_of_addresses() {
        let t0 = Instant::now();
        let mut t = LearnedAddrs::new(LearnedLimits::default());
        let max = LearnedLimits::default().max_per_name;
        for i in 0..max {
            let addr = format!("93.184.215.{i}");
            assert_eq!(
                learn(&mut t, t0, &addr, "t.example", 60),
                Learned::Blocked { new: true }
            );
        }
        assert_eq!(
            learn(&mut t, t0, "93.184.216.1", "t.example", 60),
            Learned::OverNameLimit
        );
        // Another name still has room, and an expired address frees one.
        assert_eq!(
            learn(&mut t, t0, "93.184.216.2", "u.example", 60),
            Learned::Blocked { new: true }
        );
        assert!(t.expire(t0 + Duration::from_secs(301)));
        assert_eq!(
            learn(&mut t, t0, "93.184.216.1", "t.example", 60),
            Learned::Blocked { new: true }
        );
    }

    #[test]
    fn pinned_addresses_outlive_their_ttl_until_unpinned() {
        let t0 = Instant::now();
        let mut t = LearnedAddrs::new(LearnedLimits::default());
        t.learn_blocked(t0, ip("93.184.215.1"), "p.example", RULE, 60, true);
        learn(&mut t, t0, "93.184.215.2", "q.example", 60);
        assert_eq!(t.next_expiry(), Some(t0 + Duration::from_secs(300)));
        let later = t0 + Duration::from_secs(3600);
        assert!(t.expire(later), "the unpinned one went");
        assert_eq!(t.len(), 1);
        assert_eq!(t.next_expiry(), None, "no timer for a pinned address");
        t.unpin("p.example");
        assert!(t.expire(later));
        assert!(t.is_empty());
    }

    #[test]
    fn a_refresh_replaces_the_pinned_addresses_of_its_family_only() {
        let t0 = Instant::now();
        let mut t = LearnedAddrs::new(LearnedLimits::default());
        for a in ["93.184.215.1", "93.184.215.2", "2606:2800:21f::1"] {
            t.learn_blocked(t0, ip(a), "p.example", RULE, 60, true);
        }
        assert!(t.refresh_pinned("p.example", true, &[ip("93.184.215.2")]));
        assert_eq!(
            t.addresses(),
            vec![ip("93.184.215.2"), ip("2606:2800:21f::1")]
        );
        assert!(!t.refresh_pinned("other.example", true, &[]));
    }

    #[test]
    fn new_rules_keep_blocked_names_and_free_allowed_ones() {
        let t0 = Instant::now();
        let mut t = LearnedAddrs::new(LearnedLimits::default());
        learn(&mut t, t0, "93.184.215.1", "still.example", 60);
        learn(&mut t, t0, "93.184.215.2", "freed.example", 60);
        let moved = RuleRef {
            list: tacet_rules::ListId(3),
            line: 9,
        };
        assert!(t.rules_changed(|name| (name == "still.example").then_some(moved)));
        assert_eq!(t.lookup(ip("93.184.215.1")), Some(("still.example", moved)));
        assert_eq!(t.lookup(ip("93.184.215.2")), None);
        assert!(!t.rules_changed(|_| Some(moved)));
    }

    #[test]
    fn only_globally_reachable_addresses_may_be_learned() {
        for special in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "169.254.1.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.67",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.37",
            "203.0.113.9",
            "224.0.0.251",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:192.168.1.1",
            "::ffff:127.0.0.1",
            "64:ff9b::10.0.0.1",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:db8::67",
            "3fff::1",
            "5f00::1",
            "fc00::1",
            "fd74:6163:6574::53",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(!is_global(ip(special)), "{special} is not global");
        }
        for global in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.67",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.3.1",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "2001:200::1",
            "::ffff:93.184.215.67",
            "64:ff9b::93.184.215.67",
            "3fff:1000::1",
        ] {
            assert!(is_global(ip(global)), "{global} is global");
        }
    }

    #[test]
    fn bounded_with_the_soonest_expiring_evicted() {
        let t0 = Instant::now();
        let limits = LearnedLimits {
            max_blocked: 3,
            ..LearnedLimits::default()
        };
        let mut t = LearnedAddrs::new(limits);
        for (i, ttl) in [(1, 1000), (2, 500), (3, 2000), (4, 3000)] {
            learn(&mut t, t0, &format!("203.0.113.{i}"), "t.example", ttl);
        }
        assert_eq!(t.len(), 3);
        assert!(
            t.lookup(ip("203.0.113.2")).is_none(),
            "the soonest to expire went"
        );
        assert_eq!(
            t.addresses(),
            vec![ip("203.0.113.1"), ip("203.0.113.3"), ip("203.0.113.4")]
        );
        assert!(t.expire(t0 + Duration::from_secs(2500)));
        assert_eq!(t.len(), 1);
    }
}
