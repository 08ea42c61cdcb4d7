#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The runtime's life: started on any packet file descriptor (here one end
//! of a socketpair, which needs no root), serving, and stopping, by command
//! or because its tunnel went away.

use std::os::fd::{IntoRawFd, OwnedFd};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tacet_engine::{wire, Config, Event, RuleSet};
use tacet_runtime::{Firewall, Observer, RuntimeConfig, RuntimeError, Tun};

struct Tell(mpsc::Sender<Option<String>>);

impl Observer for Tell {
    fn on_event(&mut self, _event: Event, _rules: &RuleSet) {}
    fn on_stopped(&mut self, error: Option<&RuntimeError>) {
        let _ = self.0.send(error.map(ToString::to_string));
    }
}

fn start_on(fd: OwnedFd) -> (Firewall, mpsc::Receiver<Option<String>>) {
    let tun = Tun::from_fd(fd.into_raw_fd()).unwrap();
    let config = RuntimeConfig {
        engine: Config::default(),
        upstreams: vec!["127.0.0.1:9".parse().unwrap()],
        store: None,
    };
    let rules = Arc::new(tacet_rules::curated::default_rule_set());
    let (tell, told) = mpsc::channel();
    let firewall = Firewall::start(tun, config, rules, Box::new(Tell(tell))).unwrap();
    (firewall, told)
}

#[test]
fn a_blocked_query_is_answered_through_the_fd() {
    let (ours, phone) = UnixDatagram::pair().unwrap();
    let (mut firewall, _told) = start_on(ours.into());
    let query = [
        0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 12, b'i', b'o', b't', b'c', b'p', b'l', b'a',
        b't', b'f', b'o', b'r', b'm', 3, b'c', b'o', b'm', 0, 0, 1, 0, 1,
    ];
    let packet = wire::build_udp(
        "10.111.222.1:40000".parse().unwrap(),
        "10.111.222.53:53".parse().unwrap(),
        &query,
    )
    .unwrap();
    phone.send(&packet).unwrap();
    phone
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 1500];
    let n = phone.recv(&mut buf).unwrap();
    let wire::Packet::Udp(answer) = wire::parse(&buf[..n]).unwrap() else {
        panic!("not UDP")
    };
    assert_eq!(&answer.payload[..2], &[0x12, 0x34]);
    assert_eq!(
        &answer.payload[answer.payload.len() - 4..],
        &[0, 0, 0, 0],
        "A 0.0.0.0"
    );
    assert_eq!(firewall.stats().unwrap().blocked, 1);
    assert_eq!(firewall.stop().unwrap().blocked, 1);
    assert!(firewall.stop().is_ok(), "stop is idempotent");
}

/// The regression: an fd that reads empty (its other end closed) used to
/// spin the I/O thread at full CPU forever.
#[test]
fn a_tunnel_closed_by_its_other_end_stops_the_firewall_with_an_error() {
    // A stream socket reads empty once its peer is gone, as a TUN fd never
    // does; a datagram socket would just block.
    let (ours, phone) = UnixStream::pair().unwrap();
    let (mut firewall, told) = start_on(ours.into());
    drop(phone);
    let started = Instant::now();
    let Ok(error) = told.recv_timeout(Duration::from_secs(5)) else {
        // Its thread is stuck; joining it in drop would hang the test.
        std::mem::forget(firewall);
        panic!("the firewall did not stop by itself");
    };
    assert!(
        error.as_deref().unwrap_or_default().contains("closed"),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    // The observer hears just before the thread returns.
    while firewall.is_running() && started.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!firewall.is_running());
    assert!(matches!(firewall.stop(), Err(RuntimeError::Tun(_))));
}
