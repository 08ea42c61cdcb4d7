//! Learned addresses: where blocked names resolve to, so that connections
//! to them (from apps with hard-coded addresses, old DNS answers or their
//! own resolvers) are rejected too, and where allowed names resolve to, so
//! that an address both share (a CDN) is never blocked.
//!
//! Entries live for their DNS TTL, held between a floor (an app may keep
//! an address longer than its TTL) and a ceiling. The table is bounded:
//! when full, expired entries go first, then the one closest to expiry.
//! An address stays rejected until [`LearnedAddrs::expire`] removes it,
//! which the engine does at the earliest expiry and then withdraws its
//! route: while a route sends an address into the tunnel, its traffic must
//! be rejected, never dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Bounds of the learned-address tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LearnedLimits {
    /// Most addresses of blocked names kept.
    pub max_blocked: usize,
    /// Most addresses of allowed names remembered (to detect sharing).
    pub max_allowed: usize,
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
}

/// The tables.
#[derive(Debug, Default)]
pub struct LearnedAddrs {
    limits: LearnedLimits,
    blocked: HashMap<IpAddr, Entry>,
    allowed: HashMap<IpAddr, Entry>,
}

impl LearnedAddrs {
    /// Empty tables with these bounds.
    pub fn new(limits: LearnedLimits) -> Self {
        Self {
            limits,
            blocked: HashMap::new(),
            allowed: HashMap::new(),
        }
    }

    fn expiry(&self, now: Instant, ttl: u32) -> Instant {
        let ttl = Duration::from_secs(u64::from(ttl))
            .clamp(self.limits.ttl_floor, self.limits.ttl_ceiling);
        now + ttl
    }

    /// Records that blocked `name` resolves to `addr` for `ttl` seconds.
    pub fn learn_blocked(&mut self, now: Instant, addr: IpAddr, name: &str, ttl: u32) -> Learned {
        if let Some(allowed) = self.allowed.get(&addr).filter(|e| e.expires > now) {
            return Learned::Shared {
                allowed_name: allowed.name.clone(),
            };
        }
        let expires = self.expiry(now, ttl);
        let new = match self.blocked.get_mut(&addr) {
            Some(entry) => {
                entry.expires = entry.expires.max(expires);
                false
            }
            None => {
                make_room(&mut self.blocked, now, self.limits.max_blocked);
                self.blocked.insert(
                    addr,
                    Entry {
                        name: name.to_owned(),
                        expires,
                    },
                );
                true
            }
        };
        Learned::Blocked { new }
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
        self.blocked.remove(&addr).map(|e| e.name)
    }

    /// The blocked name `addr` belongs to, if it is rejected.
    pub fn lookup(&self, addr: IpAddr) -> Option<&str> {
        self.blocked.get(&addr).map(|e| e.name.as_str())
    }

    /// Drops expired entries; true if a rejected address went away.
    pub fn expire(&mut self, now: Instant) -> bool {
        let before = self.blocked.len();
        self.blocked.retain(|_, e| e.expires > now);
        self.allowed.retain(|_, e| e.expires > now);
        self.blocked.len() != before
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

    /// The earliest expiry of a rejected address.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.blocked.values().map(|e| e.expires).min()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ttl_is_held_between_floor_and_ceiling() {
        let t0 = Instant::now();
        let mut t = LearnedAddrs::new(LearnedLimits::default());
        t.learn_blocked(t0, ip("203.0.113.1"), "tracker.example", 10);
        t.learn_blocked(t0, ip("203.0.113.2"), "tracker.example", u32::MAX);
        assert_eq!(t.next_expiry(), Some(t0 + Duration::from_secs(300)));
        assert!(!t.expire(t0 + Duration::from_secs(299)));
        assert_eq!(t.lookup(ip("203.0.113.1")), Some("tracker.example"));
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
            t.learn_blocked(t0, ip("198.51.100.1"), "tracker.example", 60),
            Learned::Shared {
                allowed_name: "shop.example".into()
            }
        );
        assert!(t.lookup(ip("198.51.100.1")).is_none());
        // Blocked first: the allowed name frees it.
        assert_eq!(
            t.learn_blocked(t0, ip("198.51.100.2"), "tracker.example", 60),
            Learned::Blocked { new: true }
        );
        assert_eq!(
            t.learn_allowed(t0, ip("198.51.100.2"), "cdn.example", 60),
            Some("tracker.example".into())
        );
        assert!(t.lookup(ip("198.51.100.2")).is_none());
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
            t.learn_blocked(t0, ip(&format!("203.0.113.{i}")), "t.example", ttl);
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
