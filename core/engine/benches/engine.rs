//! Engine time per packet, beside a baseline measured in the same run
//! (copying the packet, the least any firewall does):
//! - a blocked query answered (the 100,000 queries/s target leaves 10 us a
//!   query for everything, the TUN's system calls included);
//! - an allowed query forwarded and its answer relayed;
//! - a SYN to a learned address answered with a reset (target: 20 us);
//! - a CNAME-cloaked answer inspected and blocked.
//!
//! Run: cargo bench -p tacet-engine --bench engine
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::io::Cursor;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use tacet_engine::{wire, Config, Engine, UpstreamCommand};
use tacet_rules::{ListInfo, RuleSetBuilder};

fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = vec![(id >> 8) as u8, id as u8, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, (qtype >> 8) as u8, qtype as u8, 0, 1]);
    q
}

fn answer(query: &[u8], records: &[u8]) -> Vec<u8> {
    let mut a = query.to_vec();
    a[2] |= 0x80;
    a[7] = 1;
    a.extend_from_slice(records);
    a
}

fn engine() -> Engine {
    let mut builder = RuleSetBuilder::new();
    let info = ListInfo {
        id: "bench".into(),
        title: "bench".into(),
    };
    builder
        .add_list(info, Cursor::new(&b"huami.com\nblocked.example\n"[..]))
        .unwrap();
    Engine::new(Config::default(), Arc::new(builder.build()))
}

fn packet(to: &str, message: &[u8]) -> Vec<u8> {
    wire::build_udp(
        "10.111.222.1:40000".parse().unwrap(),
        to.parse().unwrap(),
        message,
    )
    .unwrap()
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let blocked = packet("10.111.222.53:53", &query(1, "api-mifit.huami.com", 1));
    group.bench_function("baseline: copy the packet", |b| {
        b.iter(|| black_box(black_box(&blocked).to_vec()))
    });

    let mut e = Engine::new(
        Config {
            learn_addresses: false,
            ..Config::default()
        },
        engine().rules().clone(),
    );
    let now = Instant::now();
    group.bench_function("blocked query answered", |b| {
        b.iter(|| {
            e.handle_tun_packet(now, black_box(&blocked));
            black_box(e.poll_tun_packet());
            e.poll_event();
        })
    });

    let mut e = engine();
    let allowed_query = query(2, "pool.ntp.org", 1);
    let allowed = packet("10.111.222.53:53", &allowed_query);
    let upstream = answer(
        &allowed_query,
        &[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1],
    );
    group.bench_function("allowed query forwarded and answered", |b| {
        b.iter(|| {
            e.handle_tun_packet(now, black_box(&allowed));
            let Some(UpstreamCommand::Send(sent)) = e.poll_upstream() else {
                panic!()
            };
            e.handle_upstream_response(now, sent.handle, black_box(&upstream));
            black_box(e.poll_tun_packet());
        })
    });

    // Learn 203.0.113.9 for a blocked name, then time SYN -> RST.
    let mut e = engine();
    let tracker_query = query(3, "tracker.blocked.example", 1);
    e.handle_tun_packet(now, &packet("10.111.222.53:53", &tracker_query));
    e.poll_tun_packet();
    let Some(UpstreamCommand::Send(sent)) = e.poll_upstream() else {
        panic!()
    };
    let tracker_answer = answer(
        &tracker_query,
        &[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 9],
    );
    e.handle_upstream_response(now, sent.handle, &tracker_answer);
    let syn = {
        let b = etherparse::PacketBuilder::ipv4([10, 111, 222, 1], [203, 0, 113, 9], 64)
            .tcp(50000, 443, 7, 64240)
            .syn();
        let mut p = Vec::new();
        b.write(&mut p, &[]).unwrap();
        p
    };
    group.bench_function("SYN to a learned address reset", |b| {
        b.iter(|| {
            e.handle_tun_packet(now, black_box(&syn));
            black_box(e.poll_tun_packet());
            e.poll_event();
        })
    });

    let mut e = engine();
    let cloaked_query = query(4, "metrics.shop.example", 1);
    let cloaked = packet("10.111.222.53:53", &cloaked_query);
    // metrics.shop.example CNAME tracker.blocked.example
    let mut records = vec![0xc0, 0x0c, 0, 5, 0, 1, 0, 0, 0, 60, 0, 25, 7];
    records.extend_from_slice(b"tracker\x07blocked\x07example\x00");
    let cloaked_answer = answer(&cloaked_query, &records);
    group.bench_function("CNAME-cloaked answer blocked", |b| {
        b.iter(|| {
            e.handle_tun_packet(now, black_box(&cloaked));
            let Some(UpstreamCommand::Send(sent)) = e.poll_upstream() else {
                panic!()
            };
            e.handle_upstream_response(now, sent.handle, black_box(&cloaked_answer));
            black_box(e.poll_tun_packet());
            while e.poll_event().is_some() {}
        })
    });
    group.finish();
}

criterion_group!(engine_benches, benches);
criterion_main!(engine_benches);
