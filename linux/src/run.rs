//! `tacet run`: the firewall on a TUN, until Ctrl-C or SIGTERM.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use tacet_engine::{BlockMode, BlockReason, Config, Event, Route, RuleSet, Stats};
use tacet_runtime::subscriptions::{self, Fetcher, ListUpdate, Outcome, UpdateOptions, Which};
use tacet_runtime::{
    resolv_conf, Firewall, Mode, Observer, RuntimeConfig, RuntimeError, ServeStats, StoreLocation,
    Tun, UpstreamEvent, UpstreamOptions, UpstreamSpec, UpstreamStats,
};
use tacet_store::StoreConfig;

use crate::rule_sources::{self, ListArgs};
use crate::store_cmd::{DEFAULT_STORE, PID_FILE};

/// Arguments of `tacet run`.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Create the TUN interface NAME, give it 10.111.222.1/24 and
    /// fd74:6163:6574::1/64, and route the resolver addresses into it.
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with = "fd",
        required_unless_present = "fd"
    )]
    pub tun: Option<String>,
    /// Use an already open TUN file descriptor, as Android's
    /// VpnService.establish() and iOS hand one over; its addresses and
    /// routes are the caller's business.
    #[arg(long, value_name = "N")]
    pub fd: Option<RawFd>,
    /// The virtual IPv4 resolver the phone sends DNS to.
    #[arg(long, value_name = "IP", default_value_t = tacet_engine::DEFAULT_RESOLVER_V4)]
    pub resolver_v4: Ipv4Addr,
    /// The virtual IPv6 resolver the phone sends DNS to.
    #[arg(long, value_name = "IP", default_value_t = tacet_engine::DEFAULT_RESOLVER_V6)]
    pub resolver_v6: Ipv6Addr,
    #[command(flatten)]
    pub firewall: FirewallArgs,
}

/// What `tacet run` and `tacet serve` share: upstreams, lists, answers,
/// store.
#[derive(clap::Args, Debug, Clone)]
pub struct FirewallArgs {
    /// An upstream resolver (repeatable, tried in order): plain DNS as IP
    /// or IP:PORT; DNS over TLS as tls://IP[:PORT]#NAME; DNS over HTTPS as
    /// https://IP[:PORT]/PATH#NAME. NAME is what the server's certificate
    /// must be valid for; it is never looked up. Append
    /// ;pin-sha256=BASE64 to also require that public key. Default: the
    /// nameservers of /etc/resolv.conf (plain).
    #[arg(long = "upstream", value_name = "UPSTREAM", value_parser = parse_upstream)]
    pub upstreams: Vec<UpstreamSpec>,
    /// Extra trusted CA certificates (PEM) for encrypted upstreams, besides
    /// the system's (a self-hosted resolver, tests).
    #[arg(long, value_name = "FILE")]
    pub upstream_ca: Option<PathBuf>,
    /// What happens when no encrypted upstream can be reached: strict
    /// answers SERVFAIL (nothing ever leaves in plaintext); opportunistic
    /// falls back to the plain upstreams given beside them, and says so.
    #[arg(long, value_name = "MODE", default_value = "strict", value_parser = parse_mode)]
    pub upstream_mode: Mode,
    /// An encrypted connection with no query for this long is closed (the
    /// next query opens a new one, resuming the TLS session).
    #[arg(long, value_name = "SECS", default_value_t = tacet_runtime::upstream::DEFAULT_IDLE.as_secs())]
    pub upstream_idle_secs: u64,
    #[command(flatten)]
    pub lists: ListArgs,
    /// How blocked names are answered: null (A 0.0.0.0, AAAA ::, other
    /// types NODATA), nxdomain, nodata or refused.
    #[arg(long, value_name = "MODE", default_value = "null", value_parser = parse_block_mode)]
    pub block_mode: BlockMode,
    /// TTL in seconds of block answers.
    #[arg(long, value_name = "SECS", default_value_t = Config::default().block_ttl)]
    pub block_ttl: u32,
    /// How long an allowed query waits for the upstream before SERVFAIL.
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub upstream_timeout_ms: u64,
    /// The most queries waiting for the upstream at once.
    #[arg(long, value_name = "N", default_value_t = Config::default().max_pending)]
    pub max_pending: usize,
    /// Where counters, the journal and your custom list are kept (`tacet
    /// stats`, `journal`, `block` and `allow` read it).
    #[arg(long = "store", value_name = "DIR", default_value = DEFAULT_STORE, conflicts_with = "no_store")]
    pub store: PathBuf,
    /// Keep no counters or journal on disk.
    #[arg(long)]
    pub no_store: bool,
    /// Forward the canary names (use-application-dns.net, mask.icloud.com,
    /// mask-h2.icloud.com) instead of answering NXDOMAIN, letting Firefox
    /// and iCloud Private Relay take DNS away from the firewall.
    #[arg(long)]
    pub no_canaries: bool,
    /// Discovery mode: journal allowed queries too, to see everything an
    /// app talks to.
    #[arg(long)]
    pub discovery: bool,
    /// The journal's size bound, in KiB (oldest entries go first).
    #[arg(long, value_name = "KIB", default_value_t = StoreConfig::default().journal_max_bytes / 1024)]
    pub journal_kib: u64,
    /// A block list whose names are also looked up before any app asks, so
    /// that connections to their addresses are rejected from the first
    /// second (for apps with hard-coded or cached addresses); may be
    /// repeated. The curated block lists are always enforced this way. At
    /// most 512 names in all, looked up at most 60 a minute after the
    /// first 128: meant for small vendor lists, not for a list of a million.
    #[arg(long = "enforce", value_name = "FILE")]
    pub enforce: Vec<PathBuf>,
    /// Do not resolve blocked names at all: neither those apps ask for nor
    /// enforced ones. Connections to their addresses are then not rejected.
    #[arg(long)]
    pub no_address_learning: bool,
    /// Check the lists the store subscribes to (`tacet lists`) this often,
    /// in seconds, give or take 10 % (sooner, with back-off, after a
    /// failed check); 0: only when `tacet lists update` asks.
    #[arg(long, value_name = "SECS", default_value_t = subscriptions::DEFAULT_INTERVAL.as_secs())]
    pub list_check_secs: u64,
    /// Extra trusted CA certificates (PEM) for the lists' servers, besides
    /// the system's.
    #[arg(long, value_name = "FILE")]
    pub list_ca: Option<PathBuf>,
}

fn parse_upstream(text: &str) -> Result<UpstreamSpec, String> {
    UpstreamSpec::parse(text)
}

fn parse_mode(text: &str) -> Result<Mode, String> {
    match text {
        "strict" => Ok(Mode::Strict),
        "opportunistic" => Ok(Mode::Opportunistic),
        _ => Err(format!(
            "`{text}` is not an upstream mode: use strict or opportunistic"
        )),
    }
}

fn parse_block_mode(text: &str) -> Result<BlockMode, String> {
    match text {
        "null" => Ok(BlockMode::NullAddress),
        "nxdomain" => Ok(BlockMode::Nxdomain),
        "nodata" => Ok(BlockMode::Nodata),
        "refused" => Ok(BlockMode::Refused),
        _ => Err(format!(
            "`{text}` is not a block mode: use null, nxdomain, nodata or refused"
        )),
    }
}

impl RunArgs {
    /// The engine settings these arguments ask for; `log_queries` reports
    /// every allowed query too, for `-vv`.
    pub fn engine_config(&self, log_queries: bool) -> Config {
        Config {
            resolver_v4: self.resolver_v4,
            resolver_v6: self.resolver_v6,
            ..self.firewall.engine_config(log_queries)
        }
    }
}

impl FirewallArgs {
    /// The engine settings these arguments ask for (the virtual resolvers
    /// left at their defaults); `log_queries` reports every allowed query
    /// too, for `-vv`.
    pub fn engine_config(&self, log_queries: bool) -> Config {
        Config {
            block_mode: self.block_mode,
            block_ttl: self.block_ttl,
            upstream_timeout: Duration::from_millis(self.upstream_timeout_ms),
            max_pending: self.max_pending,
            report_allowed: self.discovery || log_queries,
            answer_canaries: !self.no_canaries,
            learn_addresses: !self.no_address_learning,
            ..Config::default()
        }
    }

    /// The lists, with the enforced ones read as block lists too.
    fn lists(&self) -> ListArgs {
        let mut lists = self.lists.clone();
        lists.blocklists.extend(self.enforce.iter().cloned());
        lists
    }

    /// The names to look up before any app asks: the curated block lists'
    /// (unless left out) and those of the `--enforce` lists.
    pub(crate) fn enforced_names(&self) -> Result<Vec<String>, String> {
        let curated: Vec<_> = if self.lists.no_curated {
            Vec::new()
        } else {
            tacet_rules::curated::catalog()
                .iter()
                .filter(|l| l.default_on)
                .collect()
        };
        let enforced = tacet_runtime::enforced::enforced_names(&curated, &self.enforce)
            .map_err(|e| format!("cannot read a list to enforce: {e}"))?;
        for list in &enforced.left_out {
            eprintln!(
                "tacet: {list}: only the first names are enforced ({} in all at most)",
                tacet_engine::enforce::MAX_ENFORCED_NAMES
            );
        }
        Ok(enforced.names)
    }

    pub(crate) fn store_dir(&self) -> Option<&Path> {
        (!self.no_store).then_some(self.store.as_path())
    }

    /// The rules, mapped from the store's compiled copy when there is a
    /// store (compiled from the lists only when they changed since; see
    /// `compose_through_store`).
    pub(crate) fn load_rules(&self) -> Result<RuleSet, String> {
        match self.store_dir() {
            Some(dir) => rule_sources::load_through_store(&self.lists(), dir),
            None => rule_sources::load(&self.lists(), None),
        }
    }
}

/// Logs what the firewall blocks at debug level (names are private),
/// hands route changes to the route thread, and wakes the shell when the
/// firewall fails on its own.
pub(crate) struct LogEvents {
    pub stopped: mpsc::Sender<i32>,
    pub routes: Option<mpsc::Sender<Vec<Route>>>,
    /// Serve mode's device names, for the journal.
    pub devices: Option<Arc<std::sync::RwLock<crate::serve::DeviceNames>>>,
}

impl Observer for LogEvents {
    fn on_event(&mut self, event: &Event, rules: &RuleSet) {
        match event {
            Event::Blocked {
                name,
                qtype,
                reason,
                ..
            } => {
                // Said only with --log-queries: the words cost more than
                // the rest of a blocked answer's bookkeeping otherwise.
                if log::log_enabled!(log::Level::Debug) {
                    let why = match reason {
                        BlockReason::Rule(rule) => {
                            let list = rules.list(rule.list).map_or("?", |l| l.id.as_str());
                            format!("{list}, line {}", rule.line)
                        }
                        BlockReason::Canary => "canary".to_owned(),
                        BlockReason::NotForDevice => "not for this device".to_owned(),
                        BlockReason::Cname { via, .. } => format!("CNAME to {via}"),
                    };
                    log::debug!("blocked {name} type {qtype} ({why})");
                }
            }
            Event::Rejected {
                name, destination, ..
            } => log::debug!("rejected {destination} ({name})"),
            Event::SharedAddress {
                addr,
                blocked_name,
                allowed_name,
                ..
            } => {
                log::debug!("{addr} is shared by blocked {blocked_name} and allowed {allowed_name}: left reachable");
            }
            Event::RoutesChanged { routes } => {
                if let Some(sender) = &self.routes {
                    let _ = sender.send(routes.clone());
                }
            }
            Event::Allowed { name, qtype, .. } => log::debug!("allowed {name} type {qtype}"),
            // The hook for a gateway's nftables set of rejected addresses.
            Event::AddressLearned {
                addr,
                name,
                ttl,
                client,
                ..
            } => log::debug!(
                "{addr} ({name}) rejected for {}s, learned for {client:?}",
                ttl.as_secs()
            ),
            Event::AnswerRefused {
                name,
                qtype,
                problem,
                ..
            } => {
                log::warn!("an upstream answer was refused ({problem}): the app got SERVFAIL");
                log::debug!("refused the answer for {name} type {qtype}: {problem}");
            }
        }
    }

    fn on_upstream(&mut self, event: &UpstreamEvent) {
        // What the phone shells show as a notice, on stderr here.
        match event {
            UpstreamEvent::Unavailable { reason, .. } => {
                eprintln!("tacet: encrypted DNS unavailable: {reason}")
            }
            UpstreamEvent::Recovered { upstream } => {
                eprintln!("tacet: encrypted DNS works again: {upstream}")
            }
            UpstreamEvent::FellBack { reason } => {
                eprintln!("tacet: falling back to plain DNS: {reason}")
            }
        }
    }

    fn on_stopped(&mut self, error: Option<&RuntimeError>) {
        if error.is_some() {
            let _ = self.stopped.send(0);
        }
    }

    fn app_of(&mut self, connection: &tacet_runtime::Connection) -> Option<String> {
        let devices = self.devices.as_ref()?.read().ok()?;
        devices.name_of(connection.local.ip()).map(str::to_owned)
    }
}

/// `tacet run`.
pub fn run(args: RunArgs, log_queries: bool) -> Result<ExitCode, String> {
    let ours = [IpAddr::V4(args.resolver_v4), IpAddr::V6(args.resolver_v6)];
    let upstreams = upstreams(&args.firewall, &ours)?;
    let (tun, description) = match (&args.tun, args.fd) {
        (Some(name), _) => {
            crate::require_root("tacet run --tun")?;
            let tun = Tun::create(name, 1500).map_err(|e| e.to_string())?;
            crate::interface::configure(name, args.resolver_v4, args.resolver_v6)?;
            (tun, name.clone())
        }
        (None, Some(fd)) => (
            Tun::from_fd(fd).map_err(|e| e.to_string())?,
            format!("fd {fd}"),
        ),
        (None, None) => return Err("give --tun NAME or --fd N".into()),
    };
    let session = Session::prepare(&args.firewall, args.engine_config(log_queries), &upstreams)?;
    // With --fd, routes are the caller's business (as on a phone).
    let routes = args.tun.clone().map(crate::routes::route_thread);
    let observer = Box::new(LogEvents {
        stopped: session.wake.clone(),
        routes,
        devices: None,
    });
    let firewall = Firewall::start(
        tun,
        session.config.clone(),
        Arc::clone(&session.rules),
        observer,
    )
    .map_err(|e| e.to_string())?;
    let upstream_list: Vec<String> = upstreams.iter().map(ToString::to_string).collect();
    // Best effort: the firewall runs on if nobody reads its output.
    let _ = writeln!(
        std::io::stdout().lock(),
        "tacet: ready on {description} (resolvers {} and {}; upstream {})",
        args.resolver_v4,
        args.resolver_v6,
        upstream_list.join(", ")
    );
    session.until_stopped(&args.firewall, firewall, |_| {})
}

/// What `run` and `serve` set up alike around the firewall: the rules,
/// the runtime settings, signals, and later the pid file and list updates.
pub(crate) struct Session {
    /// The rules to start with.
    pub rules: Arc<RuleSet>,
    /// The runtime's settings.
    pub config: RuntimeConfig,
    /// Signals (and the firewall failing on its own, as 0) arrive here.
    pub wake: mpsc::Sender<i32>,
    woken: mpsc::Receiver<i32>,
}

impl Session {
    /// Loads the rules and settles the runtime's settings; signals are
    /// caught from here on.
    pub fn prepare(
        args: &FirewallArgs,
        engine: Config,
        upstreams: &[UpstreamSpec],
    ) -> Result<Self, String> {
        let rules = Arc::new(args.load_rules()?);
        let enforced_names = args.enforced_names()?;
        let (wake, woken) = mpsc::channel();
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
            .map_err(|e| format!("cannot handle signals: {e}"))?;
        let signal_wake = wake.clone();
        std::thread::spawn(move || {
            for signal in signals.forever() {
                let _ = signal_wake.send(signal);
            }
        });
        let store = args.store_dir().map(|dir| StoreLocation {
            dir: dir.to_owned(),
            config: StoreConfig {
                journal_max_bytes: args.journal_kib * 1024,
                discovery: args.discovery,
                ..StoreConfig::default()
            },
        });
        let extra_ca = match &args.upstream_ca {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?,
            ),
            None => None,
        };
        let config = RuntimeConfig {
            engine,
            upstreams: upstreams.to_vec(),
            upstream_options: UpstreamOptions {
                mode: args.upstream_mode,
                idle: Duration::from_secs(args.upstream_idle_secs.max(1)),
                extra_ca,
            },
            enforced_names,
            store,
        };
        Ok(Self {
            rules,
            config,
            wake,
            woken,
        })
    }

    /// Runs until SIGINT, SIGTERM or the firewall failing; SIGHUP re-reads
    /// the lists (the custom one included) and swaps them in whole, and
    /// calls `reload` for the shell's own settings. Prints the final
    /// counters.
    pub fn until_stopped(
        self,
        args: &FirewallArgs,
        mut firewall: Firewall,
        mut reload: impl FnMut(&Firewall),
    ) -> Result<ExitCode, String> {
        let _pid_file = args.store_dir().map(PidFile::write);
        let lists = match args.store_dir() {
            Some(dir) if args.list_check_secs > 0 => {
                let fetcher = crate::lists_cmd::fetcher(
                    args.list_ca.as_deref(),
                    subscriptions::FetchLimits::default(),
                )?;
                let every = Duration::from_secs(args.list_check_secs);
                Some(list_updater(
                    dir.to_owned(),
                    every,
                    fetcher,
                    self.wake.clone(),
                )?)
            }
            _ => None,
        };
        loop {
            match self.woken.recv() {
                Ok(SIGHUP) => {}
                Ok(crate::serve::DEVICES_CHANGED) => {
                    reload(&firewall);
                    continue;
                }
                _ => break,
            }
            match args
                .load_rules()
                .and_then(|r| Ok((r, args.enforced_names()?)))
            {
                Ok((rules, enforced)) => {
                    firewall.set_rules(Arc::new(rules));
                    firewall.set_enforced_names(enforced);
                    log::info!("rules reloaded");
                }
                Err(e) => eprintln!("tacet: kept the old rules: {e}"),
            }
            reload(&firewall);
            // A list may have been added or removed: the schedule looks again.
            if let Some(poke) = &lists {
                let _ = poke.send(());
            }
        }
        drop(lists);
        // The encrypted transports' counters live on the I/O thread: read
        // them just before it stops.
        let encrypted = firewall.upstream_stats();
        let serve = firewall.serve_stats();
        let stats = firewall
            .stop()
            .map_err(|e| format!("the firewall stopped: {e}"))?;
        let _ = writeln!(
            std::io::stdout().lock(),
            "tacet: stats {}",
            stats_json(&stats, encrypted.as_ref(), serve.as_ref())
        );
        Ok(ExitCode::SUCCESS)
    }
}

/// Starts the thread that checks the store's subscribed lists when they
/// are due (sleeping until the next one is; a send on the returned channel
/// makes it look again, dropping it ends the thread), and sends SIGHUP to
/// `reload` when a copy changed, so the main loop recomposes the rules off
/// the I/O thread and swaps them in.
fn list_updater(
    dir: PathBuf,
    every: Duration,
    fetcher: Fetcher,
    reload: mpsc::Sender<i32>,
) -> Result<mpsc::Sender<()>, String> {
    /// After an error, or while `tacet lists update` holds the lists.
    const RETRY: Duration = Duration::from_secs(60);
    let (poke, poked) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("tacet-lists".into())
        .spawn(move || loop {
            let now = subscriptions::now_unix_ms();
            let listed = tacet_store::subscriptions::list(&dir).unwrap_or_else(|e| {
                log::warn!("cannot read the subscribed lists: {e}");
                Vec::new()
            });
            let (due, next) = subscriptions::due(&listed, now, every);
            let mut wait = next.map_or(every, |at| Duration::from_millis(at.saturating_sub(now)));
            if !due.is_empty() {
                let which = Which::Only(due);
                let options = UpdateOptions::default();
                match subscriptions::update(&dir, &which, &fetcher, options, false, &mut Logged) {
                    Ok(Some(report)) => {
                        if report.changed() {
                            let _ = reload.send(SIGHUP);
                        }
                        continue;
                    }
                    Ok(None) => wait = RETRY,
                    Err(e) => {
                        log::warn!("list update failed: {e}");
                        wait = RETRY;
                    }
                }
            }
            match poked.recv_timeout(wait.clamp(Duration::from_secs(1), every)) {
                Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        })
        .map_err(|e| format!("cannot start the list updates: {e}"))?;
    Ok(poke)
}

/// What the scheduled updates say: failures on stderr, as the upstream
/// notices are (names of lists are not browsing history).
struct Logged;

impl subscriptions::Progress for Logged {
    fn done(&mut self, update: &ListUpdate) {
        match &update.outcome {
            Outcome::Changed { before, after } => {
                log::info!("list {}: new copy, {after} rules (was {before})", update.id)
            }
            Outcome::Unchanged => log::info!("list {}: unchanged", update.id),
            Outcome::Kept(why) => eprintln!(
                "tacet: list {} not updated, filtering with its last good copy: {why}",
                update.id
            ),
            Outcome::Removed => {}
        }
    }
}

/// The store's pid file, so `tacet block` can ask this process to reload;
/// removed on exit.
struct PidFile(PathBuf);

impl PidFile {
    fn write(dir: &Path) -> Self {
        let path = dir.join(PID_FILE);
        if let Err(e) = std::fs::write(&path, format!("{}\n", std::process::id())) {
            log::warn!("cannot write {}: {e}", path.display());
        }
        Self(path)
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The upstreams given, or else the system's, never the firewall itself
/// (`ours`).
pub(crate) fn upstreams(args: &FirewallArgs, ours: &[IpAddr]) -> Result<Vec<UpstreamSpec>, String> {
    if !args.upstreams.is_empty() {
        return Ok(args.upstreams.clone());
    }
    let text = std::fs::read_to_string("/etc/resolv.conf")
        .map_err(|e| format!("no --upstream given and /etc/resolv.conf is unreadable: {e}"))?;
    let found: Vec<SocketAddr> = resolv_conf::nameservers(&text)
        .into_iter()
        .filter(|s| !ours.contains(&s.ip()))
        .collect();
    if found.is_empty() {
        return Err("no --upstream given and /etc/resolv.conf lists no usable nameserver".into());
    }
    Ok(found.into_iter().map(UpstreamSpec::plain).collect())
}

/// The counters as one JSON object, for scripts and tests; those of the
/// encrypted transports (connections opened, failed, closed idle...) under
/// `encrypted`, and serve mode's sockets' under `serve`.
pub fn stats_json(
    stats: &Stats,
    encrypted: Option<&UpstreamStats>,
    serve: Option<&ServeStats>,
) -> String {
    let json = serde_json::to_value(stats).and_then(|mut value| {
        if let (Some(map), Some(encrypted)) = (value.as_object_mut(), encrypted) {
            map.insert("encrypted".into(), serde_json::to_value(encrypted)?);
        }
        if let (Some(map), Some(serve)) = (value.as_object_mut(), serve) {
            map.insert("serve".into(), serde_json::to_value(serve)?);
        }
        serde_json::to_string(&value)
    });
    json.unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_parse_plain_and_encrypted() {
        let addr = |t: &str| parse_upstream(t).unwrap().addr.to_string();
        assert_eq!(addr("192.0.2.1"), "192.0.2.1:53");
        assert_eq!(addr("192.0.2.1:5353"), "192.0.2.1:5353");
        assert_eq!(addr("2001:db8::1"), "[2001:db8::1]:53");
        assert_eq!(addr("[2001:db8::1]:5353"), "[2001:db8::1]:5353");
        assert_eq!(addr("tls://9.9.9.9#dns.quad9.net"), "9.9.9.9:853");
        assert!(
            parse_upstream("https://1.1.1.1/dns-query#cloudflare-dns.com")
                .unwrap()
                .is_encrypted()
        );
        assert!(parse_upstream("dns.example")
            .unwrap_err()
            .contains("not an IP address"));
        assert_eq!(parse_mode("opportunistic").unwrap(), Mode::Opportunistic);
        assert!(parse_mode("lax").is_err());
    }

    #[test]
    fn stats_carry_the_encrypted_transports_counters() {
        let stats = Stats {
            queries: 7,
            ..Stats::default()
        };
        let encrypted = UpstreamStats {
            connections: 1,
            connect_failures: 2,
            ..UpstreamStats::default()
        };
        let json: serde_json::Value =
            serde_json::from_str(&stats_json(&stats, Some(&encrypted), None)).unwrap();
        assert_eq!(json["queries"], 7);
        assert_eq!(json["encrypted"]["connections"], 1);
        assert_eq!(json["encrypted"]["connect_failures"], 2);
        let plain: serde_json::Value =
            serde_json::from_str(&stats_json(&stats, None, None)).unwrap();
        assert!(plain.get("encrypted").is_none());
    }

    #[test]
    fn block_modes() {
        assert_eq!(parse_block_mode("nxdomain").unwrap(), BlockMode::Nxdomain);
        assert!(parse_block_mode("drop").is_err());
    }
}
