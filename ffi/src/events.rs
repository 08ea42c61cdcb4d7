//! Events for the shell, and the thread that delivers them.
//!
//! # Threads, and why
//!
//! The runtime calls its [`Observer`] on its one I/O thread, which must never
//! wait on the listener (a Kotlin listener may take a lock of the app's, or
//! call back into the firewall). The one foreign call made there is the
//! shell's app resolver, which must answer before the app's socket closes
//! (see [`crate::attribution`]). So for events the observer here only raises
//! a flag, and sends one wake-up message when the flag was down: however
//! many queries arrive, at most one message waits in the channel. (Route
//! changes, rare and already debounced by the engine, are sent as they are.)
//!
//! One dispatcher thread per run, owned by tacet-ffi, receives the wake-ups
//! and calls the foreign listener. It holds no lock of tacet-ffi while
//! calling the listener, so the listener may call any `Firewall` method,
//! `stop()` included.
//!
//! "Stats changed" is throttled to one per [`STATS_INTERVAL`]: the first
//! query after a quiet spell is reported at once, later ones in the window
//! are folded into one report at the window's end, and a final report
//! follows `stop()` if the counters moved since. Nothing wakes the thread
//! while no query comes: with no report owed it sleeps in `recv()`.
//!
//! The engine reports blocked queries always and allowed ones only in
//! discovery mode, so outside discovery mode "stats changed" follows
//! blocked queries (the counter a UI shows); an allowed query alone does
//! not raise it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tacet_engine::{Event, RuleSet, Stats};
use tacet_runtime::{Connection, Observer, RuntimeError};

use crate::attribution::ResolverCell;
use crate::error::FirewallError;
use crate::records::FirewallStats;

/// At most one "stats changed" event per this interval.
pub const STATS_INTERVAL: Duration = Duration::from_millis(250);

/// Something the shell hears about the running firewall.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum FirewallEvent {
    /// The counters changed. At most a few per second (one per 250 ms),
    /// and a last one after `stop()` if they moved since.
    StatsChanged {
        /// The counters now.
        stats: FirewallStats,
    },
    /// The networks the tunnel must route changed, given whole: those of
    /// address and CIDR block rules, and every address of a blocked name
    /// the firewall rejects connections to (the first change after a
    /// quiet second at once, later ones gathered for a second). The shell routes them into the tunnel, besides the resolvers
    /// (Android: a new tunnel interface; iOS: new network settings).
    RoutesChanged {
        /// IPv4 and IPv6 networks as `address/prefix-length` text, e.g.
        /// `198.51.100.0/24` or `203.0.113.9/32`.
        routes: Vec<String>,
    },
    /// An encrypted upstream cannot be used: `reason` says why in words to
    /// show ("certificate not valid for dns.example"). In strict mode the
    /// apps get SERVFAIL until it works again; show a notice.
    UpstreamUnavailable {
        /// The upstream, as configured.
        upstream: String,
        /// Why.
        reason: String,
    },
    /// An encrypted upstream that was unavailable answers again.
    UpstreamRecovered {
        /// The upstream, as configured.
        upstream: String,
    },
    /// Opportunistic mode: queries went out as plain DNS because no
    /// encrypted upstream could take them. Say so: the network can read them.
    PlainFallback {
        /// Why the encrypted ones could not.
        reason: String,
    },
    /// The firewall stopped: `error` is `None` after `stop()`, or says why
    /// it stopped on its own (for example the OS took the tunnel away). The
    /// shell should then call `stop()` (to release the store) and update
    /// its UI.
    Stopped {
        /// Why it stopped, if it failed.
        error: Option<String>,
    },
}

/// Receives the firewall's events. Called on a thread of tacet-ffi (never
/// the caller's, never with a lock held), one event at a time, in order;
/// it should return quickly. It may call any `Firewall` method. If it
/// throws, the exception is logged and dropped, and events go on.
#[uniffi::export(callback_interface)]
pub trait FirewallListener: Send + Sync {
    /// One event. (The error type only lets uniffi hand back whatever the
    /// listener throws without a panic; the firewall ignores it.)
    fn on_event(&self, event: FirewallEvent) -> Result<(), FirewallError>;
}

/// Messages to the dispatcher thread.
#[derive(Debug)]
enum Message {
    /// The engine reported a query (one message for any number of them).
    Activity,
    /// The addresses to route changed.
    Routes(Vec<String>),
    /// Something about the upstreams to show.
    Upstream(FirewallEvent),
    /// The I/O thread ended (told to stop, or failed).
    Stopped(Option<String>),
    /// The run is over, with the final counters; and whether to report
    /// "stopped" (not when the start failed).
    Shutdown {
        final_stats: Option<Stats>,
        report: bool,
    },
}

/// What the dispatcher shares with the `Firewall` object.
pub(crate) struct Shared {
    /// The running firewall: the `Firewall` object's handle, and where the
    /// dispatcher reads the counters for "stats changed".
    pub runtime: Mutex<Option<tacet_runtime::Firewall>>,
    /// An `Activity` message is on its way.
    activity: AtomicBool,
}

impl Shared {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            runtime: Mutex::new(None),
            activity: AtomicBool::new(false),
        })
    }
}

/// The observer on the runtime's I/O thread: never waits on the listener;
/// only the shell's app resolver is called from here (see
/// [`crate::attribution`]).
struct Forward {
    tx: mpsc::Sender<Message>,
    shared: Arc<Shared>,
    apps: ResolverCell,
}

impl Forward {
    /// Wakes the dispatcher for a (throttled) stats event, once per burst.
    fn activity(&self) {
        if !self.shared.activity.swap(true, Ordering::AcqRel) {
            let _ = self.tx.send(Message::Activity);
        }
    }
}

impl Observer for Forward {
    fn on_event(&mut self, event: &Event, _rules: &RuleSet) {
        if let Event::RoutesChanged { routes } = event {
            let routes = routes.iter().map(ToString::to_string).collect();
            let _ = self.tx.send(Message::Routes(routes));
            return;
        }
        self.activity();
    }

    fn app_of(&mut self, connection: &Connection) -> Option<String> {
        self.apps.app_of(connection)
    }

    fn on_stats(&mut self, _stats: &tacet_engine::Stats) {
        self.activity();
    }

    fn on_upstream(&mut self, event: &tacet_runtime::UpstreamEvent) {
        use tacet_runtime::UpstreamEvent as E;
        let event = match event.clone() {
            E::Unavailable { upstream, reason } => {
                FirewallEvent::UpstreamUnavailable { upstream, reason }
            }
            E::Recovered { upstream } => FirewallEvent::UpstreamRecovered { upstream },
            E::FellBack { reason } => FirewallEvent::PlainFallback { reason },
        };
        let _ = self.tx.send(Message::Upstream(event));
    }

    fn on_stopped(&mut self, error: Option<&RuntimeError>) {
        let _ = self
            .tx
            .send(Message::Stopped(error.map(ToString::to_string)));
    }
}

/// The dispatcher thread of one run.
pub(crate) struct Dispatcher {
    tx: mpsc::Sender<Message>,
    thread: Option<JoinHandle<()>>,
    thread_id: ThreadId,
}

impl Dispatcher {
    /// Starts the thread; returns it and the observer to give the runtime.
    pub(crate) fn start(
        shared: Arc<Shared>,
        listener: Option<Arc<dyn FirewallListener>>,
        apps: ResolverCell,
    ) -> std::io::Result<(Self, Box<dyn Observer>)> {
        let (tx, rx) = mpsc::channel();
        let worker = Worker {
            rx,
            shared: Arc::clone(&shared),
            listener,
            last_sent: None,
            stats_due: None,
            stop_reported: false,
        };
        let thread = std::thread::Builder::new()
            .name("tacet-events".into())
            .spawn(move || worker.run())?;
        let thread_id = thread.thread().id();
        let observer = Box::new(Forward {
            tx: tx.clone(),
            shared,
            apps,
        });
        Ok((
            Self {
                tx,
                thread: Some(thread),
                thread_id,
            },
            observer,
        ))
    }

    /// Tells the thread to write out and end, and waits for it, unless
    /// called from the thread itself (a listener calling `stop()`): then it
    /// ends right after the listener returns.
    pub(crate) fn shutdown(mut self, final_stats: Option<Stats>, report: bool) {
        let _ = self.tx.send(Message::Shutdown {
            final_stats,
            report,
        });
        if std::thread::current().id() == self.thread_id {
            return;
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                log::warn!("ffi: the event thread panicked");
            }
        }
    }
}

/// The dispatcher thread's state.
struct Worker {
    rx: mpsc::Receiver<Message>,
    shared: Arc<Shared>,
    listener: Option<Arc<dyn FirewallListener>>,
    /// When "stats changed" was last sent, and with what.
    last_sent: Option<(Instant, Stats)>,
    /// A report is owed at this time (queries came during the window).
    stats_due: Option<Instant>,
    /// "Stopped" was sent already (the I/O thread failed).
    stop_reported: bool,
}

impl Worker {
    fn run(mut self) {
        loop {
            let message = match self.stats_due {
                None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(at) => self
                    .rx
                    .recv_timeout(at.saturating_duration_since(Instant::now())),
            };
            match message {
                Ok(Message::Activity) => {
                    self.shared.activity.store(false, Ordering::Release);
                    self.query_seen();
                }
                Ok(Message::Routes(routes)) => {
                    self.notify(FirewallEvent::RoutesChanged { routes });
                }
                Ok(Message::Upstream(event)) => self.notify(event),
                Ok(Message::Stopped(Some(error))) => {
                    self.stop_reported = true;
                    self.notify(FirewallEvent::Stopped { error: Some(error) });
                }
                // Told to stop: reported by `finish`, after the last counters.
                Ok(Message::Stopped(None)) => {}
                Ok(Message::Shutdown {
                    final_stats,
                    report,
                }) => {
                    self.stop_reported |= !report;
                    self.finish(final_stats);
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.finish(None);
                    return;
                }
            }
            self.do_due_work();
        }
    }

    fn query_seen(&mut self) {
        let now = Instant::now();
        match self.last_sent {
            Some((at, _)) if now < at + STATS_INTERVAL => {
                self.stats_due.get_or_insert(at + STATS_INTERVAL);
            }
            _ => self.send_stats(None),
        }
    }

    fn do_due_work(&mut self) {
        if self.stats_due.is_some_and(|due| due <= Instant::now()) {
            self.send_stats(None);
        }
    }

    /// Sends "stats changed" if the counters moved since the last report.
    fn send_stats(&mut self, stats: Option<Stats>) {
        self.stats_due = None;
        let stats = stats.or_else(|| {
            let runtime = self.shared.runtime.lock();
            runtime.as_ref().and_then(tacet_runtime::Firewall::stats)
        });
        let Some(stats) = stats else { return };
        if self.last_sent.is_some_and(|(_, last)| last == stats) {
            return;
        }
        self.last_sent = Some((Instant::now(), stats));
        self.notify(FirewallEvent::StatsChanged {
            stats: stats.into(),
        });
    }

    /// The run is over: the last counters, then "stopped".
    fn finish(&mut self, final_stats: Option<Stats>) {
        if final_stats.is_some() {
            self.send_stats(final_stats);
        }
        if !self.stop_reported {
            self.notify(FirewallEvent::Stopped { error: None });
        }
    }

    /// Calls the listener. A foreign exception comes back as an error; a
    /// panic (a Rust listener, or uniffi failing to lift an answer) is
    /// caught too: neither may end the thread.
    fn notify(&self, event: FirewallEvent) {
        let Some(listener) = &self.listener else {
            return;
        };
        match catch_unwind(AssertUnwindSafe(|| listener.on_event(event))) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => log::warn!("ffi: the event listener failed: {e}"),
            Err(_) => log::warn!("ffi: the event listener panicked"),
        }
    }
}
