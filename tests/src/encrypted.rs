//! Real encrypted resolvers in a lab's upstream namespace, the certificates
//! they present, and what crossed the link to them.
//!
//! ```text
//!   phone ns                          upstream ns
//!   tacet ──tls:// or https://──▶ up0 10.200.0.2, fd00:200::2
//!                                    unbound  :853 DoT, :443 DoH
//!                                    dnsdist  :8853 DoT, :8443 DoH ─┐
//!                                    unbound  127.0.0.1:5353 plain ◀┘ (loopback only)
//! ```
//!
//! - [`Pki`]: a throwaway CA (rcgen) and the server certificates it issues:
//!   for the right name or another one, valid now or expired. A second
//!   `Pki` is a CA nobody trusts.
//! - [`Unbound`]: Debian's unbound answering the test zone from local data
//!   ([`UNBOUND_ZONE`]), refusing everything else: it never recurses, so it
//!   never reaches for the internet.
//! - [`Dnsdist`]: Debian's dnsdist with DoT and DoH frontends, forwarding
//!   to that unbound over the upstream namespace's loopback (never the
//!   link), security polling off.
//! - [`LinkCapture`]: tcpdump on the upstream's end of the veth: every
//!   packet that crossed the link, counted by filter afterwards.
//! - [`paced_load`]: queries at a steady pace, each reply timed, while a
//!   test does something to the server.
//!
//! Every configuration file is written into a scratch directory of the
//! test's own; nothing reads the system's (`/etc/unbound`, `/etc/dnsdist`),
//! and the system services the packages bring are never used
//! (`.ci/install-deps` disables them).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use crate::burst::{encode_query, parse_reply, Query, TYPE_A};
use crate::dnsmasq::TRACKER_A;
use crate::gate::on_path;
use crate::lab::{Lab, UPSTREAM_V4, UPSTREAM_V6};
use crate::netns::Netns;
use crate::process::Spawned;
use crate::scratch::ScratchDir;

/// The name the servers' certificates are for, and the one tacet is told
/// to expect (`tls://ADDR#dns.test`).
pub const SERVER_NAME: &str = "dns.test";
/// unbound's DNS-over-TLS port, on the upstream's veth addresses.
pub const UNBOUND_DOT_PORT: u16 = 853;
/// unbound's DNS-over-HTTPS port (path `/dns-query`).
pub const UNBOUND_DOH_PORT: u16 = 443;
/// unbound's plain DNS, on the upstream namespace's loopback only: the
/// backend of dnsdist. No plain DNS listens on the link.
pub const UNBOUND_PLAIN: &str = "127.0.0.1:5353";
/// dnsdist's DNS-over-TLS port.
pub const DNSDIST_DOT_PORT: u16 = 8853;
/// dnsdist's DNS-over-HTTPS port (path `/dns-query`).
pub const DNSDIST_DOH_PORT: u16 = 8443;

/// What unbound answers: a part of dnsmasq's test zone
/// ([`crate::dnsmasq::test_zone`]), the same addresses, so tests read alike.
/// Everything else under `test.` is NXDOMAIN; everything outside it is
/// REFUSED (`local-zone: "." refuse`), so unbound never recurses.
pub const UNBOUND_ZONE: &[&str] = &[
    "www.allowed.test. 300 IN A 192.0.2.11",
    "www.allowed.test. 300 IN AAAA 2001:db8::11",
    "v4only.allowed.test. 300 IN A 192.0.2.12",
    "txt.allowed.test. 300 IN TXT \"v=tacet test record\"",
    // Every name under wild.allowed.test (a redirect zone, below).
    "wild.allowed.test. 300 IN A 192.0.2.10",
];

/// The tools this module runs. A missing one fails the test, naming it.
const TOOLS: &[&str] = &["unbound", "dnsdist", "tcpdump", "ss"];

/// Fails when unbound, dnsdist, tcpdump or ss is missing.
pub fn require_tools() {
    let missing: Vec<&str> = TOOLS.iter().copied().filter(|t| !on_path(t)).collect();
    assert!(
        missing.is_empty(),
        "missing tools needed by the encrypted-upstream tests: {missing:?}; install \
         unbound dnsdist tcpdump iproute2 (.ci/install-deps does)"
    );
}

/// How long a server may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether a certificate is valid now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// Valid from yesterday for a year.
    Current,
    /// Valid in 2020 only: expired.
    Expired,
}

/// A server certificate and its key, as PEM files.
#[derive(Clone, Debug)]
pub struct ServerCert {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM, PKCS #8).
    pub key: PathBuf,
}

/// A throwaway certificate authority and the files it wrote, removed on
/// drop.
pub struct Pki {
    issuer: CertifiedIssuer<'static, KeyPair>,
    dir: ScratchDir,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki").field("dir", &self.dir).finish()
    }
}

impl Pki {
    /// A new CA; its certificate is written to [`Pki::ca_file`].
    pub fn new(label: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("tacet test CA {label}"));
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let dir = ScratchDir::new("pki");
        dir.write("ca.pem", &issuer.pem());
        Self { issuer, dir }
    }

    /// The CA certificate (PEM): what `tacet run --upstream-ca` is given.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Issues a server certificate for `name`, written as `STEM.pem` and
    /// `STEM.key`.
    pub fn issue(&self, stem: &str, name: &str, validity: Validity) -> ServerCert {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        match validity {
            Validity::Current => {
                let now = std::time::SystemTime::now();
                let day = Duration::from_secs(86_400);
                params.not_before = (now - day).into();
                params.not_after = (now + 365 * day).into();
            }
            Validity::Expired => {
                params.not_before = rcgen::date_time_ymd(2020, 1, 1);
                params.not_after = rcgen::date_time_ymd(2020, 12, 31);
            }
        }
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        ServerCert {
            cert: self.dir.write(&format!("{stem}.pem"), &cert.pem()),
            key: self.dir.write(&format!("{stem}.key"), &key.serialize_pem()),
        }
    }
}

/// Waits until `ns` has a TCP listener on every one of `addrs`
/// (`ss -ltn`, which sends nothing), or panics with `describe()`.
fn wait_listening(ns: &Netns, addrs: &[String], process: &mut Spawned) {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = process.try_status() {
            panic!("the server exited early ({status}): {}", process.describe());
        }
        let out = ns.command("ss").args(["-ltnH"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let listening = |addr: &String| text.split_whitespace().any(|field| field == addr);
        if addrs.iter().all(listening) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not listening on {addrs:?} within {START_TIMEOUT:?}: {text}; {}",
            process.describe()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// unbound in a lab's upstream namespace: DoT on 853 and DoH on 443 of the
/// veth addresses (IPv4 and IPv6), plain DNS on loopback for dnsdist.
/// Killed on drop.
#[derive(Debug)]
pub struct Unbound {
    process: Option<Spawned>,
    config: PathBuf,
    upstream: String,
    _dir: ScratchDir,
}

impl Unbound {
    /// Starts unbound presenting `cert`, and waits until it listens.
    pub fn start(lab: &Lab, cert: &ServerCert) -> Self {
        require_tools();
        let dir = ScratchDir::new("unbound");
        let mut conf = String::from("server:\n");
        for line in [
            "    chroot: \"\"".to_owned(),
            "    username: \"\"".to_owned(),
            format!("    directory: \"{}\"", dir.path().display()),
            "    use-syslog: no".to_owned(),
            "    logfile: \"\"".to_owned(),
            "    verbosity: 1".to_owned(),
            "    num-threads: 1".to_owned(),
            "    so-reuseport: no".to_owned(),
            "    interface-automatic: no".to_owned(),
            format!("    interface: {UPSTREAM_V4}@{UNBOUND_DOT_PORT}"),
            format!("    interface: {UPSTREAM_V4}@{UNBOUND_DOH_PORT}"),
            format!("    interface: {UPSTREAM_V6}@{UNBOUND_DOT_PORT}"),
            format!("    interface: {UPSTREAM_V6}@{UNBOUND_DOH_PORT}"),
            format!("    interface: {}", UNBOUND_PLAIN.replace(':', "@")),
            format!("    tls-port: {UNBOUND_DOT_PORT}"),
            format!("    https-port: {UNBOUND_DOH_PORT}"),
            "    http-endpoint: \"/dns-query\"".to_owned(),
            format!("    tls-service-pem: \"{}\"", cert.cert.display()),
            format!("    tls-service-key: \"{}\"", cert.key.display()),
            // Room for many pipelined connections and queries.
            "    incoming-num-tcp: 64".to_owned(),
            "    access-control: 0.0.0.0/0 allow".to_owned(),
            "    access-control: ::/0 allow".to_owned(),
            // No validator, no trust anchor to fetch, no recursion.
            "    module-config: \"iterator\"".to_owned(),
            "    local-zone: \".\" refuse".to_owned(),
            "    local-zone: \"test.\" static".to_owned(),
            "    local-zone: \"wild.allowed.test.\" redirect".to_owned(),
            // A blocked name has a real answer too: a leak would show.
            format!("    local-data: \"tracker.blocked.test. 300 IN A {TRACKER_A}\""),
        ] {
            conf.push_str(&line);
            conf.push('\n');
        }
        for record in UNBOUND_ZONE {
            conf.push_str(&format!("    local-data: '{record}'\n"));
        }
        conf.push_str("remote-control:\n    control-enable: no\n");
        let config = dir.write("unbound.conf", &conf);
        let mut unbound = Self {
            process: None,
            config,
            upstream: lab.upstream.name().to_owned(),
            _dir: dir,
        };
        unbound.spawn(lab);
        unbound
    }

    fn spawn(&mut self, lab: &Lab) {
        assert_eq!(lab.upstream.name(), self.upstream, "another lab");
        let mut cmd = lab.upstream.command("unbound");
        // -d: in the foreground; -p: no pid file.
        cmd.args(["-d", "-p", "-c"])
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        crate::process::die_with_parent(&mut cmd);
        let mut process = Spawned::new("unbound", cmd.spawn().expect("spawn unbound"));
        let listen = [
            format!("{UPSTREAM_V4}:{UNBOUND_DOT_PORT}"),
            format!("{UPSTREAM_V4}:{UNBOUND_DOH_PORT}"),
            format!("[{UPSTREAM_V6}]:{UNBOUND_DOT_PORT}"),
            format!("[{UPSTREAM_V6}]:{UNBOUND_DOH_PORT}"),
        ];
        wait_listening(&lab.upstream, &listen, &mut process);
        self.process = Some(process);
    }

    /// Kills unbound outright (SIGKILL), as a crash would, and reaps it:
    /// its connections die with it.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.signal(libc::SIGKILL);
            assert!(
                process.wait_exit(Duration::from_secs(5)).is_some(),
                "unbound outlived SIGKILL"
            );
        }
    }

    /// Starts unbound again with the same configuration, and waits until
    /// it listens.
    pub fn restart(&mut self, lab: &Lab) {
        self.kill();
        self.spawn(lab);
    }

    /// What unbound wrote to stderr (its log), for failure messages.
    pub fn log(&self) -> String {
        self.process
            .as_ref()
            .map_or_else(String::new, Spawned::describe)
    }
}

/// dnsdist in a lab's upstream namespace: DoT on 8853 and DoH on 8443 of
/// the veth's IPv4 address, forwarding to [`Unbound`]'s loopback port.
/// Killed on drop.
#[derive(Debug)]
pub struct Dnsdist {
    process: Spawned,
    _dir: ScratchDir,
}

impl Dnsdist {
    /// Starts dnsdist presenting `cert`, in front of the lab's unbound
    /// (started first), and waits until it listens and has found unbound
    /// up.
    pub fn start(lab: &Lab, cert: &ServerCert) -> Self {
        require_tools();
        let dir = ScratchDir::new("dnsdist");
        let (pem, key) = (cert.cert.display(), cert.key.display());
        let conf = format!(
            "-- Never ask secpoll.powerdns.com whether this version is safe.\n\
             setSecurityPollSuffix(\"\")\n\
             -- Plain DNS on loopback only (dnsdist listens on 127.0.0.1:53 unless told).\n\
             setLocal(\"127.0.0.1:5354\")\n\
             addTLSLocal(\"{UPSTREAM_V4}:{DNSDIST_DOT_PORT}\", \"{pem}\", \"{key}\")\n\
             addDOHLocal(\"{UPSTREAM_V4}:{DNSDIST_DOH_PORT}\", \"{pem}\", \"{key}\", \"/dns-query\")\n\
             newServer({{address=\"{UNBOUND_PLAIN}\", checkName=\"www.allowed.test.\"}})\n"
        );
        let config = dir.write("dnsdist.conf", &conf);
        let mut cmd = lab.upstream.command("dnsdist");
        cmd.args(["--supervised", "--disable-syslog", "-C"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        crate::process::die_with_parent(&mut cmd);
        let mut process = Spawned::new("dnsdist", cmd.spawn().expect("spawn dnsdist"));
        let listen = [
            format!("{UPSTREAM_V4}:{DNSDIST_DOT_PORT}"),
            format!("{UPSTREAM_V4}:{DNSDIST_DOH_PORT}"),
        ];
        wait_listening(&lab.upstream, &listen, &mut process);
        // Until its first health check marks the backend up, dnsdist drops
        // queries.
        let up = process.wait_line(START_TIMEOUT, |l| l.contains("as 'up'"));
        assert!(
            up.is_some(),
            "dnsdist never marked unbound up: {:?}; {}",
            process.stdout_lines(),
            process.describe()
        );
        Self { process, _dir: dir }
    }

    /// What dnsdist wrote, for failure messages.
    pub fn log(&self) -> String {
        format!(
            "{:?}; {}",
            self.process.stdout_lines(),
            self.process.describe()
        )
    }
}

/// tcpdump on one interface of a namespace, written to a pcap file and
/// read back by filter once stopped. Stopped on drop.
#[derive(Debug)]
pub struct LinkCapture {
    process: Option<Spawned>,
    file: PathBuf,
    _dir: ScratchDir,
}

impl LinkCapture {
    /// Starts capturing every packet on `device` in `ns`, and waits until
    /// the capture is live.
    pub fn start(ns: &Netns, device: &str) -> Self {
        require_tools();
        let dir = ScratchDir::new("pcap");
        let file = dir.path().join("link.pcap");
        let mut cmd = ns.command("tcpdump");
        // -Z root: keep writing as root into the root-owned scratch dir;
        // --immediate-mode -U: nothing waits in a buffer at the end.
        cmd.args([
            "-i",
            device,
            "-n",
            "-Z",
            "root",
            "--immediate-mode",
            "-U",
            "-w",
        ])
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        crate::process::die_with_parent(&mut cmd);
        let mut process = Spawned::new("tcpdump", cmd.spawn().expect("spawn tcpdump"));
        let deadline = Instant::now() + START_TIMEOUT;
        while !process.stderr().contains("listening on") {
            if let Some(status) = process.try_status() {
                panic!("tcpdump exited ({status}): {}", process.describe());
            }
            assert!(
                Instant::now() < deadline,
                "tcpdump did not start: {}",
                process.describe()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Self {
            process: Some(process),
            file,
            _dir: dir,
        }
    }

    /// Stops the capture (SIGINT, so tcpdump writes out what it holds).
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.signal(libc::SIGINT);
            assert!(
                process.wait_exit(Duration::from_secs(5)).is_some(),
                "tcpdump did not stop: {}",
                process.describe()
            );
        }
    }

    /// The captured packets matching the pcap `filter`, one line each
    /// (`tcpdump -r -nn`); stops the capture first.
    pub fn packets(&mut self, filter: &str) -> Vec<String> {
        self.stop();
        let out = Command::new("tcpdump")
            .args(["-r"])
            .arg(&self.file)
            .args(["-nn", filter])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tcpdump -r {filter:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// How many TCP connections were opened to `port`: SYNs without ACK,
    /// over IPv4 or IPv6 (whose TCP header libpcap's `tcp[]` cannot read:
    /// the flags are byte 13 after the 40-byte IPv6 header).
    pub fn connections_to(&mut self, port: u16) -> usize {
        self.packets(&format!(
            "tcp dst port {port} and ((ip and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn) \
             or (ip6 and ip6[53] & 0x12 == 0x02))"
        ))
        .len()
    }
}

impl Drop for LinkCapture {
    fn drop(&mut self) {
        if let Some(process) = &self.process {
            process.signal(libc::SIGINT);
        }
    }
}

/// One query of a [`paced_load`].
#[derive(Clone, Debug)]
pub struct Sample {
    /// The name asked for (type A).
    pub name: String,
    /// When it was sent.
    pub sent: Instant,
    /// Why it could not be sent, if it could not (the kernel said so at
    /// once: no route, or an ICMP error for an earlier datagram).
    pub send_error: Option<String>,
    /// When its reply came, and the reply's rcode and A records.
    pub reply: Option<(Instant, u8, Vec<std::net::IpAddr>)>,
}

impl Sample {
    /// Whether it was answered with exactly `addr`.
    pub fn answered_with(&self, addr: std::net::IpAddr) -> bool {
        matches!(&self.reply, Some((_, 0, addrs)) if addrs == &[addr])
    }

    /// Whether it was in flight at `at`: sent before, not answered by then.
    pub fn in_flight_at(&self, at: Instant) -> bool {
        self.sent <= at && self.reply.as_ref().is_none_or(|(when, ..)| *when > at)
    }
}

/// Sends `count` A queries from `ns` to `server`, one every `interval`,
/// for the names `name(i)`, collecting each first reply until `grace`
/// after the last was sent. Returns the samples in sending order.
pub fn paced_load(
    ns: &Netns,
    server: SocketAddr,
    count: u16,
    interval: Duration,
    grace: Duration,
    name: impl Fn(u16) -> String + Send + Sync,
) -> Vec<Sample> {
    ns.enter(|| {
        let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        socket.connect(server).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let sender = socket.try_clone().unwrap();
        let sent: Arc<Mutex<Vec<Sample>>> = Arc::new(Mutex::new(Vec::new()));
        let start = Instant::now();
        let mut replies: HashMap<u16, (Instant, u8, Vec<std::net::IpAddr>)> = HashMap::new();
        std::thread::scope(|scope| {
            let log = Arc::clone(&sent);
            let name = &name;
            let sending = scope.spawn(move || {
                for id in 0..count {
                    let at = start + interval * u32::from(id);
                    std::thread::sleep(at.saturating_duration_since(Instant::now()));
                    let query = Query {
                        id,
                        name: name(id),
                        qtype: TYPE_A,
                    };
                    let now = Instant::now();
                    let error = sender.send(&encode_query(&query)).err();
                    log.lock().unwrap().push(Sample {
                        name: query.name,
                        sent: now,
                        send_error: error.map(|e| e.to_string()),
                        reply: None,
                    });
                }
            });
            let mut buf = [0u8; 4096];
            let mut end = None;
            loop {
                if sending.is_finished() {
                    let end = *end.get_or_insert_with(|| Instant::now() + grace);
                    if replies.len() == usize::from(count) || Instant::now() >= end {
                        break;
                    }
                }
                let Ok(n) = socket.recv(&mut buf) else {
                    continue;
                };
                let now = Instant::now();
                if let Some(reply) = parse_reply(&buf[..n], now - start) {
                    replies
                        .entry(reply.id)
                        .or_insert((now, reply.rcode, reply.addrs));
                }
            }
        });
        let mut samples = std::mem::take(&mut *sent.lock().unwrap());
        for (id, sample) in samples.iter_mut().enumerate() {
            let id = u16::try_from(id).unwrap();
            sample.reply = replies.remove(&id);
        }
        samples
    })
}

/// A pcap filter for everything that is not the TCP port `port`, not ARP,
/// not ICMPv6 (neighbour discovery) and not IPv6 multicast (the kernel's
/// listener reports, behind a hop-by-hop header that `icmp6` does not
/// see): what must not cross the link when only an encrypted port is used.
pub fn anything_but(port: u16) -> String {
    format!("(ip or ip6) and not icmp6 and not ip6 multicast and not tcp port {port}")
}
