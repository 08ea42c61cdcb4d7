//! Lists subscribed to by URL, against an HTTPS list server in the lab's
//! upstream namespace that misbehaves in every way a real one can
//! (`tacet_e2e::list_server`).
//!
//! The contract: a list is fetched over HTTPS (checked against the CA the
//! test gives with `--ca`), asked "changed since?" with its ETag, and a new
//! copy is taken only when it came whole and is a list. On a 404, a 500, a
//! web page, a list that lost 95 % of its names, a body cut short, a
//! stalled server, a body that never ends, and a server that went away,
//! the firewall keeps filtering with the last good copy (real queries
//! through the TUN, and `tacet check`), and `tacet lists` shows why. A new
//! copy reaches a running firewall at once, and a firewall fetches lists
//! that are due by itself.

// Test code: helpers outside #[test] fns fail the test loudly, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use tacet_e2e::lab::UPSTREAM_V4;
use tacet_e2e::list_server::{Behaviour, ListServer, Pki, LIST_HOST};
use tacet_e2e::{
    require_root, tacet_bin, Dig, Dnsmasq, Firewall, FirewallOptions, Lab, ScratchDir, RESOLVER_V4,
};

/// dnsmasq answers every name under `wild.allowed.test` with this address:
/// a subscribed name that is not blocked gets it, a blocked one 0.0.0.0.
const WILD_A: &str = "192.0.2.10";

/// A hosts-format list of `n` names under `wild.allowed.test`.
fn hosts_list(prefix: &str, range: std::ops::Range<usize>) -> String {
    let mut text = String::from("# Title: test ads\n# a hosts file, as StevenBlack's\n");
    for i in range {
        text.push_str(&format!("0.0.0.0 {prefix}{i}.wild.allowed.test\n"));
    }
    text
}

/// Everything a subscription test needs, dropped in order: the firewall
/// and the server before the namespaces.
struct Bed {
    firewall: Option<Firewall>,
    server: ListServer,
    _dnsmasq: Dnsmasq,
    ca: PathBuf,
    store: PathBuf,
    pki: Pki,
    _scratch: ScratchDir,
    lab: Lab,
}

impl Bed {
    fn new(list: &str) -> Self {
        let lab = Lab::new();
        lab.phone.write_hosts(&[(UPSTREAM_V4, LIST_HOST)]);
        let dnsmasq = Dnsmasq::start(&lab, &[]);
        let pki = Pki::new();
        let server = ListServer::start(&lab, &pki, list);
        let scratch = ScratchDir::new("subs");
        let ca = scratch.write("ca.pem", &pki.ca_pem);
        let store = scratch.path().join("store");
        Self {
            firewall: None,
            server,
            _dnsmasq: dnsmasq,
            ca,
            store,
            pki,
            _scratch: scratch,
            lab,
        }
    }

    fn url(&self) -> String {
        format!("https://{LIST_HOST}/hosts.txt")
    }

    /// `tacet ARGS --store STORE` in the phone namespace (where the list
    /// server's name is known), within 60 s.
    fn tacet(&self, args: &[&str]) -> Output {
        let mut child = self
            .lab
            .phone
            .command(tacet_bin())
            .args(args)
            .arg("--store")
            .arg(&self.store)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                child.kill().unwrap();
                panic!(
                    "tacet {args:?} still running after 60 s: {:?}",
                    child.wait_with_output()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "tacet {args:?}: {stderr}");
        out
    }

    fn ca(&self) -> &str {
        self.ca.to_str().unwrap()
    }

    fn update(&self, extra: &[&str]) -> Output {
        let mut args = vec!["lists", "update", "--ca", self.ca()];
        args.extend_from_slice(extra);
        self.tacet(&args)
    }

    /// The status of the one subscribed list, from `tacet lists --json`.
    fn status(&self) -> serde_json::Value {
        let out = self.tacet(&["lists", "--json"]);
        assert!(out.status.success(), "{out:?}");
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
        rows[0].clone()
    }

    fn start_firewall(&mut self, extra: &[&str]) {
        let opts = FirewallOptions::default().store(&self.store).args(extra);
        self.firewall = Some(Firewall::start(&self.lab, &opts));
    }

    /// The A answer the phone gets through the firewall.
    fn answer(&self, name: &str) -> Vec<String> {
        Dig::new(RESOLVER_V4, name)
            .expect_in(&self.lab.phone)
            .data_of("A")
    }

    fn assert_blocked(&self, name: &str, when: &str) {
        assert_eq!(self.answer(name), vec!["0.0.0.0"], "{name} {when}");
    }

    fn assert_allowed(&self, name: &str, when: &str) {
        assert_eq!(self.answer(name), vec![WILD_A], "{name} {when}");
    }

    /// Waits up to `limit` for `name` to get `want`.
    fn wait_for(&self, name: &str, want: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.answer(name);
            if got == [want] {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} still answers {got:?}, not {want}, after {limit:?}; firewall stderr: {}",
                self.firewall
                    .as_ref()
                    .map(Firewall::stderr)
                    .unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// A misbehaviour: its name, how to make the server do it, the flags of
/// `tacet lists update`, and what the reason recorded must say.
type Case<'a> = (&'a str, Box<dyn Fn(&Bed)>, &'a [&'a str], &'a str);

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_subscribed_list_keeps_filtering_through_every_failure_of_its_server() {
    if !require_root() {
        return;
    }
    let mut bed = Bed::new(&hosts_list("ads", 0..100));
    let out = bed.tacet(&[
        "lists",
        "add",
        &bed.url(),
        "--title",
        "Test ads",
        "--ca",
        bed.ca(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("test-ads: new copy, 100 names"),
        "{}",
        text(&out)
    );
    // The scheduled checks stay out of the way: this test drives them.
    bed.start_firewall(&["--list-check-secs", "0"]);
    bed.assert_blocked("ads7.wild.allowed.test", "after the first fetch");
    bed.assert_allowed("other.wild.allowed.test", "(never listed)");

    // Not modified: asked with the ETag, answered 304.
    let out = bed.update(&[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("test-ads: unchanged"), "{}", text(&out));
    let last = bed.server.seen().pop().unwrap();
    assert_eq!(last.if_none_match.as_deref(), Some("\"v1\""), "{last:?}");

    let shrunk = hosts_list("ads", 0..5);
    let cases: Vec<Case> = vec![
        (
            "404",
            Box::new(|b| b.server.set(Behaviour::NotFound)),
            &[],
            "HTTP 404",
        ),
        (
            "500",
            Box::new(|b| b.server.set(Behaviour::ServerError)),
            &[],
            "HTTP 500",
        ),
        (
            "a web page",
            Box::new(|b| b.server.set(Behaviour::Html)),
            &[],
            "web page",
        ),
        (
            "a list that lost 95 %",
            Box::new(move |b| {
                b.server.set_list(&shrunk);
                b.server.set(Behaviour::Serve);
            }),
            &[],
            "lost 95 %",
        ),
        (
            "a body short of its length",
            Box::new(|b| b.server.set(Behaviour::Truncated)),
            &[],
            "incomplete",
        ),
        (
            "a stalled server",
            Box::new(|b| b.server.set(Behaviour::Stall)),
            &["--stall-secs", "2"],
            "stopped sending",
        ),
        (
            "an endless body",
            Box::new(|b| b.server.set(Behaviour::Endless)),
            &["--max-mib", "2"],
            "larger than 2 MiB",
        ),
    ];
    let mut failures = 0;
    for (what, setup, flags, why) in &cases {
        setup(&bed);
        let started = Instant::now();
        let out = bed.update(flags);
        assert!(!out.status.success(), "{what}: exit 0: {}", text(&out));
        assert!(
            text(&out).contains("kept the last good copy (100 names)"),
            "{what}: {}",
            text(&out)
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what}: {:?}",
            started.elapsed()
        );
        failures += 1;
        let status = bed.status();
        let error = status["last_error"].as_str().unwrap_or_default();
        assert!(
            error.contains(why),
            "{what}: the last error {error:?} does not say {why:?}"
        );
        assert_eq!(status["names"], 100, "{what}: {status}");
        assert_eq!(status["failures"], failures, "{what}: {status}");
        // And `tacet lists` shows it to a person.
        let shown = text(&bed.tacet(&["lists"]));
        assert!(
            shown.contains(why) && shown.contains("filtering with the copy"),
            "{what}: {shown}"
        );
        bed.assert_blocked("ads42.wild.allowed.test", &format!("after {what}"));
        let check = text(&bed.tacet(&["check", "--no-curated", "ads99.wild.allowed.test"]));
        assert!(
            check.contains("blocked by Test ads (test-ads), line 102"),
            "{what}: {check}"
        );
    }

    // The server goes away: connection refused.
    bed.server.go_away();
    let out = bed.update(&[]);
    assert!(!out.status.success());
    let error = bed.status()["last_error"].as_str().unwrap().to_owned();
    assert!(error.contains("cannot connect"), "{error}");
    bed.assert_blocked("ads42.wild.allowed.test", "with the server gone");

    // It comes back with a new list: taken, and the running firewall uses
    // it at once (the CLI sends it SIGHUP).
    bed.server = ListServer::start(&bed.lab, &bed.pki, &hosts_list("ads", 0..50));
    bed.server.set_list(&format!(
        "{}0.0.0.0 fresh.wild.allowed.test\n",
        hosts_list("ads", 0..50)
    ));
    let out = bed.update(&[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("test-ads: new copy, 51 names (was 100)"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("uses the new copies now"),
        "{}",
        text(&out)
    );
    bed.wait_for("fresh.wild.allowed.test", "0.0.0.0", Duration::from_secs(5));
    bed.assert_allowed("ads77.wild.allowed.test", "after it left the list");
    let status = bed.status();
    assert_eq!(
        (status["failures"].clone(), status["last_error"].clone()),
        (0.into(), serde_json::Value::Null)
    );

    // A damaged status file: shown as such, and the copy still filters,
    // after a reload and after a restart.
    std::fs::write(
        bed.store.join("lists/test-ads.json"),
        b"{\"version\":1,\"id\":",
    )
    .unwrap();
    let shown = text(&bed.tacet(&["lists"]));
    assert!(
        shown.contains("status unreadable") && shown.contains("still filters"),
        "{shown}"
    );
    let out = bed.update(&[]);
    assert!(!out.status.success());
    assert!(text(&out).contains("subscribe again"), "{}", text(&out));
    bed.firewall.as_ref().unwrap().signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(500));
    bed.assert_blocked(
        "fresh.wild.allowed.test",
        "with a damaged status, after SIGHUP",
    );
    let stats = bed.firewall.take().unwrap().stop();
    assert!(stats.blocked > 0);
    bed.start_firewall(&["--list-check-secs", "0"]);
    bed.assert_blocked(
        "fresh.wild.allowed.test",
        "with a damaged status, after a restart",
    );
}

#[test]
fn a_running_firewall_fetches_due_lists_itself_and_swaps_them_in() {
    if !require_root() {
        return;
    }
    let mut bed = Bed::new(&hosts_list("early", 0..20));
    let out = bed.tacet(&["lists", "add", &bed.url(), "--no-fetch"]);
    assert!(out.status.success(), "{}", text(&out));
    let ca = bed.ca().to_owned();
    bed.start_firewall(&["--list-ca", &ca, "--list-check-secs", "2"]);
    // Due at once: fetched by the firewall's own schedule, off its I/O
    // thread, and swapped in.
    bed.wait_for(
        "early3.wild.allowed.test",
        "0.0.0.0",
        Duration::from_secs(10),
    );
    bed.server.set_list(&hosts_list("late", 0..20));
    // Checked again 2 s (give or take 10 %) later.
    bed.wait_for(
        "late3.wild.allowed.test",
        "0.0.0.0",
        Duration::from_secs(10),
    );
    bed.assert_allowed("early3.wild.allowed.test", "after the list changed");
    // The server fails: the firewall keeps the last good list and says why
    // on stderr; no name of a list is logged above debug.
    bed.server.set(Behaviour::ServerError);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !bed.firewall.as_ref().unwrap().stderr().contains("HTTP 500") {
        assert!(
            Instant::now() < deadline,
            "{}",
            bed.firewall.as_ref().unwrap().stderr()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    bed.assert_blocked("late3.wild.allowed.test", "after the server failed");
    let stderr = bed.firewall.as_ref().unwrap().stderr();
    assert!(!stderr.contains("late3"), "{stderr}");
}
