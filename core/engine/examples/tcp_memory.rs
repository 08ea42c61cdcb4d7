//! Heap bytes per open DNS-over-TCP connection, measured with a counting
//! allocator: the engine's memory after 64 idle connections, less its
//! memory before, over 64. Beside it, the same for a smoltcp socket with
//! the engine's buffer sizes alone (the baseline).
//!
//! Run: cargo run --release -p tacet-engine --example tcp_memory
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Cursor;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use smoltcp::wire::IpAddress;
use tacet_engine::{Config, Engine};
use tacet_rules::{ListInfo, RuleSetBuilder};

// Shared with the TCP tests; not every helper is used here.
#[allow(dead_code)]
#[path = "../tests/support/phone.rs"]
mod phone;

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    const N: usize = 64;
    let t0 = Instant::now();
    let mut builder = RuleSetBuilder::new();
    builder
        .add_list(
            ListInfo {
                id: "m".into(),
                title: "m".into(),
            },
            Cursor::new(&b"huami.com\n"[..]),
        )
        .unwrap();
    let mut engine = Engine::new(
        Config {
            seed: 1,
            ..Config::default()
        },
        Arc::new(builder.build()),
    );
    let mut phone = phone::Phone::new(t0);
    // The phone's own sockets are allocated before the measurement.
    let handles: Vec<_> = (0..N)
        .map(|i| phone.connect((IpAddress::v4(10, 111, 222, 53), 53), 41_000 + i as u16))
        .collect();
    let before = LIVE.load(Ordering::Relaxed);
    let engine_before = before;
    phone.pump(&mut engine, t0);
    let open = handles
        .iter()
        .filter(|h| phone.socket(**h).may_send())
        .count();
    let after = LIVE.load(Ordering::Relaxed);
    assert_eq!(
        engine.tcp_connections(),
        N,
        "all {N} connections open ({open} on the phone)"
    );
    let per_connection = (after - engine_before) as f64 / N as f64;

    let base_before = LIVE.load(Ordering::Relaxed);
    let sockets: Vec<_> = (0..N)
        .map(|_| {
            smoltcp::socket::tcp::Socket::new(
                smoltcp::socket::tcp::SocketBuffer::new(vec![0; 2048]),
                smoltcp::socket::tcp::SocketBuffer::new(vec![0; 4096]),
            )
        })
        .collect();
    let baseline = (LIVE.load(Ordering::Relaxed) - base_before) as f64 / N as f64;
    drop(sockets);
    println!("bytes per open TCP/53 connection: {per_connection:.0} (target <= 8192)");
    println!("baseline, a bare smoltcp socket with the same buffers: {baseline:.0}");
    println!("ratio: {:.2}", per_connection / baseline);
}
