//! Start-up from the store's compiled rules: a second start with the same
//! lists maps the compiled file instead of reading the lists, and answers
//! as the first did; a list changed since is compiled again.

// Test code: helpers outside #[test] fns fail the test loudly, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tacet_e2e::dnsmasq::{TEST_BLOCKLIST, TRACKER_A};
use tacet_e2e::scratch::ScratchDir;
use tacet_e2e::{require_root, FirewallOptions, Testbed};

const MAPPED: &str = "rules mapped from the store's compiled file";

/// Starts a firewall with `opts`, checks whether it mapped the store's
/// compiled rules, and what `tracker.blocked.test` and `ok.blocked.test`
/// resolve to; stops it.
fn start(opts: &FirewallOptions, mapped: bool) -> (Vec<String>, Vec<String>) {
    let mut bed = Testbed::start(opts);
    let stderr = bed.firewall.as_ref().unwrap().stderr();
    assert_eq!(stderr.contains(MAPPED), mapped, "stderr: {stderr}");
    let tracker = bed.query("tracker.blocked.test", "A").data_of("A");
    let ok = bed.query("ok.blocked.test", "A").data_of("A");
    bed.stop();
    (tracker, ok)
}

#[test]
fn a_second_start_maps_the_compiled_rules_and_a_changed_list_is_compiled_again() {
    if !require_root() {
        return;
    }
    // The list and the store at paths that stay, as a user's do.
    let dir = ScratchDir::new("startup");
    let list = dir.write("list.txt", TEST_BLOCKLIST);
    let store = dir.path().join("store");
    let opts = FirewallOptions {
        blocklist: None,
        ..FirewallOptions::default()
    }
    .store(&store)
    .args(&["-v", "--blocklist", &list.display().to_string()]);

    let blocked = (vec!["0.0.0.0".to_owned()], vec!["192.0.2.13".to_owned()]);
    assert_eq!(start(&opts, false), blocked, "first start: compiled");
    assert!(store.join("rules.bin").is_file());
    assert_eq!(start(&opts, true), blocked, "second start: mapped");
    assert_eq!(start(&opts, true), blocked, "third start: mapped");

    // The list changed: compiled again, and its change holds.
    std::fs::write(&list, TEST_BLOCKLIST.replace("\nblocked.test\n", "\n")).unwrap();
    let (tracker, _) = start(&opts, false);
    assert_eq!(tracker, [TRACKER_A], "the removed rule no longer blocks");
    let (tracker, _) = start(&opts, true);
    assert_eq!(tracker, [TRACKER_A]);

    // A compiled file from an older tacet (format v5) is compiled again.
    let path = store.join("rules.bin");
    let mut old = std::fs::read(&path).unwrap();
    old[8..12].copy_from_slice(&5u32.to_le_bytes());
    std::fs::write(&path, old).unwrap();
    let (tracker, _) = start(&opts, false);
    assert_eq!(tracker, [TRACKER_A]);
    assert_eq!(&std::fs::read(&path).unwrap()[8..12], &6u32.to_le_bytes());
}
