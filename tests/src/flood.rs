//! Floods and the figures around them: a TCP connection flood and a UDP
//! query flood at the firewall's resolver, a paced probe that times ordinary
//! queries meanwhile, and the firewall's memory read from `/proc`.
//!
//! Nothing here enters a namespace: the caller runs these inside the phone
//! namespace (a thread in [`crate::Netns::enter`], or `ip netns exec` for
//! the `tacet-e2e-tcp-flood` tool), and every socket, thread included,
//! belongs to it.

use std::io::{ErrorKind, Read};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::burst::{encode_query, parse_reply, Query};

/// The resident memory of process `pid` in KiB (`VmRSS` of
/// `/proc/PID/status`); `None` once it is gone.
pub fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Samples a process's resident memory on a thread, keeping the peak.
#[derive(Debug)]
pub struct MemorySampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MemorySampler {
    /// Reads `VmRSS` of `pid` every `every` until dropped or stopped.
    pub fn start(pid: u32, every: Duration) -> Self {
        let peak = Arc::new(AtomicU64::new(vm_rss_kib(pid).unwrap_or(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (peak, stop) = (Arc::clone(&peak), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(kib) = vm_rss_kib(pid) {
                        peak.fetch_max(kib, Ordering::Relaxed);
                    }
                    std::thread::sleep(every);
                }
            })
        };
        Self {
            peak,
            stop,
            thread: Some(thread),
        }
    }

    /// The highest sample so far, in KiB.
    pub fn peak_kib(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// Stops sampling and returns the peak in KiB.
    pub fn stop(mut self) -> u64 {
        self.halt();
        self.peak_kib()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for MemorySampler {
    fn drop(&mut self) {
        self.halt();
    }
}

/// What a paced probe saw: ordinary queries, one at a time, timed.
#[derive(Clone, Debug, Default)]
pub struct ProbeReport {
    /// Queries sent.
    pub sent: usize,
    /// Queries answered (NOERROR) within the probe's timeout.
    pub answered: usize,
    /// Queries answered with an error (SERVFAIL, REFUSED…) in time.
    pub failed: usize,
    /// How long the probe ran.
    pub duration: Duration,
    /// Round-trip time of each answered query, sorted.
    pub latencies: Vec<Duration>,
}

impl ProbeReport {
    /// Answered queries per second.
    pub fn answered_per_sec(&self) -> f64 {
        self.answered as f64 / self.duration.as_secs_f64().max(1e-9)
    }

    /// The share of queries answered, 0 to 1.
    pub fn answered_share(&self) -> f64 {
        self.answered as f64 / (self.sent.max(1) as f64)
    }

    /// The `q`-quantile (0 to 1) of the round-trip times.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::MAX;
        }
        let last = self.latencies.len() - 1;
        let at = ((last as f64) * q).round() as usize;
        self.latencies[at.min(last)]
    }

    /// One line for a test's output.
    pub fn summary(&self) -> String {
        format!(
            "{} sent, {} answered ({:.1}%), {} errors, in {:.1} s: {:.0} answered/s, \
             median {:?}, p99 {:?}",
            self.sent,
            self.answered,
            100.0 * self.answered_share(),
            self.failed,
            self.duration.as_secs_f64(),
            self.answered_per_sec(),
            self.quantile(0.5),
            self.quantile(0.99)
        )
    }
}

/// Sends one query every `interval` to `server` for `duration`, each waiting
/// up to `timeout` for its answer, cycling through `questions`: an app that
/// keeps resolving while something else goes on.
pub fn udp_probe(
    server: SocketAddr,
    questions: &[(&str, u16)],
    duration: Duration,
    interval: Duration,
    timeout: Duration,
) -> ProbeReport {
    let socket = UdpSocket::bind(unspecified(server)).unwrap();
    socket.connect(server).unwrap();
    let start = Instant::now();
    let mut report = ProbeReport::default();
    let mut buf = [0u8; 4096];
    let mut next = start;
    let mut id: u16 = 0;
    while start.elapsed() < duration {
        let (name, qtype) = questions[report.sent % questions.len()];
        id = id.wrapping_add(1);
        let message = encode_query(&Query {
            id,
            name: name.to_owned(),
            qtype,
        });
        let sent_at = Instant::now();
        report.sent += 1;
        if socket.send(&message).is_ok() {
            loop {
                let left = timeout.saturating_sub(sent_at.elapsed());
                if left.is_zero() {
                    break;
                }
                socket.set_read_timeout(Some(left)).unwrap();
                match socket.recv(&mut buf) {
                    // A late answer to an earlier query is skipped.
                    Ok(n) => match parse_reply(&buf[..n], Duration::ZERO) {
                        Some(r) if r.id == id && r.rcode == 0 => {
                            report.answered += 1;
                            report.latencies.push(sent_at.elapsed());
                            break;
                        }
                        Some(r) if r.id == id => {
                            report.failed += 1;
                            break;
                        }
                        _ => {}
                    },
                    Err(_) => break,
                }
            }
        }
        next += interval;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        } else {
            next = Instant::now();
        }
    }
    report.duration = start.elapsed();
    report.latencies.sort();
    report
}

/// How to flood a TCP port with connections.
#[derive(Clone, Debug)]
pub struct TcpFloodPlan {
    /// Where to connect.
    pub target: SocketAddr,
    /// How long to keep at it.
    pub duration: Duration,
    /// Connection attempts kept in flight at once by the churning loop.
    pub in_flight: usize,
    /// How long an attempt may wait for the SYN-ACK or the reset before it
    /// is given up and closed (a dropped SYN).
    pub answer_wait: Duration,
    /// Connections opened and held open for the whole flood (reopened when
    /// the server closes them), to keep every connection slot taken.
    pub hold: usize,
    /// One established connection in this many is closed with a FIN (as
    /// an app does); the rest are reset, which leaves no TIME-WAIT behind
    /// and so never runs out of local ports.
    pub graceful_every: u64,
}

impl TcpFloodPlan {
    /// Open-and-close as fast as one thread can, holding `hold`
    /// connections besides.
    pub fn new(target: SocketAddr, duration: Duration, hold: usize) -> Self {
        Self {
            target,
            duration,
            in_flight: 64,
            answer_wait: Duration::from_millis(50),
            hold,
            graceful_every: 64,
        }
    }
}

/// What a TCP flood did.
#[derive(Clone, Debug, Default)]
pub struct TcpFloodReport {
    /// Connection attempts started (SYNs sent), held ones included.
    pub attempts: u64,
    /// Attempts the server accepted.
    pub established: u64,
    /// Attempts the server reset (connection refused).
    pub refused: u64,
    /// Attempts given up without any answer.
    pub unanswered: u64,
    /// Attempts that failed locally (e.g. no free local port).
    pub local_errors: u64,
    /// The most held connections established at one time.
    pub held_max: usize,
    /// How long the flood ran.
    pub duration: Duration,
}

impl TcpFloodReport {
    /// Connection attempts per second.
    pub fn connects_per_sec(&self) -> f64 {
        self.attempts as f64 / self.duration.as_secs_f64().max(1e-9)
    }

    /// One line for a test's or tool's output.
    pub fn summary(&self) -> String {
        format!(
            "{} connects in {:.1} s ({:.0}/s): {} established, {} refused, {} unanswered, \
             {} local errors; at most {} held open at once",
            self.attempts,
            self.duration.as_secs_f64(),
            self.connects_per_sec(),
            self.established,
            self.refused,
            self.unanswered,
            self.local_errors,
            self.held_max
        )
    }
}

/// One connection attempt or held connection.
struct Attempt {
    stream: TcpStream,
    started: Instant,
    established: bool,
}

/// Floods `plan.target` with connections for `plan.duration`: one thread
/// holds `plan.hold` connections open, this one opens and closes as many as
/// it can. Returns the counts of both.
pub fn tcp_flood(plan: &TcpFloodPlan) -> TcpFloodReport {
    let stop = Arc::new(AtomicBool::new(false));
    let holder = {
        let (plan, stop) = (plan.clone(), Arc::clone(&stop));
        std::thread::spawn(move || hold_connections(&plan, &stop))
    };
    let start = Instant::now();
    let mut report = churn(plan);
    stop.store(true, Ordering::Relaxed);
    let held = holder.join().unwrap();
    report.duration = start.elapsed();
    report.attempts += held.attempts;
    report.established += held.established;
    report.refused += held.refused;
    report.unanswered += held.unanswered;
    report.local_errors += held.local_errors;
    report.held_max = held.held_max;
    report
}

/// The outcome of a connection attempt, once known.
enum Outcome {
    Pending,
    Established,
    Refused,
}

/// What a writable or error event on a connecting stream means (mio's
/// recipe: an error, or a peer address once connected).
fn outcome(stream: &TcpStream) -> Outcome {
    match stream.take_error() {
        Ok(Some(_)) | Err(_) => Outcome::Refused,
        Ok(None) => match stream.peer_addr() {
            Ok(_) => Outcome::Established,
            Err(e) if e.kind() == ErrorKind::NotConnected => Outcome::Pending,
            Err(_) => Outcome::Refused,
        },
    }
}

/// Closes with a reset instead of a FIN (SO_LINGER 0): no TIME-WAIT.
fn reset_on_close(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the pointer and length describe a live linger struct; the fd
    // is open for the call.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::from_ref(&linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

fn churn(plan: &TcpFloodPlan) -> TcpFloodReport {
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(1024);
    let mut slots: Vec<Option<Attempt>> = (0..plan.in_flight).map(|_| None).collect();
    let mut report = TcpFloodReport::default();
    let deadline = Instant::now() + plan.duration;
    while Instant::now() < deadline {
        for (i, slot) in slots.iter_mut().enumerate() {
            if slot.is_some() {
                continue;
            }
            match TcpStream::connect(plan.target) {
                Ok(mut stream) => {
                    report.attempts += 1;
                    poll.registry()
                        .register(&mut stream, Token(i), Interest::WRITABLE)
                        .unwrap();
                    *slot = Some(Attempt {
                        stream,
                        started: Instant::now(),
                        established: false,
                    });
                }
                Err(_) => {
                    report.local_errors += 1;
                    break;
                }
            }
        }
        poll.poll(&mut events, Some(Duration::from_millis(5)))
            .unwrap();
        for event in &events {
            let Some(slot) = slots.get_mut(event.token().0) else {
                continue;
            };
            let Some(attempt) = slot.as_mut() else {
                continue;
            };
            match outcome(&attempt.stream) {
                Outcome::Pending => continue,
                Outcome::Established => {
                    report.established += 1;
                    if report.established % plan.graceful_every.max(1) != 0 {
                        reset_on_close(&attempt.stream);
                    }
                }
                Outcome::Refused => report.refused += 1,
            }
            if let Some(mut done) = slot.take() {
                let _ = poll.registry().deregister(&mut done.stream);
            }
        }
        for slot in &mut slots {
            if slot
                .as_ref()
                .is_some_and(|a| a.started.elapsed() >= plan.answer_wait)
            {
                report.unanswered += 1;
                if let Some(mut gone) = slot.take() {
                    let _ = poll.registry().deregister(&mut gone.stream);
                }
            }
        }
    }
    report
}

fn hold_connections(plan: &TcpFloodPlan, stop: &AtomicBool) -> TcpFloodReport {
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(1024);
    let mut held: Vec<Option<Attempt>> = (0..plan.hold).map(|_| None).collect();
    let mut report = TcpFloodReport::default();
    let mut buf = [0u8; 512];
    while !stop.load(Ordering::Relaxed) {
        for (i, slot) in held.iter_mut().enumerate() {
            if slot.is_some() {
                continue;
            }
            match TcpStream::connect(plan.target) {
                Ok(mut stream) => {
                    report.attempts += 1;
                    poll.registry()
                        .register(
                            &mut stream,
                            Token(i),
                            Interest::READABLE | Interest::WRITABLE,
                        )
                        .unwrap();
                    *slot = Some(Attempt {
                        stream,
                        started: Instant::now(),
                        established: false,
                    });
                }
                Err(_) => {
                    report.local_errors += 1;
                    break;
                }
            }
        }
        // Slow on purpose: a refused holder is retried at most every 50 ms.
        poll.poll(&mut events, Some(Duration::from_millis(50)))
            .unwrap();
        for event in &events {
            let Some(slot) = held.get_mut(event.token().0) else {
                continue;
            };
            let Some(attempt) = slot.as_mut() else {
                continue;
            };
            let gone = if attempt.established {
                // Held: only the server closing it (EOF or error) matters.
                event.is_read_closed() || event.is_error() || closed(&mut attempt.stream, &mut buf)
            } else {
                match outcome(&attempt.stream) {
                    Outcome::Pending => false,
                    Outcome::Established => {
                        attempt.established = true;
                        report.established += 1;
                        false
                    }
                    Outcome::Refused => {
                        report.refused += 1;
                        true
                    }
                }
            };
            if gone {
                if let Some(mut done) = slot.take() {
                    let _ = poll.registry().deregister(&mut done.stream);
                }
            }
        }
        for slot in &mut held {
            if slot
                .as_ref()
                .is_some_and(|a| !a.established && a.started.elapsed() >= Duration::from_secs(3))
            {
                report.unanswered += 1;
                if let Some(mut gone) = slot.take() {
                    let _ = poll.registry().deregister(&mut gone.stream);
                }
            }
        }
        let open = held.iter().flatten().filter(|a| a.established).count();
        report.held_max = report.held_max.max(open);
    }
    report
}

/// Whether reading `stream` shows it closed; data is read and dropped.
fn closed(stream: &mut TcpStream, buf: &mut [u8]) -> bool {
    loop {
        match stream.read(buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}

/// What a UDP flood did.
#[derive(Clone, Debug, Default)]
pub struct UdpFloodReport {
    /// Queries sent.
    pub sent: u64,
    /// Sends the kernel refused (full queue); not counted in `sent`.
    pub send_errors: u64,
    /// Replies received.
    pub answered: u64,
    /// How long the flood ran.
    pub duration: Duration,
}

impl UdpFloodReport {
    /// Queries sent per second.
    pub fn sent_per_sec(&self) -> f64 {
        self.sent as f64 / self.duration.as_secs_f64().max(1e-9)
    }

    /// Replies per second.
    pub fn answered_per_sec(&self) -> f64 {
        self.answered as f64 / self.duration.as_secs_f64().max(1e-9)
    }

    /// One line for a test's output.
    pub fn summary(&self) -> String {
        format!(
            "{} queries in {:.1} s ({:.0}/s sent, {:.0}/s answered, {} answered in all), \
             {} sends refused by the kernel",
            self.sent,
            self.duration.as_secs_f64(),
            self.sent_per_sec(),
            self.answered_per_sec(),
            self.answered,
            self.send_errors
        )
    }
}

/// Sends queries to `server` as fast as one socket can for `duration`,
/// cycling through `names` (A queries), reading whatever comes back.
pub fn udp_flood(server: SocketAddr, names: &[String], duration: Duration) -> UdpFloodReport {
    let socket = UdpSocket::bind(unspecified(server)).unwrap();
    socket.connect(server).unwrap();
    socket.set_nonblocking(true).unwrap();
    let mut report = UdpFloodReport::default();
    let mut buf = [0u8; 4096];
    let start = Instant::now();
    let mut id: u16 = 0;
    let drain = |report: &mut UdpFloodReport, buf: &mut [u8]| {
        while socket.recv(buf).is_ok() {
            report.answered += 1;
        }
    };
    while start.elapsed() < duration {
        for _ in 0..64 {
            id = id.wrapping_add(1);
            let name = &names[usize::from(id) % names.len()];
            let message = encode_query(&Query {
                id,
                name: name.clone(),
                qtype: crate::burst::TYPE_A,
            });
            match socket.send(&message) {
                Ok(_) => report.sent += 1,
                Err(_) => {
                    report.send_errors += 1;
                    break;
                }
            }
        }
        drain(&mut report, &mut buf);
    }
    report.duration = start.elapsed();
    // Answers still on their way count too.
    let tail = Instant::now();
    while tail.elapsed() < Duration::from_millis(300) {
        drain(&mut report, &mut buf);
        std::thread::sleep(Duration::from_millis(10));
    }
    report
}

fn unspecified(server: SocketAddr) -> SocketAddr {
    if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    }
}
