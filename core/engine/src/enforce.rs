//! Enforced names: the names of small lists (the curated vendor lists, a
//! list the user marks), resolved in the background before any app asks,
//! so their addresses are rejected from the first second: an app with a
//! hard-coded address (P2P cameras ship fallback server addresses) or an
//! address cached from before the firewall started never asks for the
//! name, and would otherwise never be stopped.
//!
//! Bounded three ways: at most [`MAX_ENFORCED_NAMES`] names, at most
//! [`LOOKUP_BURST`] lookups at once and [`LOOKUPS_PER_MINUTE`] after, and
//! no timer of its own once every name has been tried: a name whose
//! addresses ran out their TTL is looked up again the next time the engine
//! is woken for anything else (its addresses stay rejected meanwhile,
//! pinned in [`crate::learned`]), so an idle phone is never woken for it.

use std::time::{Duration, Instant};

/// The most names enforced; more are left out (the shell says so).
pub const MAX_ENFORCED_NAMES: usize = 512;
/// Lookups that may go out at once (the first pass over a list of up to
/// 64 names, A and AAAA, needs no waiting).
pub const LOOKUP_BURST: u32 = 128;
/// Lookups a minute once the burst is spent.
pub const LOOKUPS_PER_MINUTE: u32 = 60;
/// How long a failed lookup waits before it is tried again.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);

/// The record types looked up for each name.
const TYPES: [u16; 2] = [crate::dns::TYPE_A, crate::dns::TYPE_AAAA];

#[derive(Clone, Debug)]
struct Item {
    name: String,
    qtype: u16,
    /// When it is due to be looked up (again).
    due: Instant,
    /// Never looked up yet: the first pass may wake the engine for it.
    first: bool,
    in_flight: bool,
}

/// What the engine asks of the enforcer.
#[derive(Debug, Default)]
pub struct Enforcer {
    items: Vec<Item>,
    /// The earliest `due` of an item not in flight: the engine asks on
    /// every input, and this makes the answer free when nothing is due.
    next_due: Option<Instant>,
    tokens: f64,
    refilled: Option<Instant>,
}

impl Enforcer {
    /// An enforcer with no names and a full burst.
    pub fn new() -> Self {
        Self {
            items: Vec::new(),
            next_due: None,
            tokens: f64::from(LOOKUP_BURST),
            refilled: None,
        }
    }

    fn update_next_due(&mut self) {
        self.next_due = self
            .items
            .iter()
            .filter(|i| !i.in_flight)
            .map(|i| i.due)
            .min();
    }

    /// Enforces these names from now on (at most [`MAX_ENFORCED_NAMES`]);
    /// names kept from before keep their schedule. Returns the names no
    /// longer enforced.
    pub fn set_names(&mut self, now: Instant, names: &[String]) -> Vec<String> {
        let names = names.get(..MAX_ENFORCED_NAMES).unwrap_or(names);
        let mut dropped: Vec<String> = self
            .items
            .iter()
            .filter(|i| !names.contains(&i.name))
            .map(|i| i.name.clone())
            .collect();
        dropped.dedup();
        self.items.retain(|i| names.contains(&i.name));
        for name in names {
            if self.items.iter().any(|i| &i.name == name) {
                continue;
            }
            for qtype in TYPES {
                self.items.push(Item {
                    name: name.clone(),
                    qtype,
                    due: now,
                    first: true,
                    in_flight: false,
                });
            }
        }
        self.update_next_due();
        dropped
    }

    /// How many names are enforced.
    pub fn len(&self) -> usize {
        self.items.len() / TYPES.len()
    }

    /// Whether no name is enforced.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether `name` is enforced.
    pub fn contains(&self, name: &str) -> bool {
        self.items.iter().any(|i| i.name == name)
    }

    fn refill(&mut self, now: Instant) {
        let per_second = f64::from(LOOKUPS_PER_MINUTE) / 60.0;
        let elapsed = self
            .refilled
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        self.tokens =
            (self.tokens + elapsed.as_secs_f64() * per_second).min(f64::from(LOOKUP_BURST));
        self.refilled = Some(now);
    }

    /// The lookups due now that the rate allows, marked as in flight.
    pub fn take_due(&mut self, now: Instant) -> Vec<(String, u16)> {
        if self.next_due.is_none_or(|due| due > now) {
            return Vec::new();
        }
        self.refill(now);
        let mut out = Vec::new();
        for item in &mut self.items {
            if self.tokens < 1.0 {
                break;
            }
            if item.in_flight || item.due > now {
                continue;
            }
            self.tokens -= 1.0;
            item.in_flight = true;
            item.first = false;
            out.push((item.name.clone(), item.qtype));
        }
        self.update_next_due();
        out
    }

    /// A lookup of `name` came back; it is due again at `again` (the
    /// shortest TTL of its addresses, held to the learned-address floor
    /// and ceiling by the caller), or after [`RETRY_AFTER`] if it failed.
    pub fn done(&mut self, name: &str, qtype: u16, now: Instant, again: Option<Instant>) {
        if let Some(item) = self
            .items
            .iter_mut()
            .find(|i| i.name == name && i.qtype == qtype)
        {
            item.in_flight = false;
            item.due = again.unwrap_or(now + RETRY_AFTER);
        }
        self.update_next_due();
    }

    /// A name's lookup was not sent after all (the name is no longer
    /// blocked): it is due again after [`RETRY_AFTER`].
    pub fn skip(&mut self, name: &str, qtype: u16, now: Instant) {
        self.done(name, qtype, now, None);
    }

    /// When the engine must wake for the first pass: while some name was
    /// never looked up, the time the rate allows the next lookup (counted
    /// from the last refill, so it may lie in the past). `None` once every
    /// name has been tried: refreshes join other work.
    pub fn first_pass_deadline(&self) -> Option<Instant> {
        if !self.items.iter().any(|i| i.first && !i.in_flight) {
            return None;
        }
        let refilled = self.refilled?;
        let per_second = f64::from(LOOKUPS_PER_MINUTE) / 60.0;
        let wait = ((1.0 - self.tokens) / per_second).max(0.0);
        Some(refilled + Duration::from_secs_f64(wait))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("n{i}.example")).collect()
    }

    #[test]
    fn a_small_list_is_looked_up_at_once_then_only_when_due() {
        let t0 = Instant::now();
        let mut e = Enforcer::new();
        e.set_names(t0, &names(40));
        let first = e.take_due(t0);
        assert_eq!(first.len(), 80, "A and AAAA of every name");
        assert_eq!(e.first_pass_deadline(), None);
        assert!(e.take_due(t0).is_empty(), "all in flight");
        for (name, qtype) in &first {
            e.done(name, *qtype, t0, Some(t0 + Duration::from_secs(300)));
        }
        assert!(e.take_due(t0 + Duration::from_secs(299)).is_empty());
        assert_eq!(e.take_due(t0 + Duration::from_secs(300)).len(), 80);
    }

    #[test]
    fn a_large_list_is_bounded_in_names_and_in_rate() {
        let t0 = Instant::now();
        let mut e = Enforcer::new();
        e.set_names(t0, &names(1_000_000));
        assert_eq!(e.len(), MAX_ENFORCED_NAMES);
        let mut sent = e.take_due(t0).len();
        assert_eq!(sent, LOOKUP_BURST as usize);
        // Ten minutes of the engine waking whenever the enforcer asks.
        let mut now = t0;
        while now < t0 + Duration::from_secs(600) {
            let Some(at) = e.first_pass_deadline() else {
                break;
            };
            assert!(at > now, "never a busy loop");
            now = at;
            for (name, qtype) in e.take_due(now) {
                sent += 1;
                e.done(&name, qtype, now, Some(now + Duration::from_secs(3600)));
            }
        }
        assert!(
            sent <= LOOKUP_BURST as usize + 10 * LOOKUPS_PER_MINUTE as usize + 1,
            "{sent} lookups in ten minutes"
        );
        assert!(sent >= 10 * LOOKUPS_PER_MINUTE as usize);
    }

    #[test]
    fn failures_retry_later_without_a_timer() {
        let t0 = Instant::now();
        let mut e = Enforcer::new();
        e.set_names(t0, &names(1));
        for (name, qtype) in e.take_due(t0) {
            e.done(&name, qtype, t0, None);
        }
        assert_eq!(e.first_pass_deadline(), None);
        assert!(e
            .take_due(t0 + RETRY_AFTER - Duration::from_secs(1))
            .is_empty());
        assert_eq!(e.take_due(t0 + RETRY_AFTER).len(), 2);
    }

    #[test]
    fn new_names_keep_the_old_ones_schedule() {
        let t0 = Instant::now();
        let mut e = Enforcer::new();
        e.set_names(t0, &names(2));
        for (name, qtype) in e.take_due(t0) {
            e.done(&name, qtype, t0, Some(t0 + Duration::from_secs(300)));
        }
        let dropped = e.set_names(t0, &["n1.example".into(), "new.example".into()]);
        assert_eq!(dropped, vec!["n0.example"]);
        let due: Vec<_> = e.take_due(t0).into_iter().map(|(n, _)| n).collect();
        assert_eq!(due, vec!["new.example", "new.example"]);
    }
}
