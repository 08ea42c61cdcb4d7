#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The runtime's life: started on any packet file descriptor (here one end
//! of a socketpair, which needs no root), serving, and stopping, by command
//! or because its tunnel went away.

use std::os::fd::{IntoRawFd, OwnedFd};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tacet_engine::{wire, Config, Event, Protocol, RuleSet};
use tacet_runtime::{
    Connection, Firewall, Observer, RuntimeConfig, RuntimeError, StoreLocation, Tun,
};
use tacet_store::{Filter, StoreConfig, StoreReader};

struct Tell(mpsc::Sender<Option<String>>);

impl Observer for Tell {
    fn on_event(&mut self, _event: &Event, _rules: &RuleSet) {}
    fn on_stopped(&mut self, error: Option<&RuntimeError>) {
        let _ = self.0.send(error.map(ToString::to_string));
    }
}

fn start_on(fd: OwnedFd) -> (Firewall, mpsc::Receiver<Option<String>>) {
    let tun = Tun::from_fd(fd.into_raw_fd()).unwrap();
    let config = RuntimeConfig {
        engine: Config::default(),
        upstreams: vec!["127.0.0.1:9".parse().unwrap()],
        upstream_options: tacet_runtime::UpstreamOptions::default(),
        enforced_names: Vec::new(),
        store: None,
    };
    let rules = Arc::new(tacet_rules::curated::default_rule_set());
    let (tell, told) = mpsc::channel();
    let firewall = Firewall::start(tun, config, rules, Box::new(Tell(tell))).unwrap();
    (firewall, told)
}

/// `iotcplatform.com A`, from the phone's port 40000 to the resolver.
fn iotc_query() -> Vec<u8> {
    let query = [
        0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 12, b'i', b'o', b't', b'c', b'p', b'l', b'a',
        b't', b'f', b'o', b'r', b'm', 3, b'c', b'o', b'm', 0, 0, 1, 0, 1,
    ];
    wire::build_udp(
        "10.111.222.1:40000".parse().unwrap(),
        "10.111.222.53:53".parse().unwrap(),
        &query,
    )
    .unwrap()
}

#[test]
fn a_blocked_query_is_answered_through_the_fd() {
    let (ours, phone) = UnixDatagram::pair().unwrap();
    let (mut firewall, _told) = start_on(ours.into());
    phone.send(&iotc_query()).unwrap();
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

/// Whether a datagram waits on `socket`, without taking it.
fn waiting(socket: &UnixDatagram) -> bool {
    use std::os::fd::AsRawFd;
    let mut byte = 0u8;
    // SAFETY: a one-byte buffer we own, on an open socket.
    let n = unsafe {
        libc::recv(
            socket.as_raw_fd(),
            (&raw mut byte).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n >= 0
}

/// Names every connection's app, and notes whether the answer had already
/// reached the phone when it was asked.
struct Attributes {
    phone: UnixDatagram,
    asked: mpsc::Sender<(Connection, bool)>,
}

impl Observer for Attributes {
    fn on_event(&mut self, _event: &Event, _rules: &RuleSet) {}
    fn app_of(&mut self, connection: &Connection) -> Option<String> {
        let answered = waiting(&self.phone);
        let _ = self.asked.send((*connection, answered));
        Some("com.example.camera".into())
    }
}

#[test]
fn the_journal_names_the_app_the_shell_gives_asked_before_the_answer() {
    let dir = std::env::temp_dir().join(format!("tacet-attr-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (ours, phone) = UnixDatagram::pair().unwrap();
    let peek = phone.try_clone().unwrap();
    let (asked, questions) = mpsc::channel();
    let config = RuntimeConfig {
        engine: Config::default(),
        upstreams: vec!["127.0.0.1:9".parse().unwrap()],
        upstream_options: tacet_runtime::UpstreamOptions::default(),
        enforced_names: Vec::new(),
        store: Some(StoreLocation {
            dir: dir.clone(),
            config: StoreConfig::default(),
        }),
    };
    let rules = Arc::new(tacet_rules::curated::default_rule_set());
    let tun = Tun::from_fd(OwnedFd::from(ours).into_raw_fd()).unwrap();
    let observer = Attributes { phone: peek, asked };
    let mut firewall = Firewall::start(tun, config, rules, Box::new(observer)).unwrap();

    // Two attempts from one socket: the shell is asked once.
    for _ in 0..2 {
        phone.send(&iotc_query()).unwrap();
        phone
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        phone.recv(&mut [0u8; 1500]).unwrap();
    }
    firewall.stop().unwrap();

    let (connection, answered) = questions.recv_timeout(Duration::from_secs(1)).unwrap();
    assert_eq!(
        connection,
        Connection {
            protocol: Protocol::Udp,
            local: "10.111.222.1:40000".parse().unwrap(),
            remote: "10.111.222.53:53".parse().unwrap(),
        }
    );
    assert!(
        !answered,
        "asked after the answer went: the app's socket may be gone"
    );
    assert!(
        questions.try_recv().is_err(),
        "the second attempt used the cached answer"
    );

    let page = StoreReader::open(&dir)
        .unwrap()
        .query(&Filter::default(), None, 10)
        .unwrap();
    let record = &page.records[0];
    assert_eq!(record.entry.name, "iotcplatform.com");
    assert_eq!(record.entry.app.as_deref(), Some("com.example.camera"));
    assert_eq!(record.entry.count, 2);
    let _ = std::fs::remove_dir_all(&dir);
}
