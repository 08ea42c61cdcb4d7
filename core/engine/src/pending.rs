//! Allowed queries waiting for the upstream resolver: a bounded table with
//! one deadline each.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use tacet_rules::RuleRef;

use crate::event::Protocol;
use crate::tcp::ConnId;

/// Names one query the engine handed to the runtime for forwarding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueryHandle(pub u64);

/// Where the answer to a query goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyTo {
    /// A UDP datagram from `server` (the address the app asked) to `client`.
    Udp {
        /// The app's address and port.
        client: SocketAddr,
        /// The address it sent the query to.
        server: SocketAddr,
    },
    /// A message on a TCP connection.
    Tcp {
        /// The connection.
        conn: ConnId,
        /// The app's address and port.
        client: SocketAddr,
        /// The address it connected to.
        server: SocketAddr,
    },
    /// A DNS message a client sent straight to the runtime's socket (serve
    /// mode), answered through [`crate::Engine::poll_message`].
    Message {
        /// Where it came from, handed back with the answer.
        from: MessageFrom,
        /// The most bytes the client takes over UDP (its EDNS payload size,
        /// 512 without EDNS); a longer answer goes out truncated (TC).
        max_udp: u16,
    },
}

/// Where a DNS message handed to [`crate::Engine::handle_message`] came
/// from: the client, the runtime's socket it reached, and a tag the runtime
/// chooses (its TCP connection), all handed back with the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageFrom {
    /// The client's address and port: the device that asked.
    pub client: SocketAddr,
    /// The local address it sent the query to.
    pub server: SocketAddr,
    /// UDP or TCP.
    pub transport: Protocol,
    /// The runtime's own tag for the way back (a socket or a connection);
    /// the engine only hands it back.
    pub stream: u64,
}

impl ReplyTo {
    /// The app's address and port.
    pub fn client(&self) -> SocketAddr {
        match self {
            Self::Udp { client, .. } | Self::Tcp { client, .. } => *client,
            Self::Message { from, .. } => from.client,
        }
    }

    /// The address the app sent its query to.
    pub fn server(&self) -> SocketAddr {
        match self {
            Self::Udp { server, .. } | Self::Tcp { server, .. } => *server,
            Self::Message { from, .. } => from.server,
        }
    }

    /// The transport the query came over.
    pub fn transport(&self) -> Protocol {
        match self {
            Self::Udp { .. } => Protocol::Udp,
            Self::Tcp { .. } => Protocol::Tcp,
            Self::Message { from, .. } => from.transport,
        }
    }
}

/// Who waits for an upstream answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asker {
    /// An app, answered as its query came.
    App(ReplyTo),
    /// Nobody: a blocked name resolved in the background to learn its
    /// addresses (the app already has its block answer), with the rule
    /// that blocks it, which its addresses are then rejected under, and
    /// the client whose query led to it.
    Background(RuleRef, SocketAddr),
    /// Nobody: an enforced name looked up before any app asked, with the
    /// rule that blocks it; its addresses are pinned until the next lookup.
    Enforced(RuleRef),
}

/// In discovery mode, an allowed query is reported once its fate is known
/// (its answer may still lead to a blocked name): the allow rule that
/// matched it, if one did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Discovered {
    /// The allow rule, if one matched.
    pub rule: Option<RuleRef>,
}

/// A query waiting for its upstream answer.
#[derive(Clone, Debug)]
pub struct Pending {
    /// Who waits for the answer.
    pub asker: Asker,
    /// The query as the app sent it: its ID and question, for the answer.
    pub query: Vec<u8>,
    /// When the app is answered SERVFAIL if the upstream has not answered.
    pub deadline: Instant,
    /// Set in discovery mode: report the query as allowed when it ends.
    pub discovered: Option<Discovered>,
}

/// The table of pending queries.
///
/// Every query gets the same timeout, so deadlines come in the order the
/// queries were added and a queue holds them sorted for free; an answered
/// query leaves a stale entry there that expiry skips.
#[derive(Debug)]
pub struct PendingQueries {
    by_handle: HashMap<QueryHandle, Pending>,
    /// Serve mode's queries waiting, by client address: one device may
    /// not take the whole table from the others.
    per_client: HashMap<std::net::IpAddr, usize>,
    deadlines: VecDeque<(Instant, QueryHandle)>,
    capacity: usize,
    next: u64,
}

impl PendingQueries {
    /// A table that holds at most `capacity` queries.
    pub fn new(capacity: usize) -> Self {
        Self {
            by_handle: HashMap::new(),
            per_client: HashMap::new(),
            deadlines: VecDeque::new(),
            capacity,
            next: 0,
        }
    }

    /// Adds a query; `None` when the table is full.
    pub fn insert(&mut self, pending: Pending) -> Option<QueryHandle> {
        if self.by_handle.len() >= self.capacity {
            return None;
        }
        let handle = QueryHandle(self.next);
        self.next += 1;
        if let Some(ip) = served_client(&pending) {
            *self.per_client.entry(ip).or_insert(0) += 1;
        }
        self.deadlines.push_back((pending.deadline, handle));
        self.by_handle.insert(handle, pending);
        if self.deadlines.len() > 2 * self.capacity.max(16) {
            let live = &self.by_handle;
            self.deadlines.retain(|(_, h)| live.contains_key(h));
        }
        Some(handle)
    }

    /// Takes a query out when its answer (or failure) arrives.
    pub fn remove(&mut self, handle: QueryHandle) -> Option<Pending> {
        let pending = self.by_handle.remove(&handle)?;
        self.forget_client(&pending);
        Some(pending)
    }

    /// How many of serve mode's queries from `ip` wait.
    pub fn of_client(&self, ip: std::net::IpAddr) -> usize {
        self.per_client.get(&ip).copied().unwrap_or(0)
    }

    fn forget_client(&mut self, pending: &Pending) {
        if let Some(ip) = served_client(pending) {
            if let Some(n) = self.per_client.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.per_client.remove(&ip);
                }
            }
        }
    }

    /// Takes out the next query whose deadline is at or before `now`.
    pub fn pop_expired(&mut self, now: Instant) -> Option<(QueryHandle, Pending)> {
        while let Some(&(deadline, handle)) = self.deadlines.front() {
            if !self.by_handle.contains_key(&handle) {
                self.deadlines.pop_front();
                continue;
            }
            if deadline > now {
                return None;
            }
            self.deadlines.pop_front();
            return self.remove(handle).map(|p| (handle, p));
        }
        None
    }

    /// The earliest deadline of a query still waiting.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&(deadline, handle)) = self.deadlines.front() {
            if self.by_handle.contains_key(&handle) {
                return Some(deadline);
            }
            self.deadlines.pop_front();
        }
        None
    }

    /// How many queries are waiting.
    pub fn len(&self) -> usize {
        self.by_handle.len()
    }

    /// Whether no query is waiting.
    pub fn is_empty(&self) -> bool {
        self.by_handle.is_empty()
    }
}

/// The client of a serve-mode query (a message from a socket), whose
/// share of the table is bounded.
fn served_client(pending: &Pending) -> Option<std::net::IpAddr> {
    match pending.asker {
        Asker::App(reply @ ReplyTo::Message { .. }) => Some(reply.client().ip()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn pending(deadline: Instant) -> Pending {
        Pending {
            asker: Asker::App(ReplyTo::Udp {
                client: "10.111.222.1:5353".parse().unwrap(),
                server: "10.111.222.53:53".parse().unwrap(),
            }),
            query: vec![],
            deadline,
            discovered: None,
        }
    }

    #[test]
    fn bounded_and_expires_in_order() {
        let t0 = Instant::now();
        let mut table = PendingQueries::new(2);
        let a = table.insert(pending(t0 + Duration::from_secs(1))).unwrap();
        let b = table.insert(pending(t0 + Duration::from_secs(2))).unwrap();
        assert!(table.insert(pending(t0)).is_none(), "full");
        assert_eq!(table.next_deadline(), Some(t0 + Duration::from_secs(1)));
        assert!(table.remove(a).is_some());
        assert_eq!(table.next_deadline(), Some(t0 + Duration::from_secs(2)));
        assert!(table
            .pop_expired(t0 + Duration::from_millis(1500))
            .is_none());
        assert_eq!(
            table
                .pop_expired(t0 + Duration::from_secs(2))
                .map(|(h, _)| h),
            Some(b)
        );
        assert!(table.is_empty());
        assert_eq!(table.next_deadline(), None);
    }

    #[test]
    fn stale_deadlines_do_not_grow_without_bound() {
        let t0 = Instant::now();
        let mut table = PendingQueries::new(4);
        for _ in 0..10_000 {
            let h = table.insert(pending(t0)).unwrap();
            table.remove(h);
        }
        assert!(table.deadlines.len() <= 2 * 16 + 1);
    }
}
