//! Plain DNS upstreams: each forwarded query goes out on its own connected
//! UDP socket, bound to a port the kernel picks at random, with a random
//! query ID. An answer is accepted only when it comes from the upstream's
//! address and port (the connected socket filters that in the kernel) and
//! carries the ID and question that were sent; anything else is dropped,
//! which is what makes blind spoofing of answers hard.
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
    Udp(UdpSocket),
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

/// The queries in flight to the plain upstream resolvers.
pub struct Plain {
    servers: Vec<SocketAddr>,
    preferred: usize,
    slots: Vec<Option<InFlight>>,
    free: Vec<usize>,
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
            self.release(registry, slot);
        }
    }

    /// Does what the socket behind `token` is ready for.
    pub fn ready(&mut self, registry: &Registry, token: Token) -> Option<Outcome> {
        let slot = token.0.checked_sub(self.first_token)?;
        let in_flight = self.slots.get_mut(slot)?.as_mut()?;
        let message = &in_flight.query.message;
        let step = match &mut in_flight.transport {
            Transport::Udp(socket) => udp_step(socket, message, &mut self.buf),
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
                let InFlight { query, transport } = self.release(registry, slot)?;
                self.preferred = query.upstream;
                let over_udp = matches!(transport, Transport::Udp(_));
                if over_udp && query.retry_truncated_over_tcp && dns::is_truncated(&response) {
                    return self.try_tcp(registry, query);
                }
                Some(Outcome::Answer(query.handle, response))
            }
            Step::Failed(e) => {
                let InFlight { query, transport } = self.release(registry, slot)?;
                log::debug!("upstream {} failed: {e}", self.servers.get(query.upstream)?);
                if matches!(transport, Transport::Tcp { .. }) || query.tries >= self.servers.len() {
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
            match open_and_send(server, &query.message) {
                Ok(socket) => {
                    let in_flight = InFlight {
                        query,
                        transport: Transport::Udp(socket),
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

    fn watch(
        &mut self,
        registry: &Registry,
        mut in_flight: InFlight,
        interest: Interest,
    ) -> Option<Outcome> {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let token = Token(self.first_token + slot);
        let registered = match &mut in_flight.transport {
            Transport::Udp(socket) => registry.register(socket, token, interest),
            Transport::Tcp { stream, .. } => registry.register(stream, token, interest),
        };
        if let Err(e) = registered {
            log::warn!("could not watch an upstream socket: {e}");
            self.free.push(slot);
            return Some(Outcome::Failed(in_flight.query.handle));
        }
        self.by_handle.insert(in_flight.query.handle, slot);
        if let Some(entry) = self.slots.get_mut(slot) {
            *entry = Some(in_flight);
        }
        None
    }

    fn release(&mut self, registry: &Registry, slot: usize) -> Option<InFlight> {
        let mut in_flight = self.slots.get_mut(slot)?.take()?;
        // A UDP socket is closed right after (it is never shared): closing
        // takes it out of epoll's and kqueue's sets, so the explicit
        // deregistration would be one more syscall per query for nothing.
        // An event already fetched for its token finds the slot empty or
        // a new socket with nothing to read, as it would after a
        // deregistration.
        if let Transport::Tcp { stream, .. } = &mut in_flight.transport {
            let _ = registry.deregister(stream);
        }
        self.by_handle.remove(&in_flight.query.handle);
        self.free.push(slot);
        Some(in_flight)
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
