//! Test helpers: a tunnel made of a socketpair (the runtime adopts any
//! packet descriptor, so no root and no TUN device are needed), DNS queries
//! framed as the phone's IP packets, and a listener that records events.

// Helpers of tests: a failed setup step is a failed test.
#![allow(dead_code, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{IntoRawFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use simple_dns::rdata::RData;
use simple_dns::{Name, Packet, PacketFlag, Question, CLASS, QCLASS, QTYPE, TYPE};
use tacet_engine::wire;
use tacet_ffi::{FirewallConfig, FirewallError, FirewallEvent, FirewallListener};

/// The phone's side of a tunnel; the other end is the descriptor to give
/// `Firewall::start`.
pub struct Phone {
    pub socket: UnixDatagram,
}

/// A tunnel: the phone's end and the firewall's descriptor.
pub fn tunnel() -> (Phone, RawFd) {
    let (phone, firewall) = UnixDatagram::pair().expect("socketpair");
    phone
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    (Phone { socket: phone }, firewall.into_raw_fd())
}

impl Phone {
    /// Asks the virtual resolver for `name`'s A record; returns the
    /// addresses of the answer, or `None` without an answer in time.
    pub fn resolve(&self, id: u16, name: &str) -> Option<Vec<IpAddr>> {
        let mut query = Packet::new_query(id);
        query.set_flags(PacketFlag::RECURSION_DESIRED);
        query.questions.push(Question::new(
            Name::new_unchecked(name),
            QTYPE::TYPE(TYPE::A),
            QCLASS::CLASS(CLASS::IN),
            false,
        ));
        let message = query.build_bytes_vec().expect("query");
        let from: SocketAddr = "10.111.222.1:40000".parse().expect("addr");
        let to: SocketAddr = "10.111.222.53:53".parse().expect("addr");
        let packet = wire::build_udp(from, to, &message).expect("packet");
        self.socket.send(&packet).expect("send");
        let mut buf = [0u8; 2048];
        loop {
            let n = self.socket.recv(&mut buf).ok()?;
            let Ok(wire::Packet::Udp(d)) = wire::parse(&buf[..n]) else {
                continue;
            };
            let answer = Packet::parse(d.payload).expect("DNS answer");
            if answer.id() != id {
                continue;
            }
            return Some(
                answer
                    .answers
                    .iter()
                    .filter_map(|r| match &r.rdata {
                        RData::A(a) => Some(IpAddr::from(std::net::Ipv4Addr::from(a.address))),
                        _ => None,
                    })
                    .collect(),
            );
        }
    }
}

/// A configuration with a dead loopback upstream (blocked names never need
/// it) and `store_dir`.
pub fn config(store_dir: Option<&std::path::Path>) -> FirewallConfig {
    FirewallConfig {
        upstreams: vec!["127.0.0.1:5399".into()],
        store_dir: store_dir.map(|d| d.to_string_lossy().into_owned()),
        custom_list: "blocked.tacet.test\n".into(),
        ..tacet_ffi::default_config()
    }
}

/// Sends every event to a channel.
pub struct Recorder(pub Mutex<mpsc::Sender<FirewallEvent>>);

impl Recorder {
    pub fn new() -> (Box<Self>, mpsc::Receiver<FirewallEvent>) {
        let (tx, rx) = mpsc::channel();
        (Box::new(Self(Mutex::new(tx))), rx)
    }
}

impl FirewallListener for Recorder {
    fn on_event(&self, event: FirewallEvent) -> Result<(), FirewallError> {
        let _ = self.0.lock().expect("lock").send(event);
        Ok(())
    }
}

/// Open descriptors and threads of this process.
pub fn fds_and_threads() -> (usize, usize) {
    let count = |dir| std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    (count("/proc/self/fd"), count("/proc/self/task"))
}
