//! The engine: one value that owns all filtering state and turns packets
//! from the tunnel and answers from the upstream into packets for the
//! tunnel, queries for the upstream and events.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use tacet_rules::{RuleSet, Verdict};

use crate::config::{BlockMode, Config, CANARY_NAMES};
use crate::dns::{self, Query, QueryError, Rcode};
use crate::event::{BlockReason, Event};
use crate::pending::{Pending, PendingQueries, QueryHandle, ReplyTo};
use crate::stats::Stats;
use crate::tcp::TcpDns;
use crate::wire::{self, Packet};

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
    /// Whether a truncated (TC) answer must be retried over TCP: the app
    /// asked over TCP and expects the whole answer. An app that asked over
    /// UDP gets the truncated answer and retries over TCP itself.
    pub retry_truncated_over_tcp: bool,
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
    /// A TCP connection's retransmission or idle deadline.
    TcpConnection,
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
    tcp: TcpDns,
    stats: Stats,
}

impl Engine {
    /// An engine with these settings and rules.
    pub fn new(config: Config, rules: Arc<RuleSet>) -> Self {
        Self {
            pending: PendingQueries::new(config.max_pending),
            tcp: TcpDns::new(config.resolver_v4, config.resolver_v6, config.seed),
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

    /// How many TCP connections to the resolvers are open.
    pub fn tcp_connections(&self) -> usize {
        self.tcp.connections()
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
            Ok(Packet::Udp(datagram)) if datagram.destination.port() == 53 => {
                let reply = ReplyTo::Udp {
                    client: datagram.source,
                    server: datagram.destination,
                };
                self.handle_message(now, datagram.payload, reply);
            }
            Ok(Packet::Tcp(segment)) if segment.destination.port() == 53 => {
                for incoming in self.tcp.handle_packet(now, packet) {
                    self.stats.tcp_queries += 1;
                    let reply = ReplyTo::Tcp {
                        conn: incoming.conn,
                        client: incoming.client,
                        server: incoming.server,
                    };
                    self.handle_message(now, &incoming.message, reply);
                }
                self.drain_tcp();
            }
            Ok(_) => self.stats.ignored += 1,
        }
    }

    /// Handles the upstream's answer to a forwarded query. The runtime has
    /// already checked that it came from the upstream's address and port
    /// and carries the ID and question it sent.
    pub fn handle_upstream_response(&mut self, now: Instant, handle: QueryHandle, response: &[u8]) {
        let Some(pending) = self.pending.remove(handle) else {
            return; // answered SERVFAIL already
        };
        let mut answer = response.to_vec();
        let client_id = dns::id(&pending.query).unwrap_or(0);
        if !dns::set_id(&mut answer, client_id) {
            self.fail(now, &pending);
            return;
        }
        self.stats.answered += 1;
        self.reply(now, pending.reply, &answer);
    }

    /// Handles a forwarded query that the runtime could not get answered
    /// (every upstream refused it, or a socket error).
    pub fn handle_upstream_failure(&mut self, now: Instant, handle: QueryHandle) {
        if let Some(pending) = self.pending.remove(handle) {
            self.fail(now, &pending);
        }
    }

    /// Answers SERVFAIL to every query whose upstream deadline has passed,
    /// and runs the TCP connections' timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((handle, pending)) = self.pending.pop_expired(now) {
            self.upstream_out
                .push_back(UpstreamCommand::Abandon(handle));
            self.fail(now, &pending);
        }
        if self.tcp.poll_timeout().is_some_and(|at| at <= now) {
            self.tcp.handle_timeout(now);
            self.drain_tcp();
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
        let upstream = self.pending.next_deadline().map(|at| Timeout {
            at,
            reason: TimerReason::UpstreamDeadline,
        });
        let tcp = self.tcp.poll_timeout().map(|at| Timeout {
            at,
            reason: TimerReason::TcpConnection,
        });
        [upstream, tcp].into_iter().flatten().min_by_key(|t| t.at)
    }

    /// How many forwarded queries wait for the upstream.
    pub fn pending_queries(&self) -> usize {
        self.pending.len()
    }

    fn is_resolver(&self, address: IpAddr) -> bool {
        match address {
            IpAddr::V4(ip) => ip == self.config.resolver_v4,
            IpAddr::V6(ip) => ip == self.config.resolver_v6,
        }
    }

    /// One DNS message from an app, over UDP or TCP.
    fn handle_message(&mut self, now: Instant, message: &[u8], reply: ReplyTo) {
        let query = match Query::parse(message) {
            Ok(query) => query,
            Err(error) => {
                self.stats.malformed += 1;
                match error {
                    QueryError::Refuse(rcode) => {
                        if let Some(answer) = dns::refusal(message, rcode) {
                            self.reply(now, reply, &answer);
                        }
                    }
                    // A TCP connection waits for one answer per message;
                    // one it cannot parse it closes by answering nothing.
                    QueryError::Malformed => self.tcp_done(reply),
                }
                return;
            }
        };
        self.stats.queries += 1;
        if !self.is_resolver(reply.server().ip()) {
            self.stats.bypass_attempts += 1;
        }
        let paused = self.paused_until.is_some_and(|until| now < until);
        let canary = self.config.answer_canaries && CANARY_NAMES.contains(&query.name.as_str());
        let verdict = match (paused, canary) {
            (true, _) => Verdict::Unlisted,
            (false, true) => Verdict::Unlisted,
            (false, false) => self.rules.lookup(&query.name),
        };
        let block = match (canary && !paused, verdict) {
            (true, _) => Some(BlockReason::Canary),
            (false, Verdict::Blocked(rule)) => Some(BlockReason::Rule(rule)),
            _ => None,
        };
        if let Some(reason) = block {
            self.stats.blocked += 1;
            self.count_unique(&query.name);
            let answer = match reason {
                BlockReason::Canary => {
                    query.answer_empty(Rcode::NxDomain, Some(self.config.block_ttl))
                }
                BlockReason::Rule(_) => self.block_answer(&query),
            };
            self.reply(now, reply, &answer);
            self.push_event(Event::Blocked {
                at: now,
                client: reply.client(),
                name: query.name,
                qtype: query.qtype,
                reason,
            });
            return;
        }
        self.stats.allowed += 1;
        self.forward(now, message, reply, &query);
        if self.config.report_allowed {
            let rule = match verdict {
                Verdict::Allowed(rule) => Some(rule),
                _ => None,
            };
            self.push_event(Event::Allowed {
                at: now,
                client: reply.client(),
                name: query.name,
                qtype: query.qtype,
                rule,
            });
        }
    }

    fn forward(&mut self, now: Instant, message: &[u8], reply: ReplyTo, query: &Query<'_>) {
        let pending = Pending {
            reply,
            query: message.to_vec(),
            deadline: now + self.config.upstream_timeout,
        };
        match self.pending.insert(pending) {
            Some(handle) => {
                self.stats.forwarded += 1;
                self.upstream_out
                    .push_back(UpstreamCommand::Send(UpstreamQuery {
                        handle,
                        message: message.to_vec(),
                        retry_truncated_over_tcp: matches!(reply, ReplyTo::Tcp { .. }),
                    }));
            }
            None => {
                self.stats.upstream_failures += 1;
                let answer = query.answer_empty(Rcode::ServFail, None);
                self.reply(now, reply, &answer);
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
    fn fail(&mut self, now: Instant, pending: &Pending) {
        self.stats.upstream_failures += 1;
        match Query::parse(&pending.query) {
            Ok(query) => {
                let answer = query.answer_empty(Rcode::ServFail, None);
                self.reply(now, pending.reply, &answer);
            }
            Err(_) => self.tcp_done(pending.reply),
        }
    }

    /// Sends an answer back the way its query came.
    fn reply(&mut self, now: Instant, to: ReplyTo, message: &[u8]) {
        match to {
            ReplyTo::Udp { client, server } => match wire::build_udp(server, client, message) {
                Some(packet) => self.tun_out.push_back(packet),
                None => self.stats.malformed += 1,
            },
            ReplyTo::Tcp { conn, .. } => {
                // A connection that closed meanwhile just loses its answer.
                self.tcp.send(now, conn, message);
                self.drain_tcp();
            }
        }
    }

    /// A TCP query that gets no answer still frees its place.
    fn tcp_done(&mut self, to: ReplyTo) {
        if let ReplyTo::Tcp { conn, .. } = to {
            self.tcp.forget_query(conn);
        }
    }

    fn drain_tcp(&mut self) {
        while let Some(packet) = self.tcp.poll_packet() {
            self.tun_out.push_back(packet);
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
