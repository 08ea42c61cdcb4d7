//! The engine: one value that owns all filtering state and turns packets
//! from the tunnel and answers from the upstream into packets for the
//! tunnel, queries for the upstream and events.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use foldhash::fast::{FixedState, RandomState};
use tacet_rules::{RuleRef, RuleSet, Verdict};

use crate::answer::{self, AnswerFacts, AnswerProblem};
use crate::config::{BlockMode, Config, CANARY_NAMES};
use crate::device::DevicePolicies;
use crate::dns::{self, Query, QueryError, Rcode};
use crate::enforce::Enforcer;
use crate::event::{BlockReason, Event, Protocol, RejectReason, Route};
use crate::learned::{self, Learned, LearnedAddrs};
use crate::pending::{
    Asker, Discovered, MessageFrom, Pending, PendingQueries, QueryHandle, ReplyTo,
};
use crate::reject;
use crate::stats::Stats;
use crate::tcp::TcpDns;
use crate::wire::{self, Packet, Segment};

/// How many distinct blocked names `Stats::unique_blocked` counts exactly
/// (by 64-bit hash, 8 bytes each: 512 KiB at most).
pub const UNIQUE_NAMES_TRACKED: usize = 65_536;

/// Events kept for the runtime before the oldest are dropped; the runtime
/// drains them after every input, so this only bounds a stalled consumer.
const MAX_QUEUED_EVENTS: usize = 4096;

/// Blocked names resolved in the background recently, remembered so a
/// retry storm costs one upstream query, not one per attempt.
const MAX_BACKGROUND_NAMES: usize = 4096;

/// Background lookups waiting for the upstream at once; beyond, a blocked
/// name is not resolved (it is still blocked by name). Apps' own queries
/// keep the rest of the pending table, however many blocked names an app
/// asks for.
const MAX_BACKGROUND_IN_FLIGHT: usize = 256;

/// Record type HTTPS, whose answers carry address hints.
const TYPE_HTTPS: u16 = 65;

/// When an enforced name's lookup gave no address (no AAAA, say), how
/// long until it is looked up again.
const ENFORCE_EMPTY_AGAIN: Duration = Duration::from_secs(3600);

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

/// What the engine sends back to a client of
/// [`Engine::handle_message`] (serve mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageReply {
    /// Where the query came from: the answer goes back there.
    pub to: MessageFrom,
    /// The answer; `None` when the query gets none (it could not be read
    /// as a query), so a runtime that counts a TCP connection's queries in
    /// flight can let that one go.
    pub answer: Option<Vec<u8>>,
}

/// Why the engine wants to be woken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerReason {
    /// A forwarded query's upstream deadline.
    UpstreamDeadline,
    /// A TCP connection's retransmission or idle deadline.
    TcpConnection,
    /// Changes to the learned addresses are due to be announced.
    RoutesDebounce,
    /// A learned address expires and its route must go.
    LearnedExpiry,
    /// A pause ends and the learned addresses' routes come back.
    PauseEnds,
    /// Enforced names wait for their first lookup (the rate allows the
    /// next one then).
    EnforceLookups,
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
    /// Answers to queries handed in as messages (serve mode).
    messages_out: VecDeque<MessageReply>,
    /// Per-device policies (serve mode).
    devices: DevicePolicies,
    upstream_out: VecDeque<UpstreamCommand>,
    events: VecDeque<Event>,
    /// Hashes names into `blocked_names` and `background`, keyed at random
    /// per engine (an app cannot aim collisions at it).
    name_hasher: RandomState,
    /// The distinct blocked names counted so far, by hash.
    blocked_names: HashSet<u64, FixedState>,
    tcp: TcpDns,
    learned: LearnedAddrs,
    /// Blocked (name, type) resolved in the background, by the hash of
    /// both, until when.
    background: HashMap<u64, Instant, FixedState>,
    /// Background lookups waiting for the upstream.
    background_in_flight: usize,
    /// The same entries in the order they expire (all live for the TTL
    /// floor, so that is the order they came): expiry pops the front
    /// instead of scanning the map once it is full.
    background_expiry: VecDeque<(Instant, u64)>,
    /// When the learned addresses first changed since the last announcement.
    routes_dirty_since: Option<Instant>,
    /// When learned addresses were last announced: the first change after
    /// a quiet `routes_debounce` goes out at once, later ones gather until
    /// it has passed.
    routes_announced_at: Option<Instant>,
    /// The names looked up before any app asks.
    enforcer: Enforcer,
    /// The networks of the rules' address block rules, routed in whole.
    rule_routes: Vec<Route>,
    /// ICMP errors that may still be sent, refilled over time.
    icmp_tokens: f64,
    icmp_refilled: Option<Instant>,
    stats: Stats,
}

impl Engine {
    /// An engine with these settings and rules.
    /// If the rules block address networks, the first event says so
    /// (`RoutesChanged`), so the shell routes them in from the start.
    pub fn new(config: Config, rules: Arc<RuleSet>) -> Self {
        let mut engine = Self {
            pending: PendingQueries::new(config.max_pending),
            tcp: TcpDns::new(config.resolver_v4, config.resolver_v6, config.seed),
            learned: LearnedAddrs::new(config.learned),
            icmp_tokens: f64::from(config.icmp_per_second),
            config,
            rules,
            paused_until: None,
            tun_out: VecDeque::new(),
            messages_out: VecDeque::new(),
            devices: DevicePolicies::default(),
            upstream_out: VecDeque::new(),
            events: VecDeque::new(),
            name_hasher: RandomState::default(),
            blocked_names: HashSet::default(),
            background: HashMap::default(),
            background_in_flight: 0,
            background_expiry: VecDeque::new(),
            routes_dirty_since: None,
            routes_announced_at: None,
            enforcer: Enforcer::new(),
            rule_routes: Vec::new(),
            icmp_refilled: None,
            stats: Stats::default(),
        };
        engine.update_rule_routes();
        engine
    }

    /// Replaces the rules. Every query handled after this call sees the
    /// whole new set; none sees part of one. If the networks of address
    /// rules changed, the routes are announced again at once.
    pub fn set_rules(&mut self, now: Instant, rules: Arc<RuleSet>) {
        self.rules = rules;
        self.update_rule_routes();
        // A learned address stays rejected only while its name is blocked:
        // a name the user just allowed is reachable by address at once.
        let rules = Arc::clone(&self.rules);
        let freed = self.learned.rules_changed(|name| match rules.lookup(name) {
            Verdict::Blocked(rule) => Some(rule),
            _ => None,
        });
        if freed {
            self.routes_changed(now);
        }
        self.after_input(now);
    }

    /// Takes the routes of the rules' address block rules; announces the
    /// routes when they changed (and no pause withdrew them). A network
    /// that holds an address never to block (an upstream resolver) is left
    /// out: routed into the tunnel, the firewall's own upstream queries
    /// would come back to it as queries. Its packets that reach the tunnel
    /// anyway are still rejected.
    fn update_rule_routes(&mut self) {
        let never = &self.config.never_block;
        let routes: Vec<Route> = self
            .rules
            .blocked_networks()
            .into_iter()
            .map(|(addr, prefix_len)| Route { addr, prefix_len })
            .filter(|route| !never.iter().any(|a| route.contains(*a)))
            .collect();
        if routes != self.rule_routes {
            self.rule_routes = routes;
            if self.paused_until.is_none() {
                let routes = self.routes();
                self.push_event(Event::RoutesChanged { routes });
            }
        }
    }

    /// Every network to route in: the rules' networks, then the learned
    /// addresses they do not cover. (With many rule networks the learned
    /// addresses are all given: a host route inside a routed network is
    /// redundant but harmless, and the check would cost more than it saves.)
    fn routes(&self) -> Vec<Route> {
        const CHECK_COVERED_UP_TO: usize = 64;
        let mut routes = self.rule_routes.clone();
        let check = self.rule_routes.len() <= CHECK_COVERED_UP_TO;
        routes.extend(
            self.learned
                .addresses()
                .into_iter()
                .filter(|a| !check || !self.rule_routes.iter().any(|r| r.contains(*a)))
                .map(Route::host),
        );
        routes
    }

    /// The rules in force, to name the list of a [`tacet_rules::RuleRef`].
    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    /// Lets every query through until `until` (for captive portals);
    /// `None` resumes filtering at once. The learned addresses' routes are
    /// withdrawn for the pause (a routed packet could only be rejected)
    /// and announced again when it ends.
    pub fn pause(&mut self, now: Instant, until: Option<Instant>) {
        self.paused_until = until;
        self.routes_changed(now);
        self.after_input(now);
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        let mut stats = self.stats;
        stats.learned_addresses = self.learned.len() as u64;
        stats
    }

    /// How many TCP connections to the resolvers are open.
    pub fn tcp_connections(&self) -> usize {
        self.tcp.connections()
    }

    /// How many sockets the TCP side holds (connections, listeners, resets
    /// on their way): at most [`crate::tcp::MAX_CONNECTIONS`], whatever
    /// apps send.
    pub fn tcp_sockets(&self) -> usize {
        self.tcp.sockets()
    }

    /// Turns discovery mode on or off: whether allowed queries are
    /// reported as events too.
    pub fn set_report_allowed(&mut self, on: bool) {
        self.config.report_allowed = on;
    }

    /// Replaces the addresses never learned as blocked (the upstreams,
    /// when they change with the network).
    pub fn set_never_block(&mut self, addrs: Vec<IpAddr>) {
        self.config.never_block = addrs;
        self.update_rule_routes();
    }

    /// Looks these names up before any app asks, and rejects their
    /// addresses from then on (at most [`crate::enforce::MAX_ENFORCED_NAMES`],
    /// at a bounded rate; names no rule blocks are skipped). Names in
    /// rule form, as [`tacet_rules::enforce::blocked_names`] gives them.
    /// Names no longer given stop being pinned.
    pub fn set_enforced_names(&mut self, now: Instant, names: &[String]) {
        for name in self.enforcer.set_names(now, names) {
            self.learned.unpin(&name);
        }
        self.after_input(now);
    }

    /// How many names are enforced.
    pub fn enforced_names(&self) -> usize {
        self.enforcer.len()
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Handles one DNS query that a client sent to a socket of the runtime
    /// (serve mode: a LAN resolver), not through the TUN. It goes through
    /// the same pipeline as a query read from the TUN (rules, per-device
    /// policy, pending table, answers, events) with `from.client` as the
    /// asker; its answer comes out of [`poll_message`](Self::poll_message),
    /// tagged with `from`. Over UDP an answer longer than the client takes
    /// goes out truncated (TC), so it asks again over TCP.
    pub fn handle_message(&mut self, now: Instant, from: MessageFrom, message: &[u8]) {
        // The client's own size is read with the query, in handle_query.
        let max_udp = dns::UDP_SIZE_WITHOUT_EDNS;
        self.handle_query(now, message, ReplyTo::Message { from, max_udp });
        self.after_input(now);
    }

    /// Sets the per-device policies (serve mode); queries handled after
    /// this call see them.
    pub fn set_device_policies(&mut self, policies: DevicePolicies) {
        self.devices = policies;
    }

    /// Handles one IP packet read from the TUN.
    pub fn handle_tun_packet(&mut self, now: Instant, packet: &[u8]) {
        self.handle_packet(now, packet);
        self.after_input(now);
    }

    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        match wire::parse(packet) {
            Err(_) => self.stats.malformed += 1,
            Ok(Packet::Udp(datagram)) if datagram.destination.port() == 53 => {
                let reply = ReplyTo::Udp {
                    client: datagram.source,
                    server: datagram.destination,
                };
                self.handle_query(now, datagram.payload, reply);
            }
            Ok(Packet::Tcp(segment)) if segment.destination.port() == 53 => {
                let Some(messages) = self.tcp.handle_packet(now, packet, &segment) else {
                    // Every slot is taken: refused at once, at the cost of
                    // the reset alone.
                    self.stats.tcp_refused += 1;
                    if let Some(reset) = reject::tcp_reset(&segment) {
                        self.tun_out.push_back(reset);
                    }
                    return;
                };
                for incoming in messages {
                    self.stats.tcp_queries += 1;
                    let reply = ReplyTo::Tcp {
                        conn: incoming.conn,
                        client: incoming.client,
                        server: incoming.server,
                    };
                    self.handle_query(now, &incoming.message, reply);
                }
                self.drain_tcp();
            }
            Ok(Packet::Tcp(segment)) if self.is_resolver(segment.destination.ip()) => {
                // DNS over TLS (853) and anything else at the resolvers:
                // Android's automatic Private DNS probes 853 and must hear
                // "no" at once, not wait out a timeout.
                self.stats.resolver_ports_refused += 1;
                if let Some(reset) = reject::tcp_reset(&segment) {
                    self.tun_out.push_back(reset);
                }
            }
            Ok(Packet::Udp(datagram)) if self.is_resolver(datagram.destination.ip()) => {
                // DNS over QUIC (UDP 853) and anything else at the resolvers.
                self.stats.resolver_ports_refused += 1;
                let (app, resolver) = (datagram.source.ip(), datagram.destination.ip());
                if self.take_icmp_token(now) {
                    if let Some(error) = reject::prohibited(app, resolver, packet) {
                        self.tun_out.push_back(error);
                    }
                }
            }
            Ok(Packet::Tcp(segment)) => self.reject_tcp(now, &segment),
            Ok(Packet::Udp(datagram)) => {
                self.reject_udp(now, datagram.source, datagram.destination, packet)
            }
            Ok(Packet::Other) => self.stats.ignored += 1,
        }
    }

    /// Handles the upstream's answer to a forwarded query. The runtime has
    /// already checked that it came from the upstream's address and port
    /// and carries the ID it sent; everything else is checked here. An
    /// answer is relayed only once all of it was read
    /// ([`answer::inspect`]): one that cannot be read whole gets the app a
    /// SERVFAIL, is counted and reported, and teaches nothing.
    pub fn handle_upstream_response(&mut self, now: Instant, handle: QueryHandle, response: &[u8]) {
        self.upstream_response(now, handle, response);
        self.after_input(now);
    }

    fn upstream_response(&mut self, now: Instant, handle: QueryHandle, response: &[u8]) {
        let Some(pending) = self.pending.remove(handle) else {
            return; // answered SERVFAIL already
        };
        if let Asker::Background(..) = pending.asker {
            self.background_in_flight = self.background_in_flight.saturating_sub(1);
        }
        // The engine parsed every pending query before it sent it.
        let Ok(query) = Query::parse(&pending.query) else {
            return;
        };
        let inspected = query
            .question()
            .ok_or(AnswerProblem::OtherQuestion)
            .and_then(|question| answer::inspect(response, question));
        let facts = match inspected {
            Ok(facts) => facts,
            Err(problem) => {
                self.refuse_answer(now, &pending, &query, response, problem);
                return;
            }
        };
        let reply = match pending.asker {
            Asker::Background(rule, client) => {
                self.learn_blocked(now, &query.name, rule, &facts, false, Some(client));
                return;
            }
            Asker::Enforced(rule) => {
                self.learn_enforced(now, &query, rule, &facts);
                return;
            }
            Asker::App(reply) => reply,
        };
        if let Some((via, rule)) = self.cloaked(now, &facts, query.qtype) {
            self.stats.allowed = self.stats.allowed.saturating_sub(1);
            self.stats.blocked += 1;
            self.stats.cname_blocked += 1;
            self.count_unique(&query.name);
            self.learn_blocked(now, &via, rule, &facts, false, Some(reply.client()));
            let answer = self.block_answer(&query);
            self.reply(now, reply, &answer);
            let reason = BlockReason::Cname { via, rule };
            self.push_event(blocked_event(now, reply, query.name, query.qtype, reason));
            return;
        }
        self.learn_allowed(now, &query.name, &facts);
        self.report_allowed(now, &pending, &query);
        let mut answer = response.to_vec();
        dns::set_id(&mut answer, query.id);
        self.stats.answered += 1;
        self.reply(now, reply, &answer);
    }

    /// An answer that could not be read whole: never relayed. The app gets
    /// SERVFAIL, or, for a truncated answer over UDP, a clean truncated
    /// answer that sends it to TCP as the upstream meant (servers may cut a
    /// record short when they set TC).
    fn refuse_answer(
        &mut self,
        now: Instant,
        pending: &Pending,
        query: &Query<'_>,
        response: &[u8],
        problem: AnswerProblem,
    ) {
        self.stats.answers_refused += 1;
        let reply = match pending.asker {
            Asker::App(reply) => reply,
            Asker::Background(..) => return,
            Asker::Enforced(_) => {
                self.enforcer.done(&query.name, query.qtype, now, None);
                return;
            }
        };
        let cut_short = matches!(problem, AnswerProblem::Malformed(..))
            && dns::is_truncated(response)
            && response.get(2).is_some_and(|flags| flags & 0x80 != 0);
        if cut_short && matches!(reply, ReplyTo::Udp { .. }) {
            self.stats.answered += 1;
            self.report_allowed(now, pending, query);
            let answer = query.answer_truncated();
            self.reply(now, reply, &answer);
            return;
        }
        self.stats.upstream_failures += 1;
        let answer = query.answer_empty(Rcode::ServFail, None);
        self.push_event(Event::AnswerRefused {
            at: now,
            client: reply.client(),
            server: reply.server(),
            transport: reply.transport(),
            name: query.name.clone(),
            qtype: query.qtype,
            problem,
        });
        self.reply(now, reply, &answer);
    }

    /// In discovery mode, reports an allowed query once its fate is known.
    fn report_allowed(&mut self, now: Instant, pending: &Pending, query: &Query<'_>) {
        let (Some(discovered), Asker::App(reply)) = (pending.discovered, pending.asker) else {
            return;
        };
        self.push_event(Event::Allowed {
            at: now,
            client: reply.client(),
            server: reply.server(),
            transport: reply.transport(),
            name: query.name.clone(),
            qtype: query.qtype,
            rule: discovered.rule,
        });
    }

    /// Handles a forwarded query that the runtime could not get answered
    /// (every upstream refused it, or a socket error).
    pub fn handle_upstream_failure(&mut self, now: Instant, handle: QueryHandle) {
        if let Some(pending) = self.pending.remove(handle) {
            self.fail(now, &pending);
        }
        self.after_input(now);
    }

    /// Does what time has made due: SERVFAIL for queries past their
    /// deadline, TCP timers, expired learned addresses, and the "routes
    /// changed" announcement.
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
        if self.learned.next_expiry().is_some_and(|at| at <= now) && self.learned.expire(now) {
            self.routes_changed(now);
        }
        if self.paused_until.is_some_and(|until| until <= now) {
            self.paused_until = None;
            self.routes_changed(now);
        }
        self.after_input(now);
    }

    /// The next answer to a query handed in through
    /// [`handle_message`](Self::handle_message).
    pub fn poll_message(&mut self) -> Option<MessageReply> {
        self.messages_out.pop_front()
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
        let at = |at, reason| Timeout { at, reason };
        [
            self.pending
                .next_deadline()
                .map(|t| at(t, TimerReason::UpstreamDeadline)),
            self.tcp
                .poll_timeout()
                .map(|t| at(t, TimerReason::TcpConnection)),
            self.routes_due()
                .map(|t| at(t, TimerReason::RoutesDebounce)),
            self.learned
                .next_expiry()
                .map(|t| at(t, TimerReason::LearnedExpiry)),
            self.paused_until.map(|t| at(t, TimerReason::PauseEnds)),
            self.enforcer
                .first_pass_deadline()
                .map(|t| at(t, TimerReason::EnforceLookups)),
        ]
        .into_iter()
        .flatten()
        .min_by_key(|t| t.at)
    }

    /// How many forwarded queries wait for the upstream.
    pub fn pending_queries(&self) -> usize {
        self.pending.len()
    }

    fn is_paused(&self, now: Instant) -> bool {
        self.paused_until.is_some_and(|until| now < until)
    }

    fn is_resolver(&self, address: IpAddr) -> bool {
        match address {
            IpAddr::V4(ip) => ip == self.config.resolver_v4,
            IpAddr::V6(ip) => ip == self.config.resolver_v6,
        }
    }

    /// One DNS message from an app, over UDP or TCP, or from a client of
    /// serve mode.
    fn handle_query(&mut self, now: Instant, message: &[u8], mut reply: ReplyTo) {
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
                    // one it cannot parse frees its place unanswered.
                    QueryError::Malformed => self.tcp_done(reply),
                }
                return;
            }
        };
        self.stats.queries += 1;
        if let ReplyTo::Message { max_udp, .. } = &mut reply {
            // No more than DNS flag day 2020's 1232 bytes, whatever the
            // client says: a fragmented answer is lost, or spoofed, on the
            // way.
            *max_udp = query.udp_size.min(dns::MAX_UDP_ANSWER);
        }
        if !matches!(reply, ReplyTo::Message { .. }) && !self.is_resolver(reply.server().ip()) {
            self.stats.bypass_attempts += 1;
        }
        let paused = self.is_paused(now);
        let verdict = if paused {
            Verdict::Unlisted
        } else {
            self.rules.lookup_query(&query.name, Some(query.qtype))
        };
        let block = if paused {
            None
        } else if self
            .devices
            .of(reply.client().ip())
            .is_some_and(|policy| !policy.allows(&query.name))
        {
            Some(BlockReason::NotForDevice)
        } else if self.config.answer_canaries && CANARY_NAMES.contains(&query.name.as_str()) {
            Some(BlockReason::Canary)
        } else if let Verdict::Blocked(rule) = verdict {
            Some(BlockReason::Rule(rule))
        } else {
            None
        };
        if let Some(reason) = block {
            self.stats.blocked += 1;
            if reason == BlockReason::NotForDevice {
                self.stats.device_blocked += 1;
            }
            self.count_unique(&query.name);
            let answer = match reason {
                BlockReason::Canary => {
                    query.answer_empty(Rcode::NxDomain, Some(self.config.block_ttl))
                }
                _ => self.block_answer(&query),
            };
            self.reply(now, reply, &answer);
            if let BlockReason::Rule(rule) = reason {
                self.resolve_in_background(now, message, &query, rule, reply.client());
            }
            self.push_event(blocked_event(now, reply, query.name, query.qtype, reason));
            return;
        }
        self.stats.allowed += 1;
        // Reported when its answer is in: a CNAME may still block it.
        let discovered = self.config.report_allowed.then_some(Discovered {
            rule: match verdict {
                Verdict::Allowed(rule) => Some(rule),
                _ => None,
            },
        });
        self.forward(now, message, Asker::App(reply), discovered, &query);
    }

    /// Sends a query upstream for `asker`; an app is answered SERVFAIL at
    /// once when too many queries already wait.
    fn forward(
        &mut self,
        now: Instant,
        message: &[u8],
        asker: Asker,
        discovered: Option<Discovered>,
        query: &Query<'_>,
    ) {
        let pending = Pending {
            asker,
            query: message.to_vec(),
            deadline: now + self.config.upstream_timeout,
            discovered,
        };
        let client_full = match asker {
            Asker::App(reply @ ReplyTo::Message { .. }) => {
                self.pending.of_client(reply.client().ip()) >= self.config.max_pending_per_client
            }
            _ => false,
        };
        if client_full {
            self.stats.client_pending_refused += 1;
        }
        let inserted = if client_full {
            None
        } else {
            self.pending.insert(pending)
        };
        match inserted {
            Some(handle) => {
                match asker {
                    Asker::App(_) => self.stats.forwarded += 1,
                    Asker::Background(..) => self.background_in_flight += 1,
                    Asker::Enforced(_) => {}
                }
                let retry_truncated_over_tcp = match asker {
                    Asker::App(reply) => reply.transport() == Protocol::Tcp,
                    _ => false,
                };
                let message = message.to_vec();
                self.upstream_out
                    .push_back(UpstreamCommand::Send(UpstreamQuery {
                        handle,
                        message,
                        retry_truncated_over_tcp,
                    }));
            }
            None => {
                if let Asker::App(reply) = asker {
                    self.stats.upstream_failures += 1;
                    if let Some(discovered) = discovered {
                        let pending = Pending {
                            asker,
                            query: Vec::new(),
                            deadline: now,
                            discovered: Some(discovered),
                        };
                        self.report_allowed(now, &pending, query);
                    }
                    let answer = query.answer_empty(Rcode::ServFail, None);
                    self.reply(now, reply, &answer);
                }
            }
        }
    }

    /// Resolves a blocked name upstream to learn its addresses, once per
    /// name and type while the last answer's addresses are still kept.
    fn resolve_in_background(
        &mut self,
        now: Instant,
        message: &[u8],
        query: &Query<'_>,
        rule: RuleRef,
        client: SocketAddr,
    ) {
        if !self.config.learn_addresses
            || ![dns::TYPE_A, dns::TYPE_AAAA, TYPE_HTTPS].contains(&query.qtype)
        {
            return;
        }
        while let Some((until, _)) = self.background_expiry.front() {
            if *until > now {
                break;
            }
            if let Some((until, key)) = self.background_expiry.pop_front() {
                // Unless the name was resolved again since (a later entry).
                if self.background.get(&key) == Some(&until) {
                    self.background.remove(&key);
                }
            }
        }
        let key = self.name_hasher.hash_one((&query.name, query.qtype));
        if self.background.get(&key).is_some_and(|until| *until > now) {
            return;
        }
        if self.background.len() >= MAX_BACKGROUND_NAMES
            || self.background_in_flight >= MAX_BACKGROUND_IN_FLIGHT
        {
            self.stats.background_skipped += 1;
            return;
        }
        let until = now + self.config.learned.ttl_floor;
        self.background.insert(key, until);
        self.background_expiry.push_back((until, key));
        self.stats.background_queries += 1;
        self.forward(now, message, Asker::Background(rule, client), None, query);
    }

    /// The first name an allowed answer (to a query of `qtype`) leads to
    /// that a block rule matches, with the rule.
    fn cloaked(&self, now: Instant, facts: &AnswerFacts, qtype: u16) -> Option<(String, RuleRef)> {
        if self.is_paused(now) {
            return None;
        }
        facts
            .aliases
            .iter()
            .find_map(|alias| match self.rules.lookup_query(alias, Some(qtype)) {
                Verdict::Blocked(rule) => Some((alias.clone(), rule)),
                _ => None,
            })
    }

    /// Learns where a blocked name resolves to, so connections there are
    /// rejected. The answer may come from a hostile network: an address
    /// that is not globally reachable (the LAN, the router, the phone
    /// itself), an upstream's, the resolvers', or one beyond the name's
    /// limit is refused and counted, never routed into the tunnel.
    fn learn_blocked(
        &mut self,
        now: Instant,
        name: &str,
        rule: RuleRef,
        facts: &AnswerFacts,
        pinned: bool,
        client: Option<SocketAddr>,
    ) {
        for &(addr, ttl) in &facts.addresses {
            if !learned::is_global(addr)
                || self.config.never_block.contains(&addr)
                || self.is_resolver(addr)
                || crate::config::in_tunnel(addr)
            {
                self.stats.learned_refused += 1;
                continue;
            }
            match self
                .learned
                .learn_blocked(now, addr, name, rule, ttl, pinned)
            {
                Learned::Blocked { new } => {
                    if new {
                        self.routes_changed(now);
                    }
                    let ttl = self
                        .learned
                        .expires_at(addr)
                        .map_or(Duration::ZERO, |at| at.saturating_duration_since(now));
                    self.push_event(Event::AddressLearned {
                        at: now,
                        addr,
                        name: name.to_owned(),
                        ttl,
                        client,
                    });
                }
                Learned::Shared { allowed_name } => self.shared(now, addr, name, allowed_name),
                Learned::OverNameLimit => self.stats.learned_refused += 1,
            }
        }
    }

    fn learn_allowed(&mut self, now: Instant, name: &str, facts: &AnswerFacts) {
        for &(addr, ttl) in &facts.addresses {
            if let Some(blocked_name) = self.learned.learn_allowed(now, addr, name, ttl) {
                self.routes_changed(now);
                self.shared(now, addr, &blocked_name, name.to_owned());
            }
        }
    }

    fn shared(&mut self, now: Instant, addr: IpAddr, blocked_name: &str, allowed_name: String) {
        self.stats.shared_addresses += 1;
        self.push_event(Event::SharedAddress {
            at: now,
            addr,
            blocked_name: blocked_name.to_owned(),
            allowed_name,
        });
    }

    /// The routes changed: announced at once after a quiet
    /// `routes_debounce`, so a blocked name's first address is routed (and
    /// its connections rejected) within milliseconds; otherwise gathered
    /// until the debounce since the last announcement has passed, so a
    /// burst of changes costs a shell one re-route.
    fn routes_changed(&mut self, now: Instant) {
        self.routes_dirty_since.get_or_insert(now);
    }

    /// When gathered route changes are due to be announced: as soon as the
    /// input that made them is handled, unless the last announcement was
    /// less than `routes_debounce` ago.
    fn routes_due(&self) -> Option<Instant> {
        let dirty = self.routes_dirty_since?;
        Some(
            self.routes_announced_at
                .map_or(dirty, |at| dirty.max(at + self.config.routes_debounce)),
        )
    }

    /// What every input ends with: the enforced lookups that are due, and
    /// the route changes that are.
    fn after_input(&mut self, now: Instant) {
        self.enforce_due(now);
        if self.routes_due().is_some_and(|at| at <= now) {
            self.announce_routes(now);
        }
    }

    fn announce_routes(&mut self, now: Instant) {
        self.routes_dirty_since = None;
        self.routes_announced_at = Some(now);
        let routes = if self.is_paused(now) {
            Vec::new()
        } else {
            self.routes()
        };
        self.push_event(Event::RoutesChanged { routes });
    }

    /// Sends the enforced names' lookups that are due and that the rate
    /// allows. Called after every input: a refresh rides on whatever woke
    /// the engine.
    fn enforce_due(&mut self, now: Instant) {
        if !self.config.learn_addresses {
            return;
        }
        for (name, qtype) in self.enforcer.take_due(now) {
            let rule = match self.rules.lookup_query(&name, Some(qtype)) {
                Verdict::Blocked(rule) => rule,
                _ => {
                    self.enforcer.skip(&name, qtype, now);
                    continue;
                }
            };
            let Some(message) = dns::query_message(&name, qtype) else {
                self.enforcer.skip(&name, qtype, now);
                continue;
            };
            let Ok(query) = Query::parse(&message) else {
                self.enforcer.skip(&name, qtype, now);
                continue;
            };
            self.stats.enforce_lookups += 1;
            self.forward(now, &message, Asker::Enforced(rule), None, &query);
        }
    }

    /// An enforced name's lookup: its addresses of this family are pinned
    /// (replacing those the lookup no longer gives), and the name is due
    /// again when the shortest TTL runs out.
    fn learn_enforced(
        &mut self,
        now: Instant,
        query: &Query<'_>,
        rule: RuleRef,
        facts: &AnswerFacts,
    ) {
        let v4 = query.qtype == dns::TYPE_A;
        let keep: Vec<IpAddr> = facts
            .addresses
            .iter()
            .map(|(a, _)| *a)
            .filter(|a| a.is_ipv4() == v4)
            .collect();
        if self.learned.refresh_pinned(&query.name, v4, &keep) {
            self.routes_changed(now);
        }
        self.learn_blocked(now, &query.name, rule, facts, true, None);
        let limits = self.config.learned;
        let again = facts
            .addresses
            .iter()
            .map(|(_, ttl)| Duration::from_secs(u64::from(*ttl)))
            .min()
            .map_or(ENFORCE_EMPTY_AGAIN, |ttl| {
                ttl.clamp(limits.ttl_floor, limits.ttl_ceiling)
            });
        self.enforcer
            .done(&query.name, query.qtype, now, Some(now + again));
    }

    /// Why a packet to `addr` must be rejected, and the name it belongs to.
    fn blocked_address(&self, now: Instant, addr: IpAddr) -> Option<(String, RejectReason)> {
        if self.is_paused(now) {
            return None;
        }
        if let Some((name, rule)) = self.learned.lookup(addr) {
            return Some((name.to_owned(), RejectReason::LearnedAddress(rule)));
        }
        match self.rules.lookup_addr(addr) {
            Verdict::Blocked(rule) => Some((addr.to_string(), RejectReason::AddressRule(rule))),
            _ => None,
        }
    }

    fn reject_tcp(&mut self, now: Instant, segment: &Segment) {
        let Some((name, reason)) = self.blocked_address(now, segment.destination.ip()) else {
            self.stats.ignored += 1;
            return;
        };
        // Only a connection attempt is an attempt; the resets answering
        // the rest of a flow that started before the block are not.
        if segment.syn {
            self.count_reject(
                now,
                segment.source,
                segment.destination,
                Protocol::Tcp,
                name,
                reason,
            );
        }
        if let Some(packet) = reject::tcp_reset(segment) {
            self.tun_out.push_back(packet);
        }
    }

    fn reject_udp(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        packet: &[u8],
    ) {
        let Some((name, reason)) = self.blocked_address(now, destination.ip()) else {
            self.stats.ignored += 1;
            return;
        };
        self.count_reject(now, source, destination, Protocol::Udp, name, reason);
        if !self.take_icmp_token(now) {
            self.stats.rejects_rate_limited += 1;
            return;
        }
        if let Some(error) = reject::prohibited(source.ip(), destination.ip(), packet) {
            self.tun_out.push_back(error);
        }
    }

    fn count_reject(
        &mut self,
        now: Instant,
        client: SocketAddr,
        destination: SocketAddr,
        protocol: Protocol,
        name: String,
        reason: RejectReason,
    ) {
        self.stats.blocked += 1;
        self.stats.rejected += 1;
        self.count_unique(&name);
        self.push_event(Event::Rejected {
            at: now,
            client,
            destination,
            protocol,
            name,
            reason,
        });
    }

    /// A token bucket: `icmp_per_second` a second, bursts of as many.
    fn take_icmp_token(&mut self, now: Instant) -> bool {
        let rate = f64::from(self.config.icmp_per_second);
        let elapsed = self
            .icmp_refilled
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        self.icmp_tokens = (self.icmp_tokens + elapsed.as_secs_f64() * rate).min(rate);
        self.icmp_refilled = Some(now);
        if self.icmp_tokens >= 1.0 {
            self.icmp_tokens -= 1.0;
            true
        } else {
            false
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

    /// Answers SERVFAIL to an app whose query's upstream failed.
    fn fail(&mut self, now: Instant, pending: &Pending) {
        let reply = match pending.asker {
            Asker::App(reply) => reply,
            Asker::Background(..) => {
                self.background_in_flight = self.background_in_flight.saturating_sub(1);
                return;
            }
            Asker::Enforced(_) => {
                if let Ok(query) = Query::parse(&pending.query) {
                    self.enforcer.done(&query.name, query.qtype, now, None);
                }
                return;
            }
        };
        self.stats.upstream_failures += 1;
        match Query::parse(&pending.query) {
            Ok(query) => {
                self.report_allowed(now, pending, &query);
                let answer = query.answer_empty(Rcode::ServFail, None);
                self.reply(now, reply, &answer);
            }
            Err(_) => self.tcp_done(reply),
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
            ReplyTo::Message { from, max_udp } => {
                let answer =
                    if from.transport == Protocol::Udp && message.len() > usize::from(max_udp) {
                        self.stats.truncated_for_client += 1;
                        dns::truncate(message)
                    } else {
                        Some(message.to_vec())
                    };
                if answer.is_none() {
                    self.stats.malformed += 1;
                }
                self.messages_out
                    .push_back(MessageReply { to: from, answer });
            }
        }
    }

    /// A TCP query that gets no answer still frees its place.
    fn tcp_done(&mut self, to: ReplyTo) {
        match to {
            ReplyTo::Tcp { conn, .. } => self.tcp.forget_query(conn),
            ReplyTo::Message { from, .. } => self.messages_out.push_back(MessageReply {
                to: from,
                answer: None,
            }),
            ReplyTo::Udp { .. } => {}
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
        if self.blocked_names.insert(self.name_hasher.hash_one(name)) {
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

/// One blocked attempt by the app behind `reply`.
fn blocked_event(
    now: Instant,
    reply: ReplyTo,
    name: String,
    qtype: u16,
    reason: BlockReason,
) -> Event {
    Event::Blocked {
        at: now,
        client: reply.client(),
        server: reply.server(),
        transport: reply.transport(),
        name,
        qtype,
        reason,
    }
}
