//! Floods from an app in the phone cannot hurt the firewall: a TCP
//! connection flood at the resolver's port 53 (open and close as fast as
//! one thread can, and more connections held open than the firewall has
//! slots) and a UDP query flood. Memory stays bounded, ordinary queries are
//! answered meanwhile, and DNS is back at once when the flood ends.
//!
//! Each test prints its figures (`cargo test … -- --nocapture`): connects
//! per second, memory at start, peak and end, and the answered rate and
//! latency of a paced probe with and without the flood, measured in the
//! same test. The two tests take a lock so they never flood at the same
//! time, which would measure each other.

// Test code: helpers outside #[test] fns fail the test loudly, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tacet_e2e::burst::TYPE_A;
use tacet_e2e::exchange;
use tacet_e2e::flood::{
    tcp_flood, udp_flood, udp_probe, vm_rss_kib, MemorySampler, ProbeReport, TcpFloodPlan,
};
use tacet_e2e::{require_root, Netns, Stats, Testbed, RESOLVER_V4};

static ONE_FLOOD_AT_A_TIME: Mutex<()> = Mutex::new(());

/// How long the TCP flood lasts: tens of thousands of connects.
const TCP_FLOOD: Duration = Duration::from_secs(10);
/// How long the UDP flood lasts.
const UDP_FLOOD: Duration = Duration::from_secs(5);
/// How long the probe runs without a flood, for the baseline.
const BASELINE: Duration = Duration::from_secs(3);
/// The probe: one query every 10 ms, each given 1 s.
const PROBE_EVERY: Duration = Duration::from_millis(10);
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Connections held open during the TCP flood: more than the firewall's
/// 64 connection slots, so the flood's SYNs meet a full table.
const HELD: usize = 100;
/// The most the firewall's memory may grow during a flood.
const MEMORY_CEILING_KIB: u64 = 30 * 1024;
/// How far above its start the firewall's memory may stay once a flood
/// ended: what the flood took must be given back or reused, not kept.
const MEMORY_KEPT_KIB: u64 = 10 * 1024;
/// How soon after the flood's end TCP DNS must answer again.
const TCP_BACK_WITHIN: Duration = Duration::from_secs(1);

/// A blocked name (answered by the firewall itself) and an allowed one
/// (through dnsmasq): the two paths an app's queries take.
const PROBE_QUESTIONS: &[(&str, u16)] = &[
    ("tracker.blocked.test", TYPE_A),
    ("www.allowed.test", TYPE_A),
];

fn resolver() -> SocketAddr {
    SocketAddr::new(RESOLVER_V4.parse().unwrap(), 53)
}

fn probe(phone: &Netns, duration: Duration) -> ProbeReport {
    phone.enter(|| {
        udp_probe(
            resolver(),
            PROBE_QUESTIONS,
            duration,
            PROBE_EVERY,
            PROBE_TIMEOUT,
        )
    })
}

fn counter(stats: &Stats, key: &str) -> u64 {
    stats
        .raw
        .get(key)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or_else(|| {
            panic!(
                "the final stats lack the integer key {key:?}: {}",
                stats.raw
            )
        })
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Retries a TCP query until it is answered or `within` has passed since
/// `since`; returns when it was answered (after `since`), or the last error.
fn tcp_dns_back(phone: &Netns, since: Instant, within: Duration) -> Result<Duration, String> {
    let query = exchange::query(0x7c90, "tracker.blocked.test", TYPE_A);
    loop {
        let left = within.saturating_sub(since.elapsed());
        let result = exchange::tcp(
            phone,
            resolver(),
            &query,
            left.max(Duration::from_millis(50)),
        );
        match result {
            Ok(reply) if reply.is_response() && reply.rcode() == Some(0) => {
                return Ok(since.elapsed())
            }
            Ok(reply) => return Err(format!("unexpected reply {}", reply.describe())),
            Err(e) if since.elapsed() >= within => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

#[test]
fn a_tcp_connection_flood_keeps_memory_bounded_and_dns_answering() {
    if !require_root() {
        return;
    }
    let _one = ONE_FLOOD_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut bed = Testbed::with_args(&[]);
    let phone = &bed.lab.phone;
    // Enough local ports that the flood measures the firewall, not the
    // phone's port range (resets leave no TIME-WAIT, FINs do).
    tacet_e2e::netns::run_ok(phone.command("sysctl").args([
        "-q",
        "-w",
        "net.ipv4.ip_local_port_range=1024 65535",
    ]));
    let pid = bed.firewall.as_ref().unwrap().pid();

    let baseline = probe(phone, BASELINE);
    let start_kib = vm_rss_kib(pid).unwrap();
    let sampler = MemorySampler::start(pid, Duration::from_millis(50));
    let (flood, during) = std::thread::scope(|scope| {
        let probing = scope.spawn(|| probe(phone, TCP_FLOOD));
        let plan = TcpFloodPlan::new(resolver(), TCP_FLOOD, HELD);
        let flood = phone.enter(|| tcp_flood(&plan));
        (flood, probing.join().unwrap())
    });
    let flood_end = Instant::now();
    let tcp_back = tcp_dns_back(phone, flood_end, TCP_BACK_WITHIN);
    let udp_after = exchange::udp(
        phone,
        resolver(),
        &exchange::query(0x7c91, "www.allowed.test", TYPE_A),
        PROBE_TIMEOUT,
    );
    // Let whatever the flood left behind time out (the firewall's idle
    // and close timers are 10 s and 5 s; reaping is its job).
    std::thread::sleep(Duration::from_secs(2));
    let end_kib = vm_rss_kib(pid).unwrap();
    let peak_kib = sampler.stop();
    let stats = bed.stop();

    println!("TCP flood at {}: {}", resolver(), flood.summary());
    println!(
        "firewall memory: start {}, peak {} (ceiling {}), 2 s after the flood {}",
        mib(start_kib),
        mib(peak_kib),
        mib(start_kib + MEMORY_CEILING_KIB),
        mib(end_kib)
    );
    println!("UDP probe without flood: {}", baseline.summary());
    println!("UDP probe during flood:  {}", during.summary());
    println!("TCP DNS after the flood: {tcp_back:?}; UDP right after: {udp_after:?}");
    println!("final stats: {}", stats.raw);

    assert!(
        flood.attempts >= 10_000,
        "the flood made only {} connects: it tested too little",
        flood.attempts
    );
    assert!(
        peak_kib <= start_kib + MEMORY_CEILING_KIB,
        "memory grew from {} to {} during the flood (ceiling +{})",
        mib(start_kib),
        mib(peak_kib),
        mib(MEMORY_CEILING_KIB)
    );
    assert!(
        end_kib <= start_kib + MEMORY_KEPT_KIB,
        "memory stayed at {} after the flood (start {})",
        mib(end_kib),
        mib(start_kib)
    );
    assert!(
        during.answered_share() >= 0.95 * baseline.answered_share(),
        "UDP queries went unanswered during the flood: {} (without: {})",
        during.summary(),
        baseline.summary()
    );
    let slow = baseline
        .quantile(0.5)
        .saturating_mul(10)
        .max(Duration::from_millis(20));
    assert!(
        during.quantile(0.5) <= slow,
        "UDP queries slowed down during the flood: median {:?} (without: {:?})",
        during.quantile(0.5),
        baseline.quantile(0.5)
    );
    assert!(
        tcp_back.is_ok(),
        "TCP DNS did not answer within {TCP_BACK_WITHIN:?} of the flood's end: {tcp_back:?}"
    );
    assert!(
        udp_after.is_some(),
        "UDP DNS did not answer right after the flood"
    );
    assert!(
        counter(&stats, "tcp_refused") > 0,
        "SYNs beyond the connection slots must be counted in tcp_refused: {}",
        stats.raw
    );
}

#[test]
fn a_udp_query_flood_keeps_memory_bounded_and_the_firewall_answering() {
    if !require_root() {
        return;
    }
    let _one = ONE_FLOOD_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut bed = Testbed::with_args(&[]);
    let phone = &bed.lab.phone;
    let pid = bed.firewall.as_ref().unwrap().pid();
    // Three blocked names for one allowed: the firewall's own answers and
    // the upstream path both under load.
    let names: Vec<String> = (0..4000)
        .map(|i| {
            if i % 4 == 0 {
                format!("n{i}.wild.allowed.test")
            } else {
                format!("n{i}.wild.blocked.test")
            }
        })
        .collect();

    let baseline = probe(phone, BASELINE);
    let start_kib = vm_rss_kib(pid).unwrap();
    let sampler = MemorySampler::start(pid, Duration::from_millis(50));
    let flood = phone.enter(|| udp_flood(resolver(), &names, UDP_FLOOD));
    let after = probe(phone, Duration::from_secs(1));
    std::thread::sleep(Duration::from_secs(2));
    let end_kib = vm_rss_kib(pid).unwrap();
    let peak_kib = sampler.stop();
    let stats = bed.stop();

    println!("UDP flood at {}: {}", resolver(), flood.summary());
    println!(
        "firewall memory: start {}, peak {} (ceiling {}), 2 s after the flood {}",
        mib(start_kib),
        mib(peak_kib),
        mib(start_kib + MEMORY_CEILING_KIB),
        mib(end_kib)
    );
    println!("UDP probe without flood: {}", baseline.summary());
    println!("UDP probe right after:   {}", after.summary());
    println!("final stats: {}", stats.raw);

    assert!(
        flood.answered > 0,
        "nothing was answered during the flood: {}",
        flood.summary()
    );
    assert!(
        peak_kib <= start_kib + MEMORY_CEILING_KIB,
        "memory grew from {} to {} during the flood (ceiling +{})",
        mib(start_kib),
        mib(peak_kib),
        mib(MEMORY_CEILING_KIB)
    );
    assert!(
        end_kib <= start_kib + MEMORY_KEPT_KIB,
        "memory stayed at {} after the flood (start {})",
        mib(end_kib),
        mib(start_kib)
    );
    assert!(
        after.answered_share() >= 0.95,
        "the firewall did not answer right after the flood: {}",
        after.summary()
    );
    assert!(
        stats.queries >= flood.answered,
        "the firewall counted fewer queries than it answered: {}",
        stats.raw
    );
}
