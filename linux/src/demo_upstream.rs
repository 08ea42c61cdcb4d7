//! The demo's stand-in for the internet's resolvers: answers every A and
//! AAAA question with a made-up address, so the demo needs no network at
//! all. The addresses are public ones (93.184.215.0/24 and
//! 2606:2800:21f::/48, where example.com is served), because the firewall
//! never learns a private or documentation address from a blocked name;
//! nothing is ever sent to them: the demo's namespaces have no route out.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use simple_dns::rdata::{RData, A, AAAA};
use simple_dns::{Packet, PacketFlag, ResourceRecord, CLASS, QTYPE, TYPE};

/// The made-up IPv4 address the demo upstream gives `name`.
pub fn address_v4(name: &str) -> [u8; 4] {
    [93, 184, 215, host_byte(name)]
}

fn host_byte(name: &str) -> u8 {
    let mut hasher = DefaultHasher::new();
    name.to_ascii_lowercase().hash(&mut hasher);
    (hasher.finish() % 250) as u8 + 1
}

/// Serves `socket` until `stop` is set.
pub fn serve(socket: UdpSocket, stop: Arc<AtomicBool>) {
    let _ = socket.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        if let Some(answer) = buf.get(..n).and_then(answer) {
            let _ = socket.send_to(&answer, from);
        }
    }
}

fn answer(query: &[u8]) -> Option<Vec<u8>> {
    let query = Packet::parse(query).ok()?;
    let question = query.questions.first()?.clone();
    let mut reply = Packet::new_reply(query.id());
    reply.set_flags(PacketFlag::RECURSION_AVAILABLE | PacketFlag::RECURSION_DESIRED);
    let name = question.qname.to_string();
    let rdata = match question.qtype {
        QTYPE::TYPE(TYPE::A) => Some(RData::A(A {
            address: u32::from_be_bytes(address_v4(&name)),
        })),
        QTYPE::TYPE(TYPE::AAAA) => Some(RData::AAAA(AAAA {
            address: 0x2606_2800_021f_0000_0000_0000_0000_0000 | u128::from(host_byte(&name)),
        })),
        _ => None,
    };
    if let Some(rdata) = rdata {
        reply.answers.push(ResourceRecord::new(
            question.qname.clone(),
            CLASS::IN,
            300,
            rdata,
        ));
    }
    reply.questions.push(question);
    reply.build_bytes_vec().ok()
}
