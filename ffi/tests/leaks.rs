//! 100 start/stop cycles leave no descriptor and no thread behind. Alone in
//! its test binary, so no other test's threads or files move the counts.

mod common;

use std::sync::Arc;

use tacet_ffi::{Firewall, FirewallEvent};

#[test]
fn start_stop_cycles_leak_no_descriptors_or_threads() {
    let store = tempfile::tempdir().expect("tempdir");
    let (listener, events) = common::Recorder::new();
    let firewall: Arc<Firewall> =
        Firewall::new(common::config(Some(store.path())), Some(listener)).expect("firewall");
    // One warm-up cycle: lazily created process-wide state (the allocator's
    // arenas, the store's first files) is not a leak.
    let (phone, fd) = common::tunnel();
    firewall.start(fd).expect("start");
    firewall.stop();
    drop(phone);
    let before = common::fds_and_threads();

    for i in 0..100u16 {
        let (phone, fd) = common::tunnel();
        firewall.start(fd).expect("start");
        if i % 10 == 9 {
            assert_eq!(
                phone.resolve(i, "api-mifit.huami.com"),
                Some(vec!["0.0.0.0".parse().expect("ip")])
            );
        }
        firewall.stop();
        firewall.stop();
    }

    let after = common::fds_and_threads();
    assert_eq!(
        before, after,
        "(descriptors, threads) before and after 100 cycles"
    );
    assert_eq!(firewall.stats().blocked, 1, "the last run's counters");
    let stops = events
        .try_iter()
        .filter(|e| matches!(e, FirewallEvent::Stopped { error: None }))
        .count();
    assert_eq!(stops, 101, "one Stopped event per run");
}
