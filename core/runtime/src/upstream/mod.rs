//! The upstream side: where allowed queries go, and how.
//!
//! One small interface for every transport: the event loop hands over an
//! [`UpstreamQuery`] and gets [`Outcome`]s back, as sockets become ready or
//! deadlines pass. Behind it:
//! - [`plain`]: plain DNS, one fresh UDP socket (random port and ID) per
//!   query, TCP for truncated answers;
//! - [`dot`]: DNS over TLS, one pipelined connection per upstream;
//! - [`doh`]: DNS over HTTPS, one HTTP/2 connection per upstream;
//! - [`tls`]: the certificates trusted, and the non-blocking TLS stream;
//! - [`spec`]: upstreams as users write them.
//!
//! Encrypted connections are opened by the first query and closed after an
//! idle period; while none is open there is no deadline, so an idle phone
//! is never woken. A connection that fails before it is set up marks its
//! upstream unavailable (an [`UpstreamEvent`] says why, in words such as
//! "certificate not valid for dns.example") and backs off; one that dies
//! once working is replaced, and its queries in flight are sent once more.
//! While an upstream backs off from a failure that may pass by itself (a
//! refused or reset connection: a server restarting), queries wait for its
//! next attempt if that comes within [`HOLD_FOR_RETRY`], so a restart
//! loses nothing; a certificate that fails verification fails them at
//! once. In strict mode (the default) a query no encrypted upstream can
//! take is failed (the app gets SERVFAIL); in opportunistic mode it goes
//! out as plain DNS, and an event says so.

pub mod doh;
pub mod dot;
pub mod plain;
pub mod spec;
pub mod tls;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token};
use rustls::ClientConfig;
use tacet_engine::{Config, QueryHandle, UpstreamQuery};

use crate::RuntimeError;
use doh::Doh;
use dot::Dot;
use plain::Plain;
pub use spec::{Transport, UpstreamSpec};
use tls::{TlsStream, Trust};

/// What happened to a query on the upstream side.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The upstream answered; the message carries the upstream's ID.
    Answer(QueryHandle, Vec<u8>),
    /// Every upstream refused or failed.
    Failed(QueryHandle),
}

/// What to do when no encrypted upstream can take a query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Fail the query (SERVFAIL): nothing ever leaves in plaintext.
    #[default]
    Strict,
    /// Send it as plain DNS to the plain upstreams, and say so.
    Opportunistic,
}

/// How encrypted upstreams are used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamOptions {
    /// Strict or opportunistic.
    pub mode: Mode,
    /// An encrypted connection with nothing in flight for this long is
    /// closed.
    pub idle: Duration,
    /// Extra trusted CA certificates (PEM), besides the platform's roots.
    pub extra_ca: Option<Vec<u8>>,
}

/// How long an idle encrypted connection stays open by default: long
/// enough that a burst of lookups (an app starting) shares one handshake,
/// short enough that a phone put down drops it soon.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(30);

impl Default for UpstreamOptions {
    fn default() -> Self {
        Self {
            mode: Mode::Strict,
            idle: DEFAULT_IDLE,
            extra_ca: None,
        }
    }
}

/// Something the user should hear about the upstreams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpstreamEvent {
    /// An encrypted upstream cannot be used: `reason` says why
    /// ("certificate not valid for dns.example").
    Unavailable {
        /// The upstream, as written.
        upstream: String,
        /// Why, in words a user can act on.
        reason: String,
    },
    /// It answers again.
    Recovered {
        /// The upstream, as written.
        upstream: String,
    },
    /// Opportunistic mode sent queries as plain DNS because no encrypted
    /// upstream could take them.
    FellBack {
        /// Why the encrypted ones could not.
        reason: String,
    },
}

/// A query on an encrypted connection.
#[derive(Clone, Debug)]
pub struct Sent {
    /// The engine's name for it.
    pub handle: QueryHandle,
    /// The message as it goes out.
    pub message: Vec<u8>,
    /// Whether it was already sent once on a connection that died.
    pub retried: bool,
}

/// Why an encrypted connection ended.
#[derive(Debug)]
pub struct ConnError {
    /// What happened, for the log.
    pub reason: String,
    /// Whether it had been set up (handshake done) before it failed.
    pub established: bool,
    /// The TLS failure, if it was one (a certificate, a pin...).
    pub tls: Option<rustls::Error>,
}

impl ConnError {
    fn from_io(e: &io::Error, stream: &TlsStream, established: bool) -> Self {
        Self {
            reason: e.to_string(),
            established,
            tls: stream.tls_error().cloned(),
        }
    }
}

/// How long a connection may take to be set up (TCP and TLS, and HTTP/2's
/// preface), within the engine's 3 s upstream deadline.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(2500);
/// The first wait after a failed connection; it doubles with each failure.
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
/// The longest wait between attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// Encrypted upstreams at most (each holds one mio token).
pub const MAX_ENCRYPTED: usize = 8;
/// How soon the next attempt at an upstream that failed must come for a
/// query to wait for it instead of failing at once: a restarting server is
/// back within a second, and the query still has its answer within the
/// engine's 3 s deadline. Longer back-offs (a server that stays down) fail
/// queries at once again.
pub const HOLD_FOR_RETRY: Duration = Duration::from_secs(1);
/// Queries waiting for an upstream's next attempt at most; more fail.
const MAX_WAITING: usize = dot::MAX_IN_FLIGHT;

enum Conn {
    Dot(Box<Dot>),
    Doh(Box<Doh>),
}

impl Conn {
    fn send(&mut self, sent: Sent, out: &mut Vec<Outcome>) -> Result<(), ConnError> {
        match self {
            Self::Dot(c) => c.send(sent),
            Self::Doh(c) => c.send(sent, out),
        }
    }

    fn ready(&mut self, out: &mut Vec<Outcome>) -> Result<(), ConnError> {
        match self {
            Self::Dot(c) => c.ready(out),
            Self::Doh(c) => c.ready(out),
        }
    }

    fn has_room(&self) -> bool {
        match self {
            Self::Dot(c) => c.has_room(),
            Self::Doh(c) => c.has_room(),
        }
    }

    fn in_flight(&self) -> usize {
        match self {
            Self::Dot(c) => c.in_flight(),
            Self::Doh(c) => c.in_flight(),
        }
    }

    fn is_established(&self) -> bool {
        match self {
            Self::Dot(c) => c.is_established(),
            Self::Doh(c) => c.is_established(),
        }
    }

    fn abandon(&mut self, handle: QueryHandle) {
        match self {
            Self::Dot(c) => c.abandon(handle),
            Self::Doh(c) => c.abandon(handle),
        }
    }

    fn take_in_flight(&mut self) -> Vec<Sent> {
        match self {
            Self::Dot(c) => c.take_in_flight(),
            Self::Doh(c) => c.take_in_flight(),
        }
    }

    fn close(&mut self) {
        match self {
            Self::Dot(c) => c.close(),
            Self::Doh(c) => c.close(),
        }
    }
}

/// Counters of the encrypted transports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct UpstreamStats {
    /// Encrypted connections opened (TCP connects, each with a handshake).
    pub connections: u64,
    /// Connections that failed before they were set up.
    pub connect_failures: u64,
    /// Connections closed after their idle period.
    pub idle_closes: u64,
    /// Queries sent again because their connection died.
    pub retried: u64,
    /// Queries sent as plain DNS in opportunistic mode.
    pub plain_fallbacks: u64,
}

/// One encrypted upstream and its connection.
struct Encrypted {
    spec: UpstreamSpec,
    name: String,
    config: Arc<ClientConfig>,
    token: Token,
    conn: Option<Conn>,
    /// When the open connection must be set up by.
    handshake_deadline: Option<Instant>,
    last_used: Instant,
    failures: u32,
    retry_at: Option<Instant>,
    /// Why it is unavailable, while it is.
    unavailable: Option<String>,
    /// Whether its last failure may pass by itself (a connection refused
    /// or reset, not a certificate): queries may wait for the next try.
    transient: bool,
    /// Queries waiting for the next attempt (it backs off).
    waiting: Vec<Sent>,
}

impl Encrypted {
    fn new(spec: UpstreamSpec, trust: &Trust, token: Token, now: Instant) -> Result<Self, String> {
        let (tls, alpn) = match &spec.transport {
            Transport::Tls(tls) => (tls, tls::ALPN_DOT),
            Transport::Https { tls, .. } => (tls, tls::ALPN_H2),
            Transport::Plain => return Err("not an encrypted upstream".into()),
        };
        Ok(Self {
            config: trust.client_config(tls, alpn)?,
            name: tls.name.clone(),
            spec,
            token,
            conn: None,
            handshake_deadline: None,
            last_used: now,
            failures: 0,
            retry_at: None,
            unavailable: None,
            transient: false,
            waiting: Vec::new(),
        })
    }

    fn backing_off(&self, now: Instant) -> bool {
        self.conn.is_none() && self.retry_at.is_some_and(|at| now < at)
    }

    /// Whether a query may wait for the next attempt: the last failure may
    /// pass by itself, and the attempt comes within [`HOLD_FOR_RETRY`].
    fn can_hold(&self, now: Instant) -> bool {
        self.conn.is_none()
            && self.transient
            && self.waiting.len() < MAX_WAITING
            && self.retry_at.is_some_and(|at| at <= now + HOLD_FOR_RETRY)
    }

    /// Keeps `queries` for the next attempt as far as they may wait;
    /// returns the rest.
    fn hold(&mut self, now: Instant, mut queries: Vec<Sent>) -> Vec<Sent> {
        if !self.can_hold(now) {
            return queries;
        }
        let room = MAX_WAITING.saturating_sub(self.waiting.len());
        let rest = queries.split_off(queries.len().min(room));
        self.waiting.append(&mut queries);
        rest
    }

    /// Sends the queries that waited for a connection on the one just
    /// opened; returns those it had no room for. On an error, those not
    /// sent wait again, for [`fail`](Self::fail) to decide on.
    fn send_waiting(&mut self, out: &mut Vec<Outcome>) -> Result<Vec<Sent>, ConnError> {
        let mut waiting = std::mem::take(&mut self.waiting).into_iter();
        let Some(conn) = &mut self.conn else {
            self.waiting = waiting.collect();
            return Ok(Vec::new());
        };
        let mut no_room = Vec::new();
        while let Some(sent) = waiting.next() {
            if !conn.has_room() {
                no_room.push(sent);
                continue;
            }
            if let Err(e) = conn.send(sent, out) {
                self.waiting = waiting.collect();
                return Err(e);
            }
        }
        Ok(no_room)
    }

    /// Opens a connection.
    fn connect(&mut self, registry: &Registry, now: Instant) -> Result<(), ConnError> {
        let fail = |e: io::Error| ConnError {
            reason: e.to_string(),
            established: false,
            tls: None,
        };
        let mut socket = mio::net::TcpStream::connect(self.spec.addr).map_err(fail)?;
        registry
            .register(
                &mut socket,
                self.token,
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(fail)?;
        let stream =
            TlsStream::new(socket, Arc::clone(&self.config), &self.name).map_err(|reason| {
                ConnError {
                    reason,
                    established: false,
                    tls: None,
                }
            })?;
        self.conn = Some(match &self.spec.transport {
            Transport::Https { path, .. } => {
                let authority = match self.spec.addr.port() {
                    443 => self.name.clone(),
                    port => format!("{}:{port}", self.name),
                };
                Conn::Doh(Box::new(Doh::new(stream, &authority, path)))
            }
            _ => Conn::Dot(Box::new(Dot::new(stream))),
        });
        self.handshake_deadline = Some(now + HANDSHAKE_TIMEOUT);
        self.last_used = now;
        Ok(())
    }

    /// What a failure says to the user.
    fn describe(&self, error: &ConnError) -> String {
        match &error.tls {
            Some(tls) => tls::describe(tls, &self.name),
            None => format!("{} ({}): {}", self.name, self.spec.addr, error.reason),
        }
    }

    /// The connection ended with `error`. Queries it carried that may be
    /// sent once more go out on a new connection; the rest are returned.
    fn fail(
        &mut self,
        registry: &Registry,
        now: Instant,
        error: ConnError,
        out: &mut Vec<Outcome>,
        events: &mut Vec<UpstreamEvent>,
        stats: &mut UpstreamStats,
    ) -> Vec<Sent> {
        let mut queries = self
            .conn
            .take()
            .map(|mut c| c.take_in_flight())
            .unwrap_or_default();
        queries.append(&mut self.waiting);
        self.handshake_deadline = None;
        let reason = self.describe(&error);
        if error.established {
            log::info!("encrypted upstream connection ended: {reason}");
            let (again, spent): (Vec<Sent>, Vec<Sent>) =
                queries.drain(..).partition(|q| !q.retried);
            if again.is_empty() {
                return spent;
            }
            stats.retried += again.len() as u64;
            let mut orphans = spent;
            self.waiting.extend(again.into_iter().map(|sent| Sent {
                retried: true,
                ..sent
            }));
            // The server that just died is often refusing still: a new
            // connection that fails at once (refused before the first
            // write) fails as any connection not set up, and its queries
            // may wait for the next attempt.
            let opened = self.connect(registry, now).and_then(|()| {
                stats.connections += 1;
                self.send_waiting(out)
            });
            match opened {
                Ok(no_room) => orphans.extend(no_room),
                Err(e) => orphans.extend(self.fail(registry, now, e, out, events, stats)),
            }
            return orphans;
        }
        stats.connect_failures += 1;
        self.failures = self.failures.saturating_add(1);
        let shift = self.failures.saturating_sub(1).min(16);
        let wait = BACKOFF_FIRST.saturating_mul(1 << shift).min(BACKOFF_MAX);
        self.retry_at = Some(now + wait);
        self.transient = error.tls.is_none();
        if self.unavailable.as_deref() != Some(reason.as_str()) {
            log::warn!("encrypted DNS unavailable: {reason}");
            events.push(UpstreamEvent::Unavailable {
                upstream: self.spec.to_string(),
                reason: reason.clone(),
            });
            self.unavailable = Some(reason);
        }
        // The server never got these (the connection was not set up): they
        // wait for the next attempt if it comes soon enough.
        self.hold(now, queries)
    }

    /// The connection is set up: the upstream works.
    fn established(&mut self, events: &mut Vec<UpstreamEvent>) {
        self.handshake_deadline = None;
        self.failures = 0;
        self.retry_at = None;
        if self.unavailable.take().is_some() {
            log::warn!("encrypted DNS works again: {}", self.name);
            events.push(UpstreamEvent::Recovered {
                upstream: self.spec.to_string(),
            });
        }
    }

    fn next_deadline(&self, idle: Duration) -> Option<Instant> {
        let Some(conn) = self.conn.as_ref() else {
            // Queries wait for the next attempt; otherwise nothing to do.
            return (!self.waiting.is_empty()).then(|| self.retry_at.unwrap_or(self.last_used));
        };
        if let Some(at) = self.handshake_deadline {
            return Some(at);
        }
        (conn.in_flight() == 0).then_some(self.last_used + idle)
    }
}

/// The queries in flight to the upstream resolvers, plain and encrypted.
pub struct Upstreams {
    plain: Plain,
    encrypted: Vec<Encrypted>,
    /// The encrypted upstream tried first.
    preferred: usize,
    options: UpstreamOptions,
    trust: Option<Trust>,
    events: Vec<UpstreamEvent>,
    /// Whether opportunistic mode is sending plain DNS right now.
    falling_back: bool,
    first_token: usize,
    stats: UpstreamStats,
}

impl Upstreams {
    /// Upstreams `specs`, used as `options` says; their sockets get mio
    /// tokens from `first_token` on.
    pub fn new(
        specs: Vec<UpstreamSpec>,
        options: UpstreamOptions,
        first_token: usize,
    ) -> Result<Self, RuntimeError> {
        check_specs(&specs, options.mode)?;
        let trust = if specs.iter().any(UpstreamSpec::is_encrypted) {
            Some(Trust::new(options.extra_ca.as_deref()).map_err(RuntimeError::Tls)?)
        } else {
            None
        };
        let mut upstreams = Self {
            plain: Plain::new(Vec::new(), first_token + MAX_ENCRYPTED),
            encrypted: Vec::new(),
            preferred: 0,
            options,
            trust,
            events: Vec::new(),
            falling_back: false,
            first_token,
            stats: UpstreamStats::default(),
        };
        upstreams.set_servers(specs)?;
        Ok(upstreams)
    }

    /// The upstreams that have a route from here, in their order: one
    /// without (an IPv6 resolver on a network that has no IPv6 yet, during
    /// a Wi-Fi to mobile handover) is left out and logged, so the others
    /// carry on; when none has a route, a typo or a missing network fails
    /// at start with a clear error instead of as SERVFAIL on every query.
    /// Fails too when one is the firewall itself (a virtual resolver, an
    /// address in the tunnel's networks, or one the system routes into the
    /// tunnel: the route's source address is then the tunnel's), whose
    /// queries would loop back as queries until the pending table ran out:
    /// that is a mistake in the configuration, not the network's doing.
    pub fn check_routes(
        specs: &[UpstreamSpec],
        engine: &Config,
    ) -> Result<Vec<UpstreamSpec>, RuntimeError> {
        let mut routable = Vec::with_capacity(specs.len());
        let mut first_error = None;
        for spec in specs {
            let server = spec.addr;
            let ip = server.ip();
            let resolver =
                ip == IpAddr::V4(engine.resolver_v4) || ip == IpAddr::V6(engine.resolver_v6);
            if resolver || tacet_engine::in_tunnel(ip) {
                return Err(RuntimeError::UpstreamIsFirewall(server));
            }
            let source = std::net::UdpSocket::bind(plain::unspecified(server)).and_then(|socket| {
                socket.connect(server)?;
                socket.local_addr()
            });
            match source {
                Ok(source) if tacet_engine::in_tunnel(source.ip()) => {
                    return Err(RuntimeError::UpstreamIsFirewall(server));
                }
                Ok(_) => routable.push(spec.clone()),
                Err(e) => {
                    log::warn!("an upstream has no route from here and is left out: {e}");
                    log::debug!("upstream {server} left out: {e}");
                    first_error.get_or_insert(RuntimeError::UpstreamUnreachable(server, e));
                }
            }
        }
        match first_error {
            Some(e) if routable.is_empty() => Err(e),
            _ => Ok(routable),
        }
    }

    /// Uses these upstreams from now on. An encrypted upstream that stays
    /// keeps its connection; queries in flight elsewhere finish where they
    /// went.
    pub fn set_servers(&mut self, specs: Vec<UpstreamSpec>) -> Result<(), RuntimeError> {
        check_specs(&specs, self.options.mode)?;
        let now = Instant::now();
        let plain: Vec<SocketAddr> = specs
            .iter()
            .filter(|s| !s.is_encrypted())
            .map(|s| s.addr)
            .collect();
        self.plain.set_servers(plain);
        let mut old = std::mem::take(&mut self.encrypted);
        for spec in specs.into_iter().filter(UpstreamSpec::is_encrypted) {
            if let Some(i) = old.iter().position(|e| e.spec == spec) {
                self.encrypted.push(old.swap_remove(i));
                continue;
            }
            let trust = match &self.trust {
                Some(trust) => trust.clone(),
                None => {
                    let trust =
                        Trust::new(self.options.extra_ca.as_deref()).map_err(RuntimeError::Tls)?;
                    self.trust = Some(trust.clone());
                    trust
                }
            };
            let token = self.free_token(&old);
            self.encrypted
                .push(Encrypted::new(spec, &trust, token, now).map_err(RuntimeError::Tls)?);
        }
        for mut gone in old {
            if let Some(conn) = &mut gone.conn {
                conn.close();
            }
        }
        self.preferred = 0;
        Ok(())
    }

    fn free_token(&self, leaving: &[Encrypted]) -> Token {
        (0..MAX_ENCRYPTED)
            .map(|i| Token(self.first_token + i))
            .find(|t| {
                !self.encrypted.iter().any(|e| e.token == *t)
                    && !leaving.iter().any(|e| e.token == *t)
            })
            .unwrap_or(Token(self.first_token))
    }

    /// How many plain queries are in flight.
    pub fn len(&self) -> usize {
        self.plain.len()
    }

    /// Whether no plain query is in flight.
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty()
    }

    /// The encrypted transports' counters.
    pub fn stats(&self) -> UpstreamStats {
        self.stats
    }

    /// What the user should hear about, since the last call.
    pub fn take_events(&mut self) -> Vec<UpstreamEvent> {
        std::mem::take(&mut self.events)
    }

    /// Sends a query; outcomes known at once (a failure, or answers that
    /// arrived meanwhile) go to `out`.
    pub fn send(
        &mut self,
        registry: &Registry,
        query: UpstreamQuery,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        if self.encrypted.is_empty() {
            out.extend(self.plain.send(registry, query));
            return;
        }
        let sent = Sent {
            handle: query.handle,
            message: query.message.clone(),
            retried: false,
        };
        let count = self.encrypted.len();
        let chosen = (0..count)
            .map(|i| (self.preferred + i) % count)
            .find(|&i| self.encrypted.get(i).is_some_and(|e| !e.backing_off(now)));
        let orphans = match chosen {
            Some(i) => self.send_to(registry, i, sent, now, out),
            None => {
                // Every one backs off: wait for the attempt that comes first,
                // if it comes soon enough.
                let soonest = self
                    .encrypted
                    .iter_mut()
                    .filter(|e| e.can_hold(now))
                    .min_by_key(|e| e.retry_at);
                match soonest {
                    Some(upstream) => upstream.hold(now, vec![sent]),
                    None => vec![sent],
                }
            }
        };
        self.orphaned(registry, orphans, Some(query), out);
    }

    /// Sends on encrypted upstream `i`, opening its connection if needed;
    /// returns the queries it could not take.
    fn send_to(
        &mut self,
        registry: &Registry,
        i: usize,
        sent: Sent,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) -> Vec<Sent> {
        let Some(upstream) = self.encrypted.get_mut(i) else {
            return vec![sent];
        };
        let mut orphans = Vec::new();
        if upstream.conn.is_none() {
            // What waited for this connection goes first; on a failure,
            // the query shares the fate of those waiting.
            let opened = upstream.connect(registry, now).and_then(|()| {
                self.stats.connections += 1;
                upstream.send_waiting(out)
            });
            match opened {
                Ok(no_room) => orphans = no_room,
                Err(e) => {
                    upstream.waiting.push(sent);
                    return upstream.fail(registry, now, e, out, &mut self.events, &mut self.stats);
                }
            }
        }
        let Some(conn) = &mut upstream.conn else {
            orphans.push(sent);
            return orphans;
        };
        if !conn.has_room() {
            orphans.push(sent);
            return orphans;
        }
        upstream.last_used = now;
        match conn.send(sent, out) {
            Ok(()) => {
                if conn.is_established() && upstream.handshake_deadline.is_some() {
                    upstream.established(&mut self.events);
                }
                orphans
            }
            Err(e) => {
                let mut failed =
                    upstream.fail(registry, now, e, out, &mut self.events, &mut self.stats);
                failed.append(&mut orphans);
                failed
            }
        }
    }

    /// Queries no encrypted upstream could take: failed in strict mode,
    /// sent as plain DNS in opportunistic mode.
    fn orphaned(
        &mut self,
        registry: &Registry,
        orphans: Vec<Sent>,
        original: Option<UpstreamQuery>,
        out: &mut Vec<Outcome>,
    ) {
        for sent in orphans {
            if self.options.mode == Mode::Strict || !self.plain.has_servers() {
                out.push(Outcome::Failed(sent.handle));
                continue;
            }
            if !self.falling_back {
                self.falling_back = true;
                let reason = self
                    .encrypted
                    .iter()
                    .find_map(|e| e.unavailable.clone())
                    .unwrap_or_else(|| "no encrypted upstream answers".into());
                log::warn!("falling back to plain DNS: {reason}");
                self.events.push(UpstreamEvent::FellBack { reason });
            }
            self.stats.plain_fallbacks += 1;
            let retry_truncated_over_tcp = original
                .as_ref()
                .filter(|q| q.handle == sent.handle)
                .is_some_and(|q| q.retry_truncated_over_tcp);
            let query = UpstreamQuery {
                handle: sent.handle,
                message: sent.message,
                retry_truncated_over_tcp,
            };
            out.extend(self.plain.send(registry, query));
        }
    }

    /// Forgets a query the engine gave up on.
    pub fn abandon(&mut self, registry: &Registry, handle: QueryHandle) {
        self.plain.abandon(registry, handle);
        for upstream in &mut self.encrypted {
            upstream.waiting.retain(|sent| sent.handle != handle);
            if let Some(conn) = &mut upstream.conn {
                conn.abandon(handle);
            }
        }
    }

    /// Does what the socket behind `token` is ready for.
    pub fn ready(
        &mut self,
        registry: &Registry,
        token: Token,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        if self.plain.owns(token) {
            out.extend(self.plain.ready(registry, token));
            return;
        }
        let Some(i) = self.encrypted.iter().position(|e| e.token == token) else {
            return;
        };
        let Some(upstream) = self.encrypted.get_mut(i) else {
            return;
        };
        let Some(conn) = &mut upstream.conn else {
            return;
        };
        let before = out.len();
        match conn.ready(out) {
            Ok(()) => {
                if conn.is_established() && upstream.handshake_deadline.is_some() {
                    upstream.established(&mut self.events);
                    self.falling_back = false;
                    self.preferred = i;
                }
                if out.len() > before {
                    upstream.last_used = now;
                }
            }
            Err(e) => {
                let orphans =
                    upstream.fail(registry, now, e, out, &mut self.events, &mut self.stats);
                self.orphaned(registry, orphans, None, out);
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next run: a
    /// connection's set-up deadline, or an idle connection's closing time.
    /// `None` with no connection open.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.encrypted
            .iter()
            .filter_map(|e| e.next_deadline(self.options.idle))
            .min()
    }

    /// Fails connections not set up in time, closes idle ones, and opens
    /// one for queries that waited for the next attempt.
    pub fn handle_timeout(&mut self, registry: &Registry, now: Instant, out: &mut Vec<Outcome>) {
        let idle = self.options.idle;
        let mut orphans = Vec::new();
        for upstream in &mut self.encrypted {
            let retry_due = upstream.retry_at.is_none_or(|at| at <= now);
            if upstream.conn.is_none() && !upstream.waiting.is_empty() && retry_due {
                let opened = upstream.connect(registry, now).and_then(|()| {
                    self.stats.connections += 1;
                    upstream.send_waiting(out)
                });
                match opened {
                    Ok(no_room) => orphans.extend(no_room),
                    Err(e) => orphans.extend(upstream.fail(
                        registry,
                        now,
                        e,
                        out,
                        &mut self.events,
                        &mut self.stats,
                    )),
                }
                continue;
            }
            if upstream.handshake_deadline.is_some_and(|at| at <= now) {
                let error = ConnError {
                    reason: format!("no connection within {} ms", HANDSHAKE_TIMEOUT.as_millis()),
                    established: false,
                    tls: None,
                };
                orphans.extend(upstream.fail(
                    registry,
                    now,
                    error,
                    out,
                    &mut self.events,
                    &mut self.stats,
                ));
                continue;
            }
            let idle_out = upstream
                .conn
                .as_ref()
                .is_some_and(|c| c.in_flight() == 0 && upstream.last_used + idle <= now);
            if idle_out {
                if let Some(mut conn) = upstream.conn.take() {
                    conn.close();
                    self.stats.idle_closes += 1;
                }
            }
        }
        self.orphaned(registry, orphans, None, out);
    }
}

/// Refuses what cannot work: no upstream at all, too many encrypted ones,
/// or (strict mode) plain upstreams beside encrypted ones, which would
/// never be used and look as if they were.
fn check_specs(specs: &[UpstreamSpec], mode: Mode) -> Result<(), RuntimeError> {
    if specs.is_empty() {
        return Err(RuntimeError::NoUpstream);
    }
    let encrypted = specs.iter().filter(|s| s.is_encrypted()).count();
    if encrypted > MAX_ENCRYPTED {
        return Err(RuntimeError::Tls(format!(
            "at most {MAX_ENCRYPTED} encrypted upstreams"
        )));
    }
    if mode == Mode::Strict && encrypted > 0 && encrypted < specs.len() {
        return Err(RuntimeError::Tls(
            "plain upstreams beside encrypted ones are never used in strict mode: leave them \
             out, or choose opportunistic mode to fall back to them"
                .into(),
        ));
    }
    Ok(())
}

/// Reads a plain upstream (`192.0.2.1`, `[2001:db8::1]:53`); the error says
/// what is expected. Encrypted ones: [`UpstreamSpec::parse`].
pub fn parse_upstream(text: &str) -> Result<SocketAddr, String> {
    let spec = UpstreamSpec::parse(text)?;
    if spec.is_encrypted() {
        return Err(format!("upstream `{text}`: a plain address is needed here"));
    }
    Ok(spec.addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_parse_with_or_without_port_and_brackets() {
        let parsed = |t: &str| parse_upstream(t).unwrap().to_string();
        assert_eq!(parsed("192.0.2.1"), "192.0.2.1:53");
        assert_eq!(parsed(" 192.0.2.1:5353 "), "192.0.2.1:5353");
        assert_eq!(parsed("fd00::1"), "[fd00::1]:53");
        assert_eq!(parsed("[fd00::1]"), "[fd00::1]:53");
        assert_eq!(parsed("[fd00::1]:853"), "[fd00::1]:853");
        for bad in ["dns.example", "[192.0.2.1", "[fd00::1]:", "[]", ""] {
            assert!(parse_upstream(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_firewall_itself_is_never_an_upstream() {
        let config = Config::default();
        for own in [
            "10.111.222.53:53",
            "10.111.222.1:53",
            "10.111.222.200:5353",
            "[fd74:6163:6574::53]:53",
            "[fd74:6163:6574::1234]:53",
            "tls://10.111.222.53#dns.example",
        ] {
            let spec = UpstreamSpec::parse(own).unwrap();
            assert!(
                matches!(
                    Upstreams::check_routes(std::slice::from_ref(&spec), &config),
                    Err(RuntimeError::UpstreamIsFirewall(a)) if a == spec.addr
                ),
                "{own}"
            );
        }
        let loopback = UpstreamSpec::parse("127.0.0.1").unwrap();
        assert!(Upstreams::check_routes(&[loopback], &config).is_ok());
    }

    #[test]
    fn an_upstream_without_a_route_is_left_out_while_another_has_one() {
        // A link-local multicast address without its interface has no
        // route on any machine (and with IPv6 off, no socket either).
        let config = Config::default();
        let parse = |t: &str| UpstreamSpec::parse(t).unwrap();
        let dead = parse("tls://[ff02::1]#dns.example");
        let alive = parse("127.0.0.1");
        let kept = Upstreams::check_routes(&[dead.clone(), alive.clone()], &config).unwrap();
        assert_eq!(kept, vec![alive]);
        // With nothing left, the error says which and why.
        assert!(matches!(
            Upstreams::check_routes(std::slice::from_ref(&dead), &config),
            Err(RuntimeError::UpstreamUnreachable(a, _)) if a == dead.addr
        ));
    }

    #[test]
    fn strict_mode_refuses_plain_upstreams_beside_encrypted_ones() {
        let specs = |list: &[&str]| -> Vec<UpstreamSpec> {
            list.iter()
                .map(|t| UpstreamSpec::parse(t).unwrap())
                .collect()
        };
        let mixed = specs(&["tls://9.9.9.9#dns.quad9.net", "192.0.2.1"]);
        let e = check_specs(&mixed, Mode::Strict).unwrap_err().to_string();
        assert!(e.contains("strict"), "{e}");
        assert!(check_specs(&mixed, Mode::Opportunistic).is_ok());
        assert!(check_specs(&specs(&["192.0.2.1"]), Mode::Strict).is_ok());
        assert!(matches!(
            check_specs(&[], Mode::Strict),
            Err(RuntimeError::NoUpstream)
        ));
    }
}
