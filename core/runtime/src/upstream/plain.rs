//! Plain DNS upstreams: each forwarded query goes out from a port the
//! kernel picks at random for it, on a connected UDP socket, with a random
//! query ID. An answer is accepted only when it comes from the upstream's
//! address and port (the connected socket filters that in the kernel) and
//! carries the ID and question that were sent; anything else is dropped,
//! which is what makes blind spoofing of answers hard.
//!
//! On Linux and Android a socket is not closed after its query but
//! disconnected (`connect(AF_UNSPEC)`), which gives its port back: the
//! kernel takes it out of the port table, and the next `connect` binds a
//! new random port, exactly as a new socket's would. The socket stays in
//! the poll set under its slot's token, so a query costs no `socket`,
//! `close` or `epoll_ctl`: a quarter of a forwarded query's CPU. A parked
//! socket has no port, so nothing reaches it, and a late answer to an old
//! query has nowhere to land. Elsewhere (the BSDs keep the port on a
//! disconnect) each query gets a new socket.
//!
//! When an upstream refuses (ICMP unreachable surfaces as a socket error),
//! the query moves on to the next configured upstream; when all have
//! refused, the engine is told and answers SERVFAIL. A truncated answer
//! (TC) to a query the engine marked for it is asked again over TCP of the
//! same upstream, so an app that asked over TCP gets the whole answer.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use mio::net::{TcpStream, UdpSocket};
use mio::{Interest, Registry, Token};
use rand::Rng;
use tacet_engine::{dns, QueryHandle, UpstreamQuery};

use super::Outcome;

enum Transport {
    Udp {
        socket: UdpSocket,
        /// Its family: a parked socket serves only servers of the same.
        ipv6: bool,
    },
    /// A DNS-over-TCP exchange: the framed query still to write, and the
    /// bytes of the framed answer read so far.
    Tcp {
        stream: TcpStream,
        out: Vec<u8>,
        written: usize,
        inbuf: Vec<u8>,
    },
}

/// A forwarded query, whatever carries it.
struct Query {
    handle: QueryHandle,
    /// The message as sent, with our random ID.
    message: Vec<u8>,
    /// Which upstream it goes to, as an index into the list.
    upstream: usize,
    /// How many upstreams were tried.
    tries: usize,
    retry_truncated_over_tcp: bool,
}

struct InFlight {
    query: Query,
    transport: Transport,
}

/// A slot: a token, the query in flight on it, and between queries
/// perhaps a disconnected UDP socket kept for the next one (registered
/// under the token still).
#[derive(Default)]
struct Slot {
    in_flight: Option<InFlight>,
    parked: Option<UdpSocket>,
}

/// Whether sockets are disconnected and kept rather than closed: where a
/// disconnect gives the port back, so that the next query gets a new one.
const REUSE_SOCKETS: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// Disconnected sockets kept at most: as many as a busy home network has
/// queries in flight (a phone has a handful); past it, a burst's sockets
/// are closed. One costs a descriptor and about 2 KiB of kernel memory.
const MAX_PARKED: usize = 256;

/// The queries in flight to the plain upstream resolvers.
pub struct Plain {
    servers: Vec<SocketAddr>,
    preferred: usize,
    slots: Vec<Slot>,
    /// Free slots with nothing parked.
    free: Vec<usize>,
    /// Free slots with a parked socket: IPv4 ones, then IPv6 ones.
    parked: [Vec<usize>; 2],
    by_handle: HashMap<QueryHandle, usize>,
    first_token: usize,
    /// Where answers are read, allocated once: zeroing a 64 KiB buffer on
    /// the stack for every answer cost more than the read itself.
    buf: Box<[u8]>,
}

impl Plain {
    /// Upstream sockets get mio tokens from `first_token` on. With no
    /// servers, every query fails at once.
    pub fn new(servers: Vec<SocketAddr>, first_token: usize) -> Self {
        Self {
            servers,
            preferred: 0,
            slots: Vec::new(),
            free: Vec::new(),
            parked: [Vec::new(), Vec::new()],
            by_handle: HashMap::new(),
            first_token,
            buf: vec![0; 65_535].into_boxed_slice(),
        }
    }

    /// Whether `token` is one of this side's sockets.
    pub fn owns(&self, token: Token) -> bool {
        token.0 >= self.first_token
    }

    /// Whether no server is configured.
    pub fn has_servers(&self) -> bool {
        !self.servers.is_empty()
    }

    /// Uses these servers for new queries; queries in flight finish (or
    /// fail) where they went.
    pub fn set_servers(&mut self, servers: Vec<SocketAddr>) {
        self.servers = servers;
        self.preferred = 0;
    }

    /// How many queries are in flight.
    pub fn len(&self) -> usize {
        self.by_handle.len()
    }

    /// Whether no query is in flight.
    pub fn is_empty(&self) -> bool {
        self.by_handle.is_empty()
    }

    /// Sends a query to the preferred upstream.
    pub fn send(&mut self, registry: &Registry, query: UpstreamQuery) -> Option<Outcome> {
        let UpstreamQuery {
            handle,
            mut message,
            retry_truncated_over_tcp,
        } = query;
        dns::set_id(&mut message, rand::rng().random());
        if self.servers.is_empty() {
            return Some(Outcome::Failed(handle));
        }
        let query = Query {
            handle,
            message,
            upstream: self.preferred,
            tries: 1,
            retry_truncated_over_tcp,
        };
        self.try_udp(registry, query)
    }

    /// Forgets a query the engine gave up on.
    pub fn abandon(&mut self, registry: &Registry, handle: QueryHandle) {
        if let Some(slot) = self.by_handle.get(&handle).copied() {
            self.release(registry, slot, false);
        }
    }

    /// Does what the socket behind `token` is ready for.
    pub fn ready(&mut self, registry: &Registry, token: Token) -> Option<Outcome> {
        let slot = token.0.checked_sub(self.first_token)?;
        let in_flight = self.slots.get_mut(slot)?.in_flight.as_mut()?;
        let message = &in_flight.query.message;
        let step = match &mut in_flight.transport {
            Transport::Udp { socket, .. } => udp_step(socket, message, &mut self.buf),
            Transport::Tcp {
                stream,
                out,
                written,
                inbuf,
            } => tcp_step(stream, out, written, inbuf, message, &mut self.buf),
        };
        match step {
            Step::Wait => None,
            Step::Answer(response) => {
                let (query, over_udp) = self.release(registry, slot, true)?;
                self.preferred = query.upstream;
                if over_udp && query.retry_truncated_over_tcp && dns::is_truncated(&response) {
                    return self.try_tcp(registry, query);
                }
                Some(Outcome::Answer(query.handle, response))
            }
            Step::Failed(e) => {
                let (query, over_udp) = self.release(registry, slot, false)?;
                log::debug!("upstream {} failed: {e}", self.servers.get(query.upstream)?);
                if !over_udp || query.tries >= self.servers.len() {
                    return Some(Outcome::Failed(query.handle));
                }
                let next = (query.upstream + 1) % self.servers.len();
                self.preferred = next;
                self.try_udp(
                    registry,
                    Query {
                        upstream: next,
                        tries: query.tries + 1,
                        ..query
                    },
                )
            }
        }
    }

    /// Sends over UDP, moving on to the next upstream while sending fails.
    fn try_udp(&mut self, registry: &Registry, mut query: Query) -> Option<Outcome> {
        loop {
            let server = *self.servers.get(query.upstream)?;
            let ipv6 = server.is_ipv6();
            let sent = match self.unpark(ipv6) {
                Some((slot, socket)) => match connect_and_send(&socket, server, &query.message) {
                    Ok(()) => {
                        let transport = Transport::Udp { socket, ipv6 };
                        self.occupy(slot, InFlight { query, transport });
                        return None;
                    }
                    Err(e) => {
                        // Closed, in whatever state it was left; the slot
                        // is free again.
                        drop(socket);
                        self.free.push(slot);
                        Err(e)
                    }
                },
                None => open_and_send(server, &query.message),
            };
            match sent {
                Ok(socket) => {
                    let in_flight = InFlight {
                        query,
                        transport: Transport::Udp { socket, ipv6 },
                    };
                    return self.watch(registry, in_flight, Interest::READABLE);
                }
                Err(e) => {
                    log::debug!("could not send to upstream {server}: {e}");
                    if query.tries >= self.servers.len() {
                        return Some(Outcome::Failed(query.handle));
                    }
                    query.upstream = (query.upstream + 1) % self.servers.len();
                    query.tries += 1;
                }
            }
        }
    }

    /// Asks the same upstream again over TCP.
    fn try_tcp(&mut self, registry: &Registry, query: Query) -> Option<Outcome> {
        let server = *self.servers.get(query.upstream)?;
        let Ok(len) = u16::try_from(query.message.len()) else {
            return Some(Outcome::Failed(query.handle));
        };
        match TcpStream::connect(server) {
            Ok(stream) => {
                let out = [&len.to_be_bytes()[..], &query.message].concat();
                let transport = Transport::Tcp {
                    stream,
                    out,
                    written: 0,
                    inbuf: Vec::new(),
                };
                self.watch(
                    registry,
                    InFlight { query, transport },
                    Interest::READABLE | Interest::WRITABLE,
                )
            }
            Err(e) => {
                log::debug!("could not connect to upstream {server} over TCP: {e}");
                Some(Outcome::Failed(query.handle))
            }
        }
    }

    /// A free slot with a parked socket of this family, and the socket.
    fn unpark(&mut self, ipv6: bool) -> Option<(usize, UdpSocket)> {
        let slot = self.parked[usize::from(ipv6)].pop()?;
        let socket = self.slots.get_mut(slot)?.parked.take()?;
        Some((slot, socket))
    }

    fn watch(
        &mut self,
        registry: &Registry,
        mut in_flight: InFlight,
        interest: Interest,
    ) -> Option<Outcome> {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot::default());
            self.slots.len() - 1
        });
        let token = Token(self.first_token + slot);
        let registered = match &mut in_flight.transport {
            Transport::Udp { socket, .. } => registry.register(socket, token, interest),
            Transport::Tcp { stream, .. } => registry.register(stream, token, interest),
        };
        if let Err(e) = registered {
            log::warn!("could not watch an upstream socket: {e}");
            self.free.push(slot);
            return Some(Outcome::Failed(in_flight.query.handle));
        }
        self.occupy(slot, in_flight);
        None
    }

    fn occupy(&mut self, slot: usize, in_flight: InFlight) {
        self.by_handle.insert(in_flight.query.handle, slot);
        if let Some(entry) = self.slots.get_mut(slot) {
            entry.in_flight = Some(in_flight);
        }
    }

    /// Takes the query off `slot`: the query, and whether it went over UDP.
    ///
    /// Its UDP socket is parked on the slot when it can be (see the
    /// module's notes) and `answered` says it ended cleanly, with its
    /// answer read: a socket that failed or was given up on may still hold
    /// an error (an ICMP unreachable not yet read) that would fail the next
    /// query, so it is closed. Closing takes it out of epoll's and
    /// kqueue's sets, so the explicit deregistration would be one more
    /// syscall per query for nothing. An event already fetched for the
    /// token finds the slot empty, or a socket with nothing to read, as it
    /// would after a deregistration.
    fn release(
        &mut self,
        registry: &Registry,
        slot: usize,
        answered: bool,
    ) -> Option<(Query, bool)> {
        let entry = self.slots.get_mut(slot)?;
        let InFlight { query, transport } = entry.in_flight.take()?;
        let parked = self.parked.iter().map(Vec::len).sum::<usize>();
        let (over_udp, parked_as) = match transport {
            Transport::Tcp { mut stream, .. } => {
                let _ = registry.deregister(&mut stream);
                (false, None)
            }
            Transport::Udp { socket, ipv6 } => {
                if REUSE_SOCKETS && answered && parked < MAX_PARKED && disconnect(&socket).is_ok() {
                    entry.parked = Some(socket);
                    (true, Some(ipv6))
                } else {
                    (true, None)
                }
            }
        };
        match parked_as {
            Some(ipv6) => self.parked[usize::from(ipv6)].push(slot),
            None => self.free.push(slot),
        }
        self.by_handle.remove(&query.handle);
        Some((query, over_udp))
    }
}

enum Step {
    Wait,
    Answer(Vec<u8>),
    Failed(io::Error),
}

/// Whether `response` answers `message`: same ID and question.
fn matches(message: &[u8], response: &[u8]) -> bool {
    let ok = dns::id(response) == dns::id(message) && dns::same_question(message, response);
    if !ok {
        log::debug!("dropped an upstream answer with a wrong ID or question");
    }
    ok
}

fn udp_step(socket: &UdpSocket, message: &[u8], buf: &mut [u8]) -> Step {
    loop {
        match socket.recv(buf) {
            Ok(n) => {
                let response = buf.get(..n).unwrap_or_default();
                if matches(message, response) {
                    return Step::Answer(response.to_vec());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Step::Failed(e),
        }
    }
}

fn tcp_step(
    stream: &mut TcpStream,
    out: &[u8],
    written: &mut usize,
    inbuf: &mut Vec<u8>,
    message: &[u8],
    buf: &mut [u8],
) -> Step {
    while let Some(rest) = out.get(*written..).filter(|r| !r.is_empty()) {
        match stream.write(rest) {
            Ok(0) => return Step::Failed(io::ErrorKind::WriteZero.into()),
            Ok(n) => *written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
            // Not connected yet: mio reports writable once it is.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return Step::Wait,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Step::Failed(e),
        }
    }
    loop {
        if let Some(len) = inbuf
            .get(..2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        {
            if let Some(response) = inbuf.get(2..2 + len) {
                return if matches(message, response) {
                    Step::Answer(response.to_vec())
                } else {
                    Step::Failed(io::ErrorKind::InvalidData.into())
                };
            }
        }
        match stream.read(buf) {
            Ok(0) => return Step::Failed(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => inbuf.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Step::Failed(e),
        }
    }
}

pub(super) fn unspecified(server: SocketAddr) -> SocketAddr {
    match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    }
}

/// Connects a parked socket to `server`, which binds it to a new port the
/// kernel picks at random, and sends `message` on it.
fn connect_and_send(socket: &UdpSocket, server: SocketAddr, message: &[u8]) -> io::Result<()> {
    socket.connect(server)?;
    socket.send(message)?;
    Ok(())
}

/// Dissolves a UDP socket's association (`connect(AF_UNSPEC)`). Linux
/// then also frees a port the kernel chose (one never bound by hand, as
/// here: `__udp_disconnect` unhashes it), so the next `connect` binds a
/// new random one.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn disconnect(socket: &UdpSocket) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let unspec = libc::sockaddr {
        sa_family: libc::AF_UNSPEC as libc::sa_family_t,
        sa_data: [0; 14],
    };
    let len = std::mem::size_of::<libc::sockaddr>() as libc::socklen_t;
    // SAFETY: `unspec` is a valid sockaddr of `len` bytes for the call's
    // duration, and the descriptor is the socket's own, open.
    if unsafe { libc::connect(socket.as_raw_fd(), &unspec, len) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn disconnect(_socket: &UdpSocket) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// A new UDP socket connected to `server`, with `message` sent on it.
///
/// No bind: connecting an unbound socket binds it to a port the kernel
/// picks at random in the ephemeral range, exactly as binding to port 0
/// does (Linux's `udp_lib_get_port` with no port asked, the BSDs'
/// `in_pcbbind`), one syscall sooner. Non-blocking from `socket(2)` on
/// where the flag exists, so no `fcntl` either.
fn open_and_send(server: SocketAddr, message: &[u8]) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let socket = Socket::new(
        Domain::for_address(server),
        Type::DGRAM.nonblocking(),
        Some(Protocol::UDP),
    )?;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let socket = {
        let socket = Socket::new(
            Domain::for_address(server),
            Type::DGRAM,
            Some(Protocol::UDP),
        )?;
        socket.set_nonblocking(true)?;
        socket
    };
    socket.connect(&server.into())?;
    socket.send(message)?;
    Ok(UdpSocket::from_std(socket.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Poll};
    use std::collections::HashSet;
    use std::net::UdpSocket as StdUdp;
    use std::time::Duration;

    /// A query for `a.example` type A with ID 0 (the upstream side sets its own).
    fn query() -> Vec<u8> {
        let mut m = vec![0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(b"\x01a\x07example\x00\x00\x01\x00\x01");
        m
    }

    /// A server on loopback, and a `Plain` that sends to it.
    fn upstream() -> (StdUdp, Poll, Plain) {
        let server = StdUdp::bind("127.0.0.1:0").unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let plain = Plain::new(vec![server.local_addr().unwrap()], 2);
        (server, Poll::new().unwrap(), plain)
    }

    /// Hands query `n` to `plain`, which must not fail it at once.
    fn send(poll: &Poll, plain: &mut Plain, n: u64) {
        let sent = plain.send(
            poll.registry(),
            UpstreamQuery {
                handle: QueryHandle(n),
                message: query(),
                retry_truncated_over_tcp: false,
            },
        );
        assert!(sent.is_none(), "query {n} failed at once");
    }

    /// The next outcome `plain` reports, within 5 s.
    fn next_outcome(poll: &mut Poll, plain: &mut Plain) -> Outcome {
        let mut events = Events::with_capacity(8);
        loop {
            poll.poll(&mut events, Some(Duration::from_secs(5)))
                .unwrap();
            assert!(!events.is_empty(), "no outcome within 5 s");
            if let Some(outcome) = events
                .iter()
                .find_map(|e| plain.ready(poll.registry(), e.token()))
            {
                return outcome;
            }
        }
    }

    /// Sends query `n` through `plain` to `server`, answers it there, and
    /// returns the port it came from once `plain` has taken the answer.
    fn one_exchange(poll: &mut Poll, plain: &mut Plain, server: &StdUdp, n: u64) -> u16 {
        send(poll, plain, n);
        let mut buf = [0u8; 512];
        let (len, from) = server.recv_from(&mut buf).unwrap();
        let mut answer = buf[..len].to_vec();
        answer[2] |= 0x80;
        server.send_to(&answer, from).unwrap();
        let outcome = next_outcome(poll, plain);
        assert!(matches!(outcome, Outcome::Answer(h, _) if h == QueryHandle(n)));
        from.port()
    }

    #[test]
    fn every_query_leaves_from_a_new_random_port_on_one_kept_socket() {
        let (server, mut poll, mut plain) = upstream();
        let ports: Vec<u16> = (0..40)
            .map(|n| one_exchange(&mut poll, &mut plain, &server, n))
            .collect();
        let distinct: HashSet<_> = ports.iter().collect();
        // 40 draws from the ~28,000 ephemeral ports: a repeat or two by
        // chance at most, never a socket keeping its port.
        assert!(distinct.len() >= 36, "ports repeat: {ports:?}");
        assert!(ports.windows(2).all(|w| w[0] != w[1]), "{ports:?}");
        if REUSE_SOCKETS {
            assert_eq!(plain.slots.len(), 1, "one socket, kept");
            assert_eq!(plain.parked[0].len(), 1);
        }
    }

    #[test]
    fn a_refused_query_closes_its_socket_instead_of_keeping_it() {
        // A port nobody listens on: the ICMP unreachable fails the query.
        let (_server, mut poll, _) = upstream();
        let gone = StdUdp::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let mut plain = Plain::new(vec![gone], 2);
        send(&poll, &mut plain, 7);
        let outcome = next_outcome(&mut poll, &mut plain);
        assert!(matches!(outcome, Outcome::Failed(h) if h == QueryHandle(7)));
        assert!(
            plain.parked.iter().all(Vec::is_empty),
            "a failed socket was kept"
        );
        assert!(plain.is_empty());
    }

    #[test]
    fn a_late_answer_to_an_old_query_reaches_nothing() {
        let (server, mut poll, mut plain) = upstream();
        let old = one_exchange(&mut poll, &mut plain, &server, 1);
        // The old port is free: something else can bind it, and the parked
        // socket does not hold it.
        if REUSE_SOCKETS {
            assert!(
                StdUdp::bind(("127.0.0.1", old)).is_ok(),
                "port {old} still held"
            );
        }
        // A stray datagram to it finds no socket; the next query is answered.
        server.send_to(b"late", ("127.0.0.1", old)).unwrap();
        let new = one_exchange(&mut poll, &mut plain, &server, 2);
        assert_ne!(old, new);
    }
}
