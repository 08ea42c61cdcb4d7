//! One DNS exchange from inside a namespace, raw bytes out and raw bytes in,
//! timed: what an app's stub resolver sends and receives, read without a DNS
//! library's opinion of it, so a malformed reply shows up as what it is.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use crate::burst::{encode_query, Query};
use crate::netns::Netns;

/// A reply as it came, with the time it took.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// The reply's bytes.
    pub reply: Vec<u8>,
    /// From sending the query to receiving the reply.
    pub elapsed: Duration,
}

impl Exchange {
    /// The reply's ID.
    pub fn id(&self) -> Option<u16> {
        Some(u16::from_be_bytes([
            *self.reply.first()?,
            *self.reply.get(1)?,
        ]))
    }

    /// Whether the QR bit says this is a response.
    pub fn is_response(&self) -> bool {
        self.reply.get(2).is_some_and(|b| b & 0x80 != 0)
    }

    /// The response code (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED).
    pub fn rcode(&self) -> Option<u8> {
        self.reply.get(3).map(|b| b & 0x0f)
    }

    /// Whether this is a SERVFAIL response.
    pub fn is_servfail(&self) -> bool {
        self.is_response() && self.rcode() == Some(2)
    }

    /// Whether the four or sixteen bytes of `addr` appear anywhere in the
    /// reply: the test for "did this address reach the app", whatever
    /// record (or broken record) carried it.
    pub fn carries(&self, addr: IpAddr) -> bool {
        let needle = match addr {
            IpAddr::V4(v4) => v4.octets().to_vec(),
            IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        self.reply.windows(needle.len()).any(|w| w == needle)
    }

    /// A one-line description for failure messages: header fields, time,
    /// and the bytes in hex.
    pub fn describe(&self) -> String {
        format!(
            "QR={} rcode={:?} after {:?}, {} bytes: {}",
            u8::from(self.is_response()),
            self.rcode(),
            self.elapsed,
            self.reply.len(),
            hex(&self.reply)
        )
    }
}

/// Bytes as lower-case hex, two digits each, space separated.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A standard query (RD set, one question of class IN, no EDNS).
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    encode_query(&Query {
        id,
        name: name.to_owned(),
        qtype,
    })
}

/// Sends `query` over UDP from inside `ns` to `server` and waits up to
/// `timeout` for one reply with the query's ID; `None` if none came.
pub fn udp(ns: &Netns, server: SocketAddr, query: &[u8], timeout: Duration) -> Option<Exchange> {
    ns.enter(|| {
        let bind: SocketAddr = if server.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(bind).unwrap();
        socket.connect(server).unwrap();
        let start = Instant::now();
        socket.send(query).unwrap();
        let mut buf = [0u8; 65_535];
        loop {
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return None;
            }
            socket.set_read_timeout(Some(left)).unwrap();
            let n = socket.recv(&mut buf).ok()?;
            if buf.get(..2) == query.get(..2) {
                return Some(Exchange {
                    reply: buf[..n].to_vec(),
                    elapsed: start.elapsed(),
                });
            }
        }
    })
}

/// Sends `query` over a new TCP connection from inside `ns` to `server` and
/// reads one framed reply, all within `timeout`; `Err` says what failed.
pub fn tcp(
    ns: &Netns,
    server: SocketAddr,
    query: &[u8],
    timeout: Duration,
) -> Result<Exchange, String> {
    ns.enter(|| {
        let start = Instant::now();
        let mut stream = TcpStream::connect_timeout(&server, timeout)
            .map_err(|e| format!("connect to {server}: {e}"))?;
        let left = timeout
            .saturating_sub(start.elapsed())
            .max(Duration::from_millis(1));
        stream.set_read_timeout(Some(left)).unwrap();
        let len = u16::try_from(query.len()).unwrap();
        stream
            .write_all(&[&len.to_be_bytes()[..], query].concat())
            .map_err(|e| format!("write to {server}: {e}"))?;
        let mut prefix = [0u8; 2];
        stream
            .read_exact(&mut prefix)
            .map_err(|e| format!("read length from {server}: {e}"))?;
        let mut reply = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
        stream
            .read_exact(&mut reply)
            .map_err(|e| format!("read reply from {server}: {e}"))?;
        Ok(Exchange {
            reply,
            elapsed: start.elapsed(),
        })
    })
}
