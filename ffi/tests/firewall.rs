//! The Firewall object end to end over a socketpair tunnel: answers,
//! events and their throttling, the journal, restarts, re-entrant
//! listeners and the typed errors.

mod common;

use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use tacet_ffi::{
    Firewall, FirewallError, FirewallEvent, FirewallListener, JournalAction, JournalFilter,
    JournalReason, StoreReader,
};

fn null() -> Option<Vec<std::net::IpAddr>> {
    Some(vec![std::net::Ipv4Addr::UNSPECIFIED.into()])
}

#[test]
fn blocked_names_are_answered_counted_reported_and_journaled() {
    let store = tempfile::tempdir().expect("tempdir");
    let (listener, events) = common::Recorder::new();
    let firewall = Firewall::new(common::config(Some(store.path())), Some(listener)).expect("new");
    let (phone, fd) = common::tunnel();
    firewall.start(fd).expect("start");
    assert!(firewall.is_running());
    assert_eq!(phone.resolve(1, "api-mifit.huami.com"), null());
    assert_eq!(phone.resolve(2, "x.blocked.tacet.test"), null());
    let stats = firewall.stats();
    assert_eq!((stats.queries, stats.blocked), (2, 2));

    // The curated encrypted-DNS list's addresses are announced as routes
    // (at start, so possibly before the first report of the counters).
    let mut routes = None;
    let first = loop {
        match events.recv_timeout(Duration::from_secs(3)).expect("event") {
            FirewallEvent::RoutesChanged { routes: announced } => routes = Some(announced),
            other => break other,
        }
    };
    assert!(matches!(first, FirewallEvent::StatsChanged { stats } if stats.blocked >= 1));

    firewall.stop();
    let rest: Vec<_> = events.try_iter().collect();
    let routes = routes
        .or_else(|| {
            rest.iter().find_map(|e| match e {
                FirewallEvent::RoutesChanged { routes } => Some(routes.clone()),
                _ => None,
            })
        })
        .expect("routes announced");
    for route in ["8.8.8.8/32", "1.1.1.1/32", "223.5.5.5/32"] {
        assert!(
            routes.iter().any(|r| r == route),
            "{route} not in {routes:?}"
        );
    }
    assert_eq!(rest.last(), Some(&FirewallEvent::Stopped { error: None }));
    let last_stats = rest.iter().rev().find_map(|e| match e {
        FirewallEvent::StatsChanged { stats } => Some(*stats),
        _ => None,
    });
    assert_eq!(
        last_stats
            .map_or(0, |s| s.blocked)
            .max(first_blocked(&first)),
        2
    );

    let reader = StoreReader::open(store.path().to_string_lossy().into_owned()).expect("reader");
    let filter = JournalFilter {
        action: Some(JournalAction::Blocked),
        ..JournalFilter::default()
    };
    let page = reader.journal(filter, None, 10).expect("journal");
    let names: Vec<_> = page.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["x.blocked.tacet.test", "api-mifit.huami.com"]);
    assert_eq!(
        page.entries[0].reason,
        JournalReason::Rule {
            list_id: "pasted".into(),
            line: 1
        }
    );
    assert_eq!(reader.counters(5).expect("counters").blocked_total, 2);
}

fn first_blocked(event: &FirewallEvent) -> u64 {
    match event {
        FirewallEvent::StatsChanged { stats } => stats.blocked,
        _ => 0,
    }
}

#[test]
fn stats_events_are_throttled_and_the_last_one_is_current() {
    let (listener, events) = common::Recorder::new();
    let firewall = Firewall::new(common::config(None), Some(listener)).expect("new");
    let (phone, fd) = common::tunnel();
    firewall.start(fd).expect("start");
    let started = Instant::now();
    for id in 0..200 {
        assert_eq!(phone.resolve(id, "api-mifit.huami.com"), null());
    }
    let busy = started.elapsed();
    // The report owed at the end of the last window comes without a query.
    std::thread::sleep(Duration::from_millis(400));
    let stats: Vec<_> = events
        .try_iter()
        .filter_map(|e| match e {
            FirewallEvent::StatsChanged { stats } => Some(stats),
            _ => None,
        })
        .collect();
    let windows = busy.as_millis() / 250 + 2;
    assert!(
        !stats.is_empty() && stats.len() as u128 <= windows,
        "{} reports in {busy:?}",
        stats.len()
    );
    assert_eq!(stats.last().map(|s| s.blocked), Some(200));
    firewall.stop();
}

#[test]
fn starting_again_swaps_the_tunnel_and_keeps_the_state() {
    let firewall = Firewall::new(common::config(None), None).expect("new");
    let (old_phone, old_fd) = common::tunnel();
    firewall.start(old_fd).expect("start");
    assert_eq!(old_phone.resolve(1, "api-mifit.huami.com"), null());
    let (phone, fd) = common::tunnel();
    firewall.start(fd).expect("start again");
    assert!(firewall.is_running());
    assert_eq!(phone.resolve(2, "api-mifit.huami.com"), null());
    // The same engine answers on the new tunnel: its counters go on.
    assert_eq!(firewall.stats().blocked, 2);
    // The old tunnel's descriptor was closed.
    assert!(old_phone.socket.send(b"x").is_err());
    // A bad descriptor leaves the running firewall alone.
    assert!(matches!(
        firewall.start(-1),
        Err(FirewallError::BadFileDescriptor { fd: -1, .. })
    ));
    assert!(firewall.is_running());
    firewall.stop();
    firewall.stop();
    assert!(!firewall.is_running());
}

/// Stops the firewall from inside the listener, on the first report of a
/// blocked query.
struct StopOnFirstEvent {
    firewall: Arc<OnceLock<Weak<Firewall>>>,
    done: std::sync::Mutex<std::sync::mpsc::Sender<FirewallEvent>>,
}

impl FirewallListener for StopOnFirstEvent {
    fn on_event(&self, event: FirewallEvent) -> Result<(), FirewallError> {
        // The first report of the query's block (enforced lookups at start
        // report counters of their own before it).
        if matches!(&event, FirewallEvent::StatsChanged { stats } if stats.blocked > 0) {
            if let Some(firewall) = self.firewall.get().and_then(Weak::upgrade) {
                // Re-entrant calls: no lock is held while we run.
                let _ = firewall.stats();
                let _ = firewall.check_name("a.tacet.test".into());
                firewall.stop();
            }
        }
        if let Ok(done) = self.done.lock() {
            let _ = done.send(event);
        }
        Ok(())
    }
}

#[test]
fn a_listener_may_call_back_and_stop_the_firewall() {
    let cell = Arc::new(OnceLock::new());
    let (tx, events) = std::sync::mpsc::channel();
    let listener = StopOnFirstEvent {
        firewall: Arc::clone(&cell),
        done: std::sync::Mutex::new(tx),
    };
    let firewall = Firewall::new(common::config(None), Some(Box::new(listener))).expect("new");
    let _ = cell.set(Arc::downgrade(&firewall));
    let (phone, fd) = common::tunnel();
    firewall.start(fd).expect("start");
    assert_eq!(phone.resolve(1, "api-mifit.huami.com"), null());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let event = events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("a Stopped event");
        if event == (FirewallEvent::Stopped { error: None }) {
            break;
        }
    }
    assert!(!firewall.is_running());
    firewall.stop();
}

#[test]
fn errors_are_typed() {
    let bad_upstream = tacet_ffi::FirewallConfig {
        upstreams: vec!["dns.google".into()],
        ..tacet_ffi::default_config()
    };
    assert!(matches!(
        Firewall::new(bad_upstream, None),
        Err(FirewallError::InvalidConfig { .. })
    ));

    let firewall = Firewall::new(common::config(None), None).expect("new");
    assert!(matches!(
        firewall.start(9999),
        Err(FirewallError::BadFileDescriptor { fd: 9999, .. })
    ));
    assert!(matches!(
        firewall.block_name("a.tacet.test".into()),
        Err(FirewallError::StoreUnavailable { .. })
    ));

    let no_upstream = Firewall::new(tacet_ffi::default_config(), None).expect("new");
    let (_phone, fd) = common::tunnel();
    assert!(matches!(
        no_upstream.start(fd),
        Err(FirewallError::InvalidConfig { .. })
    ));

    // One store, one writer: a second firewall on it is refused.
    let store = tempfile::tempdir().expect("tempdir");
    let first = Firewall::new(common::config(Some(store.path())), None).expect("new");
    let second = Firewall::new(common::config(Some(store.path())), None).expect("new");
    let (_p1, fd1) = common::tunnel();
    let (_p2, fd2) = common::tunnel();
    first.start(fd1).expect("start");
    assert!(matches!(
        second.start(fd2),
        Err(FirewallError::StoreUnavailable { .. })
    ));
    first.stop();
}

#[test]
fn names_are_blocked_and_allowed_while_running() {
    let store = tempfile::tempdir().expect("tempdir");
    let firewall = Firewall::new(common::config(Some(store.path())), None).expect("new");
    let (phone, fd) = common::tunnel();
    firewall.start(fd).expect("start");
    firewall.block_name("ads.tacet.test".into()).expect("block");
    assert_eq!(phone.resolve(1, "x.ads.tacet.test"), null());
    firewall
        .allow_name("api-mifit.huami.com".into())
        .expect("allow");
    // Allowed now: it goes to the (dead) upstream and is not answered 0.0.0.0.
    assert_ne!(phone.resolve(2, "api-mifit.huami.com"), null());
    assert_eq!(firewall.stats().blocked, 1);
    firewall.stop();
    // Stopped, the rule is edited through a writer opened for the edit.
    firewall
        .forget_name("ads.tacet.test".into())
        .expect("forget");
    let reader = StoreReader::open(store.path().to_string_lossy().into_owned()).expect("reader");
    let rules = reader.custom_rules().expect("rules");
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].name, "api-mifit.huami.com");
}

#[test]
fn a_firewall_that_fails_on_its_own_reports_why() {
    let (listener, events) = common::Recorder::new();
    let firewall = Firewall::new(common::config(None), Some(listener)).expect("new");
    // A "tunnel" whose next read fails: a UDP socket that has been told
    // its peer refuses (ICMP port unreachable on loopback). The runtime
    // then stops on its own, as when the OS takes the tunnel away.
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let refused_port = closed.local_addr().expect("addr").port();
    drop(closed);
    let tunnel = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    tunnel
        .connect(("127.0.0.1", refused_port))
        .expect("connect");
    tunnel.send(b"x").expect("send");
    std::thread::sleep(Duration::from_millis(50));
    firewall
        .start(std::os::fd::IntoRawFd::into_raw_fd(tunnel))
        .expect("start");
    let deadline = Instant::now() + Duration::from_secs(5);
    let error = loop {
        match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(FirewallEvent::Stopped { error }) => break error,
            Ok(_) => continue,
            Err(e) => panic!("no Stopped event: {e}"),
        }
    };
    assert!(error.is_some());
    // The event comes just before the I/O thread ends.
    while firewall.is_running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!firewall.is_running());
    firewall.stop();
    assert!(
        events
            .try_iter()
            .all(|e| !matches!(e, FirewallEvent::Stopped { .. })),
        "Stopped is reported once"
    );
}

#[test]
fn new_upstreams_apply_without_compiling_the_rules_again() {
    use std::os::unix::fs::MetadataExt;
    let store = tempfile::tempdir().expect("tempdir");
    let firewall = Firewall::new(common::config(Some(store.path())), None).expect("new");
    let (phone, fd) = common::tunnel();
    firewall.start(fd).expect("start");
    // The compiled rules are written to the store and mapped from there:
    // a file replaced by a rename is a new inode.
    let compiled = || {
        std::fs::metadata(store.path().join("rules.bin"))
            .expect("rules.bin")
            .ino()
    };
    let before = compiled();
    let mut config = firewall.config();
    config.upstreams = vec!["tls://192.0.2.9#dns.example".into()];
    config.discovery = true;
    firewall.set_config(config.clone()).expect("set_config");
    assert_eq!(compiled(), before, "the rules were compiled again");
    assert_eq!(firewall.config().upstreams, config.upstreams);
    assert_eq!(phone.resolve(1, "x.blocked.tacet.test"), null());
    // A change to the lists does compile them.
    config.custom_list = "other.tacet.test\n".into();
    firewall.set_config(config).expect("set_config");
    assert_ne!(compiled(), before);
    assert_eq!(phone.resolve(2, "other.tacet.test"), null());
    firewall.stop();
}
