//! `tacet-e2e-tcp-flood TARGET SECONDS [HOLD]`: a TCP connection flood at
//! TARGET (`IP:PORT`) for SECONDS, holding HOLD connections open besides
//! (default 100, more than tacet's 64 connection slots), then one line of
//! figures: `connects N seconds S per_sec R established E refused F
//! unanswered U local_errors L held_max H`.
//!
//! `bench/flood.sh` runs it inside the phone namespace (`ip netns exec`)
//! against the firewall's resolver while dnsperf measures UDP; the
//! end-to-end test `tests/flood.rs` runs the same code in-process.

// Benchmark tool: bad arguments end the run with a message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Duration;

use tacet_e2e::flood::{tcp_flood, TcpFloodPlan};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(target), Some(seconds)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: tacet-e2e-tcp-flood IP:PORT SECONDS [HOLD]");
        std::process::exit(2);
    };
    let target: SocketAddr = target
        .parse()
        .unwrap_or_else(|_| panic!("not IP:PORT: {target}"));
    let seconds: f64 = seconds
        .parse()
        .unwrap_or_else(|_| panic!("not a number of seconds: {seconds}"));
    let hold: usize = args.get(3).map_or(100, |h| h.parse().unwrap());
    let report = tcp_flood(&TcpFloodPlan::new(
        target,
        Duration::from_secs_f64(seconds),
        hold,
    ));
    println!(
        "connects {} seconds {:.2} per_sec {:.0} established {} refused {} unanswered {} \
         local_errors {} held_max {}",
        report.attempts,
        report.duration.as_secs_f64(),
        report.connects_per_sec(),
        report.established,
        report.refused,
        report.unanswered,
        report.local_errors,
        report.held_max
    );
}
