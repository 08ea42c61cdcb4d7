//! tacet-runtime: the I/O loop around the sans-IO engine.
//!
//! **Layer:** runtime. One thread, driven by mio, owns the TUN file
//! descriptor, the upstream sockets, the clock and a waker for commands; it
//! feeds the [`tacet_engine::Engine`] and carries out what the engine asks.
//! It sleeps until a packet, an upstream answer, a command or the engine's
//! next deadline arrives, and with nothing pending there is no deadline:
//! an idle phone is never woken.
//!
//! **Never:** no filtering decision is made here (that is the engine's), no
//! thread besides the one I/O thread, and nothing here knows about a
//! platform's UI: shells talk to it through [`Firewall`].
//!
//! The front is the phone's TUN ([`Firewall::start`]) or, in serve mode,
//! UDP and TCP sockets on a LAN ([`Firewall::serve`]: a resolver for a
//! home network's devices, [`serve`]); the engine, upstreams, store and
//! commands are the same for both.
//!
//! Modules: [`tun`] (the device), [`serve`] (serve mode's sockets),
//! [`upstream`] (sockets to the resolvers),
//! [`event_loop`] (the thread), [`attribution`] (which app asked), [`resolv_conf`] (the system's resolvers),
//! [`rule_sources`] (composing the rules from lists, for every shell),
//! [`enforced`] (the names looked up before any app asks),
//! [`subscriptions`] (lists subscribed to by URL: fetched, checked and kept
//! on the caller's thread, never the I/O thread's).

pub mod attribution;
pub mod enforced;
pub mod event_loop;
pub mod resolv_conf;
pub mod rule_sources;
pub mod serve;
pub mod subscriptions;
pub mod tun;
pub mod upstream;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tacet_engine::{Config, DevicePolicies, Event, RuleSet, Stats};
use tacet_store::{CustomRuleKind, StoreConfig, StoreError, StoreStatus};

pub use crate::attribution::Connection;
pub use crate::serve::{ServeConfig, ServeLimits, ServeStats};
pub use crate::tun::Tun;
pub use crate::upstream::{Mode, UpstreamEvent, UpstreamOptions, UpstreamSpec, UpstreamStats};

/// Everything the runtime needs to start.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// The engine's settings.
    pub engine: Config,
    /// Upstream resolvers, plain or encrypted, tried in order when one
    /// refuses.
    pub upstreams: Vec<UpstreamSpec>,
    /// How encrypted upstreams are used (strict or opportunistic, idle
    /// time, extra CA).
    pub upstream_options: UpstreamOptions,
    /// Names looked up before any app asks, their addresses rejected from
    /// the first second ([`enforced::enforced_names`] gathers them).
    pub enforced_names: Vec<String>,
    /// Where counters and the journal are kept; `None` keeps nothing.
    pub store: Option<StoreLocation>,
}

/// The store directory the firewall writes, and its settings. Discovery
/// mode comes from `Config::report_allowed`.
#[derive(Clone, Debug)]
pub struct StoreLocation {
    /// The directory (created if missing).
    pub dir: PathBuf,
    /// Journal bounds and flush timing.
    pub config: StoreConfig,
}

/// Hears from the I/O thread: the engine's events, and the firewall
/// stopping. Called on the I/O thread, so it must return quickly.
pub trait Observer: Send {
    /// An event, with the rule set that produced it (to name the list of a
    /// rule).
    fn on_event(&mut self, event: &Event, rules: &RuleSet);
    /// The counters changed: called at most once per wake of the I/O
    /// thread, after its packets were handled (never while idle).
    fn on_stats(&mut self, stats: &Stats) {
        let _ = stats;
    }
    /// Something about the upstreams the user should hear: an encrypted
    /// upstream unavailable ("certificate not valid for dns.example"),
    /// working again, or a fall back to plain DNS. Called on the I/O
    /// thread; must return quickly.
    fn on_upstream(&mut self, event: &UpstreamEvent) {
        let _ = event;
    }
    /// The I/O thread is about to end: told to stop (`None`) or failed.
    fn on_stopped(&mut self, error: Option<&RuntimeError>) {
        let _ = error;
    }
    /// The app behind `connection` (a query, or a rejected connection), for
    /// the journal. In serve mode, the device: `connection.local` is its
    /// address, and this is asked for every journaled entry, so it must be
    /// a lookup in memory.
    ///
    /// On a phone: the app behind `connection`, for
    /// the journal: a name the user recognises (Android: the package), or
    /// `None` when the platform cannot tell. Asked on the I/O thread, only
    /// for what is journaled, before the answer is sent (the OS only knows
    /// open sockets), and answers are reused for a few seconds. It must
    /// return quickly and must not call the firewall. The default: no
    /// attribution.
    fn app_of(&mut self, connection: &Connection) -> Option<String> {
        let _ = connection;
        None
    }
}

/// The observer of a shell that wants nothing but the counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct IgnoreEvents;

impl Observer for IgnoreEvents {
    fn on_event(&mut self, _event: &Event, _rules: &RuleSet) {}
}

/// What can go wrong starting or running the firewall.
#[derive(Debug)]
pub enum RuntimeError {
    /// The TUN device could not be created or used.
    Tun(String),
    /// The file descriptor handed over is not open.
    BadFd(i32),
    /// No upstream resolver was given or found.
    NoUpstream,
    /// No upstream resolver has a route from here (this one was the first
    /// to say so).
    UpstreamUnreachable(SocketAddr, std::io::Error),
    /// An upstream resolver is the firewall itself: a virtual resolver, an
    /// address in the tunnel's networks, or one routed into the tunnel.
    /// Its queries would come back as queries, forever.
    UpstreamIsFirewall(SocketAddr),
    /// The encrypted upstreams cannot be set up (no trusted certificates,
    /// an extra CA that does not parse, upstreams that cannot go together).
    Tls(String),
    /// The event loop could not be set up or failed.
    Io(std::io::Error),
    /// The store could not be opened or changed.
    Store(StoreError),
    /// The firewall was started without a store.
    NoStore,
    /// The I/O thread stopped unexpectedly.
    ThreadLost,
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tun(why) => write!(f, "TUN device: {why}"),
            Self::BadFd(fd) => write!(f, "file descriptor {fd} is not open"),
            Self::NoUpstream => write!(
                f,
                "no upstream DNS resolver: give one, or list one in /etc/resolv.conf"
            ),
            Self::UpstreamUnreachable(addr, e) => {
                write!(f, "upstream resolver {addr} is unreachable: {e}")
            }
            Self::UpstreamIsFirewall(addr) => write!(
                f,
                "upstream resolver {addr} is the firewall itself (its own resolver, or routed \
                 into its tunnel): give the network's resolver instead"
            ),
            Self::Tls(why) => write!(f, "encrypted upstreams: {why}"),
            Self::Io(e) => write!(f, "event loop: {e}"),
            Self::Store(e) => write!(f, "store: {e}"),
            Self::NoStore => write!(f, "the firewall runs without a store"),
            Self::ThreadLost => write!(f, "the firewall's I/O thread stopped unexpectedly"),
        }
    }
}

impl std::error::Error for RuntimeError {}

/// Requests to the running I/O thread.
#[derive(Debug)]
pub(crate) enum Command {
    Stop,
    SetRules(Arc<RuleSet>, mpsc::SyncSender<()>),
    Stats(mpsc::SyncSender<Stats>),
    Pause(Option<Duration>, mpsc::SyncSender<()>),
    SetDiscovery(bool, mpsc::SyncSender<()>),
    EditCustom(
        String,
        Option<CustomRuleKind>,
        mpsc::SyncSender<Result<bool, RuntimeError>>,
    ),
    ClearJournal(mpsc::SyncSender<Result<(), RuntimeError>>),
    ReplaceTun(Tun, mpsc::SyncSender<Result<(), RuntimeError>>),
    SetUpstreams(
        Vec<UpstreamSpec>,
        mpsc::SyncSender<Result<(), RuntimeError>>,
    ),
    UpstreamStats(mpsc::SyncSender<UpstreamStats>),
    SetEnforcedNames(Vec<String>, mpsc::SyncSender<()>),
    SetDevicePolicies(DevicePolicies, mpsc::SyncSender<()>),
    ServeStats(mpsc::SyncSender<Option<ServeStats>>),
    StoreStatus(mpsc::SyncSender<Option<StoreStatus>>),
}

/// A running firewall: a handle to its I/O thread. Dropping it stops the
/// firewall.
pub struct Firewall {
    commands: mpsc::Sender<Command>,
    /// The engine settings it started with (to check new upstreams).
    engine_config: Config,
    waker: Arc<mio::Waker>,
    thread: Option<JoinHandle<Result<Stats, RuntimeError>>>,
    final_stats: Option<Stats>,
    /// Serve mode's addresses (with the ports given for port 0).
    listening: Vec<SocketAddr>,
}

impl fmt::Debug for Firewall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Firewall")
            .field("running", &self.thread.is_some())
            .finish()
    }
}

impl Firewall {
    /// Starts the firewall on `tun` with these rules, on a new I/O thread.
    pub fn start(
        tun: Tun,
        config: RuntimeConfig,
        rules: Arc<RuleSet>,
        observer: Box<dyn Observer>,
    ) -> Result<Self, RuntimeError> {
        Self::spawn(event_loop::Front::Tun(tun), config, rules, observer)
    }

    /// Starts serve mode: a DNS resolver on the LAN addresses of `serve`
    /// (UDP and TCP), for devices that cannot run an app, with the same
    /// engine, rules, store and journal; the device that asked is the
    /// "app" of each entry ([`Observer::app_of`]). Fails if an address
    /// cannot be bound, or an upstream is one of them.
    pub fn serve(
        serve: ServeConfig,
        config: RuntimeConfig,
        rules: Arc<RuleSet>,
        observer: Box<dyn Observer>,
    ) -> Result<Self, RuntimeError> {
        if let Some(upstream) = config
            .upstreams
            .iter()
            .find(|u| serve::answers_itself(&serve.listen, u.addr))
        {
            return Err(RuntimeError::UpstreamIsFirewall(upstream.addr));
        }
        Self::spawn(event_loop::Front::Serve(serve), config, rules, observer)
    }

    fn spawn(
        front: event_loop::Front,
        config: RuntimeConfig,
        rules: Arc<RuleSet>,
        observer: Box<dyn Observer>,
    ) -> Result<Self, RuntimeError> {
        let mut config = config;
        config.upstreams = upstream::Upstreams::check_routes(&config.upstreams, &config.engine)?;
        let (commands, receiver) = mpsc::channel();
        let engine_config = config.engine.clone();
        let event_loop = event_loop::EventLoop::new(front, config, rules, observer, receiver)?;
        let listening = event_loop.listening();
        let waker = event_loop.waker();
        let thread = std::thread::Builder::new()
            .name("tacet-io".into())
            .spawn(move || event_loop.run())
            .map_err(RuntimeError::Io)?;
        Ok(Self {
            commands,
            engine_config,
            waker,
            thread: Some(thread),
            final_stats: None,
            listening,
        })
    }

    /// The addresses serve mode answers on, with the ports the system gave
    /// for port 0; empty on a TUN.
    pub fn listening(&self) -> &[SocketAddr] {
        &self.listening
    }

    /// Sets serve mode's per-device policies, and returns once the I/O
    /// thread has them: every query it reads afterwards sees them.
    pub fn set_device_policies(&self, policies: DevicePolicies) {
        self.send_and_wait(|applied| Command::SetDevicePolicies(policies, applied));
    }

    /// Serve mode's socket counters (connections refused, closed idle...);
    /// `None` on a TUN or once stopped.
    pub fn serve_stats(&self) -> Option<ServeStats> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Command::ServeStats(reply));
        answer.recv_timeout(Duration::from_secs(5)).ok().flatten()
    }

    /// Replaces the rules, and returns once the I/O thread has them: every
    /// packet it reads afterwards sees the whole new set.
    pub fn set_rules(&self, rules: Arc<RuleSet>) {
        self.send_and_wait(|applied| Command::SetRules(rules, applied));
    }

    /// Sends a command carrying an acknowledgement, and waits (a bounded
    /// time: a stopped thread never answers) until the I/O thread applied it.
    fn send_and_wait(&self, command: impl FnOnce(mpsc::SyncSender<()>) -> Command) {
        let (applied, done) = mpsc::sync_channel(1);
        self.send(command(applied));
        let _ = done.recv_timeout(Duration::from_secs(5));
    }

    /// Swaps in a new tunnel (Android re-establishes its VPN interface to
    /// change routes; iOS may hand over a new utun), keeping everything the
    /// engine knows: learned addresses, queries in flight, counters, a pause.
    /// The old descriptor is closed.
    pub fn replace_tunnel(&self, tun: Tun) -> Result<(), RuntimeError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Command::ReplaceTun(tun, reply));
        answer
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| RuntimeError::ThreadLost)?
    }

    /// Sends queries to these upstream resolvers from now on (the network
    /// changed); queries already sent finish where they went.
    pub fn set_upstreams(&self, upstreams: Vec<UpstreamSpec>) -> Result<(), RuntimeError> {
        if upstreams.is_empty() {
            return Err(RuntimeError::NoUpstream);
        }
        let upstreams = upstream::Upstreams::check_routes(&upstreams, &self.engine_config)?;
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Command::SetUpstreams(upstreams, reply));
        answer
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| RuntimeError::ThreadLost)?
    }

    /// The encrypted transports' counters (connections, failures...).
    pub fn upstream_stats(&self) -> Option<UpstreamStats> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Command::UpstreamStats(reply));
        answer.recv_timeout(Duration::from_secs(5)).ok()
    }

    /// Enforces these names from now on (the lists changed): looked up
    /// before any app asks, their addresses rejected. Returns once the I/O
    /// thread has them.
    pub fn set_enforced_names(&self, names: Vec<String>) {
        self.send_and_wait(|applied| Command::SetEnforcedNames(names, applied));
    }

    /// Lets every query through for `duration`; `None` resumes filtering.
    /// Returns once the I/O thread applied it: the next packet it reads sees
    /// the change.
    pub fn pause(&self, duration: Option<Duration>) {
        self.send_and_wait(|applied| Command::Pause(duration, applied));
    }

    /// Turns discovery mode on or off: allowed queries are journaled too.
    /// Returns once the I/O thread applied it.
    pub fn set_discovery(&self, on: bool) {
        self.send_and_wait(|applied| Command::SetDiscovery(on, applied));
    }

    /// Sets `name` in the store's custom list as a block or allow rule, or
    /// removes it (`None`); true if the list changed. The caller rebuilds
    /// the rules and calls [`set_rules`](Self::set_rules) to apply it.
    pub fn edit_custom_list(
        &self,
        name: &str,
        kind: Option<CustomRuleKind>,
    ) -> Result<bool, RuntimeError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Command::EditCustom(name.to_owned(), kind, reply));
        answer
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| RuntimeError::ThreadLost)?
    }

    /// Empties the journal (counters are kept).
    pub fn clear_journal(&self) -> Result<(), RuntimeError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Command::ClearJournal(reply));
        answer
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| RuntimeError::ThreadLost)?
    }

    /// The store's state (flushed records, write failures), if there is a
    /// store and the firewall runs.
    pub fn store_status(&self) -> Option<StoreStatus> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Command::StoreStatus(reply));
        answer.recv_timeout(Duration::from_secs(5)).ok().flatten()
    }

    /// The counters now, or the final ones once stopped.
    pub fn stats(&self) -> Option<Stats> {
        if self.thread.is_none() {
            return self.final_stats;
        }
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Command::Stats(reply));
        answer.recv_timeout(Duration::from_secs(5)).ok()
    }

    /// Whether the I/O thread is still running (it stops on its own only
    /// when the TUN fails, for example when the OS revokes the VPN).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the firewall and returns its final counters, or the error that
    /// stopped it. Calling it again returns the same counters.
    pub fn stop(&mut self) -> Result<Stats, RuntimeError> {
        let Some(thread) = self.thread.take() else {
            return self.final_stats.ok_or(RuntimeError::ThreadLost);
        };
        self.send(Command::Stop);
        let stats = thread.join().map_err(|_| RuntimeError::ThreadLost)??;
        self.final_stats = Some(stats);
        Ok(stats)
    }

    fn send(&self, command: Command) {
        if self.commands.send(command).is_ok() {
            let _ = self.waker.wake();
        }
    }
}

impl Drop for Firewall {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
