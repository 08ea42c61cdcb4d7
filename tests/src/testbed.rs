//! A whole test setup in one value: lab, upstream dnsmasq and the firewall,
//! torn down in the right order.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::dig::{Dig, DnsReply};
use crate::dnsmasq::Dnsmasq;
use crate::firewall::{Firewall, FirewallOptions, Stats};
use crate::lab::{Lab, UPSTREAM_V4};
use crate::process::Spawned;
use crate::RESOLVER_V4;

/// A phone namespace running the firewall, an upstream namespace running
/// dnsmasq, and the veth between them.
///
/// Fields drop top to bottom: the firewall and dnsmasq are killed before
/// their namespaces are deleted.
///
/// With `TACET_E2E_PCAP=DIR` set, every packet on the TUN is written to
/// `DIR/<test name>.pcap` (tcpdump), to see what a failing test exchanged.
#[derive(Debug)]
pub struct Testbed {
    /// tcpdump on the TUN, when `TACET_E2E_PCAP` asks for it.
    pub capture: Option<Capture>,
    /// The firewall; `None` once [`Testbed::stop`] has taken it.
    pub firewall: Option<Firewall>,
    /// The upstream resolver.
    pub dnsmasq: Dnsmasq,
    /// The namespaces.
    pub lab: Lab,
}

impl Testbed {
    /// Lab, dnsmasq with the test zone, and `tacet run --tun` with `opts`.
    pub fn start(opts: &FirewallOptions) -> Self {
        Self::start_with(opts, Firewall::start)
    }

    /// The default firewall options plus `args`.
    pub fn with_args(args: &[&str]) -> Self {
        Self::start(&FirewallOptions::default().args(args))
    }

    /// Like [`Testbed::start`], with the firewall started by `start`
    /// (e.g. on a TUN fd).
    pub fn start_with(
        opts: &FirewallOptions,
        start: impl FnOnce(&Lab, &FirewallOptions) -> Firewall,
    ) -> Self {
        let lab = Lab::new();
        let dnsmasq = Dnsmasq::start(&lab, &[]);
        let firewall = Some(start(&lab, opts));
        let capture = Capture::start_if_asked(&lab);
        Self {
            capture,
            firewall,
            dnsmasq,
            lab,
        }
    }

    /// Asks the firewall's IPv4 resolver, with `dig`, from the phone.
    pub fn query(&self, name: &str, qtype: &str) -> DnsReply {
        Dig::new(RESOLVER_V4, name)
            .qtype(qtype)
            .expect_in(&self.lab.phone)
    }

    /// Asks dnsmasq directly, bypassing the firewall, from the phone.
    pub fn direct(&self, name: &str, qtype: &str) -> DnsReply {
        Dig::new(UPSTREAM_V4, name)
            .qtype(qtype)
            .expect_in(&self.lab.phone)
    }

    /// Stops the firewall (SIGTERM) and returns its final counters.
    pub fn stop(&mut self) -> Stats {
        self.firewall
            .take()
            .expect("firewall already stopped")
            .stop()
    }
}

/// A tcpdump of the firewall's TUN, stopped (and flushed) on drop.
#[derive(Debug)]
pub struct Capture {
    process: Spawned,
}

impl Capture {
    fn start_if_asked(lab: &Lab) -> Option<Self> {
        let dir = std::env::var_os("TACET_E2E_PCAP")?;
        std::fs::create_dir_all(&dir).unwrap();
        let test = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .replace("::", "-");
        let file = std::path::Path::new(&dir).join(format!("{test}.pcap"));
        let mut cmd = lab.phone.command("tcpdump");
        // Whatever interface the firewall runs on (--tun or --fd), it is the
        // phone's only one besides lo and the veth: capture "any".
        // --immediate-mode: without it, packets wait in the kernel ring for
        // a block timeout and those of a short test are lost at exit.
        cmd.args(["-i", "any", "--immediate-mode", "-U", "-n", "-w"])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut process = Spawned::new("tcpdump", cmd.spawn().expect("spawn tcpdump"));
        // tcpdump says "listening on" once the capture is live.
        let start = Instant::now();
        while !process.stderr().contains("listening on") && start.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = process.try_status();
        Some(Self { process })
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        // SIGINT lets tcpdump write out what it buffered.
        self.process.signal(libc::SIGINT);
        let _ = self.process.wait_exit(Duration::from_secs(3));
    }
}
