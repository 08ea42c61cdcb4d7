//! The engine: one value that owns all filtering state and turns packets
//! from the tunnel and answers from the upstream into packets for the
//! tunnel, queries for the upstream and events.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use tacet_rules::{RuleSet, Verdict};

use crate::config::{BlockMode, Config};
use crate::dns::{self, Query, QueryError, Rcode};
use crate::event::Event;
use crate::pending::{Pending, PendingQueries, QueryHandle};
use crate::stats::Stats;
use crate::wire::{self, Datagram, Packet};

/// How many distinct blocked names `Stats::unique_blocked` counts exactly
/// (by 64-bit hash, 8 bytes each: 512 KiB at most).
pub const UNIQUE_NAMES_TRACKED: usize = 65_536;

/// Events kept for the runtime before the oldest are dropped; the runtime
/// drains them after every input, so this only bounds a stalled consumer.
const MAX_QUEUED_EVENTS: usize = 4096;

/// An allowed query for the runtime to send to the upstream resolver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamQuery {
    /// Names the query in `handle_upstream_response` and
    /// `handle_upstream_failure`.
    pub handle: QueryHandle,
    /// The DNS message as the app sent it. The runtime replaces its ID with
    /// a random one and checks the answer's ID and question against it.
    pub message: Vec<u8>,
}

/// What the runtime must do on the upstream side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpstreamCommand {
    /// Send this query.
    Send(UpstreamQuery),
    /// Stop waiting for this query's answer: the app was already answered
    /// SERVFAIL. The runtime releases its socket.
    Abandon(QueryHandle),
}

/// Why the engine wants to be woken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerReason {
    /// A forwarded query's upstream deadline.
    UpstreamDeadline,
}

/// A deadline from [`Engine::poll_timeout`], with the reason it exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeout {
    /// When to call [`Engine::handle_timeout`].
    pub at: Instant,
    /// Why.
    pub reason: TimerReason,
}

/// The sans-IO DNS firewall.
///
/// Call order, for a runtime:
/// 1. feed inputs: [`handle_tun_packet`](Self::handle_tun_packet) for every
///    packet read from the TUN, [`handle_upstream_response`](Self::handle_upstream_response)
///    or [`handle_upstream_failure`](Self::handle_upstream_failure) for every
///    upstream outcome, [`handle_timeout`](Self::handle_timeout) when the
///    deadline from `poll_timeout` has passed;
/// 2. after each input, drain the outputs: [`poll_tun_packet`](Self::poll_tun_packet)
///    until `None` (write each to the TUN), [`poll_upstream`](Self::poll_upstream)
///    until `None`, [`poll_event`](Self::poll_event) until `None`;
/// 3. sleep until [`poll_timeout`](Self::poll_timeout) or the next input;
///    `None` means no deadline at all, so an idle phone is never woken.
///
/// Time only enters as `now` arguments; the engine never reads a clock.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    rules: Arc<RuleSet>,
    pending: PendingQueries,
    paused_until: Option<Instant>,
    tun_out: VecDeque<Vec<u8>>,
    upstream_out: VecDeque<UpstreamCommand>,
    events: VecDeque<Event>,
    blocked_names: HashSet<u64>,
    stats: Stats,
}

impl Engine {
    /// An engine with these settings and rules.
    pub fn new(config: Config, rules: Arc<RuleSet>) -> Self {
        Self {
            pending: PendingQueries::new(config.max_pending),
            config,
            rules,
            paused_until: None,
            tun_out: VecDeque::new(),
            upstream_out: VecDeque::new(),
            events: VecDeque::new(),
            blocked_names: HashSet::new(),
            stats: Stats::default(),
        }
    }

    /// Replaces the rules. Every query handled after this call sees the
    /// whole new set; none sees part of one.
    pub fn set_rules(&mut self, rules: Arc<RuleSet>) {
        self.rules = rules;
    }

    /// The rules in force, to name the list of a [`tacet_rules::RuleRef`].
    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    /// Lets every query through until `until` (for captive portals);
    /// `None` resumes filtering at once.
    pub fn pause(&mut self, until: Option<Instant>) {
        self.paused_until = until;
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Turns discovery mode on or off: whether allowed queries are
    /// reported as events too.
    pub fn set_report_allowed(&mut self, on: bool) {
        self.config.report_allowed = on;
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Handles one IP packet read from the TUN.
    pub fn handle_tun_packet(&mut self, now: Instant, packet: &[u8]) {
        match wire::parse(packet) {
            Err(_) => self.stats.malformed += 1,
            Ok(Packet::Udp(datagram)) if self.is_resolver(datagram.destination) => {
                self.handle_query(now, datagram)
            }
            Ok(_) => self.stats.ignored += 1,
        }
    }

    /// Handles the upstream's answer to a forwarded query. The runtime has
    /// already checked that it came from the upstream's address and port
    /// and carries the ID and question it sent.
    pub fn handle_upstream_response(
        &mut self,
        _now: Instant,
        handle: QueryHandle,
        response: &[u8],
    ) {
        let Some(pending) = self.pending.remove(handle) else {
            return; // answered SERVFAIL already
        };
        let mut answer = response.to_vec();
        let client_id = dns::id(&pending.query).unwrap_or(0);
        if !dns::set_id(&mut answer, client_id) {
            self.fail(&pending);
            return;
        }
        self.stats.answered += 1;
        self.send_to_tun(pending.server, pending.client, &answer);
    }

    /// Handles a forwarded query that the runtime could not get answered
    /// (every upstream refused it, or a socket error).
    pub fn handle_upstream_failure(&mut self, _now: Instant, handle: QueryHandle) {
        if let Some(pending) = self.pending.remove(handle) {
            self.fail(&pending);
        }
    }

    /// Answers SERVFAIL to every query whose upstream deadline has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((handle, pending)) = self.pending.pop_expired(now) {
            self.upstream_out
                .push_back(UpstreamCommand::Abandon(handle));
            self.fail(&pending);
        }
    }

    /// The next packet to write to the TUN.
    pub fn poll_tun_packet(&mut self) -> Option<Vec<u8>> {
        self.tun_out.pop_front()
    }

    /// The next thing to do on the upstream side.
    pub fn poll_upstream(&mut self) -> Option<UpstreamCommand> {
        self.upstream_out.pop_front()
    }

    /// The next event for the user.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called,
    /// and why; `None` when nothing waits on time.
    pub fn poll_timeout(&mut self) -> Option<Timeout> {
        self.pending.next_deadline().map(|at| Timeout {
            at,
            reason: TimerReason::UpstreamDeadline,
        })
    }

    /// How many forwarded queries wait for the upstream.
    pub fn pending_queries(&self) -> usize {
        self.pending.len()
    }

    fn is_resolver(&self, destination: SocketAddr) -> bool {
        destination.port() == 53
            && match destination.ip() {
                IpAddr::V4(ip) => ip == self.config.resolver_v4,
                IpAddr::V6(ip) => ip == self.config.resolver_v6,
            }
    }

    fn handle_query(&mut self, now: Instant, datagram: Datagram<'_>) {
        let query = match Query::parse(datagram.payload) {
            Ok(query) => query,
            Err(error) => {
                self.stats.malformed += 1;
                if let QueryError::Refuse(rcode) = error {
                    if let Some(answer) = dns::refusal(datagram.payload, rcode) {
                        self.send_to_tun(datagram.destination, datagram.source, &answer);
                    }
                }
                return;
            }
        };
        self.stats.queries += 1;
        let paused = self.paused_until.is_some_and(|until| now < until);
        let verdict = if paused {
            Verdict::Unlisted
        } else {
            self.rules.lookup(&query.name)
        };
        match verdict {
            Verdict::Blocked(rule) => {
                self.stats.blocked += 1;
                self.count_unique(&query.name);
                let answer = self.block_answer(&query);
                self.send_to_tun(datagram.destination, datagram.source, &answer);
                self.push_event(Event::Blocked {
                    at: now,
                    client: datagram.source,
                    name: query.name,
                    qtype: query.qtype,
                    rule,
                });
            }
            Verdict::Allowed(_) | Verdict::Unlisted => {
                self.stats.allowed += 1;
                self.forward(now, datagram, &query);
                if self.config.report_allowed {
                    let rule = match verdict {
                        Verdict::Allowed(rule) => Some(rule),
                        _ => None,
                    };
                    self.push_event(Event::Allowed {
                        at: now,
                        client: datagram.source,
                        name: query.name,
                        qtype: query.qtype,
                        rule,
                    });
                }
            }
        }
    }

    fn forward(&mut self, now: Instant, datagram: Datagram<'_>, query: &Query<'_>) {
        let pending = Pending {
            client: datagram.source,
            server: datagram.destination,
            query: datagram.payload.to_vec(),
            deadline: now + self.config.upstream_timeout,
        };
        match self.pending.insert(pending) {
            Some(handle) => {
                self.stats.forwarded += 1;
                let message = datagram.payload.to_vec();
                self.upstream_out
                    .push_back(UpstreamCommand::Send(UpstreamQuery { handle, message }));
            }
            None => {
                self.stats.upstream_failures += 1;
                let answer = query.answer_empty(Rcode::ServFail, None);
                self.send_to_tun(datagram.destination, datagram.source, &answer);
            }
        }
    }

    fn block_answer(&self, query: &Query<'_>) -> Vec<u8> {
        let ttl = self.config.block_ttl;
        match self.config.block_mode {
            BlockMode::NullAddress if query.qtype == dns::TYPE_A => {
                query.answer_address(dns::TYPE_A, &[0; 4], ttl)
            }
            BlockMode::NullAddress if query.qtype == dns::TYPE_AAAA => {
                query.answer_address(dns::TYPE_AAAA, &[0; 16], ttl)
            }
            BlockMode::NullAddress | BlockMode::Nodata => {
                query.answer_empty(Rcode::NoError, Some(ttl))
            }
            BlockMode::Nxdomain => query.answer_empty(Rcode::NxDomain, Some(ttl)),
            BlockMode::Refused => query.answer_empty(Rcode::Refused, None),
        }
    }

    /// Answers SERVFAIL to a query whose upstream failed.
    fn fail(&mut self, pending: &Pending) {
        self.stats.upstream_failures += 1;
        if let Ok(query) = Query::parse(&pending.query) {
            let answer = query.answer_empty(Rcode::ServFail, None);
            self.send_to_tun(pending.server, pending.client, &answer);
        }
    }

    fn send_to_tun(&mut self, from: SocketAddr, to: SocketAddr, message: &[u8]) {
        match wire::build_udp(from, to, message) {
            Some(packet) => self.tun_out.push_back(packet),
            None => self.stats.malformed += 1,
        }
    }

    fn count_unique(&mut self, name: &str) {
        if self.blocked_names.len() >= UNIQUE_NAMES_TRACKED {
            return;
        }
        let mut hasher = DefaultHasher::new();
        name.hash(&mut hasher);
        if self.blocked_names.insert(hasher.finish()) {
            self.stats.unique_blocked += 1;
        }
    }

    fn push_event(&mut self, event: Event) {
        if self.events.len() >= MAX_QUEUED_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }
}
