//! The iOS packet-tunnel extension may use 50 MiB; past that iOS kills it
//! and the phone is left without filtering. This measures, on Linux, the
//! firewall as the extension runs it: the app has fetched the largest list
//! of the catalogue's size (HaGeZi Pro, about 500,000 names; generated
//! here from HaGeZi light's real labels) and compiled the rules into the
//! store, and the extension, in a fresh process, maps them, starts on a
//! tunnel with the default lists, discovery mode on (every query
//! journaled) and answers 20,000 queries, half blocked. iOS counts a
//! process's dirty memory (its footprint), not the clean pages of a mapped
//! file; both are asserted here, with a margin.
//!
//! Alone in its test binary: the extension's phase runs in a child process
//! of this binary, so nothing the app's phase allocated is counted.

// A failed setup step in a helper is a failed test.
#![allow(clippy::expect_used)]

mod common;

#[path = "../../core/rules/benches/support/lists.rs"]
#[allow(dead_code)]
mod lists;

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::process::Command;

use simple_dns::rdata::{RData, A};
use simple_dns::{Packet, ResourceRecord, CLASS};
use tacet_ffi::{Firewall, FirewallConfig, ListSubscriptions};

/// Names in the generated list: HaGeZi Pro's size.
const LIST_NAMES: usize = 500_000;
/// Queries the extension answers: half listed names, half popular ones.
const QUERIES: usize = 20_000;
/// The extension's limit on iOS 15 and later.
const LIMIT_KIB: u64 = 50 * 1024;
/// What the test allows: dirty memory at most 40 % of the limit, and all
/// resident memory, clean mapped pages included, at most 80 %.
const DIRTY_MAX_KIB: u64 = LIMIT_KIB * 2 / 5;
const RESIDENT_MAX_KIB: u64 = LIMIT_KIB * 4 / 5;

const STORE_ENV: &str = "TACET_TEST_EXTENSION_STORE";

fn kib(file: &str, field: &str) -> u64 {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn dirty_kib() -> u64 {
    kib("/proc/self/smaps_rollup", "Private_Dirty:")
}

/// A list server on loopback that serves `body` to every request, as the
/// list's web server would to the app.
fn serve_list(body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://{addr}/pro.txt")
}

/// An upstream on loopback that answers every query with one address.
fn upstream() -> String {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = socket.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let Ok(query) = Packet::parse(&buf[..n]) else {
                continue;
            };
            let mut reply = query.into_reply();
            if let Some(q) = reply.questions.first().cloned() {
                reply.answers.push(ResourceRecord::new(
                    q.qname.clone(),
                    CLASS::IN,
                    300,
                    RData::A(A {
                        address: 0xc000_0201,
                    }),
                ));
            }
            if let Ok(bytes) = reply.build_bytes_vec() {
                let _ = socket.send_to(&bytes, from);
            }
        }
    });
    addr.to_string()
}

fn config(store: &str, upstream: String) -> FirewallConfig {
    FirewallConfig {
        upstreams: vec![upstream],
        store_dir: Some(store.to_owned()),
        discovery: true,
        ..tacet_ffi::default_config()
    }
}

#[test]
fn the_extension_stays_well_inside_ios_memory_limit() {
    let store = tempfile::tempdir().expect("tempdir");
    let dir = store.path().to_string_lossy().into_owned();
    let names = lists::generated(LIST_NAMES);
    assert_eq!(names.len(), LIST_NAMES, "shared test data missing");

    // The app: subscribes, fetches and compiles into the store.
    let url = serve_list(lists::as_text(&names).into_bytes());
    tacet_runtime::subscriptions::subscribe(store.path(), &url, Some("pro"), true)
        .expect("subscribe");
    let subs = ListSubscriptions::new(dir.clone(), None).expect("subscriptions");
    let updates = subs.update(vec![], true).expect("update");
    assert_eq!(updates.len(), 1);
    let listed = subs.list().expect("list");
    assert_eq!(listed[0].names, LIST_NAMES as u64, "{listed:?}");
    let app = Firewall::new(config(&dir, "127.0.0.1:53".into()), None).expect("app compiles");
    drop(app);
    // What the phone's apps will ask, listed names and popular ones in
    // turn; handed over in a file so the extension never holds the list.
    let popular = lists::popular_names();
    let blocked = names.iter().step_by(LIST_NAMES / (QUERIES / 2));
    let queries: String = blocked
        .zip(popular.iter().take(QUERIES / 2))
        .flat_map(|(b, a)| [b, a])
        .map(|n| format!("{n}\n"))
        .collect();
    let queries_file = store.path().join("queries.txt");
    std::fs::write(&queries_file, queries).expect("queries");
    drop(names);

    // The extension, in a process of its own.
    let out = Command::new(std::env::current_exe().expect("exe"))
        .args([
            "--exact",
            "extension_phase",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(STORE_ENV, &dir)
        .output()
        .expect("run the extension's phase");
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    assert!(
        out.status.success(),
        "extension phase failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("extension memory:"), "{stdout}");
}

/// The extension's side; does nothing unless started by the test above.
#[test]
fn extension_phase() {
    let Ok(dir) = std::env::var(STORE_ENV) else {
        return;
    };
    let queries =
        std::fs::read_to_string(std::path::Path::new(&dir).join("queries.txt")).expect("queries");
    let queries: Vec<&str> = queries.lines().collect();
    assert_eq!(queries.len(), QUERIES);
    let before = (dirty_kib(), kib("/proc/self/status", "VmRSS:"));

    let firewall = Firewall::new(config(&dir, upstream()), None).expect("firewall");
    let (phone, fd) = common::tunnel();
    firewall.start(fd).expect("start");
    let mut peak_dirty = dirty_kib();
    let mut answered = 0;
    for (i, name) in queries.iter().enumerate() {
        if phone.resolve(i as u16, name).is_some() {
            answered += 1;
        }
        if i % 1000 == 999 {
            peak_dirty = peak_dirty.max(dirty_kib());
        }
    }
    let stats = firewall.stats();
    peak_dirty = peak_dirty.max(dirty_kib());
    let peak_resident = kib("/proc/self/status", "VmHWM:");
    firewall.stop();

    println!(
        "extension memory: {} names mapped, {answered} of {} queries answered, {} blocked; \
         dirty {} KiB at start of the process, at most {peak_dirty} KiB while running \
         (limit {DIRTY_MAX_KIB}); resident {} KiB at start, peak {peak_resident} KiB \
         (limit {RESIDENT_MAX_KIB})",
        LIST_NAMES,
        queries.len(),
        stats.blocked,
        before.0,
        before.1,
    );
    assert_eq!(answered, queries.len());
    assert!(stats.blocked >= (QUERIES / 2) as u64, "{stats:?}");
    assert!(peak_dirty <= DIRTY_MAX_KIB, "dirty {peak_dirty} KiB");
    assert!(
        peak_resident <= RESIDENT_MAX_KIB,
        "resident {peak_resident} KiB"
    );
}
