//! DNS over TCP (RFC 7766) on the virtual resolvers, served by smoltcp over
//! an in-memory device: packets from the tunnel go in, packets for the
//! tunnel come out, and DNS messages are cut from the byte stream by their
//! two-byte length prefix.
//!
//! Several queries may arrive on one connection, pipelined; each answer is
//! written as soon as it is ready, in whatever order. Memory is bounded
//! whatever an app sends: at most [`MAX_CONNECTIONS`] sockets exist at once
//! (connections and the listeners waiting for the next SYN together), each
//! with small socket buffers, at most [`MAX_QUERIES_PER_CONNECTION`]
//! queries in flight and [`MAX_UNSENT_BYTES`] of answers waiting per
//! connection, and an idle timeout after which the connection is closed.
//! A SYN that finds no listener (every slot taken) is refused with a reset
//! by the engine itself, counted, and costs no socket: a flood of
//! connections is as cheap as the packets it is made of.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp;
use smoltcp::time::Instant as SmolInstant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpListenEndpoint};

use crate::wire::Segment;

/// The most TCP sockets at once, connections and listeners together; a SYN
/// beyond them is refused.
pub const MAX_CONNECTIONS: usize = 64;
/// The most queries of one connection waiting for answers; reading pauses
/// beyond (TCP flow control then slows the client).
pub const MAX_QUERIES_PER_CONNECTION: usize = 16;
/// The most answer bytes one connection may hold that its client has not
/// taken yet. Reading pauses from half of it; a client that keeps asking
/// without reading its answers reaches it and is reset, rather than
/// growing the firewall's memory.
pub const MAX_UNSENT_BYTES: usize = 128 * 1024;
/// A connection with no traffic for this long is closed (RFC 7766 §6.2.3
/// asks for seconds, not minutes, on a busy server).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection we closed may linger (waiting for the peer's FIN,
/// or in TIME-WAIT) before it is aborted: smoltcp sets no timer on
/// FIN-WAIT-2, and an app that vanished would hold its slot forever.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// Listening sockets kept ready, so SYNs that arrive together all find one.
const BACKLOG: usize = 4;
const RX_BUFFER: usize = 2048;
const TX_BUFFER: usize = 4096;
/// The largest DNS message plus its length prefix.
const MAX_FRAME: usize = 2 + 65_535;
/// The TUN's MTU as smoltcp sees it.
const MTU: usize = 1500;

/// Names one TCP connection for the life of the engine (socket handles are
/// reused; these are not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnId(u64);

/// How long a connection may take to finish its handshake: a SYN whose
/// client never answers the SYN-ACK holds a slot for this long at most.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

/// A DNS message read from a TCP connection.
#[derive(Debug)]
pub struct Incoming {
    /// The connection it came on.
    pub conn: ConnId,
    /// The app's address and port.
    pub client: SocketAddr,
    /// The address the app connected to.
    pub server: SocketAddr,
    /// The DNS message, without its length prefix.
    pub message: Vec<u8>,
}

struct Conn {
    id: ConnId,
    /// Bytes read but not yet cut into messages.
    inbuf: Vec<u8>,
    /// Framed answers not yet taken by the socket.
    outbuf: VecDeque<u8>,
    in_flight: usize,
    /// When its SYN arrived.
    accepted: Instant,
    last_activity: Instant,
    /// When we closed it (idle); it is aborted [`CLOSE_GRACE`] later.
    closing: Option<Instant>,
}

/// The packets exchanged with smoltcp.
#[derive(Default)]
struct Queues {
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
}

struct Rx(Vec<u8>);
struct Tx<'a>(&'a mut VecDeque<Vec<u8>>);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = vec![0; len];
        let result = f(&mut packet);
        self.0.push_back(packet);
        result
    }
}

impl Device for Queues {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: SmolInstant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let packet = self.rx.pop_front()?;
        Some((Rx(packet), Tx(&mut self.tx)))
    }

    fn transmit(&mut self, _now: SmolInstant) -> Option<Self::TxToken<'_>> {
        Some(Tx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = MTU;
        caps
    }
}

/// The TCP side of the virtual resolvers.
pub struct TcpDns {
    iface: Interface,
    device: Queues,
    sockets: SocketSet<'static>,
    conns: HashMap<SocketHandle, Conn>,
    listeners: Vec<SocketHandle>,
    /// Sockets reset by us, removed once smoltcp has sent their reset.
    aborted: Vec<SocketHandle>,
    by_id: HashMap<ConnId, SocketHandle>,
    next_id: u64,
    epoch: Option<Instant>,
    last_poll: SmolInstant,
    /// SYNs refused because every slot was taken.
    refused: u64,
}

impl std::fmt::Debug for TcpDns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpDns")
            .field("connections", &self.conns.len())
            .finish()
    }
}

impl TcpDns {
    /// Serves TCP/53 on these addresses, and (anti-bypass) on any other
    /// address whose packets reach it.
    pub fn new(resolver_v4: Ipv4Addr, resolver_v6: Ipv6Addr, seed: u64) -> Self {
        let mut device = Queues::default();
        let mut config = IfaceConfig::new(HardwareAddress::Ip);
        config.random_seed = seed;
        let mut iface = Interface::new(config, &mut device, SmolInstant::ZERO);
        iface.update_ip_addrs(|addrs| {
            let _ = addrs.push(IpCidr::new(IpAddress::Ipv4(resolver_v4), 32));
            let _ = addrs.push(IpCidr::new(IpAddress::Ipv6(resolver_v6), 128));
        });
        // AnyIP with default routes through our own addresses: a connection
        // to 8.8.8.8:53 that was routed into the tunnel is accepted too.
        iface.set_any_ip(true);
        let _ = iface.routes_mut().add_default_ipv4_route(resolver_v4);
        let _ = iface.routes_mut().add_default_ipv6_route(resolver_v6);
        let mut server = Self {
            iface,
            device,
            sockets: SocketSet::new(Vec::new()),
            conns: HashMap::new(),
            listeners: Vec::new(),
            aborted: Vec::new(),
            by_id: HashMap::new(),
            next_id: 0,
            epoch: None,
            last_poll: SmolInstant::ZERO,
            refused: 0,
        };
        server.refill_listeners();
        server
    }

    fn smol_now(&mut self, now: Instant) -> SmolInstant {
        let epoch = *self.epoch.get_or_insert(now);
        SmolInstant::from_micros(
            i64::try_from(now.saturating_duration_since(epoch).as_micros()).unwrap_or(i64::MAX),
        )
    }

    /// How many connections are open.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// How many smoltcp sockets exist: connections, listeners and sockets
    /// whose reset is on its way. Never more than [`MAX_CONNECTIONS`]
    /// (plus, for one poll, the resets).
    pub fn sockets(&self) -> usize {
        self.sockets.iter().count()
    }

    /// SYNs refused so far because every slot was taken.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Takes one TCP packet from the tunnel, and returns the DNS messages it
    /// completed. A SYN (`opens` true) that no listener can take is not
    /// given to smoltcp: the caller answers it with a reset, and it is
    /// counted; `None` says so.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        packet: &[u8],
        segment: &Segment,
    ) -> Option<Vec<Incoming>> {
        if segment.syn && self.listeners.is_empty() {
            self.refused += 1;
            return None;
        }
        if segment.rst {
            // smoltcp lets the first listener take a reset without ACK
            // (RFC 9293 resets to a SYN-ACK have none) and drops it there,
            // so the connection it ends would wait for its timeouts. The
            // reset ends it here. Only an app with the tuple can send it,
            // and apps cannot forge each other's packets without root.
            self.forget_peer(segment.source, segment.destination);
            return Some(Vec::new());
        }
        self.device.rx.push_back(packet.to_vec());
        self.poll(now);
        Some(self.read_messages(now))
    }

    /// Queues a DNS answer on connection `conn`; false if it is gone.
    pub fn send(&mut self, now: Instant, conn: ConnId, message: &[u8]) -> bool {
        let Some(handle) = self.by_id.get(&conn).copied() else {
            return false;
        };
        let Some(state) = self.conns.get_mut(&handle) else {
            return false;
        };
        let Ok(len) = u16::try_from(message.len()) else {
            return false;
        };
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.outbuf.len() + 2 + message.len() > MAX_UNSENT_BYTES {
            // The client asks and never reads: it loses the connection,
            // not the firewall its memory.
            self.sockets.get_mut::<tcp::Socket>(handle).abort();
            state.outbuf.clear();
            self.poll(now);
            return false;
        }
        state.outbuf.extend(len.to_be_bytes());
        state.outbuf.extend(message);
        state.last_activity = now;
        self.poll(now);
        true
    }

    /// Packets smoltcp wants written to the tunnel.
    pub fn poll_packet(&mut self) -> Option<Vec<u8>> {
        self.device.tx.pop_front()
    }

    /// A query of `conn` that will get no answer: its place is free again.
    pub fn forget_query(&mut self, conn: ConnId) {
        if let Some(state) = self.by_id.get(&conn).and_then(|h| self.conns.get_mut(h)) {
            state.in_flight = state.in_flight.saturating_sub(1);
        }
    }

    /// Drops the connection between these endpoints, if there is one,
    /// without a word to the peer (it reset the connection itself).
    fn forget_peer(&mut self, client: SocketAddr, server: SocketAddr) {
        let found = self.conns.iter().find_map(|(handle, conn)| {
            let socket = self.sockets.get::<tcp::Socket>(*handle);
            let ends = (socket.remote_endpoint(), socket.local_endpoint());
            let (Some(remote), Some(local)) = ends else {
                return None;
            };
            (endpoint(remote) == client && endpoint(local) == server).then_some((*handle, conn.id))
        });
        if let Some((handle, id)) = found {
            self.conns.remove(&handle);
            self.by_id.remove(&id);
            self.sockets.remove(handle);
            self.refill_listeners();
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next run: smoltcp's
    /// retransmissions, or the next idle connection's deadline; `None` with
    /// no connection open.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        if self.conns.is_empty() {
            return None;
        }
        let epoch = self.epoch?;
        let smol = self
            .iface
            .poll_at(self.last_poll, &self.sockets)
            .map(|at| epoch + Duration::from_micros(u64::try_from(at.total_micros()).unwrap_or(0)));
        let idle = self
            .conns
            .iter()
            .map(|(handle, c)| {
                let handshaking =
                    self.sockets.get::<tcp::Socket>(*handle).state() == tcp::State::SynReceived;
                match c.closing {
                    Some(at) => at + CLOSE_GRACE,
                    None if handshaking => c.accepted + HANDSHAKE_TIMEOUT,
                    None => c.last_activity + IDLE_TIMEOUT,
                }
            })
            .min();
        match (smol, idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs smoltcp's timers and closes idle connections.
    pub fn handle_timeout(&mut self, now: Instant) {
        for (handle, conn) in &mut self.conns {
            let socket = self.sockets.get_mut::<tcp::Socket>(*handle);
            let handshaking = socket.state() == tcp::State::SynReceived;
            match conn.closing {
                None if handshaking && now >= conn.accepted + HANDSHAKE_TIMEOUT => socket.abort(),
                None if now >= conn.last_activity + IDLE_TIMEOUT => {
                    conn.closing = Some(now);
                    socket.close();
                }
                Some(at) if now >= at + CLOSE_GRACE => socket.abort(),
                _ => {}
            }
        }
        self.poll(now);
    }

    /// Keeps up to [`BACKLOG`] listeners, within [`MAX_CONNECTIONS`]
    /// sockets in all: a listener is a slot, so with every slot taken there
    /// is none, and SYNs are refused before they cost a socket.
    fn refill_listeners(&mut self) {
        self.listeners
            .retain(|h| self.sockets.get::<tcp::Socket>(*h).is_listening());
        while self.listeners.len() < BACKLOG
            && self.conns.len() + self.listeners.len() < MAX_CONNECTIONS
        {
            let mut socket = tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0; RX_BUFFER]),
                tcp::SocketBuffer::new(vec![0; TX_BUFFER]),
            );
            // Answers go out at once: a client waits on each one, so
            // Nagle's coalescing would only add a round trip (RFC 7766 §6.2.1).
            socket.set_nagle_enabled(false);
            if socket
                .listen(IpListenEndpoint {
                    addr: None,
                    port: 53,
                })
                .is_err()
            {
                return;
            }
            self.listeners.push(self.sockets.add(socket));
        }
    }

    /// Lets smoltcp process what came in, moves answers into sockets, and
    /// keeps the books on connections.
    fn poll(&mut self, now: Instant) {
        let smol_now = self.smol_now(now);
        self.last_poll = smol_now;
        for _ in 0..4 {
            self.iface
                .poll(smol_now, &mut self.device, &mut self.sockets);
            // The poll sent the resets of sockets aborted before it.
            for handle in std::mem::take(&mut self.aborted) {
                self.sockets.remove(handle);
            }
            // Listeners that took a SYN become connections.
            let accepted: Vec<SocketHandle> = self
                .listeners
                .iter()
                .copied()
                .filter(|h| !self.sockets.get::<tcp::Socket>(*h).is_listening())
                .collect();
            for handle in accepted {
                // Listeners never outnumber the free slots, so this only
                // guards the bound.
                if self.conns.len() >= MAX_CONNECTIONS {
                    self.sockets.get_mut::<tcp::Socket>(handle).abort();
                    self.aborted.push(handle);
                    self.refused += 1;
                    continue;
                }
                let id = ConnId(self.next_id);
                self.next_id += 1;
                self.by_id.insert(id, handle);
                self.conns.insert(
                    handle,
                    Conn {
                        id,
                        inbuf: Vec::new(),
                        outbuf: VecDeque::new(),
                        in_flight: 0,
                        accepted: now,
                        last_activity: now,
                        closing: None,
                    },
                );
            }
            self.refill_listeners();
            let mut wrote = false;
            for (handle, conn) in &mut self.conns {
                let socket = self.sockets.get_mut::<tcp::Socket>(*handle);
                while !conn.outbuf.is_empty() && socket.can_send() {
                    let (front, _) = conn.outbuf.as_slices();
                    match socket.send_slice(front) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            conn.outbuf.drain(..n);
                            wrote = true;
                        }
                    }
                }
            }
            self.reap();
            if !wrote {
                break;
            }
        }
    }

    /// Forgets connections whose socket has closed, and closes our side of
    /// the ones whose peer has finished (FIN) once every answer is out.
    /// A socket reset by its peer before the handshake ended goes back to
    /// listening in smoltcp: it is forgotten too (a fresh listener takes
    /// its slot), or a SYN-then-RST flood would turn every slot into a
    /// connection that never ends.
    fn reap(&mut self) {
        let mut gone = Vec::new();
        for (handle, conn) in &self.conns {
            let socket = self.sockets.get_mut::<tcp::Socket>(*handle);
            if matches!(socket.state(), tcp::State::Closed | tcp::State::Listen) {
                gone.push((*handle, conn.id));
            } else if socket.state() == tcp::State::CloseWait
                && conn.outbuf.is_empty()
                && conn.in_flight == 0
                && socket.send_queue() == 0
            {
                socket.close();
            }
        }
        for (handle, id) in gone {
            self.conns.remove(&handle);
            self.by_id.remove(&id);
            self.sockets.remove(handle);
        }
    }

    fn read_messages(&mut self, now: Instant) -> Vec<Incoming> {
        let mut messages = Vec::new();
        let mut buf = [0u8; RX_BUFFER];
        for (handle, conn) in &mut self.conns {
            let socket = self.sockets.get_mut::<tcp::Socket>(*handle);
            let (Some(local), Some(remote)) = (socket.local_endpoint(), socket.remote_endpoint())
            else {
                continue;
            };
            while conn.in_flight < MAX_QUERIES_PER_CONNECTION
                && conn.outbuf.len() < MAX_UNSENT_BYTES / 2
                && socket.can_recv()
            {
                let Ok(n) = socket.recv_slice(&mut buf) else {
                    break;
                };
                if n == 0 {
                    break;
                }
                conn.last_activity = now;
                conn.inbuf
                    .extend_from_slice(buf.get(..n).unwrap_or_default());
                while let Some(message) = take_frame(&mut conn.inbuf) {
                    conn.in_flight += 1;
                    messages.push(Incoming {
                        conn: conn.id,
                        client: endpoint(remote),
                        server: endpoint(local),
                        message,
                    });
                }
                if conn.inbuf.len() > MAX_FRAME {
                    socket.abort();
                    break;
                }
            }
        }
        messages
    }
}

/// Cuts one length-prefixed message off the front of `inbuf`.
fn take_frame(inbuf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let len = usize::from(u16::from_be_bytes([*inbuf.first()?, *inbuf.get(1)?]));
    let message = inbuf.get(2..2 + len)?.to_vec();
    inbuf.drain(..2 + len);
    Some(message)
}

fn endpoint(e: smoltcp::wire::IpEndpoint) -> SocketAddr {
    let ip = match e.addr {
        IpAddress::Ipv4(a) => IpAddr::V4(a),
        IpAddress::Ipv6(a) => IpAddr::V6(a),
    };
    SocketAddr::new(ip, e.port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_cut_by_their_length_prefix() {
        let mut inbuf = vec![0, 3, b'a', b'b', b'c', 0, 2, b'x'];
        assert_eq!(take_frame(&mut inbuf), Some(b"abc".to_vec()));
        assert_eq!(take_frame(&mut inbuf), None, "second frame incomplete");
        inbuf.push(b'y');
        assert_eq!(take_frame(&mut inbuf), Some(b"xy".to_vec()));
        assert!(inbuf.is_empty());
        assert_eq!(take_frame(&mut vec![0]), None);
    }
}
