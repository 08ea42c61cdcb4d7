//! Counters of blocked attempts: since install, per day, per hour for the
//! last 7 days, per reason, per list, the most-blocked names and how many
//! distinct names, all in bounded memory.
//!
//! Every attempt counts, coalesced or not. The writer saves a snapshot that
//! says up to which journal record it is exact (`journal_seq`); opening the
//! store, or reading counters from another process, replays the journal
//! records after it, so counters survive a crash as well as the journal does
//! and agree with it. (After a crash, replayed repeats are counted at the hour
//! of their last attempt rather than each at its own.)

use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;

use hashbrown::HashTable;

use serde::{Deserialize, Serialize};

use crate::entry::{Action, JournalEntry};

const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;
/// Hours kept in the hourly ring: 7 days.
pub const HOURS_KEPT: usize = 7 * 24;
/// Days kept in the per-day table; older days fall out.
pub const DAYS_KEPT: usize = 400;
/// Lists counted separately; attempts of further lists are counted under `(other)`.
pub const LISTS_KEPT: usize = 256;
/// Names the top-names sketch watches.
pub const TOP_CAPACITY: usize = 512;
/// Distinct names counted exactly; past this the count is a HyperLogLog estimate.
pub const UNIQUE_EXACT_LIMIT: usize = 2048;
const HLL_BITS: u32 = 12;
const HLL_REGISTERS: usize = 1 << HLL_BITS;

/// Attempts within one hour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourCount {
    /// The hour, as hours since the Unix epoch (UTC).
    pub hour: u64,
    /// Blocked attempts in that hour.
    pub count: u64,
}

/// Blocked attempts by kind of reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonCounts {
    /// A block rule matched the name.
    pub rule: u64,
    /// A name in the CNAME chain matched.
    pub cname: u64,
    /// A connection to a learned address was rejected.
    pub learned_address: u64,
    /// A canary name was answered.
    pub canary: u64,
    /// A resolver bypass was stopped.
    pub bypass: u64,
}

/// One of the most-blocked names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopName {
    /// The name.
    pub name: String,
    /// Attempts counted for it: exact when `error` is 0, otherwise at most
    /// `error` more than the truth.
    pub count: u64,
    /// How much `count` may overstate: attempts of other names it inherited
    /// when it replaced them in the sketch.
    pub error: u64,
}

/// The most-blocked names: a space-saving sketch. Every name blocked more
/// often than total / capacity is in it; a name that was never displaced
/// (error 0) has an exact count, which is the case for the heavy hitters of
/// a skewed (Zipf-like) workload.
///
/// The names stay where they were put (`slots`, the stored form, in no
/// order); a min-heap of their positions orders them by count, and each
/// knows where it is in the heap. Moving a name in the heap touches two
/// integers, not the name index: with the index updated on every swap, a
/// stream of new blocked names hashed about 20 names each and the sketch
/// took 12 % of the firewall's CPU (`bench/blocked.sh` under `perf`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TopNames {
    slots: Vec<TopName>,
    /// Positions in `slots`, a min-heap on their counts.
    #[serde(skip)]
    heap: Vec<u32>,
    /// For each slot, where it is in `heap`.
    #[serde(skip)]
    at: Vec<u32>,
    /// Each name's slot, found by the name's hash and confirmed against
    /// the slot's name: the names are stored once, in `slots`.
    #[serde(skip)]
    index: HashTable<u32>,
    /// Keyed at random per process (names come from apps and lists).
    #[serde(skip)]
    hasher: foldhash::fast::RandomState,
}

fn slot_is(slots: &[TopName], slot: u32, name: &str) -> bool {
    slots.get(slot as usize).is_some_and(|s| s.name == name)
}

fn slot_hash(hasher: &foldhash::fast::RandomState, slots: &[TopName], slot: u32) -> u64 {
    slots
        .get(slot as usize)
        .map_or(0, |s| hasher.hash_one(s.name.as_str()))
}

impl TopNames {
    fn add(&mut self, name: &str, n: u64) {
        if self.index.len() != self.slots.len() || self.heap.len() != self.slots.len() {
            self.rebuild();
        }
        let hash = self.hasher.hash_one(name);
        let slots = &self.slots;
        if let Some(&slot) = self.index.find(hash, |&s| slot_is(slots, s, name)) {
            let Some(entry) = self.slots.get_mut(slot as usize) else {
                return;
            };
            entry.count += n;
            if let Some(&i) = self.at.get(slot as usize) {
                self.sift_down(i as usize);
            }
            return;
        }
        if self.slots.len() < TOP_CAPACITY {
            let slot = self.slots.len() as u32;
            self.slots.push(TopName {
                name: name.to_owned(),
                count: n,
                error: 0,
            });
            let (slots, hasher) = (&self.slots, &self.hasher);
            self.index
                .insert_unique(hash, slot, |&s| slot_hash(hasher, slots, s));
            self.at.push(self.heap.len() as u32);
            self.heap.push(slot);
            self.sift_up(self.heap.len() - 1);
            return;
        }
        // Replace the least counted name: the newcomer inherits its count
        // as error, and its slot's string, so no allocation is made.
        let Some(&slot) = self.heap.first() else {
            return;
        };
        let Some(min) = self.slots.get(slot as usize) else {
            return;
        };
        let old = self.hasher.hash_one(min.name.as_str());
        if let Ok(entry) = self.index.find_entry(old, |&s| s == slot) {
            entry.remove();
        }
        let Some(min) = self.slots.get_mut(slot as usize) else {
            return;
        };
        min.error = min.count;
        min.count += n;
        min.name.clear();
        min.name.push_str(name);
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index
            .insert_unique(hash, slot, |&s| slot_hash(hasher, slots, s));
        self.sift_down(0);
    }

    /// Restores the heap and the index (after loading a snapshot). A
    /// snapshot is read from disk: a name in it twice is kept once, with
    /// both counts.
    fn rebuild(&mut self) {
        self.slots.truncate(TOP_CAPACITY);
        let mut index = HashTable::with_capacity(self.slots.len());
        let mut kept: Vec<TopName> = Vec::with_capacity(self.slots.len());
        for s in std::mem::take(&mut self.slots) {
            let hash = self.hasher.hash_one(s.name.as_str());
            if let Some(&o) = index.find(hash, |&o| slot_is(&kept, o, &s.name)) {
                if let Some(first) = kept.get_mut(o as usize) {
                    first.count = first.count.saturating_add(s.count);
                    first.error = first.error.saturating_add(s.error);
                }
                continue;
            }
            let slot = kept.len() as u32;
            kept.push(s);
            index.insert_unique(hash, slot, |&o| slot_hash(&self.hasher, &kept, o));
        }
        self.slots = kept;
        self.index = index;
        let len = self.slots.len() as u32;
        self.heap = (0..len).collect();
        self.at = (0..len).collect();
        for i in (0..self.heap.len() / 2).rev() {
            self.sift_down(i);
        }
    }

    /// The count of the name at heap position `i`.
    fn count_at(&self, i: usize) -> u64 {
        self.heap
            .get(i)
            .and_then(|&slot| self.slots.get(slot as usize))
            .map_or(u64::MAX, |s| s.count)
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        for i in [a, b] {
            if let Some(&slot) = self.heap.get(i) {
                if let Some(at) = self.at.get_mut(slot as usize) {
                    *at = i as u32;
                }
            }
        }
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.count_at(i) >= self.count_at(parent) {
                break;
            }
            self.swap(i, parent);
            i = parent;
        }
    }

    fn smallest_child(&self, i: usize) -> Option<usize> {
        let l = 2 * i + 1;
        let r = l + 1;
        if l >= self.heap.len() {
            return None;
        }
        Some(
            if r < self.heap.len() && self.count_at(r) < self.count_at(l) {
                r
            } else {
                l
            },
        )
    }

    fn sift_down(&mut self, mut i: usize) {
        while let Some(c) = self.smallest_child(i) {
            if self.count_at(c) >= self.count_at(i) {
                break;
            }
            self.swap(i, c);
            i = c;
        }
    }

    /// The `k` most-blocked names, most first.
    pub fn top(&self, k: usize) -> Vec<TopName> {
        let mut all = self.slots.clone();
        all.sort_unstable_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
        all.truncate(k);
        all
    }
}

/// How many distinct names were blocked: exact up to
/// [`UNIQUE_EXACT_LIMIT`], then a HyperLogLog estimate (4096 registers, about
/// 1.6 % standard error).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UniqueNames {
    /// Stable 64-bit hashes of the names, while exact.
    exact: BTreeSet<u64>,
    /// HyperLogLog registers as hex, once past the exact limit.
    hll: Option<String>,
    #[serde(skip)]
    registers: Vec<u8>,
}

/// A distinct-name count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniqueCount {
    /// The number of distinct names.
    pub value: u64,
    /// Whether it is exact (false: a HyperLogLog estimate).
    pub exact: bool,
}

/// FNV-1a, then a mixer: a hash that stays the same across runs and versions,
/// as the snapshot keeps it.
fn stable_hash(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl UniqueNames {
    fn add(&mut self, name: &str) {
        let h = stable_hash(name);
        if self.hll.is_none() {
            self.exact.insert(h);
            if self.exact.len() <= UNIQUE_EXACT_LIMIT {
                return;
            }
            self.registers = vec![0; HLL_REGISTERS];
            for h in std::mem::take(&mut self.exact) {
                hll_add(&mut self.registers, h);
            }
            self.hll = Some(String::new());
            return;
        }
        if self.registers.len() != HLL_REGISTERS {
            self.registers = decode_hex(self.hll.as_deref().unwrap_or_default());
        }
        hll_add(&mut self.registers, h);
    }

    fn prepare_save(&mut self) {
        if self.hll.is_some() && self.registers.len() == HLL_REGISTERS {
            self.hll = Some(self.registers.iter().map(|r| format!("{r:02x}")).collect());
        }
    }

    /// The count of distinct names.
    pub fn count(&self) -> UniqueCount {
        let Some(hex) = &self.hll else {
            return UniqueCount {
                value: self.exact.len() as u64,
                exact: true,
            };
        };
        let decoded;
        let regs = if self.registers.len() == HLL_REGISTERS {
            &self.registers
        } else {
            decoded = decode_hex(hex);
            &decoded
        };
        let m = HLL_REGISTERS as f64;
        let sum: f64 = regs.iter().map(|&r| 2f64.powi(-i32::from(r))).sum();
        let zeros = regs.iter().filter(|&&r| r == 0).count();
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let mut estimate = alpha * m * m / sum;
        if estimate <= 2.5 * m && zeros > 0 {
            estimate = m * (m / zeros as f64).ln();
        }
        UniqueCount {
            value: estimate.round() as u64,
            exact: false,
        }
    }
}

fn hll_add(registers: &mut [u8], h: u64) {
    let idx = (h >> (64 - HLL_BITS)) as usize;
    let rest = (h << HLL_BITS) | (1 << (HLL_BITS - 1));
    let rank = rest.leading_zeros() as u8 + 1;
    if let Some(r) = registers.get_mut(idx) {
        *r = (*r).max(rank);
    }
}

fn decode_hex(hex: &str) -> Vec<u8> {
    let mut out: Vec<u8> = hex
        .as_bytes()
        .chunks(2)
        .map(|c| {
            std::str::from_utf8(c)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .unwrap_or(0)
        })
        .collect();
    out.resize(HLL_REGISTERS, 0);
    out
}

/// All counters of a store.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counters {
    /// The counters include exactly the journal records up to this sequence
    /// number (and attempts whose records were dropped on write failures).
    pub journal_seq: u64,
    /// When the first attempt was counted (ms since the Unix epoch).
    pub since_unix_ms: Option<u64>,
    /// Blocked attempts since install.
    pub blocked_total: u64,
    /// Allowed queries journaled in discovery mode.
    pub allowed_total: u64,
    /// Queries failed because the upstream's answer could not be used.
    #[serde(default)]
    pub failed_total: u64,
    /// Blocked attempts by kind of reason.
    pub by_reason: ReasonCounts,
    /// Blocked attempts by the list whose rule matched.
    pub by_list: BTreeMap<String, u64>,
    /// Blocked attempts per UTC day (days since the Unix epoch), the last [`DAYS_KEPT`] days.
    pub daily: BTreeMap<u64, u64>,
    /// Blocked attempts per hour, a ring of the last [`HOURS_KEPT`] hours.
    hourly: Vec<HourCount>,
    /// The most-blocked names.
    pub top_names: TopNames,
    /// Distinct blocked names.
    pub unique_names: UniqueNames,
}

impl Counters {
    /// Counts `n` attempts of `e` at `at_unix_ms`.
    pub(crate) fn count(&mut self, e: &JournalEntry, n: u32, at_unix_ms: u64) {
        let n = u64::from(n);
        if n == 0 {
            return;
        }
        match e.action {
            Action::Allowed => {
                self.allowed_total += n;
                return;
            }
            Action::Failed => {
                self.failed_total += n;
                return;
            }
            Action::Blocked => {}
        }
        self.since_unix_ms = Some(self.since_unix_ms.map_or(at_unix_ms, |t| t.min(at_unix_ms)));
        self.blocked_total += n;
        let r = &mut self.by_reason;
        match &e.reason {
            // A device's policy is a rule of its own (the counters file
            // keeps no separate field for it; the journal says which).
            crate::entry::Reason::Rule { .. }
            | crate::entry::Reason::NoRule
            | crate::entry::Reason::NotForDevice => r.rule += n,
            crate::entry::Reason::Cname { .. } => r.cname += n,
            crate::entry::Reason::LearnedAddress { .. } => r.learned_address += n,
            crate::entry::Reason::Canary => r.canary += n,
            crate::entry::Reason::Bypass => r.bypass += n,
            // Only failed queries carry it, and they returned above.
            crate::entry::Reason::BadAnswer { .. } => {}
        }
        if let Some(list) = e.reason.list_id() {
            if let Some(c) = self.by_list.get_mut(list) {
                *c += n;
            } else if self.by_list.len() < LISTS_KEPT {
                self.by_list.insert(list.to_owned(), n);
            } else {
                *self.by_list.entry("(other)".to_owned()).or_default() += n;
            }
        }
        let day = at_unix_ms / DAY_MS;
        *self.daily.entry(day).or_default() += n;
        while self.daily.len() > DAYS_KEPT {
            self.daily.pop_first();
        }
        let hour = at_unix_ms / HOUR_MS;
        if self.hourly.len() != HOURS_KEPT {
            self.hourly.resize(HOURS_KEPT, HourCount::default());
        }
        if let Some(slot) = self.hourly.get_mut((hour % HOURS_KEPT as u64) as usize) {
            if slot.hour < hour {
                *slot = HourCount { hour, count: 0 };
            }
            if slot.hour == hour {
                slot.count += n;
            }
        }
        self.top_names.add(&e.name, n);
        self.unique_names.add(&e.name);
    }

    /// Blocked attempts of each of the `hours` hours up to and including the
    /// one of `now_unix_ms`, oldest first (at most [`HOURS_KEPT`]).
    pub fn hourly(&self, now_unix_ms: u64, hours: usize) -> Vec<u64> {
        let now_hour = now_unix_ms / HOUR_MS;
        let hours = hours.min(HOURS_KEPT) as u64;
        (0..hours)
            .rev()
            .map(|back| {
                let Some(hour) = now_hour.checked_sub(back) else {
                    return 0;
                };
                self.hourly
                    .get((hour % HOURS_KEPT as u64) as usize)
                    .filter(|s| s.hour == hour)
                    .map_or(0, |s| s.count)
            })
            .collect()
    }

    /// Blocked attempts since local midnight, given the local time's offset
    /// from UTC. Counted per hour, so an offset that is not whole hours is
    /// rounded down to the hour.
    pub fn today(&self, now_unix_ms: u64, utc_offset_minutes: i32) -> u64 {
        let offset_ms = i64::from(utc_offset_minutes) * 60_000;
        let local_now = now_unix_ms as i64 + offset_ms;
        let local_midnight = local_now - local_now.rem_euclid(DAY_MS as i64);
        let since_utc = (local_midnight - offset_ms).max(0) as u64;
        let hours = (now_unix_ms / HOUR_MS).saturating_sub(since_utc / HOUR_MS) as usize + 1;
        self.hourly(now_unix_ms, hours).iter().sum()
    }

    /// Blocked attempts on the UTC day of `now_unix_ms`.
    pub fn on_utc_day(&self, unix_ms: u64) -> u64 {
        self.daily.get(&(unix_ms / DAY_MS)).copied().unwrap_or(0)
    }

    /// The counters as the JSON of the snapshot file.
    pub(crate) fn snapshot_json(&mut self) -> Vec<u8> {
        self.unique_names.prepare_save();
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Counters from a snapshot file; `None` if it is not one.
    pub(crate) fn from_json(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Reason;
    use std::collections::HashMap;

    fn blocked(name: &str, list: &str) -> JournalEntry {
        JournalEntry {
            time_unix_ms: 0,
            name: name.into(),
            qtype: 1,
            action: Action::Blocked,
            reason: Reason::Rule {
                list_id: list.into(),
                line: 1,
            },
            client: "10.0.0.2".parse().unwrap(),
            app: None,
            count: 1,
        }
    }

    #[test]
    fn counts_by_day_hour_list_and_reason() {
        let mut c = Counters::default();
        let t0 = 20_000 * DAY_MS + 5 * HOUR_MS;
        c.count(&blocked("a.com", "l1"), 3, t0);
        c.count(&blocked("b.com", "l2"), 1, t0 + HOUR_MS);
        let mut canary = blocked("use-application-dns.net", "x");
        canary.reason = Reason::Canary;
        c.count(&canary, 2, t0 + 2 * HOUR_MS);
        let mut allowed = blocked("ok.com", "x");
        allowed.action = Action::Allowed;
        c.count(&allowed, 5, t0);
        let mut failed = blocked("lied-about.com", "x");
        failed.action = Action::Failed;
        failed.reason = Reason::BadAnswer {
            problem: "answer: cut short".into(),
        };
        c.count(&failed, 4, t0);
        assert_eq!(c.blocked_total, 6);
        assert_eq!(c.allowed_total, 5);
        assert_eq!(c.failed_total, 4);
        assert_eq!(c.by_list.get("l1"), Some(&3));
        assert_eq!(c.by_list.get("x"), None);
        assert_eq!(c.by_reason.canary, 2);
        assert_eq!(c.on_utc_day(t0), 6);
        assert_eq!(c.hourly(t0 + 2 * HOUR_MS, 4), vec![0, 3, 1, 2]);
        assert_eq!(c.today(t0 + 2 * HOUR_MS, 0), 6);
        // At UTC+2 local midnight was 2 hours before UTC midnight: same total.
        assert_eq!(c.today(t0 + 2 * HOUR_MS, 120), 6);
        // At UTC-6, local midnight is after t0's hour.
        assert_eq!(c.today(t0 + 2 * HOUR_MS, -360), 1 + 2);
        assert_eq!(
            c.unique_names.count(),
            UniqueCount {
                value: 3,
                exact: true
            }
        );
    }

    #[test]
    fn hours_older_than_a_week_fall_out() {
        let mut c = Counters::default();
        c.count(&blocked("a.com", "l"), 1, 0);
        let week_later = HOURS_KEPT as u64 * HOUR_MS;
        c.count(&blocked("a.com", "l"), 1, week_later);
        assert_eq!(c.hourly(week_later, HOURS_KEPT), {
            let mut v = vec![0; HOURS_KEPT];
            v[HOURS_KEPT - 1] = 1;
            v
        });
    }

    #[test]
    fn top_names_are_exact_for_heavy_hitters() {
        let mut c = Counters::default();
        let mut truth: HashMap<String, u64> = HashMap::new();
        // 20 heavy names and 5000 one-off names interleaved.
        for i in 0..5000u64 {
            let heavy = format!("heavy{}.com", i % 20);
            c.count(&blocked(&heavy, "l"), 1, 0);
            *truth.entry(heavy).or_default() += 1;
            c.count(&blocked(&format!("rare{i}.com"), "l"), 1, 0);
        }
        let top = c.top_names.top(20);
        for t in &top {
            assert!(t.name.starts_with("heavy"), "{t:?}");
            assert_eq!(t.error, 0);
            assert_eq!(t.count, truth[&t.name]);
        }
        let u = c.unique_names.count();
        assert!(!u.exact);
        let err = (u.value as f64 - 5020.0).abs() / 5020.0;
        assert!(err < 0.05, "estimate {} off by {err}", u.value);
    }

    #[test]
    fn the_sketch_keeps_its_guarantees_through_any_stream() {
        // Space-saving's guarantees, checked against the truth on a
        // skewed stream with many one-off names: every name holds at
        // least its true count and at most that plus its error, the
        // counts add up to the total, and every name blocked more often
        // than total / capacity is in the sketch. And the heap stays a
        // heap whose positions agree with the slots.
        let mut top = TopNames::default();
        let mut truth: HashMap<String, u64> = HashMap::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut total = 0u64;
        for step in 0..40_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // About half the attempts go to 50 names, the rest spread
            // over 100,000.
            let name = if x % 2 == 0 {
                format!("hot{}.com", (x >> 8) % 50)
            } else {
                format!("cold{}.com", (x >> 8) % 100_000)
            };
            let n = 1 + (x >> 40) % 3;
            top.add(&name, n);
            *truth.entry(name).or_default() += n;
            total += n;
            if step % 5000 == 4999 {
                assert_eq!(top.slots.iter().map(|s| s.count).sum::<u64>(), total);
                for s in &top.slots {
                    let t = truth[&s.name];
                    assert!(s.count >= t && s.count - s.error <= t, "{s:?}, truth {t}");
                }
                for (name, &t) in &truth {
                    if t > total / TOP_CAPACITY as u64 {
                        assert!(
                            top.slots.iter().any(|s| &s.name == name),
                            "{name} ({t} of {total})"
                        );
                    }
                }
                for (i, &slot) in top.heap.iter().enumerate() {
                    assert_eq!(top.at[slot as usize] as usize, i);
                    if i > 0 {
                        assert!(top.count_at((i - 1) / 2) <= top.count_at(i));
                    }
                }
                assert_eq!(top.index.len(), top.slots.len());
                for (slot, s) in top.slots.iter().enumerate() {
                    let hash = top.hasher.hash_one(s.name.as_str());
                    let found = top.index.find(hash, |&o| slot_is(&top.slots, o, &s.name));
                    assert_eq!(found, Some(&(slot as u32)), "{}", s.name);
                }
            }
        }
        assert_eq!(top.slots.len(), TOP_CAPACITY);
    }

    #[test]
    fn a_snapshot_with_a_name_twice_keeps_it_once_with_both_counts() {
        // The store file is read from disk: anything may be in it.
        let slot = |name: &str, count| TopName {
            name: name.into(),
            count,
            error: 0,
        };
        let mut top = TopNames {
            slots: vec![slot("a.com", 3), slot("b.com", 1), slot("a.com", 4)],
            ..TopNames::default()
        };
        top.add("b.com", 1);
        assert_eq!(top.slots.len(), 2);
        assert_eq!(top.index.len(), 2);
        assert_eq!(top.top(2)[0].name, "a.com");
        assert_eq!(top.top(2)[0].count, 7);
        assert_eq!(top.top(2)[1].count, 2);
    }

    #[test]
    fn a_snapshot_round_trips() {
        let mut c = Counters::default();
        for i in 0..3000 {
            c.count(&blocked(&format!("n{}.com", i % 700), "l"), 1, i * 1000);
        }
        for i in 0..2500 {
            c.count(&blocked(&format!("m{i}.com"), "l"), 1, i * 1000);
        }
        let json = c.snapshot_json();
        let mut back = Counters::from_json(&json).unwrap();
        assert_eq!(back.blocked_total, c.blocked_total);
        assert_eq!(back.top_names.top(10), c.top_names.top(10));
        assert_eq!(back.unique_names.count(), c.unique_names.count());
        assert_eq!(back.hourly(3_000_000, 2), c.hourly(3_000_000, 2));
        // Counting on goes on from where the snapshot was.
        back.count(&blocked("n1.com", "l"), 1, 0);
        c.count(&blocked("n1.com", "l"), 1, 0);
        assert_eq!(back.top_names.top(10), c.top_names.top(10));
        assert!(Counters::from_json(b"{not json").is_none());
    }
}
