//! Serve mode's sockets: DNS over UDP and TCP on the LAN addresses given,
//! for devices that cannot run an app (a camera, a vacuum). Their queries
//! go to the engine as messages ([`tacet_engine::Engine::handle_message`]),
//! through the same pipeline as the TUN's.
//!
//! Every client is hostile: TCP follows RFC 7766 (two-byte length framing,
//! pipelined queries) within named limits ([`ServeLimits`]): connections
//! in all and per client, queries in flight per connection, the size of a
//! query, bytes waiting to be written, and time without progress (a
//! slowloris that sends a byte now and then is closed like an idle one).
//! What a limit refuses is counted in [`ServeStats`]; memory never grows
//! with what a client sends.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream, UdpSocket};
use mio::{Interest, Registry, Token};
use serde::Serialize;
use socket2::{Domain, Protocol as SockProtocol, Socket, Type};
use tacet_engine::{MessageFrom, MessageReply, Protocol};

use crate::RuntimeError;

/// The first mio token of serve mode's sockets; below are the TUN, the
/// waker and the upstreams'.
pub(crate) const FIRST_TOKEN: usize = 1 << 24;

/// The most addresses to listen on.
pub const MAX_LISTEN: usize = 64;

/// The largest UDP query read; longer ones are cut and then refused as
/// malformed by the engine.
const MAX_UDP_QUERY: usize = 4096;

/// The receive buffer asked for each UDP socket: a LAN's devices ask in
/// bursts (a phone waking up; a burst of 300 in the tests), and a full
/// buffer drops queries before tacet sees them. The kernel caps it at
/// twice `net.core.rmem_max` (about 416 KiB by default, some 500 small
/// queries, twice its default; raise the sysctl for more).
const UDP_RECV_BUFFER: usize = 4 << 20;

/// Datagrams read from one socket before the others get a turn.
const UDP_BATCH: usize = 256;

/// The bounds of serve mode's TCP side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServeLimits {
    /// Open TCP connections at most; one more is accepted and closed at
    /// once (counted).
    pub max_connections: usize,
    /// Open TCP connections of one client address at most, so one device
    /// cannot take every slot.
    pub max_connections_per_client: usize,
    /// A connection without progress (a whole query read, an answer
    /// written) for this long is closed.
    pub idle: Duration,
    /// The largest query taken over TCP; a longer length prefix closes the
    /// connection (counted).
    pub max_message: usize,
    /// Pipelined queries of one connection waiting for their answers; past
    /// it the connection is not read until one is answered.
    pub max_in_flight: usize,
    /// Answer bytes waiting for a client that does not read; past it the
    /// connection is closed (counted).
    pub max_unsent: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            max_connections_per_client: 16,
            idle: Duration::from_secs(10),
            max_message: 4096,
            max_in_flight: 16,
            max_unsent: 128 * 1024,
        }
    }
}

/// Where serve mode listens, and its limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeConfig {
    /// Addresses to answer DNS on, UDP and TCP each (at most
    /// [`MAX_LISTEN`]). An IPv6 address listens on IPv6 only, so
    /// `0.0.0.0:53` and `[::]:53` can be given together.
    pub listen: Vec<SocketAddr>,
    /// The TCP side's bounds.
    pub limits: ServeLimits,
}

/// What serve mode's sockets did and refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServeStats {
    /// UDP queries read.
    pub udp_queries: u64,
    /// TCP queries read.
    pub tcp_queries: u64,
    /// TCP connections accepted.
    pub tcp_accepted: u64,
    /// TCP connections closed at once: every slot (or every one of the
    /// client's) was taken.
    pub tcp_refused: u64,
    /// TCP connections closed after `idle` without progress (idle clients
    /// and slowloris alike).
    pub tcp_idle_closed: u64,
    /// TCP connections closed for a length prefix past `max_message` or
    /// under a DNS header.
    pub tcp_too_long: u64,
    /// TCP connections closed because the client did not read its answers.
    pub tcp_unsent_closed: u64,
    /// Answers that could not be sent (the socket refused them, or their
    /// connection had gone).
    pub answers_lost: u64,
}

/// Serve mode's listening sockets and open connections.
pub(crate) struct Listeners {
    udp: Vec<(UdpSocket, SocketAddr)>,
    tcp: Vec<(TcpListener, SocketAddr)>,
    /// Connection slots; a connection's token is `conn_token(slot)`.
    conns: Vec<Option<Conn>>,
    per_client: HashMap<IpAddr, usize>,
    /// Bumped per accepted connection, so an answer for a closed
    /// connection never reaches the next one in its slot.
    generation: u32,
    limits: ServeLimits,
    stats: ServeStats,
    /// Sockets that were readable and may still hold data (mio reports
    /// the edge once).
    readable: Vec<Token>,
}

struct Conn {
    stream: TcpStream,
    client: SocketAddr,
    local: SocketAddr,
    generation: u32,
    /// Bytes read and not yet a whole message (at most `2 + max_message`).
    inbuf: Vec<u8>,
    /// Framed answers not yet written (at most `max_unsent`).
    outbuf: Vec<u8>,
    in_flight: usize,
    /// The last whole query read or answer written.
    progress: Instant,
    /// Reading stopped at `max_in_flight`: read again once one is answered.
    read_paused: bool,
    /// The client closed its side; the connection goes once answered.
    read_closed: bool,
}

/// What [`Listeners::ready`] found to hand to the engine.
pub(crate) type Incoming = Vec<(MessageFrom, Vec<u8>)>;

impl Listeners {
    /// Binds every address, UDP and TCP, and registers the sockets.
    pub fn bind(config: &ServeConfig, registry: &Registry) -> Result<Self, RuntimeError> {
        if config.listen.is_empty() || config.listen.len() > MAX_LISTEN {
            return Err(RuntimeError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("give 1 to {MAX_LISTEN} addresses to listen on"),
            )));
        }
        let mut listeners = Self {
            udp: Vec::new(),
            tcp: Vec::new(),
            conns: (0..config.limits.max_connections).map(|_| None).collect(),
            per_client: HashMap::new(),
            generation: 0,
            limits: config.limits,
            stats: ServeStats::default(),
            readable: Vec::new(),
        };
        let bound = |addr: SocketAddr, e: io::Error| {
            RuntimeError::Io(io::Error::new(
                e.kind(),
                format!("cannot listen on {addr}: {e}"),
            ))
        };
        for (i, &addr) in config.listen.iter().enumerate() {
            let socket =
                new_socket(addr, Type::DGRAM, SockProtocol::UDP).map_err(|e| bound(addr, e))?;
            // Best effort: the default stays when it fails.
            if let Err(e) = socket.set_recv_buffer_size(UDP_RECV_BUFFER) {
                log::debug!("receive buffer of {addr} left as it was: {e}");
            }
            socket.bind(&addr.into()).map_err(|e| bound(addr, e))?;
            let mut udp = UdpSocket::from_std(socket.into());
            let local = udp.local_addr().map_err(|e| bound(addr, e))?;
            registry
                .register(&mut udp, Token(FIRST_TOKEN + i), Interest::READABLE)
                .map_err(RuntimeError::Io)?;
            listeners.udp.push((udp, local));
            // TCP on the same port, the one the system gave for port 0.
            let addr = local;

            let socket =
                new_socket(addr, Type::STREAM, SockProtocol::TCP).map_err(|e| bound(addr, e))?;
            socket.set_reuse_address(true).map_err(|e| bound(addr, e))?;
            socket.bind(&addr.into()).map_err(|e| bound(addr, e))?;
            socket.listen(128).map_err(|e| bound(addr, e))?;
            let mut tcp = TcpListener::from_std(socket.into());
            let local = tcp.local_addr().map_err(|e| bound(addr, e))?;
            registry
                .register(
                    &mut tcp,
                    Token(FIRST_TOKEN + MAX_LISTEN + i),
                    Interest::READABLE,
                )
                .map_err(RuntimeError::Io)?;
            listeners.tcp.push((tcp, local));
        }
        Ok(listeners)
    }

    /// The addresses listened on (UDP; TCP is on the same ones), with the
    /// ports the system gave for port 0.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.udp.iter().map(|(_, a)| *a).collect()
    }

    /// Whether `token` is one of serve mode's.
    pub fn owns(token: Token) -> bool {
        token.0 >= FIRST_TOKEN
    }

    /// Notes that `token` is readable (or writable).
    pub fn mark(&mut self, token: Token) {
        if !self.readable.contains(&token) {
            self.readable.push(token);
        }
    }

    /// Whether sockets marked readable may still hold data.
    pub fn has_pending(&self) -> bool {
        !self.readable.is_empty()
    }

    /// Reads what the marked sockets hold, in bounded batches; sockets that
    /// may hold more stay marked.
    pub fn read(&mut self, registry: &Registry, now: Instant, incoming: &mut Incoming) {
        let tokens = std::mem::take(&mut self.readable);
        for token in tokens {
            let index = token.0 - FIRST_TOKEN;
            let more = if index < MAX_LISTEN {
                self.read_udp(index, incoming)
            } else if index < 2 * MAX_LISTEN {
                self.accept(registry, index - MAX_LISTEN, now)
            } else {
                let slot = index - 2 * MAX_LISTEN;
                self.write_conn(registry, slot, now);
                self.read_conn(registry, slot, now, incoming)
            };
            if more {
                self.mark(token);
            }
        }
    }

    fn read_udp(&mut self, index: usize, incoming: &mut Incoming) -> bool {
        let Some((socket, local)) = self.udp.get(index) else {
            return false;
        };
        let mut buf = [0u8; MAX_UDP_QUERY];
        for _ in 0..UDP_BATCH {
            match socket.recv_from(&mut buf) {
                Ok((n, client)) => {
                    self.stats.udp_queries += 1;
                    let from = MessageFrom {
                        client,
                        server: *local,
                        transport: Protocol::Udp,
                        stream: index as u64,
                    };
                    incoming.push((from, buf.get(..n).unwrap_or_default().to_vec()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // ICMP errors of earlier answers surface here; the socket
                // carries on.
                Err(_) => {}
            }
        }
        true
    }

    fn accept(&mut self, registry: &Registry, index: usize, now: Instant) -> bool {
        let Some((listener, local)) = self.tcp.get(index) else {
            return false;
        };
        let local = *local;
        for _ in 0..UDP_BATCH {
            let (mut stream, client) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) =>
                {
                    continue
                }
                // Out of descriptors (EMFILE, ENFILE) or memory: the
                // connection stays in the backlog. Trying again at once
                // would spin; the next connection's arrival tries again.
                Err(_) => {
                    self.stats.tcp_refused += 1;
                    return false;
                }
            };
            let mine = self.per_client.get(&client.ip()).copied().unwrap_or(0);
            let slot = self.conns.iter().position(Option::is_none);
            let Some(slot) = slot.filter(|_| mine < self.limits.max_connections_per_client) else {
                // Dropping the stream closes it: the client hears at once.
                self.stats.tcp_refused += 1;
                continue;
            };
            if registry
                .register(
                    &mut stream,
                    conn_token(slot),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .is_err()
            {
                self.stats.tcp_refused += 1;
                continue;
            }
            self.stats.tcp_accepted += 1;
            self.generation = self.generation.wrapping_add(1);
            *self.per_client.entry(client.ip()).or_insert(0) += 1;
            if let Some(place) = self.conns.get_mut(slot) {
                *place = Some(Conn {
                    stream,
                    client,
                    local,
                    generation: self.generation,
                    inbuf: Vec::new(),
                    outbuf: Vec::new(),
                    in_flight: 0,
                    progress: now,
                    read_paused: false,
                    read_closed: false,
                });
            }
            // Data may have come with the connection.
            let token = conn_token(slot);
            if !self.readable.contains(&token) {
                self.readable.push(token);
            }
        }
        true
    }

    /// Reads whole messages from a connection; true if it may hold more.
    fn read_conn(
        &mut self,
        registry: &Registry,
        slot: usize,
        now: Instant,
        incoming: &mut Incoming,
    ) -> bool {
        let limits = self.limits;
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return false;
        };
        let mut buf = [0u8; 4096];
        let mut close = None;
        let mut more = false;
        let mut reads = 0;
        while !conn.read_closed {
            if conn.in_flight >= limits.max_in_flight {
                conn.read_paused = true;
                break;
            }
            // A whole message already read?
            if let Some(len) = frame_len(&conn.inbuf) {
                if !(12..=limits.max_message).contains(&len) {
                    close = Some(Close::TooLong);
                    break;
                }
                if conn.inbuf.len() >= 2 + len {
                    let message: Vec<u8> = conn.inbuf.drain(..2 + len).skip(2).collect();
                    conn.in_flight += 1;
                    conn.progress = now;
                    self.stats.tcp_queries += 1;
                    let from = MessageFrom {
                        client: conn.client,
                        server: conn.local,
                        transport: Protocol::Tcp,
                        stream: stream_id(slot, conn.generation),
                    };
                    incoming.push((from, message));
                    continue;
                }
            }
            if reads >= 16 {
                more = true;
                break;
            }
            reads += 1;
            // Never more than the message being read needs.
            let want = match frame_len(&conn.inbuf) {
                Some(len) => 2 + len - conn.inbuf.len(),
                None => 2 - conn.inbuf.len(),
            };
            let Some(chunk) = buf.get_mut(..want.min(4096)) else {
                break;
            };
            match conn.stream.read(chunk) {
                Ok(0) => conn.read_closed = true,
                Ok(n) => conn
                    .inbuf
                    .extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    close = Some(Close::Error);
                    break;
                }
            }
        }
        if close.is_none() && conn.read_closed && conn.in_flight == 0 && conn.outbuf.is_empty() {
            close = Some(Close::Done);
        }
        if let Some(why) = close {
            self.close(registry, slot, why);
            return false;
        }
        more
    }

    /// Writes what a connection has waiting.
    fn write_conn(&mut self, registry: &Registry, slot: usize, now: Instant) {
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        while !conn.outbuf.is_empty() {
            match conn.stream.write(&conn.outbuf) {
                Ok(0) => break,
                Ok(n) => {
                    conn.outbuf.drain(..n);
                    conn.progress = now;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.close(registry, slot, Close::Error);
                    return;
                }
            }
        }
        if conn.read_closed && conn.in_flight == 0 && conn.outbuf.is_empty() {
            self.close(registry, slot, Close::Done);
        }
    }

    /// Sends the engine's answer back the way its query came.
    pub fn send(&mut self, registry: &Registry, now: Instant, reply: MessageReply) {
        let to = reply.to;
        match to.transport {
            Protocol::Udp => {
                let Some(answer) = reply.answer else { return };
                let socket = usize::try_from(to.stream)
                    .ok()
                    .and_then(|i| self.udp.get(i));
                match socket.map(|(s, _)| s.send_to(&answer, to.client)) {
                    Some(Ok(_)) => {}
                    _ => self.stats.answers_lost += 1,
                }
            }
            Protocol::Tcp => {
                let (slot, generation) = slot_of(to.stream);
                let max_unsent = self.limits.max_unsent;
                let Some(conn) = self
                    .conns
                    .get_mut(slot)
                    .and_then(Option::as_mut)
                    .filter(|c| c.generation == generation)
                else {
                    if reply.answer.is_some() {
                        self.stats.answers_lost += 1;
                    }
                    return;
                };
                conn.in_flight = conn.in_flight.saturating_sub(1);
                if let Some(answer) = reply.answer {
                    let Ok(len) = u16::try_from(answer.len()) else {
                        self.stats.answers_lost += 1;
                        return;
                    };
                    if conn.outbuf.len() + 2 + answer.len() > max_unsent {
                        self.close(registry, slot, Close::Unsent);
                        return;
                    }
                    conn.outbuf.extend_from_slice(&len.to_be_bytes());
                    conn.outbuf.extend_from_slice(&answer);
                }
                let resume = conn.read_paused;
                conn.read_paused = false;
                self.write_conn(registry, slot, now);
                if resume {
                    self.mark(conn_token(slot));
                }
            }
        }
    }

    /// When the next connection runs out of time.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.conns
            .iter()
            .flatten()
            .map(|c| c.progress + self.limits.idle)
            .min()
    }

    /// Closes the connections without progress for `idle`.
    pub fn handle_timeout(&mut self, registry: &Registry, now: Instant) {
        let idle = self.limits.idle;
        for slot in 0..self.conns.len() {
            let expired = self
                .conns
                .get(slot)
                .and_then(Option::as_ref)
                .is_some_and(|c| c.progress + idle <= now);
            if expired {
                self.close(registry, slot, Close::Idle);
            }
        }
    }

    fn close(&mut self, registry: &Registry, slot: usize, why: Close) {
        let Some(mut conn) = self.conns.get_mut(slot).and_then(Option::take) else {
            return;
        };
        let _ = registry.deregister(&mut conn.stream);
        match why {
            Close::Idle => self.stats.tcp_idle_closed += 1,
            Close::TooLong => self.stats.tcp_too_long += 1,
            Close::Unsent => self.stats.tcp_unsent_closed += 1,
            Close::Done | Close::Error => {}
        }
        if let Some(n) = self.per_client.get_mut(&conn.client.ip()) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_client.remove(&conn.client.ip());
            }
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> ServeStats {
        self.stats
    }
}

enum Close {
    Done,
    Error,
    Idle,
    TooLong,
    Unsent,
}

/// Whether `upstream` is one of the addresses listened on: its queries
/// would come back as queries. A wildcard address listens on every
/// address of this host of its family (an IPv6 one on IPv6 only); a local
/// resolver on loopback beside a LAN address is not a loop.
pub fn answers_itself(listen: &[SocketAddr], upstream: SocketAddr) -> bool {
    let ip = upstream.ip();
    // Bindable: an address of this host.
    let local = || std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok();
    listen.iter().any(|l| {
        l.port() == upstream.port()
            && (l.ip() == ip || (l.ip().is_unspecified() && l.is_ipv4() == ip.is_ipv4() && local()))
    })
}

/// A socket for `addr`, non-blocking; IPv6 ones take IPv6 only, so a
/// wildcard of each family can be bound side by side.
fn new_socket(addr: SocketAddr, kind: Type, protocol: SockProtocol) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), kind, Some(protocol))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// The length a frame announces, once its two bytes are in.
fn frame_len(inbuf: &[u8]) -> Option<usize> {
    match inbuf {
        [hi, lo, ..] => Some(usize::from(u16::from_be_bytes([*hi, *lo]))),
        _ => None,
    }
}

fn conn_token(slot: usize) -> Token {
    Token(FIRST_TOKEN + 2 * MAX_LISTEN + slot)
}

fn stream_id(slot: usize, generation: u32) -> u64 {
    (u64::from(generation) << 32) | slot as u64
}

fn slot_of(stream: u64) -> (usize, u32) {
    (
        usize::try_from(stream & 0xffff_ffff).unwrap_or(usize::MAX),
        (stream >> 32) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::answers_itself;

    #[test]
    fn an_upstream_that_is_one_of_the_listened_addresses_is_a_loop() {
        let at = |l: &[&str], u: &str| {
            let listen: Vec<_> = l.iter().map(|a| a.parse().unwrap()).collect();
            answers_itself(&listen, u.parse().unwrap())
        };
        assert!(at(&["127.0.0.1:53"], "127.0.0.1:53"));
        assert!(
            at(&["0.0.0.0:53"], "127.0.0.1:53"),
            "the wildcard holds loopback"
        );
        assert!(
            !at(&["192.0.2.1:53"], "127.0.0.1:53"),
            "a local resolver beside"
        );
        assert!(!at(&["0.0.0.0:53"], "192.0.2.1:53"), "not this host's");
        assert!(!at(&["[::]:53"], "127.0.0.1:53"), "IPv6 only");
        assert!(!at(&["0.0.0.0:5353"], "127.0.0.1:53"));
    }
}
