//! Which app sent a query or made a connection: the shell asks the OS
//! ([`crate::Observer::app_of`]), the runtime caches its answers.
//!
//! The OS can only tell while the app's socket is open, so the I/O thread
//! asks before it writes the answer to the tunnel (see `EventLoop::flush`).
//! Apps send most UDP queries from a fresh port, so most UDP lookups miss
//! the cache; a TCP connection's further queries, and the retries of a
//! blocked connection, hit it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tacet_engine::Protocol;

/// A connection or datagram flow, as the app's side of it sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Connection {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The app's address and port.
    pub local: SocketAddr,
    /// Where it sent the packet: a resolver, or a blocked address.
    pub remote: SocketAddr,
}

/// How long an answer is reused: long enough for a TCP connection's queries
/// and a retry storm, short enough that a port reused by another app is
/// soon asked about afresh.
const KEEP: Duration = Duration::from_secs(10);

/// The most answers kept.
const CAPACITY: usize = 1024;

/// The most questions to the shell per second (a burst of as many): each
/// one holds up the I/O thread (Android: a binder call), so an app
/// spraying new ports while blocked cannot slow everyone's DNS. Past it,
/// entries go to the journal without an app.
const ASKS_PER_SECOND: u32 = 50;

/// The shell's recent answers, bounded, and the questions it may still be
/// asked this second.
#[derive(Debug, Default)]
pub(crate) struct AppCache {
    /// Keyed by a fast hash seeded at random per process: an app picks its
    /// ports, not where they land.
    entries: HashMap<Connection, (Option<String>, Instant), foldhash::fast::RandomState>,
    asks_left: u32,
    window_start: Option<Instant>,
}

impl AppCache {
    /// The app behind `connection`: a recent answer, or `ask`'s.
    pub fn app_of(
        &mut self,
        now: Instant,
        connection: Connection,
        ask: impl FnOnce(&Connection) -> Option<String>,
    ) -> Option<String> {
        if let Some((app, until)) = self.entries.get(&connection) {
            if *until > now {
                return app.clone();
            }
        }
        if self
            .window_start
            .is_none_or(|start| now.saturating_duration_since(start) >= Duration::from_secs(1))
        {
            self.window_start = Some(now);
            self.asks_left = ASKS_PER_SECOND;
        }
        if self.asks_left == 0 {
            return None;
        }
        self.asks_left -= 1;
        let app = ask(&connection);
        if self.entries.len() >= CAPACITY {
            self.entries.retain(|_, (_, until)| *until > now);
            if self.entries.len() >= CAPACITY {
                self.entries.clear();
            }
        }
        self.entries.insert(connection, (app.clone(), now + KEEP));
        app
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(port: u16) -> Connection {
        Connection {
            protocol: Protocol::Udp,
            local: SocketAddr::from(([10, 111, 222, 1], port)),
            remote: SocketAddr::from(([10, 111, 222, 53], 53)),
        }
    }

    #[test]
    fn answers_are_reused_for_a_while_then_asked_again() {
        let mut cache = AppCache::default();
        let t0 = Instant::now();
        let mut asked = 0;
        let mut ask = |_: &Connection| {
            asked += 1;
            Some(format!("app{asked}"))
        };
        assert_eq!(cache.app_of(t0, conn(1), &mut ask).as_deref(), Some("app1"));
        assert_eq!(
            cache
                .app_of(t0 + Duration::from_secs(9), conn(1), &mut ask)
                .as_deref(),
            Some("app1")
        );
        assert_eq!(cache.app_of(t0, conn(2), &mut ask).as_deref(), Some("app2"));
        assert_eq!(
            cache.app_of(t0 + KEEP, conn(1), &mut ask).as_deref(),
            Some("app3")
        );
        // "Cannot tell" is remembered too: the OS is not asked again at once.
        let none = |_: &Connection| None;
        assert_eq!(cache.app_of(t0, conn(3), none), None);
        assert_eq!(cache.app_of(t0, conn(3), |_| Some("late".into())), None);
    }

    #[test]
    fn the_cache_stays_bounded() {
        let mut cache = AppCache::default();
        let t0 = Instant::now();
        for port in 0..5000 {
            let now = t0 + Duration::from_millis(u64::from(port) * 20);
            assert_eq!(
                cache
                    .app_of(now, conn(port), |_| Some("app".into()))
                    .as_deref(),
                Some("app")
            );
            assert!(cache.entries.len() <= CAPACITY);
        }
    }

    #[test]
    fn the_shell_is_asked_at_most_so_often() {
        let mut cache = AppCache::default();
        let t0 = Instant::now();
        let mut asked = 0;
        for port in 0..200 {
            cache.app_of(t0, conn(port), |_| {
                asked += 1;
                Some("app".into())
            });
        }
        assert_eq!(asked, ASKS_PER_SECOND);
        // Answers already had are still given; a new second asks again.
        assert_eq!(cache.app_of(t0, conn(0), |_| None).as_deref(), Some("app"));
        let next = t0 + Duration::from_secs(1);
        assert_eq!(
            cache
                .app_of(next, conn(500), |_| Some("late".into()))
                .as_deref(),
            Some("late")
        );
    }
}
