//! The I/O thread: one mio poll over the front (the TUN, or serve mode's
//! LAN sockets), the upstream sockets and a waker for commands, sleeping
//! until the engine's next deadline.

use std::io;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use std::net::SocketAddr;

use tacet_engine::{
    BlockReason, Engine, Event, RejectReason, RuleRef, RuleSet, Stats, UpstreamCommand,
};
use tacet_store::{Action, JournalEntry, Reason, Store};

use crate::attribution::{AppCache, Connection};
use crate::serve::{Incoming, Listeners, ServeConfig};
use crate::tun::{Tun, MAX_PACKET};
use crate::upstream::{Outcome, Upstreams};
use crate::{Command, Observer, RuntimeConfig, RuntimeError};

const TUN: Token = Token(0);
/// Packets read from the TUN before the other sources get a turn: a flood
/// from one app must not starve the upstream answers that other apps wait
/// for, nor the commands of the shell.
const TUN_BATCH: usize = 256;
const WAKER: Token = Token(1);
/// Upstream sockets' tokens start here (encrypted connections first, then
/// plain queries' sockets).
const FIRST_UPSTREAM: usize = 2;

/// Where queries come from: the phone's TUN (IP packets), or serve mode's
/// sockets on the LAN (DNS messages from devices).
pub(crate) enum Front {
    /// IP packets of the tunnel.
    Tun(Tun),
    /// UDP and TCP sockets of a LAN resolver.
    Serve(ServeConfig),
}

enum Bound {
    Tun(Tun),
    Serve(Box<Listeners>),
}

/// The state of the I/O thread.
pub struct EventLoop {
    poll: Poll,
    waker: Arc<Waker>,
    front: Bound,
    engine: Engine,
    upstreams: Upstreams,
    observer: Box<dyn Observer>,
    commands: Receiver<Command>,
    store: Option<Store>,
    /// The counters the observer last heard.
    last_stats: Stats,
    /// Packets the TUN refused to take (it never should).
    tun_write_errors: u64,
    /// The shell's recent answers to "which app?".
    apps: AppCache,
    /// The journal's names for the rules' lists.
    list_ids: ListIds,
}

impl EventLoop {
    /// Sets up the poll and registers the TUN.
    pub(crate) fn new(
        front: Front,
        config: RuntimeConfig,
        rules: Arc<RuleSet>,
        observer: Box<dyn Observer>,
        commands: Receiver<Command>,
    ) -> Result<Self, RuntimeError> {
        let mut config = config;
        // The engine's only randomness: TCP initial sequence numbers.
        config.engine.seed = rand::random();
        config
            .engine
            .never_block
            .extend(config.upstreams.iter().map(|u| u.addr.ip()));
        let poll = Poll::new().map_err(RuntimeError::Io)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER).map_err(RuntimeError::Io)?);
        let front = match front {
            Front::Tun(tun) => {
                poll.registry()
                    .register(&mut SourceFd(&tun.raw_fd()), TUN, Interest::READABLE)
                    .map_err(|e| RuntimeError::Tun(e.to_string()))?;
                Bound::Tun(tun)
            }
            Front::Serve(config) => {
                Bound::Serve(Box::new(Listeners::bind(&config, poll.registry())?))
            }
        };
        let upstreams = Upstreams::new(config.upstreams, config.upstream_options, FIRST_UPSTREAM)?;
        let store = match config.store {
            // Discovery mode is the store's setting: the engine may report
            // allowed queries for other reasons (a shell logging them).
            Some(location) => {
                Some(Store::open(&location.dir, location.config).map_err(RuntimeError::Store)?)
            }
            None => None,
        };
        let mut engine = Engine::new(config.engine, rules);
        engine.set_enforced_names(Instant::now(), &config.enforced_names);
        Ok(Self {
            poll,
            waker,
            front,
            engine,
            upstreams,
            observer,
            commands,
            store,
            last_stats: Stats::default(),
            tun_write_errors: 0,
            apps: AppCache::default(),
            list_ids: ListIds::default(),
        })
    }

    pub(crate) fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    /// Runs until told to stop or the TUN fails; returns the final counters.
    pub fn run(mut self) -> Result<Stats, RuntimeError> {
        let result = self.serve();
        if let Some(store) = self.store.take() {
            let status = store.shutdown(unix_ms());
            if status.journal_write_failures > 0 {
                log::warn!("{} journal writes failed", status.journal_write_failures);
            }
        }
        self.observer.on_stopped(result.as_ref().err());
        result
    }

    fn serve(&mut self) -> Result<Stats, RuntimeError> {
        let mut events = Events::with_capacity(256);
        let mut buf = vec![0u8; MAX_PACKET];
        // The engine may start with something to say (the routes of the
        // rules' address networks).
        self.flush(Instant::now());
        // Packets left on the TUN after a full batch (mio reports readiness
        // once, on the edge, so the loop must remember).
        let mut tun_waiting = false;
        loop {
            let timeout = if tun_waiting {
                Some(Duration::ZERO)
            } else {
                self.next_wake()
                    .map(|at| at.saturating_duration_since(Instant::now()))
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(RuntimeError::Io(e));
            }
            let now = Instant::now();
            let mut outcomes = Vec::new();
            for event in events.iter() {
                match event.token() {
                    TUN => tun_waiting = true,
                    WAKER => {}
                    token if Listeners::owns(token) => {
                        if let Bound::Serve(listeners) = &mut self.front {
                            listeners.mark(token);
                        }
                    }
                    token => self
                        .upstreams
                        .ready(self.poll.registry(), token, now, &mut outcomes),
                }
            }
            if self.upstreams.next_deadline().is_some_and(|at| at <= now) {
                self.upstreams
                    .handle_timeout(self.poll.registry(), now, &mut outcomes);
            }
            for outcome in outcomes {
                self.deliver(now, outcome);
            }
            if tun_waiting {
                tun_waiting = self.read_tun(&mut buf)?;
            }
            self.read_listeners(now);
            if let Bound::Serve(listeners) = &mut self.front {
                if listeners.next_deadline().is_some_and(|at| at <= now) {
                    listeners.handle_timeout(self.poll.registry(), now);
                }
                tun_waiting |= listeners.has_pending();
            }
            if self.engine.poll_timeout().is_some_and(|t| t.at <= now) {
                self.engine.handle_timeout(now);
                self.flush(now);
            }
            if let Some(store) = &mut self.store {
                let now_ms = unix_ms();
                if store.deadline().is_some_and(|d| d.at_unix_ms <= now_ms) {
                    store.tick(now_ms);
                }
            }
            let stats = self.engine.stats();
            if stats != self.last_stats {
                self.last_stats = stats;
                self.observer.on_stats(&stats);
            }
            if !self.handle_commands(now) {
                let mut stats = self.engine.stats();
                stats.malformed += self.tun_write_errors;
                return Ok(stats);
            }
            // Commands may have given the engine something to say (new rules:
            // new routes).
            self.flush(now);
        }
    }

    /// Reads up to [`TUN_BATCH`] packets waiting on the TUN; true if more
    /// may be waiting.
    fn read_tun(&mut self, buf: &mut [u8]) -> Result<bool, RuntimeError> {
        for _ in 0..TUN_BATCH {
            let Bound::Tun(tun) = &self.front else {
                return Ok(false);
            };
            match tun.recv(buf) {
                // A TUN never reads empty; an fd that does (a socket or pipe
                // standing in for one) has been closed by its other end.
                Ok(0) => return Err(RuntimeError::Tun("the tunnel was closed".into())),
                Ok(n) => {
                    let now = Instant::now();
                    self.engine
                        .handle_tun_packet(now, buf.get(..n).unwrap_or_default());
                    self.flush(now);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(RuntimeError::Tun(format!("reading the tunnel failed: {e}"))),
            }
        }
        Ok(true)
    }

    /// Hands the queries serve mode's sockets hold to the engine, a bounded
    /// batch per socket (sockets with more wait for the next turn).
    fn read_listeners(&mut self, now: Instant) {
        let Bound::Serve(listeners) = &mut self.front else {
            return;
        };
        if !listeners.has_pending() {
            return;
        }
        let mut incoming: Incoming = Vec::new();
        listeners.read(self.poll.registry(), now, &mut incoming);
        for (from, message) in incoming {
            self.engine.handle_message(now, from, &message);
            self.flush(now);
        }
    }

    fn deliver(&mut self, now: Instant, outcome: Outcome) {
        match outcome {
            Outcome::Answer(handle, response) => {
                self.engine.handle_upstream_response(now, handle, &response)
            }
            Outcome::Failed(handle) => self.engine.handle_upstream_failure(now, handle),
        }
        self.flush(now);
    }

    /// Writes what `event` tells the user into the journal, with the app
    /// behind it when the shell can tell.
    fn journal(&mut self, now: Instant, event: Event) {
        let Some(store) = &mut self.store else {
            return;
        };
        let connection = connection_of(&event);
        let ids = self.list_ids.of(self.engine.rules());
        let Some(mut entry) = journal_entry(event, ids, unix_ms()) else {
            return;
        };
        if let Some(connection) = connection {
            let observer = &mut self.observer;
            entry.app = match self.front {
                // A device's name is a lookup in the shell's memory, by
                // address: asked every time, so no entry goes unnamed.
                Bound::Serve(_) => observer.app_of(&connection),
                Bound::Tun(_) => self.apps.app_of(now, connection, |c| observer.app_of(c)),
            }
            .filter(|app| !app.is_empty());
        }
        store.record(entry.time_unix_ms, entry);
    }

    /// Carries out everything the engine asked for. Events go first: the
    /// shell is asked which app sent a query while the app's socket still
    /// waits for the answer. The observer hears an event before the journal
    /// takes it (its name moves into the entry, not copied).
    fn flush(&mut self, now: Instant) {
        loop {
            while let Some(event) = self.engine.poll_event() {
                self.observer.on_event(&event, self.engine.rules());
                self.journal(now, event);
            }
            while let Some(packet) = self.engine.poll_tun_packet() {
                let sent = match &self.front {
                    Bound::Tun(tun) => tun.send(&packet).is_ok(),
                    Bound::Serve(_) => false,
                };
                if !sent {
                    self.tun_write_errors += 1;
                }
            }
            while let Some(reply) = self.engine.poll_message() {
                if let Bound::Serve(listeners) = &mut self.front {
                    listeners.send(self.poll.registry(), now, reply);
                }
            }
            let mut outcomes = Vec::new();
            while let Some(command) = self.engine.poll_upstream() {
                match command {
                    UpstreamCommand::Send(query) => {
                        self.upstreams
                            .send(self.poll.registry(), query, now, &mut outcomes)
                    }
                    UpstreamCommand::Abandon(handle) => {
                        self.upstreams.abandon(self.poll.registry(), handle)
                    }
                }
            }
            for event in self.upstreams.take_events() {
                self.observer.on_upstream(&event);
            }
            if outcomes.is_empty() {
                return;
            }
            for outcome in outcomes {
                match outcome {
                    Outcome::Answer(handle, response) => {
                        self.engine.handle_upstream_response(now, handle, &response)
                    }
                    Outcome::Failed(handle) => self.engine.handle_upstream_failure(now, handle),
                }
            }
        }
    }

    /// Applies queued commands; false when told to stop.
    fn handle_commands(&mut self, now: Instant) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(Command::Stop) | Err(TryRecvError::Disconnected) => return false,
                Ok(Command::SetRules(rules, applied)) => {
                    self.engine.set_rules(now, rules);
                    let _ = applied.try_send(());
                }
                Ok(Command::Pause(duration, applied)) => {
                    self.engine.pause(now, duration.map(|d| now + d));
                    let _ = applied.try_send(());
                }
                Ok(Command::SetDiscovery(on, applied)) => {
                    self.engine.set_report_allowed(on);
                    if let Some(store) = &mut self.store {
                        store.set_discovery(on);
                    }
                    let _ = applied.try_send(());
                }
                Ok(Command::EditCustom(name, kind, reply)) => {
                    let result = match &mut self.store {
                        Some(store) => match kind {
                            Some(kind) => store.add_custom_rule(&name, kind),
                            None => store.remove_custom_rule(&name),
                        }
                        .map_err(RuntimeError::Store),
                        None => Err(RuntimeError::NoStore),
                    };
                    let _ = reply.try_send(result);
                }
                Ok(Command::ClearJournal(reply)) => {
                    let result = match &mut self.store {
                        Some(store) => store.clear_journal(unix_ms()).map_err(RuntimeError::Store),
                        None => Err(RuntimeError::NoStore),
                    };
                    let _ = reply.try_send(result);
                }
                Ok(Command::ReplaceTun(tun, reply)) => {
                    let _ = reply.try_send(self.replace_tun(tun));
                }
                Ok(Command::SetDevicePolicies(policies, applied)) => {
                    self.engine.set_device_policies(policies);
                    let _ = applied.try_send(());
                }
                Ok(Command::ServeStats(reply)) => {
                    let stats = match &self.front {
                        Bound::Serve(listeners) => Some(listeners.stats()),
                        Bound::Tun(_) => None,
                    };
                    let _ = reply.try_send(stats);
                }
                Ok(Command::SetEnforcedNames(names, applied)) => {
                    self.engine.set_enforced_names(now, &names);
                    let _ = applied.try_send(());
                }
                Ok(Command::SetUpstreams(servers, reply)) => {
                    let never: Vec<_> = servers.iter().map(|s| s.addr.ip()).collect();
                    let result = self.upstreams.set_servers(servers);
                    if result.is_ok() {
                        self.engine.set_never_block(never);
                    }
                    let _ = reply.try_send(result);
                }
                Ok(Command::UpstreamStats(reply)) => {
                    let _ = reply.try_send(self.upstreams.stats());
                }
                Ok(Command::StoreStatus(reply)) => {
                    let _ = reply.try_send(self.store.as_ref().map(Store::status));
                }
                Ok(Command::Stats(reply)) => {
                    let mut stats = self.engine.stats();
                    stats.malformed += self.tun_write_errors;
                    let _ = reply.try_send(stats);
                }
                Err(TryRecvError::Empty) => return true,
            }
        }
    }
}

impl EventLoop {
    /// Watches `tun` instead of the current tunnel, which is closed.
    fn replace_tun(&mut self, tun: Tun) -> Result<(), RuntimeError> {
        let Bound::Tun(old) = &self.front else {
            return Err(RuntimeError::Tun("serve mode has no tunnel".into()));
        };
        let registry = self.poll.registry();
        registry
            .register(&mut SourceFd(&tun.raw_fd()), TUN, Interest::READABLE)
            .map_err(|e| RuntimeError::Tun(e.to_string()))?;
        let _ = registry.deregister(&mut SourceFd(&old.raw_fd()));
        self.front = Bound::Tun(tun);
        Ok(())
    }

    /// The addresses serve mode listens on (empty on a TUN).
    pub(crate) fn listening(&self) -> Vec<SocketAddr> {
        match &self.front {
            Bound::Serve(listeners) => listeners.local_addrs(),
            Bound::Tun(_) => Vec::new(),
        }
    }

    /// The earliest of the engine's and the store's deadlines; `None` when
    /// neither waits on time, so the thread sleeps until something arrives.
    fn next_wake(&mut self) -> Option<Instant> {
        let engine = self
            .engine
            .poll_timeout()
            .map(|t| t.at)
            .into_iter()
            .chain(self.upstreams.next_deadline())
            .chain(match &self.front {
                Bound::Serve(listeners) => listeners.next_deadline(),
                Bound::Tun(_) => None,
            })
            .min();
        let store = self.store.as_ref().and_then(Store::deadline).map(|d| {
            let wait = d.at_unix_ms.saturating_sub(unix_ms());
            Instant::now() + Duration::from_millis(wait)
        });
        match (engine, store) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The rule set's list ids as shared strings: a journal entry names its
/// list with a reference count, not a copy of the id (an allocation per
/// blocked attempt otherwise).
#[derive(Default)]
struct ListIds {
    /// The rule set they were taken from. Weak, so its allocation stays
    /// and a new rule set can never be mistaken for it by address.
    rules: Weak<RuleSet>,
    ids: Vec<Arc<str>>,
}

impl ListIds {
    /// The ids of `rules`' lists, by list number.
    fn of(&mut self, rules: &Arc<RuleSet>) -> &[Arc<str>] {
        if !std::ptr::eq(self.rules.as_ptr(), Arc::as_ptr(rules)) {
            self.rules = Arc::downgrade(rules);
            self.ids = rules
                .lists()
                .iter()
                .map(|l| Arc::from(l.id.as_str()))
                .collect();
        }
        &self.ids
    }
}

/// Milliseconds since the Unix epoch: the store's clock, read only here.
fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The connection behind a journaled event, to ask which app made it.
fn connection_of(event: &Event) -> Option<Connection> {
    match *event {
        Event::Blocked {
            client,
            server,
            transport,
            ..
        }
        | Event::Allowed {
            client,
            server,
            transport,
            ..
        } => Some(Connection {
            protocol: transport,
            local: client,
            remote: server,
        }),
        Event::Rejected {
            client,
            destination,
            protocol,
            ..
        } => Some(Connection {
            protocol,
            local: client,
            remote: destination,
        }),
        Event::AnswerRefused {
            client,
            server,
            transport,
            ..
        } => Some(Connection {
            protocol: transport,
            local: client,
            remote: server,
        }),
        Event::SharedAddress { .. }
        | Event::RoutesChanged { .. }
        | Event::AddressLearned { .. } => None,
    }
}

/// What the journal keeps of an engine event; routes and shared-address
/// notices are for the shells, not the journal.
fn journal_entry(event: Event, ids: &[Arc<str>], time_unix_ms: u64) -> Option<JournalEntry> {
    let list_id = |rule: &RuleRef| {
        ids.get(usize::from(rule.list.0))
            .map_or_else(|| Arc::from("?"), Arc::clone)
    };
    let rule_reason = |rule: &RuleRef| Reason::Rule {
        list_id: list_id(rule),
        line: rule.line,
    };
    let entry = |name: String, qtype, action, reason, client: SocketAddr| JournalEntry {
        time_unix_ms,
        name,
        qtype,
        action,
        reason,
        client: client.ip(),
        app: None,
        count: 1,
    };
    Some(match event {
        Event::Blocked {
            name,
            qtype,
            reason,
            client,
            ..
        } => {
            let reason = match reason {
                BlockReason::Rule(rule) => rule_reason(&rule),
                BlockReason::Canary => Reason::Canary,
                BlockReason::NotForDevice => Reason::NotForDevice,
                BlockReason::Cname { via, rule } => Reason::Cname {
                    via,
                    list_id: list_id(&rule),
                    line: rule.line,
                },
            };
            entry(name, qtype, Action::Blocked, reason, client)
        }
        Event::Rejected {
            name,
            reason,
            client,
            destination,
            ..
        } => {
            let reason = match reason {
                RejectReason::LearnedAddress(_) => Reason::LearnedAddress {
                    addr: destination.ip(),
                },
                RejectReason::AddressRule(rule) => rule_reason(&rule),
            };
            entry(name, 0, Action::Blocked, reason, client)
        }
        Event::Allowed {
            name,
            qtype,
            rule,
            client,
            ..
        } => entry(
            name,
            qtype,
            Action::Allowed,
            rule.as_ref().map_or(Reason::NoRule, rule_reason),
            client,
        ),
        Event::AnswerRefused {
            name,
            qtype,
            problem,
            client,
            ..
        } => entry(
            name,
            qtype,
            Action::Failed,
            Reason::BadAnswer {
                problem: problem.to_string(),
            },
            client,
        ),
        Event::SharedAddress { .. }
        | Event::RoutesChanged { .. }
        | Event::AddressLearned { .. } => return None,
    })
}
