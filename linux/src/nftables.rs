//! Rejecting connections at a home gateway: the firewall's announced
//! networks (address and CIDR rules, and the addresses blocked names
//! resolved to) kept in an nftables set with `reject` rules, as dnsmasq's
//! `--nftset` does, through the `nft` tool's JSON interface.
//!
//! On a phone the announced networks are routed into the TUN, where the
//! engine answers each connection attempt with a TCP reset or an ICMP
//! error. A camera on the LAN has no tunnel: its packets cross the
//! gateway, so the gateway rejects them. [`Nftables::install`] creates
//! the table `inet <name>` with two interval sets (`blocked4`,
//! `blocked6`) and a `forward` chain that answers TCP to a member with a
//! reset and anything else with ICMP "administratively prohibited":
//! devices see a refused connection at once, not a silent drop they hang
//! on. Every announcement then replaces the sets' contents in one `nft`
//! transaction (flush and add), so a set is never seen half-written and a
//! failed update leaves the previous contents in place. Addresses leave
//! the set when the engine stops announcing them (their answer's lifetime
//! has run out), as their routes do on a phone.
//!
//! `nft` runs on a thread of its own, never on the I/O thread, with a time
//! limit; only the latest announcement is applied. The table is deleted
//! when the [`Nftables`] is dropped.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tacet_engine::Route;

/// How long one `nft` run may take before it is killed and counted as
/// failed.
const NFT_TIME_LIMIT: Duration = Duration::from_secs(10);

/// The most networks put in a set: the engine's learned-address table and
/// the rules bound what it announces; this bounds what `nft` is handed.
pub const MAX_SET_ELEMENTS: usize = 65_536;

/// The table the firewall owns on the gateway, and the thread that keeps
/// its sets equal to the announced networks.
pub struct Nftables {
    table: String,
    sender: Option<mpsc::Sender<Vec<Route>>>,
    thread: Option<JoinHandle<()>>,
}

impl Nftables {
    /// Creates (or re-creates, empty) the table `inet <table>` with its
    /// sets and reject rules. Fails with `nft`'s own message when `nft` is
    /// missing, the process lacks CAP_NET_ADMIN, or the kernel refuses.
    pub fn install(table: &str) -> Result<Self, String> {
        if !valid_table_name(table) {
            return Err(format!(
                "nftables table name {table:?}: use letters, digits and _ (at most 32)"
            ));
        }
        nft(&install_commands(table))?;
        let (sender, receiver) = mpsc::channel::<Vec<Route>>();
        let name = table.to_owned();
        let thread = std::thread::Builder::new()
            .name("tacet-nftables".into())
            .spawn(move || apply_loop(&name, &receiver))
            .map_err(|e| format!("cannot start the nftables thread: {e}"))?;
        Ok(Self {
            table: table.to_owned(),
            sender: Some(sender),
            thread: Some(thread),
        })
    }

    /// Hands the thread a new announcement (the whole set of networks);
    /// never waits for `nft`.
    #[cfg(test)]
    pub fn replace(&self, routes: Vec<Route>) {
        if let Some(sender) = &self.sender {
            // A closed channel means the thread is gone; its log said why.
            let _ = sender.send(routes);
        }
    }

    /// Where the firewall's announcements go (its `RoutesChanged`, as the
    /// routes of a TUN do in `tacet run`).
    pub fn sender(&self) -> mpsc::Sender<Vec<Route>> {
        match &self.sender {
            Some(sender) => sender.clone(),
            // Only taken in drop: a sender whose receiver is gone.
            None => mpsc::channel().0,
        }
    }
}

impl Drop for Nftables {
    fn drop(&mut self) {
        // Closing the channel ends the thread after its last update.
        self.sender = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let delete = json!({"nftables": [
            {"delete": {"table": {"family": "inet", "name": self.table}}}
        ]});
        if let Err(e) = nft(&delete) {
            log::warn!("the nftables table {} was not deleted: {e}", self.table);
        }
    }
}

fn apply_loop(table: &str, receiver: &mpsc::Receiver<Vec<Route>>) {
    while let Ok(mut routes) = receiver.recv() {
        // Only the latest set matters.
        while let Ok(newer) = receiver.try_recv() {
            routes = newer;
        }
        let (v4, v6, dropped) = set_contents(routes);
        if dropped > 0 {
            log::warn!("{dropped} blocked networks left out of the nftables sets: over the bound");
        }
        let commands = replace_commands(table, &v4, &v6);
        let applied = nft(&commands).or_else(|e| {
            // The table may be gone under us (`nft flush ruleset`, a reload
            // of nftables.service, a second tacet that exited): made again
            // whole, then filled.
            log::warn!("nftables sets not changed ({e}); creating the table again");
            nft(&install_commands(table)).and_then(|()| nft(&commands))
        });
        match applied {
            Ok(()) => log::info!(
                "{} blocked networks and addresses rejected at the gateway",
                v4.len() + v6.len()
            ),
            Err(e) => log::warn!("nftables sets not changed (the previous ones stay): {e}"),
        }
    }
}

/// Whether `name` is a table name this module will hand to `nft`.
fn valid_table_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The commands that create the table afresh: the `add` before the
/// `delete` makes the delete succeed whether or not an old table is there.
fn install_commands(table: &str) -> Value {
    let set = |name: &str, kind: &str| {
        json!({"add": {"set": {
            "family": "inet", "table": table, "name": name,
            "type": kind, "flags": ["interval"],
        }}})
    };
    let rule = |family: &str, set: &str, tcp: bool, reject: Value| {
        let mut expr = vec![json!({"match": {
            "op": "==",
            "left": {"payload": {"protocol": family, "field": "daddr"}},
            "right": format!("@{set}"),
        }})];
        if tcp {
            expr.push(json!({"match": {
                "op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "tcp",
            }}));
        }
        expr.push(json!({ "reject": reject }));
        json!({"add": {"rule": {
            "family": "inet", "table": table, "chain": "forward", "expr": expr,
        }}})
    };
    json!({"nftables": [
        {"add": {"table": {"family": "inet", "name": table}}},
        {"delete": {"table": {"family": "inet", "name": table}}},
        {"add": {"table": {"family": "inet", "name": table}}},
        set("blocked4", "ipv4_addr"),
        set("blocked6", "ipv6_addr"),
        {"add": {"chain": {
            "family": "inet", "table": table, "name": "forward",
            "type": "filter", "hook": "forward", "prio": -10, "policy": "accept",
        }}},
        rule("ip", "blocked4", true, json!({"type": "tcp reset"})),
        rule("ip", "blocked4", false, json!({"type": "icmp", "expr": "admin-prohibited"})),
        rule("ip6", "blocked6", true, json!({"type": "tcp reset"})),
        rule("ip6", "blocked6", false, json!({"type": "icmpv6", "expr": "admin-prohibited"})),
    ]})
}

/// One transaction that empties both sets and fills them anew.
fn replace_commands(table: &str, v4: &[Route], v6: &[Route]) -> Value {
    let mut commands = Vec::new();
    for (name, routes) in [("blocked4", v4), ("blocked6", v6)] {
        commands.push(json!({"flush": {"set": {"family": "inet", "table": table, "name": name}}}));
        if !routes.is_empty() {
            let elem: Vec<Value> = routes.iter().map(element).collect();
            commands.push(json!({"add": {"element": {
                "family": "inet", "table": table, "name": name, "elem": elem,
            }}}));
        }
    }
    json!({ "nftables": commands })
}

fn element(route: &Route) -> Value {
    if route.prefix_len >= full_len(route.addr) {
        json!(route.addr.to_string())
    } else {
        json!({"prefix": {"addr": route.addr.to_string(), "len": route.prefix_len}})
    }
}

fn full_len(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

/// The networks as the sets take them: by family, host bits cleared,
/// without networks inside others (an interval set refuses overlapping
/// elements), sorted, and at most [`MAX_SET_ELEMENTS`] in all; also how
/// many were left out over that bound.
fn set_contents(routes: Vec<Route>) -> (Vec<Route>, Vec<Route>, usize) {
    let mut ranges: Vec<(bool, u128, u128, Route)> = routes
        .into_iter()
        .filter_map(|r| {
            let full = full_len(r.addr);
            let len = r.prefix_len.min(full);
            let (v6, bits) = match r.addr {
                IpAddr::V4(a) => (false, u128::from(u32::from(a))),
                IpAddr::V6(a) => (true, u128::from(a)),
            };
            let host_bits = u32::from(full - len);
            let size_mask = 1u128.checked_shl(host_bits).map_or(u128::MAX, |s| s - 1);
            let start = bits & !size_mask;
            let addr = match r.addr {
                IpAddr::V4(_) => IpAddr::from(u32::try_from(start).ok()?.to_be_bytes()),
                IpAddr::V6(_) => IpAddr::from(start.to_be_bytes()),
            };
            let route = Route {
                addr,
                prefix_len: len,
            };
            Some((v6, start, start | size_mask, route))
        })
        .collect();
    // By family and start, the wider network first: CIDR networks are
    // nested or apart, so one covering a later one comes before it.
    ranges.sort_by_key(|&(v6, start, end, _)| (v6, start, std::cmp::Reverse(end)));
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    let mut covered: Option<(bool, u128)> = None;
    let mut kept = 0usize;
    let mut dropped = 0usize;
    for (is_v6, start, end, route) in ranges {
        if covered.is_some_and(|(family, until)| family == is_v6 && start <= until) {
            continue;
        }
        covered = Some((is_v6, end));
        if kept == MAX_SET_ELEMENTS {
            dropped += 1;
            continue;
        }
        kept += 1;
        if is_v6 {
            v6.push(route);
        } else {
            v4.push(route);
        }
    }
    (v4, v6, dropped)
}

/// Runs `nft -j -f -` with `commands`, within [`NFT_TIME_LIMIT`]; its
/// error output is the error.
fn nft(commands: &Value) -> Result<(), String> {
    let mut child = Command::new("nft")
        .args(["-j", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `nft` ({e}): install nftables"))?;
    let input = commands.to_string();
    // Written from a thread of its own, so a `nft` that stops reading is
    // killed at the time limit like one that stops answering (the write
    // then fails and the thread ends).
    let writer = child
        .stdin
        .take()
        .map(|mut stdin| std::thread::spawn(move || stdin.write_all(input.as_bytes())));
    let status = wait_within(&mut child, NFT_TIME_LIMIT)?;
    if let Some(Ok(Err(e))) = writer.map(JoinHandle::join) {
        if status.success() {
            return Err(format!("`nft`: {e}"));
        }
    }
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        // Bounded: nft's message about a bad batch is a few lines.
        let _ = err.by_ref().take(16 * 1024).read_to_string(&mut stderr);
    }
    if status.success() {
        Ok(())
    } else {
        let message = stderr.trim();
        Err(if message.is_empty() {
            format!("`nft` failed ({status})")
        } else {
            format!("`nft`: {message}")
        })
    }
}

fn wait_within(child: &mut Child, limit: Duration) -> Result<std::process::ExitStatus, String> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`nft` took more than {} s", limit.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("`nft`: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn net(addr: &str, len: u8) -> Route {
        Route {
            addr: addr.parse().unwrap(),
            prefix_len: len,
        }
    }

    #[test]
    fn nested_networks_are_merged_and_host_bits_cleared() {
        let (v4, v6, dropped) = set_contents(vec![
            net("10.1.2.3", 32),
            net("10.9.9.9", 8),
            net("10.1.0.0", 16),
            net("192.0.2.7", 32),
            net("192.0.2.7", 32),
            net("2001:db8::1", 128),
            net("2001:db8::", 32),
            net("2001:db9::5", 128),
        ]);
        assert_eq!(v4, vec![net("10.0.0.0", 8), net("192.0.2.7", 32)]);
        assert_eq!(v6, vec![net("2001:db8::", 32), net("2001:db9::5", 128)]);
        assert_eq!(dropped, 0);
    }

    #[test]
    fn the_whole_space_and_too_long_prefixes_are_taken_as_they_can_be() {
        let (v4, v6, _) = set_contents(vec![net("1.2.3.4", 0), net("5.6.7.8", 40), net("::1", 0)]);
        assert_eq!(v4, vec![net("0.0.0.0", 0)]);
        assert_eq!(v6, vec![net("::", 0)]);
    }

    #[test]
    fn more_networks_than_the_bound_are_cut_and_counted() {
        let routes: Vec<Route> = (0..MAX_SET_ELEMENTS as u32 + 10)
            .map(|i| Route::host(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))))
            .collect();
        let (v4, v6, dropped) = set_contents(routes);
        assert_eq!(v4.len(), MAX_SET_ELEMENTS);
        assert!(v6.is_empty());
        assert_eq!(dropped, 10);
    }

    #[test]
    fn table_names_nft_could_misread_are_refused() {
        assert!(valid_table_name("tacet"));
        assert!(valid_table_name("tacet_lan2"));
        for bad in ["", "a b", "t;flush ruleset", "x\"y", &"a".repeat(33)] {
            assert!(!valid_table_name(bad), "{bad}");
            assert!(Nftables::install(bad).is_err());
        }
    }

    #[test]
    fn elements_are_addresses_or_prefixes() {
        assert_eq!(element(&net("192.0.2.1", 32)), json!("192.0.2.1"));
        assert_eq!(
            element(&net("10.0.0.0", 8)),
            json!({"prefix": {"addr": "10.0.0.0", "len": 8}})
        );
        let v6 = Route::host(IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(element(&v6), json!("::1"));
    }

    /// Runs `f` on a thread in a network namespace of its own, which goes
    /// away with the thread and the `nft` processes it started. Root only:
    /// under CI a test that cannot run fails.
    fn in_private_netns(f: impl FnOnce() + Send + 'static) {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            assert!(std::env::var_os("CI").is_none(), "needs root under CI");
            eprintln!("skipped: needs root");
            return;
        }
        std::thread::spawn(move || {
            // SAFETY: unshare on this thread only: it and the threads and
            // processes it starts see a new, empty network namespace.
            assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0);
            f();
        })
        .join()
        .unwrap();
    }

    /// The set's elements; `[null]` while the set does not exist.
    fn listed(table: &str, set: &str) -> Vec<Value> {
        let out = Command::new("nft")
            .args(["-j", "list", "set", "inet", table, set])
            .output()
            .unwrap();
        if !out.status.success() {
            return vec![Value::Null];
        }
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["nftables"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|o| o.get("set"))
            .and_then(|s| s.get("elem"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    fn wait_for(table: &str, set: &str, want: &[Value]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = listed(table, set);
            if got == want {
                return;
            }
            assert!(Instant::now() < deadline, "{set}: {got:?}, wanted {want:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn the_sets_follow_every_announcement_and_the_table_goes_with_the_firewall() {
        in_private_netns(|| {
            let nft = Nftables::install("tacet_test").unwrap();
            let rules = Command::new("nft")
                .args(["list", "chain", "inet", "tacet_test", "forward"])
                .output()
                .unwrap();
            let rules = String::from_utf8_lossy(&rules.stdout).into_owned();
            assert!(rules.contains("ip daddr @blocked4 meta l4proto tcp reject with tcp reset"));
            assert!(rules.contains("ip6 daddr @blocked6 reject with icmpv6 admin-prohibited"));
            assert!(listed("tacet_test", "blocked4").is_empty());

            nft.replace(vec![
                net("10.0.0.0", 8),
                net("10.1.2.3", 32),
                net("192.0.2.7", 32),
                net("2001:db8::1", 128),
            ]);
            wait_for(
                "tacet_test",
                "blocked4",
                &[
                    json!({"prefix": {"addr": "10.0.0.0", "len": 8}}),
                    json!("192.0.2.7"),
                ],
            );
            wait_for("tacet_test", "blocked6", &[json!("2001:db8::1")]);

            // An address whose answer ran out leaves with the next one.
            nft.replace(vec![net("192.0.2.8", 32)]);
            wait_for("tacet_test", "blocked4", &[json!("192.0.2.8")]);
            wait_for("tacet_test", "blocked6", &[]);

            // Installing again (a restart after a crash) starts empty.
            drop(nft);
            let gone = Command::new("nft")
                .args(["list", "table", "inet", "tacet_test"])
                .output()
                .unwrap();
            assert!(!gone.status.success());
        });
    }

    #[test]
    fn a_table_broken_or_flushed_under_the_firewall_is_made_again() {
        in_private_netns(|| {
            let nft = Nftables::install("tacet_fail").unwrap();
            nft.replace(vec![net("192.0.2.1", 32)]);
            wait_for("tacet_fail", "blocked4", &[json!("192.0.2.1")]);
            // Someone deletes part of the table: the transaction that would
            // flush both sets fails whole (blocked4 is not left empty), and
            // the table is made again and filled.
            let removed = Command::new("nft")
                .args(["delete chain inet tacet_fail forward; delete set inet tacet_fail blocked6"])
                .status()
                .unwrap();
            assert!(removed.success());
            nft.replace(vec![net("192.0.2.2", 32), net("2001:db8::2", 128)]);
            wait_for("tacet_fail", "blocked4", &[json!("192.0.2.2")]);
            wait_for("tacet_fail", "blocked6", &[json!("2001:db8::2")]);
            let chain = Command::new("nft")
                .args(["list", "chain", "inet", "tacet_fail", "forward"])
                .output()
                .unwrap();
            assert!(String::from_utf8_lossy(&chain.stdout).contains("reject with tcp reset"));
            // A reload of nftables.service begins with `flush ruleset`.
            assert!(Command::new("nft")
                .arg("flush ruleset")
                .status()
                .unwrap()
                .success());
            nft.replace(vec![net("192.0.2.3", 32)]);
            wait_for("tacet_fail", "blocked4", &[json!("192.0.2.3")]);
        });
    }
}
