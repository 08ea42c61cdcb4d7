//! The upstream resolver: dnsmasq serving a fixed test zone, never forwarding.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::dig::Dig;
use crate::lab::{Lab, UPSTREAM_V4, UPSTREAM_V6};
use crate::netns::unique_name;
use crate::process::Spawned;

/// Where the test zone's blocked names point. These are globally reachable
/// addresses on purpose: the firewall learns a blocked name's addresses to
/// reject connections to them, and it refuses to learn private, loopback,
/// documentation and other not-globally-reachable ones (a hostile upstream
/// could otherwise cut the phone off from its own LAN). Nothing ever reaches
/// their real owners: the test namespaces have no route out.
///
/// `blocked.test`, A.
pub const BLOCKED_A: &str = "93.184.215.66";
/// `tracker.blocked.test`, A: the tracker most tests ask for.
pub const TRACKER_A: &str = "93.184.215.67";
/// Every name under `wild.blocked.test`, A.
pub const WILD_BLOCKED_A: &str = "93.184.215.68";
/// `exact.hosts.test` (blocked by a hosts line), A.
pub const EXACT_HOSTS_A: &str = "93.184.215.69";
/// `blocked.test`, AAAA.
pub const BLOCKED_AAAA: &str = "2606:2800:21f::66";
/// `tracker.blocked.test`, AAAA.
pub const TRACKER_AAAA: &str = "2606:2800:21f::67";

/// The test zone, as dnsmasq options. Everything under `test.` that is not
/// listed is NXDOMAIN (`--local`), so dnsmasq never has a reason to forward.
///
/// Names under `blocked.test` and `exact.hosts.test` have real answers here
/// too: if the firewall leaked a blocked query upstream, the test would see
/// the real address instead of the block answer. Allowed names keep
/// documentation addresses: nothing is learned from them.
pub fn test_zone() -> Vec<String> {
    [
        "--local=/test/",
        "--host-record=www.allowed.test,192.0.2.11,2001:db8::11",
        "--host-record=v4only.allowed.test,192.0.2.12",
        "--txt-record=txt.allowed.test,v=tacet test record",
        "--mx-host=mx.allowed.test,mail.allowed.test,10",
        "--host-record=mail.allowed.test,192.0.2.14",
        "--cname=alias.allowed.test,www.allowed.test",
        "--address=/wild.allowed.test/192.0.2.10",
        // Blocked by the test blocklist (plain domain: name and subdomains).
        &format!("--host-record=blocked.test,{BLOCKED_A},{BLOCKED_AAAA}"),
        &format!("--host-record=tracker.blocked.test,{TRACKER_A},{TRACKER_AAAA}"),
        "--txt-record=tracker.blocked.test,leaked",
        "--mx-host=tracker.blocked.test,mail.allowed.test,10",
        &format!("--address=/wild.blocked.test/{WILD_BLOCKED_A}"),
        // Allowed again by an @@ rule inside the blocked domain.
        "--host-record=ok.blocked.test,192.0.2.13",
        // Hosts-file rule: the exact name only.
        &format!("--host-record=exact.hosts.test,{EXACT_HOSTS_A}"),
        "--host-record=sub.exact.hosts.test,192.0.2.15",
        // A CNAME that cloaks a blocked name behind an allowed one.
        "--cname=cloaked.allowed.test,tracker.blocked.test",
    ]
    .iter()
    .map(|&option| option.to_owned())
    .collect()
}

/// The blocklist matching [`test_zone`], in the formats the CLI reads.
pub const TEST_BLOCKLIST: &str = "\
# plain domain: the name and all its subdomains
blocked.test
# hosts line: exactly this name
0.0.0.0 exact.hosts.test
# allow rule: beats the block of blocked.test
@@||ok.blocked.test^
";

/// A running dnsmasq in a lab's upstream namespace, killed on drop.
#[derive(Debug)]
pub struct Dnsmasq {
    process: Spawned,
    pid_file: std::path::PathBuf,
}

impl Dnsmasq {
    /// Starts dnsmasq on port 53 of the upstream side of `lab`, IPv4 and
    /// IPv6, serving [`test_zone`] plus `extra` options, and waits until it
    /// answers.
    pub fn start(lab: &Lab, extra: &[&str]) -> Self {
        let pid_file = std::env::temp_dir().join(format!("{}.dnsmasq.pid", unique_name("dm")));
        let mut cmd = lab.upstream.command("dnsmasq");
        cmd.args([
            "--no-daemon",
            // Never read /etc/resolv.conf, /etc/hosts or a system config:
            // this resolver must not know or reach any other.
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--conf-file=/dev/null",
            "--bind-interfaces",
            "--port=53",
            "--user=root",
            "--local-ttl=300",
            "--no-negcache",
            "--cache-size=0",
            "--log-facility=-",
        ])
        .arg(format!("--listen-address={UPSTREAM_V4}"))
        .arg(format!("--listen-address={UPSTREAM_V6}"))
        .arg(format!("--pid-file={}", pid_file.display()))
        .args(test_zone())
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        crate::process::die_with_parent(&mut cmd);
        let child = cmd.spawn().expect("spawn dnsmasq");
        let mut dnsmasq = Self {
            process: Spawned::new("dnsmasq", child),
            pid_file,
        };
        dnsmasq.wait_answering(lab);
        dnsmasq
    }

    fn wait_answering(&mut self, lab: &Lab) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.process.try_status() {
                panic!(
                    "dnsmasq exited early ({status}): {}",
                    self.process.describe()
                );
            }
            let reply = Dig::new(UPSTREAM_V4, "www.allowed.test")
                .timeout_secs(1)
                .run_in(&lab.phone);
            if matches!(reply, Ok(ref r) if r.status == "NOERROR") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "dnsmasq did not answer within 10 s: {reply:?}; {}",
                self.process.describe()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process id of dnsmasq.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pid_file);
    }
}
