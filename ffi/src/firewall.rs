//! The `Firewall` object: what a shell holds for the life of its VPN
//! service. Exported methods convert, delegate and map the error; the
//! plumbing below them (sessions, rule changes, per-name rules) is in the inherent
//! `impl` at the end.
//!
//! # Locks
//!
//! `current` (settings and compiled rules) and `session` (the running
//! firewall, if any) are each held only for the moment it takes to read or
//! swap them: never while joining a thread, never while a foreign callback
//! runs, so any method may be called from any thread, listener included.
//! Start and stop take the session out of its lock and start or stop it
//! unlocked; two concurrent starts both succeed and the last one wins (the
//! other is stopped).

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tacet_rules::RuleSet;
use tacet_runtime::{RuntimeConfig, Tun};
use tacet_store::CustomRuleKind;

use crate::attribution::{AppResolver, ResolverCell};
use crate::error::{Error, Result};
use crate::events::{Dispatcher, FirewallListener, Shared};
use crate::records::{CheckResult, FirewallConfig, FirewallStats, ParseReport};
use crate::settings::Settings;

/// The DNS firewall: start it on the VPN tunnel's file descriptor, stop it,
/// pause it, change its lists and read its counters. Every method may be
/// called from any thread.
#[derive(uniffi::Object)]
pub struct Firewall {
    current: Mutex<Current>,
    session: Mutex<Option<Session>>,
    /// The counters of the last run, once it stopped.
    last_stats: Mutex<tacet_engine::Stats>,
    listener: Option<Arc<dyn FirewallListener>>,
    apps: ResolverCell,
}

/// The settings in force and the rules compiled from them.
struct Current {
    settings: Settings,
    rules: Arc<RuleSet>,
    /// How the pasted list was read when `rules` were built.
    report: tacet_rules::ParseReport,
}

/// Whether [`Firewall::reconfigure`] builds the rules again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rebuild {
    /// Only when what they are made of changed (the lists on, the pasted
    /// list, the store): a new upstream or discovery mode costs no compile.
    IfListsChanged,
    /// Always: a list in the store changed under the same settings.
    Always,
}

/// One run: from `start` to `stop`.
struct Session {
    shared: Arc<Shared>,
    dispatcher: Dispatcher,
}

#[uniffi::export]
impl Firewall {
    /// A stopped firewall with this configuration; `listener` hears its
    /// events. Fails with `InvalidConfig` if a setting cannot be used.
    #[uniffi::constructor]
    pub fn new(
        config: FirewallConfig,
        listener: Option<Box<dyn FirewallListener>>,
    ) -> Result<Arc<Self>> {
        Ok(Arc::new(Self::create(config, listener.map(Arc::from))?))
    }

    /// Starts filtering on the tunnel `tun_fd` (Android: the descriptor of
    /// `VpnService.Builder.establish()`, detached; iOS: the utun). The
    /// firewall owns the descriptor from this call on and closes it when it
    /// stops, also when starting fails (except with `BadFileDescriptor`).
    /// Starting while running swaps in the new tunnel (Android re-establishes
    /// its interface to change routes) and keeps the firewall's state:
    /// learned addresses, queries in flight, counters, a pause. Fails with
    /// `BadFileDescriptor`,
    /// `InvalidConfig` (no upstream), `UpstreamUnreachable` or
    /// `StoreUnavailable` (the store is locked by another process).
    pub fn start(&self, tun_fd: i32) -> Result<()> {
        Ok(self.start_session(tun_fd)?)
    }

    /// Stops filtering, writes the journal out and closes the tunnel.
    /// Calling it again, or on a stopped firewall, does nothing.
    pub fn stop(&self) {
        self.stop_session();
    }

    /// Whether the firewall is running (false once it failed on its own).
    pub fn is_running(&self) -> bool {
        self.shared()
            .is_some_and(|s| s.runtime.lock().as_ref().is_some_and(|r| r.is_running()))
    }

    /// Lets every query through for `minutes` minutes, then filters again.
    pub fn pause(&self, minutes: u32) {
        self.with_runtime(|r| r.pause(Some(Duration::from_secs(u64::from(minutes) * 60))));
    }

    /// Filters again now, ending a pause.
    pub fn resume(&self) {
        self.with_runtime(|r| r.pause(None));
    }

    /// The counters of the running firewall, or of the last run once
    /// stopped.
    pub fn stats(&self) -> FirewallStats {
        self.current_stats().into()
    }

    /// The configuration in force.
    pub fn config(&self) -> FirewallConfig {
        self.current.lock().settings.config.clone()
    }

    /// Replaces the whole configuration and returns how the pasted list was
    /// read. Lists, the pasted list, discovery mode and the upstreams apply
    /// at once; block mode, block TTL, the plain fallback, the extra CA and
    /// the store directory at the next `start`.
    pub fn set_config(&self, config: FirewallConfig) -> Result<ParseReport> {
        Ok(self.reconfigure(Rebuild::IfListsChanged, |c| *c = config)?)
    }

    /// Turns one curated list on or off (see `curatedLists()`); applies at
    /// once. Fails with `InvalidConfig` for an unknown id.
    pub fn set_list_enabled(&self, list_id: String, enabled: bool) -> Result<()> {
        self.reconfigure(Rebuild::IfListsChanged, |c| {
            c.enabled_lists.retain(|id| *id != list_id);
            if enabled {
                c.enabled_lists.push(list_id);
            }
        })?;
        Ok(())
    }

    /// Replaces the pasted list (any syntax tacet reads) and returns how
    /// each line was read; bad lines are reported, never fatal. Applies at
    /// once.
    pub fn set_custom_list(&self, text: String) -> Result<ParseReport> {
        Ok(self.reconfigure(Rebuild::IfListsChanged, |c| c.custom_list = text)?)
    }

    /// Turns discovery mode (journal allowed queries too) on or off;
    /// applies at once.
    pub fn set_discovery(&self, on: bool) -> Result<()> {
        self.reconfigure(Rebuild::IfListsChanged, |c| c.discovery = on)?;
        Ok(())
    }

    /// What the rules in force say about `name`. Fails with `InvalidInput`
    /// if it is not a DNS name.
    pub fn check_name(&self, name: String) -> Result<CheckResult> {
        Ok(self.check(&name)?)
    }

    /// Sets who names the app behind each journaled query and rejected
    /// connection (`null`: nobody; the journal then has no app). Takes
    /// effect at once, also on a running firewall. See [`AppResolver`]: it
    /// is called on the firewall's own thread.
    pub fn set_app_resolver(&self, resolver: Option<Box<dyn AppResolver>>) {
        self.apps.set(resolver.map(Arc::from));
    }

    /// Blocks `name` and its subdomains (a rule in the store's custom
    /// list), and applies the rules at once. Needs a store directory.
    pub fn block_name(&self, name: String) -> Result<()> {
        Ok(self.set_name_rule(&name, Some(CustomRuleKind::Block))?)
    }

    /// Allows `name` and its subdomains whatever the lists say, and applies
    /// the rules at once. Needs a store directory.
    pub fn allow_name(&self, name: String) -> Result<()> {
        Ok(self.set_name_rule(&name, Some(CustomRuleKind::Allow))?)
    }

    /// Removes the user's block or allow rule for `name`, if any, and
    /// applies the rules at once. Needs a store directory.
    pub fn forget_name(&self, name: String) -> Result<()> {
        Ok(self.set_name_rule(&name, None)?)
    }

    /// Re-reads the store's subscribed lists (after `ListSubscriptions`
    /// changed one) and applies the rules at once; the lists are compiled
    /// on the caller's thread, never the firewall's.
    pub fn reload_lists(&self) -> Result<()> {
        self.reconfigure(Rebuild::Always, |_| {})?;
        Ok(())
    }
}

impl Firewall {
    fn create(
        config: FirewallConfig,
        listener: Option<Arc<dyn FirewallListener>>,
    ) -> Result<Self, Error> {
        let settings = Settings::parse(config)?;
        let (rules, report) = settings.build_rules()?;
        Ok(Self {
            current: Mutex::new(Current {
                settings,
                rules: Arc::new(rules),
                report,
            }),
            session: Mutex::new(None),
            last_stats: Mutex::new(tacet_engine::Stats::default()),
            listener,
            apps: ResolverCell::default(),
        })
    }

    /// The running session's shared state, if running.
    fn shared(&self) -> Option<Arc<Shared>> {
        self.session.lock().as_ref().map(|s| Arc::clone(&s.shared))
    }

    fn with_runtime(&self, f: impl FnOnce(&tacet_runtime::Firewall)) {
        if let Some(shared) = self.shared() {
            if let Some(runtime) = shared.runtime.lock().as_ref() {
                f(runtime);
            }
        }
    }

    fn current_stats(&self) -> tacet_engine::Stats {
        let live = self
            .shared()
            .and_then(|s| s.runtime.lock().as_ref().and_then(|r| r.stats()));
        live.unwrap_or_else(|| *self.last_stats.lock())
    }

    fn start_session(&self, tun_fd: i32) -> Result<(), Error> {
        // The descriptor is checked (and owned) before a running session is
        // touched, so a bad one leaves the old tunnel working.
        let tun = Tun::from_fd(tun_fd)?;
        if let Some(shared) = self.shared() {
            if let Some(runtime) = shared.runtime.lock().as_ref().filter(|r| r.is_running()) {
                return Ok(runtime.replace_tunnel(tun)?);
            }
        }
        self.stop_session();
        let (settings, rules) = {
            let current = self.current.lock();
            (current.settings.clone(), Arc::clone(&current.rules))
        };
        let shared = Shared::new();
        let (dispatcher, observer) = Dispatcher::start(
            Arc::clone(&shared),
            self.listener.clone(),
            self.apps.clone(),
        )
        .map_err(|e| Error::Runtime(tacet_runtime::RuntimeError::Io(e)))?;
        let config = RuntimeConfig {
            engine: settings.engine_config(),
            upstreams: settings.upstreams.clone(),
            upstream_options: settings.upstream_options(),
            enforced_names: settings.enforced_names(),
            store: settings.store_location(),
        };
        match tacet_runtime::Firewall::start(tun, config, rules, observer) {
            Ok(runtime) => *shared.runtime.lock() = Some(runtime),
            Err(e) => {
                dispatcher.shutdown(None, false);
                return Err(e.into());
            }
        }
        let displaced = self.session.lock().replace(Session { shared, dispatcher });
        if let Some(session) = displaced {
            Self::end(session);
        }
        Ok(())
    }

    fn stop_session(&self) {
        let session = self.session.lock().take();
        if let Some(session) = session {
            if let Some(stats) = Self::end(session) {
                *self.last_stats.lock() = stats;
            }
        }
    }

    /// Stops a session's runtime and dispatcher, with no lock held; returns
    /// the final counters (none if the runtime had failed).
    fn end(session: Session) -> Option<tacet_engine::Stats> {
        let runtime = session.shared.runtime.lock().take();
        let stats = runtime.and_then(|mut r| match r.stop() {
            Ok(stats) => Some(stats),
            Err(e) => {
                log::info!("ffi: the firewall had stopped: {e}");
                None
            }
        });
        session.dispatcher.shutdown(stats, true);
        stats
    }

    /// Applies `change` to a copy of the configuration; if the result is
    /// usable, it becomes the configuration and its rules go live. The
    /// rules are compiled again only when `rebuild` says so.
    fn reconfigure(
        &self,
        rebuild: Rebuild,
        change: impl FnOnce(&mut FirewallConfig),
    ) -> Result<ParseReport, Error> {
        let mut current = self.current.lock();
        let mut config = current.settings.config.clone();
        change(&mut config);
        let settings = Settings::parse(config)?;
        let old = &current.settings.config;
        let same_lists = old.enabled_lists == settings.config.enabled_lists
            && old.custom_list == settings.config.custom_list
            && old.store_dir == settings.config.store_dir;
        let rebuilt = rebuild == Rebuild::Always || !same_lists;
        let (rules, report) = if !rebuilt {
            (Arc::clone(&current.rules), current.report.clone())
        } else {
            let (rules, report) = settings.build_rules()?;
            (Arc::new(rules), report)
        };
        let discovery = settings.config.discovery;
        let upstreams = settings.upstreams.clone();
        let enforced = settings.enforced_names();
        current.settings = settings;
        current.rules = Arc::clone(&rules);
        current.report = report.clone();
        drop(current);
        if let Some(shared) = self.shared() {
            if let Some(runtime) = shared.runtime.lock().as_ref() {
                runtime.set_upstreams(upstreams)?;
                runtime.set_discovery(discovery);
                if rebuilt {
                    // Returns once the I/O thread has the rules: "applies
                    // at once" holds for the very next query.
                    runtime.set_rules(rules);
                    runtime.set_enforced_names(enforced);
                }
            }
        }
        Ok((&report).into())
    }

    fn check(&self, name: &str) -> Result<CheckResult, Error> {
        let normalized = tacet_rules::normalize_name(name).map_err(|e| {
            Error::Input(format!(
                "'{}' is not a DNS name: {e}",
                name.chars().take(64).collect::<String>()
            ))
        })?;
        let rules = Arc::clone(&self.current.lock().rules);
        let verdict = rules.lookup(&normalized);
        Ok(CheckResult::new(normalized, verdict, &rules))
    }

    /// Edits the store's custom list through the running firewall (which
    /// holds the store's lock), or through a store writer opened for the
    /// edit when stopped; then re-applies the rules.
    fn set_name_rule(&self, name: &str, kind: Option<CustomRuleKind>) -> Result<(), Error> {
        let (dir, store_config) = {
            let current = self.current.lock();
            let dir = current.settings.store_dir.clone().ok_or(Error::NoStore)?;
            (dir, current.settings.store_config())
        };
        let running = self.shared().and_then(|shared| {
            let runtime = shared.runtime.lock();
            runtime
                .as_ref()
                .filter(|r| r.is_running())
                .map(|r| r.edit_custom_list(name, kind).map_err(Error::from))
        });
        let changed = match running {
            Some(changed) => changed?,
            None => {
                let mut store = tacet_store::Store::open(&dir, store_config)?;
                match kind {
                    Some(kind) => store.add_custom_rule(name, kind)?,
                    None => store.remove_custom_rule(name)?,
                }
            }
        };
        if changed {
            self.reconfigure(Rebuild::Always, |_| {})?;
        }
        Ok(())
    }
}

impl Drop for Firewall {
    fn drop(&mut self) {
        self.stop_session();
    }
}
