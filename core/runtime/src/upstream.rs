//! The upstream side: each forwarded query goes out on its own connected
//! UDP socket, bound to a port the kernel picks at random, with a random
//! query ID. An answer is accepted only when it comes from the upstream's
//! address and port (the connected socket filters that in the kernel) and
//! carries the ID and question that were sent; anything else is dropped,
//! which is what makes blind spoofing of answers hard.
//!
//! When an upstream refuses (ICMP unreachable surfaces as a socket error),
//! the query moves on to the next configured upstream; when all have
//! refused, the engine is told and answers SERVFAIL.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use mio::net::UdpSocket;
use mio::{Interest, Registry, Token};
use rand::Rng;
use tacet_engine::{dns, QueryHandle, UpstreamQuery};

use crate::RuntimeError;

/// What happened to a query on the upstream side.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The upstream answered; the message carries the upstream's ID.
    Answer(QueryHandle, Vec<u8>),
    /// Every upstream refused or failed.
    Failed(QueryHandle),
}

struct InFlight {
    handle: QueryHandle,
    socket: UdpSocket,
    /// The message as sent, with our random ID.
    message: Vec<u8>,
    /// Which upstream it went to, as an index into the list.
    upstream: usize,
    /// How many upstreams were tried.
    tries: usize,
}

/// The queries in flight to the upstream resolvers.
pub struct Upstreams {
    servers: Vec<SocketAddr>,
    preferred: usize,
    slots: Vec<Option<InFlight>>,
    free: Vec<usize>,
    by_handle: HashMap<QueryHandle, usize>,
    first_token: usize,
}

impl Upstreams {
    /// Upstream sockets get mio tokens from `first_token` on.
    pub fn new(servers: Vec<SocketAddr>, first_token: usize) -> Result<Self, RuntimeError> {
        if servers.is_empty() {
            return Err(RuntimeError::NoUpstream);
        }
        Ok(Self {
            servers,
            preferred: 0,
            slots: Vec::new(),
            free: Vec::new(),
            by_handle: HashMap::new(),
            first_token,
        })
    }

    /// Checks that every upstream has a route from here, so a typo or a
    /// missing network fails at start with a clear error instead of as
    /// SERVFAIL on every query.
    pub fn check_routes(servers: &[SocketAddr]) -> Result<(), RuntimeError> {
        for &server in servers {
            let socket = std::net::UdpSocket::bind(unspecified(server))
                .map_err(|e| RuntimeError::UpstreamUnreachable(server, e))?;
            socket
                .connect(server)
                .map_err(|e| RuntimeError::UpstreamUnreachable(server, e))?;
        }
        Ok(())
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
            ..
        } = query;
        dns::set_id(&mut message, rand::rng().random());
        let upstream = self.preferred;
        self.try_send(registry, handle, message, upstream, 1)
    }

    /// Forgets a query the engine gave up on.
    pub fn abandon(&mut self, registry: &Registry, handle: QueryHandle) {
        if let Some(slot) = self.by_handle.get(&handle).copied() {
            self.release(registry, slot);
        }
    }

    /// Reads what arrived on the socket behind `token`.
    pub fn readable(&mut self, registry: &Registry, token: Token) -> Option<Outcome> {
        let slot = token.0.checked_sub(self.first_token)?;
        let mut buf = [0u8; 65_535];
        loop {
            let in_flight = self.slots.get(slot)?.as_ref()?;
            match in_flight.socket.recv(&mut buf) {
                Ok(n) => {
                    let response = buf.get(..n)?;
                    if dns::id(response) == dns::id(&in_flight.message)
                        && dns::same_question(&in_flight.message, response)
                    {
                        let handle = in_flight.handle;
                        self.preferred = in_flight.upstream;
                        self.release(registry, slot);
                        return Some(Outcome::Answer(handle, response.to_vec()));
                    }
                    log::debug!("dropped an upstream answer with a wrong ID or question");
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let InFlight {
                        handle,
                        message,
                        upstream,
                        tries,
                        ..
                    } = self.release(registry, slot)?;
                    log::debug!("upstream {} failed: {e}", self.servers.get(upstream)?);
                    if tries >= self.servers.len() {
                        return Some(Outcome::Failed(handle));
                    }
                    let next = (upstream + 1) % self.servers.len();
                    self.preferred = next;
                    return self.try_send(registry, handle, message, next, tries + 1);
                }
            }
        }
    }

    fn try_send(
        &mut self,
        registry: &Registry,
        handle: QueryHandle,
        message: Vec<u8>,
        mut upstream: usize,
        mut tries: usize,
    ) -> Option<Outcome> {
        loop {
            let server = *self.servers.get(upstream)?;
            match open_and_send(server, &message) {
                Ok(socket) => {
                    let slot = self.free.pop().unwrap_or_else(|| {
                        self.slots.push(None);
                        self.slots.len() - 1
                    });
                    let mut in_flight = InFlight {
                        handle,
                        socket,
                        message,
                        upstream,
                        tries,
                    };
                    let token = Token(self.first_token + slot);
                    if let Err(e) =
                        registry.register(&mut in_flight.socket, token, Interest::READABLE)
                    {
                        log::warn!("could not watch an upstream socket: {e}");
                        self.free.push(slot);
                        return Some(Outcome::Failed(handle));
                    }
                    if let Some(entry) = self.slots.get_mut(slot) {
                        *entry = Some(in_flight);
                    }
                    self.by_handle.insert(handle, slot);
                    return None;
                }
                Err(e) => {
                    log::debug!("could not send to upstream {server}: {e}");
                    if tries >= self.servers.len() {
                        return Some(Outcome::Failed(handle));
                    }
                    upstream = (upstream + 1) % self.servers.len();
                    tries += 1;
                }
            }
        }
    }

    fn release(&mut self, registry: &Registry, slot: usize) -> Option<InFlight> {
        let mut in_flight = self.slots.get_mut(slot)?.take()?;
        let _ = registry.deregister(&mut in_flight.socket);
        self.by_handle.remove(&in_flight.handle);
        self.free.push(slot);
        Some(in_flight)
    }
}

fn unspecified(server: SocketAddr) -> SocketAddr {
    match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    }
}

fn open_and_send(server: SocketAddr, message: &[u8]) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(unspecified(server))?;
    socket.connect(server)?;
    socket.send(message)?;
    Ok(socket)
}
