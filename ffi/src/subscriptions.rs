//! The `ListSubscriptions` object: the lists a store subscribes to by URL,
//! with their status as records, and updates the shells run from their
//! platform's job scheduler (Android `JobScheduler` with network and
//! unmetered constraints, iOS background refresh), never from a timer.
//! Each method converts, delegates to `tacet_runtime::subscriptions` and
//! the store, and maps the error. After an update that changed a list,
//! call `Firewall.reloadLists()` so the running firewall uses it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tacet_runtime::subscriptions::{
    self, FetchLimits, Fetcher, Outcome, Quiet, UpdateOptions, Which,
};
use tacet_store::subscriptions as store;

use crate::error::{Error, Result};

/// One subscribed list and how its last check went.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Subscription {
    /// Its id (what the journal names it by).
    pub id: String,
    /// Where it is fetched from.
    pub url: String,
    /// What the user called it.
    pub title: String,
    /// When it was subscribed to.
    pub added_unix_ms: u64,
    /// When it was last checked, successfully or not.
    pub last_checked_unix_ms: Option<u64>,
    /// When the server last confirmed the copy.
    pub last_success_unix_ms: Option<u64>,
    /// When the copy the firewall uses last changed (`None`: no copy yet).
    pub last_changed_unix_ms: Option<u64>,
    /// Rules in that copy.
    pub names: u64,
    /// Its lines.
    pub lines: u64,
    /// Its lines that could not be used.
    pub unused_lines: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// Why the last check did not give a new copy (`None`: it did, or
    /// there was nothing new).
    pub last_error: Option<String>,
    /// Checks that failed in a row.
    pub failures: u32,
    /// When it is next due on the daily schedule (`None` for a damaged
    /// one, which is never fetched).
    pub next_check_unix_ms: Option<u64>,
    /// Why its status cannot be read, if it cannot; its copy, if any,
    /// still filters. Remove it and subscribe again.
    pub damaged: Option<String>,
}

impl From<&store::Listed> for Subscription {
    fn from(listed: &store::Listed) -> Self {
        match listed {
            Ok(s) => Self {
                id: s.id.clone(),
                url: s.url.clone(),
                title: s.title.clone(),
                added_unix_ms: s.added_unix_ms,
                last_checked_unix_ms: s.last_checked_unix_ms,
                last_success_unix_ms: s.last_success_unix_ms,
                last_changed_unix_ms: s.last_changed_unix_ms,
                names: s.names,
                lines: s.lines,
                unused_lines: s.unused_lines,
                bytes: s.copy_bytes,
                last_error: s.last_error.clone(),
                failures: s.failures,
                next_check_unix_ms: Some(subscriptions::next_check_unix_ms(
                    s,
                    subscriptions::DEFAULT_INTERVAL,
                )),
                damaged: None,
            },
            Err(d) => Self {
                id: d.id.clone(),
                url: String::new(),
                title: d.id.clone(),
                added_unix_ms: 0,
                last_checked_unix_ms: None,
                last_success_unix_ms: None,
                last_changed_unix_ms: None,
                names: 0,
                lines: 0,
                unused_lines: 0,
                bytes: 0,
                last_error: None,
                failures: 0,
                next_check_unix_ms: None,
                damaged: Some(d.why.clone()),
            },
        }
    }
}

/// What an update did to one list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum UpdateOutcome {
    /// A new copy was taken: call `Firewall.reloadLists()`.
    Changed {
        /// Rules in the copy it replaced (0: none).
        before: u64,
        /// Rules in the new copy.
        after: u64,
    },
    /// The copy is current.
    Unchanged,
    /// The last good copy stays; `reason` says why (HTTP 404, a web page,
    /// the server stopped sending...).
    Kept {
        /// Why, in plain words.
        reason: String,
    },
    /// The list was removed while it was being fetched.
    Removed,
}

/// One list's update.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ListUpdate {
    /// The list's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// What happened.
    pub outcome: UpdateOutcome,
}

impl From<subscriptions::ListUpdate> for ListUpdate {
    fn from(u: subscriptions::ListUpdate) -> Self {
        let outcome = match u.outcome {
            Outcome::Changed { before, after } => UpdateOutcome::Changed { before, after },
            Outcome::Unchanged => UpdateOutcome::Unchanged,
            Outcome::Kept(reason) => UpdateOutcome::Kept { reason },
            Outcome::Removed => UpdateOutcome::Removed,
        };
        Self {
            id: u.id,
            title: u.title,
            outcome,
        }
    }
}

/// The lists subscribed to in one store directory. Any process may hold
/// one (the app, the VPN extension); edits and updates lock the store's
/// list directory for the moment they need it.
#[derive(uniffi::Object)]
pub struct ListSubscriptions {
    dir: PathBuf,
    fetcher: Fetcher,
}

#[uniffi::export]
impl ListSubscriptions {
    /// The subscriptions of the store in `store_dir`, fetched trusting the
    /// platform's certificates and `extra_ca_pem` (PEM), as the encrypted
    /// upstreams are. Fails with `InvalidConfig` if the CA does not parse.
    #[uniffi::constructor]
    pub fn new(store_dir: String, extra_ca_pem: Option<String>) -> Result<Arc<Self>> {
        let fetcher = Fetcher::new(
            extra_ca_pem.as_deref().map(str::as_bytes),
            FetchLimits::default(),
        )
        .map_err(Error::Config)?;
        Ok(Arc::new(Self {
            dir: PathBuf::from(store_dir),
            fetcher,
        }))
    }

    /// Every subscribed list, in the order added.
    pub fn list(&self) -> Result<Vec<Subscription>> {
        let listed = store::list(&self.dir).map_err(Error::from)?;
        Ok(listed.iter().map(Subscription::from).collect())
    }

    /// Subscribes to `url` (https:// only) under `title` (default: the
    /// URL's file name). Due at once: run `update` next. Fails with
    /// `InvalidInput` for a URL that is not https or is subscribed to
    /// already, or when 64 lists are.
    pub fn add(&self, url: String, title: Option<String>) -> Result<Subscription> {
        let sub = subscriptions::subscribe(&self.dir, url.trim(), title.as_deref(), false)
            .map_err(Error::from)?;
        Ok((&Ok(sub)).into())
    }

    /// Unsubscribes from list `id` (its copy goes too); false if there was
    /// none. Call `Firewall.reloadLists()` after.
    pub fn remove(&self, id: String) -> Result<bool> {
        Ok(store::remove(&self.dir, &id).map_err(Error::from)?)
    }

    /// Checks the lists `ids` (empty: all) now, waiting for an update
    /// under way elsewhere to finish first. Blocks for as long as the
    /// downloads take (bounded): call it off the main thread.
    pub fn update(&self, ids: Vec<String>, force: bool) -> Result<Vec<ListUpdate>> {
        let which = if ids.is_empty() {
            Which::All
        } else {
            Which::Only(ids)
        };
        Ok(self.run(&which, force, true)?.unwrap_or_default())
    }

    /// Checks the lists that are due on the daily schedule, for a job
    /// scheduler's run; returns none when another update is under way.
    pub fn update_due(&self) -> Result<Vec<ListUpdate>> {
        let which = Which::Due(subscriptions::DEFAULT_INTERVAL);
        Ok(self.run(&which, false, false)?.unwrap_or_default())
    }

    /// When the next list is due (to schedule the next job), `None` if no
    /// list ever is.
    pub fn next_check_unix_ms(&self) -> Result<Option<u64>> {
        let listed = store::list(&self.dir).map_err(Error::from)?;
        let now = subscriptions::now_unix_ms();
        let (due, next) = subscriptions::due(&listed, now, subscriptions::DEFAULT_INTERVAL);
        Ok(if due.is_empty() { next } else { Some(now) })
    }
}

impl ListSubscriptions {
    fn run(
        &self,
        which: &Which,
        force: bool,
        wait: bool,
    ) -> Result<Option<Vec<ListUpdate>>, Error> {
        let report = subscriptions::update(
            Path::new(&self.dir),
            which,
            &self.fetcher,
            UpdateOptions { force },
            wait,
            &mut Quiet,
        )?;
        Ok(report.map(|r| r.lists.into_iter().map(ListUpdate::from).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_firewall_filters_with_the_stores_copies_and_reloads_them() {
        let dir = tempfile::tempdir().unwrap();
        let subs = ListSubscriptions::new(dir.path().display().to_string(), None).unwrap();
        let sub = subs
            .add("https://lists.example/ads.txt".into(), None)
            .unwrap();
        // A copy as an update leaves it.
        let mut listed = store::get(dir.path(), &sub.id).unwrap().unwrap().unwrap();
        let mut copy = store::stage_copy(dir.path(), &sub.id).unwrap();
        copy.write_all(b"tracker.lists.example\n").unwrap();
        listed.copy_bytes = copy.len();
        listed.copy_crc32 = copy.crc32();
        listed.names = 1;
        listed.last_changed_unix_ms = Some(1);
        assert!(store::record(dir.path(), &listed, Some(copy)).unwrap());
        let config = crate::FirewallConfig {
            upstreams: vec!["127.0.0.1:5399".into()],
            store_dir: Some(dir.path().display().to_string()),
            ..crate::default_config()
        };
        let firewall = crate::Firewall::new(config, None).unwrap();
        let check = firewall
            .check_name("a.tracker.lists.example".into())
            .unwrap();
        assert_eq!(check.verdict, crate::Verdict::Blocked);
        assert_eq!(check.list_id.as_deref(), Some("ads"));
        assert!(subs.remove("ads".into()).unwrap());
        firewall.reload_lists().unwrap();
        let check = firewall
            .check_name("a.tracker.lists.example".into())
            .unwrap();
        assert_eq!(check.verdict, crate::Verdict::Unlisted);
    }

    #[test]
    fn subscribe_update_and_remove_through_the_records() {
        let dir = tempfile::tempdir().unwrap();
        let subs = ListSubscriptions::new(dir.path().display().to_string(), None).unwrap();
        assert!(matches!(
            subs.add("http://127.0.0.1/list.txt".into(), None),
            Err(crate::FirewallError::InvalidInput { .. })
        ));
        // A port nobody listens on, on loopback: the first check fails and
        // says why, and the subscription stays.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let sub = subs
            .add(format!("https://{closed}/ads.txt"), Some("Ads".into()))
            .unwrap();
        assert_eq!((sub.id.as_str(), sub.names), ("ads", 0));
        assert!(subs.next_check_unix_ms().unwrap().is_some());
        let updates = subs.update(Vec::new(), false).unwrap();
        assert_eq!(updates.len(), 1);
        let UpdateOutcome::Kept { reason } = &updates[0].outcome else {
            panic!("{updates:?}")
        };
        assert!(reason.contains("cannot connect"), "{reason}");
        let listed = subs.list().unwrap();
        assert_eq!(listed[0].last_error.as_deref(), Some(reason.as_str()));
        assert_eq!(listed[0].failures, 1);
        assert!(matches!(
            subs.update(vec!["nope".into()], false),
            Err(crate::FirewallError::InvalidInput { .. })
        ));
        assert!(subs.remove("ads".into()).unwrap());
        assert!(subs.list().unwrap().is_empty());
        assert!(matches!(
            ListSubscriptions::new(String::new(), Some("not a certificate".into())),
            Err(crate::FirewallError::InvalidConfig { .. })
        ));
    }
}
