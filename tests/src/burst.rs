//! Many UDP DNS queries sent at once from one socket inside a namespace, the
//! replies matched back by ID: what a phone does when every app wakes up.
//!
//! The wire code is written out here rather than taken from the DNS library
//! the firewall uses, so that a bug shared by both cannot hide itself.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::netns::Netns;

/// Record type A.
pub const TYPE_A: u16 = 1;
/// Record type AAAA.
pub const TYPE_AAAA: u16 = 28;

/// One query of a burst.
#[derive(Clone, Debug)]
pub struct Query {
    /// The DNS message ID; unique within a burst.
    pub id: u16,
    /// The name asked for, without trailing dot.
    pub name: String,
    /// The record type asked for.
    pub qtype: u16,
}

/// One parsed reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The message ID.
    pub id: u16,
    /// The response code (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED).
    pub rcode: u8,
    /// The question's name, lower-cased, without trailing dot.
    pub qname: String,
    /// The question's type.
    pub qtype: u16,
    /// The addresses of the A and AAAA records in the answer section.
    pub addrs: Vec<IpAddr>,
    /// How long after the whole burst was sent this reply arrived.
    pub after: Duration,
}

/// What came back from a burst.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Replies by ID (the first one, if an ID came back twice).
    pub replies: HashMap<u16, Reply>,
    /// Datagrams that did not parse as a DNS reply.
    pub garbled: usize,
    /// Replies whose ID was already answered.
    pub duplicates: usize,
    /// Time to send the whole burst.
    pub send_time: Duration,
}

/// Sends every query from one UDP socket in `ns` to `server`, back to back,
/// then collects replies until all are in or `timeout` has passed.
pub fn burst(ns: &Netns, server: SocketAddr, queries: &[Query], timeout: Duration) -> Outcome {
    ns.enter(|| {
        let bind: SocketAddr = if server.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(bind).unwrap();
        // A burst of replies must not overflow the default 208 KiB receive
        // buffer: that would be the test dropping answers, not the firewall.
        force_rcvbuf(&socket, 16 << 20);
        socket.connect(server).unwrap();
        let start = Instant::now();
        for q in queries {
            socket.send(&encode_query(q)).unwrap();
        }
        let mut outcome = Outcome {
            send_time: start.elapsed(),
            ..Outcome::default()
        };
        let sent_at = Instant::now();
        let deadline = sent_at + timeout;
        let mut buf = [0u8; 4096];
        while outcome.replies.len() < queries.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            socket.set_read_timeout(Some(left)).unwrap();
            let n = match socket.recv(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break
                }
                Err(e) => panic!("recv: {e}"),
            };
            match parse_reply(&buf[..n], sent_at.elapsed()) {
                Some(reply) => match outcome.replies.entry(reply.id) {
                    std::collections::hash_map::Entry::Occupied(_) => outcome.duplicates += 1,
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(reply);
                    }
                },
                None => outcome.garbled += 1,
            }
        }
        outcome
    })
}

/// Sends raw bytes as one UDP datagram from inside `ns` to `server` and
/// waits briefly for any reply, which is returned.
pub fn send_raw(ns: &Netns, server: SocketAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    ns.enter(|| {
        let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        socket.connect(server).unwrap();
        socket.send(bytes).unwrap();
        socket.set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0u8; 4096];
        socket.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
    })
}

fn force_rcvbuf(socket: &UdpSocket, bytes: libc::c_int) {
    // SAFETY: the pointer and length describe a live c_int; the fd is open.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            std::ptr::from_ref(&bytes).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_RCVBUFFORCE: {}", std::io::Error::last_os_error());
}

/// A standard query with RD set and one question of class IN.
pub fn encode_query(q: &Query) -> Vec<u8> {
    let mut msg = Vec::with_capacity(32 + q.name.len());
    msg.extend_from_slice(&q.id.to_be_bytes());
    msg.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in q.name.trim_end_matches('.').split('.') {
        msg.push(u8::try_from(label.len()).unwrap());
        msg.extend_from_slice(label.as_bytes());
    }
    msg.push(0);
    msg.extend_from_slice(&q.qtype.to_be_bytes());
    msg.extend_from_slice(&1u16.to_be_bytes());
    msg
}

/// Parses a reply: header, the one question, and the A/AAAA answers.
pub fn parse_reply(msg: &[u8], after: Duration) -> Option<Reply> {
    let id = u16::from_be_bytes([*msg.first()?, *msg.get(1)?]);
    let flags = u16::from_be_bytes([*msg.get(2)?, *msg.get(3)?]);
    if flags & 0x8000 == 0 {
        return None;
    }
    let qdcount = u16::from_be_bytes([*msg.get(4)?, *msg.get(5)?]);
    let ancount = u16::from_be_bytes([*msg.get(6)?, *msg.get(7)?]);
    if qdcount != 1 {
        return None;
    }
    let (qname, mut pos) = read_name(msg, 12)?;
    let qtype = u16::from_be_bytes([*msg.get(pos)?, *msg.get(pos + 1)?]);
    pos += 4;
    let mut addrs = Vec::new();
    for _ in 0..ancount {
        let (_, after_name) = read_name(msg, pos)?;
        let rtype = u16::from_be_bytes([*msg.get(after_name)?, *msg.get(after_name + 1)?]);
        let rdlen = usize::from(u16::from_be_bytes([
            *msg.get(after_name + 8)?,
            *msg.get(after_name + 9)?,
        ]));
        let rdata = msg.get(after_name + 10..after_name + 10 + rdlen)?;
        match (rtype, rdlen) {
            (TYPE_A, 4) => addrs.push(IpAddr::from(<[u8; 4]>::try_from(rdata).ok()?)),
            (TYPE_AAAA, 16) => addrs.push(IpAddr::from(<[u8; 16]>::try_from(rdata).ok()?)),
            _ => {}
        }
        pos = after_name + 10 + rdlen;
    }
    Some(Reply {
        id,
        rcode: (flags & 0x000f) as u8,
        qname,
        qtype,
        addrs,
        after,
    })
}

/// Reads a possibly compressed name at `pos`; returns it (lower case, no
/// trailing dot) and the position after it in the original message.
fn read_name(msg: &[u8], mut pos: usize) -> Option<(String, usize)> {
    let mut labels: Vec<String> = Vec::new();
    let mut end = None;
    // Bounded: a pointer loop in a hostile reply must not hang the test.
    for _ in 0..128 {
        let len = *msg.get(pos)?;
        match len {
            0 => {
                let next = end.unwrap_or(pos + 1);
                return Some((labels.join("."), next));
            }
            l if l & 0xc0 == 0xc0 => {
                let target = usize::from(u16::from_be_bytes([l & 0x3f, *msg.get(pos + 1)?]));
                end.get_or_insert(pos + 2);
                pos = target;
            }
            l => {
                let label = msg.get(pos + 1..pos + 1 + usize::from(l))?;
                labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
                pos += 1 + usize::from(l);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_round_trips_through_the_reply_parser() {
        let q = Query {
            id: 0xbeef,
            name: "n1.Wild.allowed.test".into(),
            qtype: TYPE_A,
        };
        let mut msg = encode_query(&q);
        // Turn it into a reply with one compressed A answer 192.0.2.10.
        msg[2] |= 0x80;
        msg[7] = 1;
        msg.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 10]);
        let r = parse_reply(&msg, Duration::ZERO).unwrap();
        assert_eq!(r.id, 0xbeef);
        assert_eq!(r.rcode, 0);
        assert_eq!(r.qname, "n1.wild.allowed.test");
        assert_eq!(r.addrs, vec![IpAddr::from([192, 0, 2, 10])]);
    }

    #[test]
    fn pointer_loops_are_rejected() {
        let msg = [0u8, 1, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12];
        assert_eq!(parse_reply(&msg, Duration::ZERO), None);
    }
}
