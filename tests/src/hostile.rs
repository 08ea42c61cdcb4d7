//! A hostile upstream resolver: a small DNS server in a lab's upstream
//! namespace that misbehaves in one chosen way, to show what the firewall
//! lets through to the apps behind it.
//!
//! It listens where dnsmasq would (UDP and TCP port 53 of the upstream side
//! of the veth, IPv4 and IPv6), so the firewall is started as usual with the
//! lab's upstream; a test runs either dnsmasq or this, never both.
//!
//! Every answer is built here byte by byte from the query's ID and question,
//! with fixtures written out in hex, so each misbehaviour is exactly the one
//! named and nothing else: no DNS library sits between the test and the
//! bytes on the wire that might "fix" them.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::lab::{Lab, UPSTREAM_V4, UPSTREAM_V6};

/// Record type A.
pub const TYPE_A: u16 = 1;
/// Record type CNAME.
pub const TYPE_CNAME: u16 = 5;
/// Record type TXT.
pub const TYPE_TXT: u16 = 16;
/// Record type AAAA.
pub const TYPE_AAAA: u16 = 28;
/// Record type SSHFP (RFC 4255): real, well formed, and unknown to many
/// small DNS parsers.
pub const TYPE_SSHFP: u16 = 44;
/// A private-use record type (RFC 6895 reserves 65280–65534): no parser
/// can know it.
pub const TYPE_PRIVATE: u16 = 65280;

/// The address lies and malformed answers carry, so a test can tell it
/// apart from anything honest: if an app sees it, the lie got through.
pub const LIE_A: Ipv4Addr = Ipv4Addr::new(93, 184, 215, 99);
/// The address the CNAME-cloaking answer gives the tracker (the test zone's
/// `tracker.blocked.test`).
pub const CLOAKED_TRACKER_A: Ipv4Addr = Ipv4Addr::new(93, 184, 215, 67);
/// The IPv6 address the CNAME-cloaking answer gives the tracker.
pub const CLOAKED_TRACKER_AAAA: Ipv6Addr = Ipv6Addr::new(0x2606, 0x2800, 0x21f, 0, 0, 0, 0, 0x67);
/// The one globally reachable address among the special ones of
/// [`Misbehaviour::SpecialAddresses`]: it must be learned, which shows the
/// answer was read at all.
pub const PUBLIC_AMONG_SPECIAL_A: Ipv4Addr = Ipv4Addr::new(93, 184, 215, 70);
/// The IPv6 counterpart of [`PUBLIC_AMONG_SPECIAL_A`].
pub const PUBLIC_AMONG_SPECIAL_AAAA: Ipv6Addr =
    Ipv6Addr::new(0x2606, 0x2800, 0x21f, 0, 0, 0, 0, 0x70);

/// Addresses a blocked name must never make the firewall cut off, IPv4:
/// what a hostile network would answer to take the phone's LAN away.
/// [`UPSTREAM_V4`] (the upstream's own address) is added at run time.
pub const SPECIAL_V4: &[Ipv4Addr] = &[
    Ipv4Addr::new(192, 168, 1, 1),     // private: the home router
    Ipv4Addr::new(10, 0, 0, 1),        // private: a printer
    Ipv4Addr::new(172, 16, 0, 1),      // private
    Ipv4Addr::new(10, 111, 222, 1),    // the tunnel's own address
    Ipv4Addr::new(10, 111, 222, 53),   // the firewall's virtual resolver
    Ipv4Addr::new(127, 0, 0, 1),       // loopback
    Ipv4Addr::new(169, 254, 1, 1),     // link-local
    Ipv4Addr::new(100, 64, 0, 1),      // CGNAT (shared address space)
    Ipv4Addr::new(224, 0, 0, 251),     // multicast (mDNS)
    Ipv4Addr::new(0, 0, 0, 0),         // unspecified
    Ipv4Addr::new(255, 255, 255, 255), // broadcast
    Ipv4Addr::new(192, 0, 2, 1),       // documentation (TEST-NET-1)
    Ipv4Addr::new(198, 51, 100, 1),    // documentation (TEST-NET-2)
    Ipv4Addr::new(203, 0, 113, 1),     // documentation (TEST-NET-3)
    Ipv4Addr::new(198, 18, 0, 1),      // benchmarking
    Ipv4Addr::new(240, 0, 0, 1),       // reserved
    Ipv4Addr::new(192, 0, 0, 8),       // IETF protocol assignments
];

/// The IPv6 counterpart of [`SPECIAL_V4`]; [`UPSTREAM_V6`] is added at run
/// time.
pub const SPECIAL_V6: &[Ipv6Addr] = &[
    Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 1), // unique local
    Ipv6Addr::new(0xfd74, 0x6163, 0x6574, 0, 0, 0, 0, 1), // the tunnel's own
    Ipv6Addr::new(0xfd74, 0x6163, 0x6574, 0, 0, 0, 0, 0x53), // the resolver
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1), // link-local
    Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1),      // loopback
    Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0),      // unspecified
    Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1), // multicast
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), // documentation
    Ipv6Addr::new(0x2001, 0x2, 0, 0, 0, 0, 0, 1), // benchmarking
    Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0xc0a8, 0x0101), // IPv4-mapped 192.168.1.1
];

/// How many addresses [`Misbehaviour::ManyAddresses`] gives one name.
pub const MANY: u8 = 100;

/// The `i`-th (1-based) address of [`Misbehaviour::ManyAddresses`]:
/// 93.184.216.i, globally reachable and never owned by anything in a lab.
pub fn many_a(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(93, 184, 216, i)
}

/// The way the server misbehaves: one per hole a hostile upstream could
/// open. Each answers every query it gets, whatever the name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Sends the query itself back: QR=0, no answer.
    EchoQuery,
    /// An answer that ends in the middle of a record's fixed fields.
    Truncated,
    /// A TXT record whose rdlength runs past the end of the packet.
    RdlengthPastEnd,
    /// An A record with 5 bytes of data, or an AAAA record with 4: inside
    /// the packet, but not what the type holds.
    BadRdlength,
    /// The header announces two answers; one follows.
    CountsTooHigh,
    /// The header announces one answer; two follow.
    CountsTooLow,
    /// An answer whose owner name is a compression pointer to itself.
    PointerLoop,
    /// A CNAME whose target is a label followed by a pointer back to that
    /// label: `loop.loop.loop…` without end.
    LabelLoop,
    /// An owner name that is a pointer forward, into the record's own data.
    ForwardPointer,
    /// An owner name that is a pointer beyond the end of the packet.
    PointerOutOfRange,
    /// The question's name is a CNAME for `tracker.blocked.test`, whose
    /// address follows, and the additional section holds one malformed
    /// record: what a tracker hiding behind a first-party name sends when
    /// it knows the firewall gives up on answers it cannot read.
    CnameToBlockedWithMalformedAdditional,
    /// Well-formed records of types a parser may not know: SSHFP, and the
    /// private-use TYPE65280 in the answer, authority and additional
    /// sections. These must reach the app untouched.
    UnknownTypes,
    /// A and AAAA answers made of the phone's LAN, the tunnel, loopback and
    /// other special addresses, the upstream's own, and one public address.
    SpecialAddresses,
    /// [`MANY`] public addresses for one name.
    ManyAddresses,
    /// Never answers.
    Stall,
    /// A well-formed answer with another ID than the query's.
    WrongId,
    /// A well-formed answer, with the query's ID, to another question.
    WrongQuestion,
    /// Over UDP, an empty answer with TC set; over TCP, the answer of
    /// [`Misbehaviour::Truncated`]: the firewall's TCP path to the upstream
    /// must check what it relays as strictly as its UDP path.
    MalformedOverTcp,
}

/// A query as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Whether it came over TCP.
    pub tcp: bool,
    /// The name, lower case, without trailing dot.
    pub name: String,
    /// The type asked for.
    pub qtype: u16,
}

/// The running server; dropping it stops its threads and closes its
/// sockets.
#[derive(Debug)]
pub struct HostileUpstream {
    mode: Misbehaviour,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Seen>>>,
    threads: Vec<JoinHandle<()>>,
}

/// How often the server's threads look at the stop flag.
const TICK: Duration = Duration::from_millis(50);

impl HostileUpstream {
    /// Starts the server on port 53 of the lab's upstream side, UDP and
    /// TCP, IPv4 and IPv6. The sockets are opened inside the upstream
    /// namespace and stay there; the threads serving them run anywhere.
    pub fn start(lab: &Lab, mode: Misbehaviour) -> Self {
        let v4: SocketAddr = (UPSTREAM_V4.parse::<Ipv4Addr>().unwrap(), 53).into();
        let v6: SocketAddr = (UPSTREAM_V6.parse::<Ipv6Addr>().unwrap(), 53).into();
        let (udp, tcp) = lab.upstream.enter(|| {
            let udp = [UdpSocket::bind(v4).unwrap(), UdpSocket::bind(v6).unwrap()];
            let tcp = [
                TcpListener::bind(v4).unwrap(),
                TcpListener::bind(v6).unwrap(),
            ];
            (udp, tcp)
        });
        let mut server = Self {
            mode,
            stop: Arc::new(AtomicBool::new(false)),
            seen: Arc::new(Mutex::new(Vec::new())),
            threads: Vec::new(),
        };
        for socket in udp {
            socket.set_read_timeout(Some(TICK)).unwrap();
            let (stop, seen) = (Arc::clone(&server.stop), Arc::clone(&server.seen));
            server.threads.push(std::thread::spawn(move || {
                serve_udp(&socket, mode, &stop, &seen)
            }));
        }
        for listener in tcp {
            listener.set_nonblocking(true).unwrap();
            let (stop, seen) = (Arc::clone(&server.stop), Arc::clone(&server.seen));
            server.threads.push(std::thread::spawn(move || {
                serve_tcp(&listener, mode, &stop, &seen)
            }));
        }
        server
    }

    /// The misbehaviour it was started with.
    pub fn mode(&self) -> Misbehaviour {
        self.mode
    }

    /// Every query received so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for HostileUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn serve_udp(socket: &UdpSocket, mode: Misbehaviour, stop: &AtomicBool, seen: &Mutex<Vec<Seen>>) {
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) => panic!("hostile upstream: recv: {e}"),
        };
        let Some(query) = ParsedQuery::parse(&buf[..n]) else {
            continue;
        };
        seen.lock().unwrap().push(Seen {
            tcp: false,
            name: query.name.clone(),
            qtype: query.qtype,
        });
        for message in answer(mode, &query, false) {
            // A hostile server does not care whether its answer arrives.
            let _ = socket.send_to(&message, from);
        }
    }
}

fn serve_tcp(
    listener: &TcpListener,
    mode: Misbehaviour,
    stop: &Arc<AtomicBool>,
    seen: &Arc<Mutex<Vec<Seen>>>,
) {
    let mut connections = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (stop, seen) = (Arc::clone(stop), Arc::clone(seen));
                connections.push(std::thread::spawn(move || {
                    serve_tcp_connection(stream, mode, &stop, &seen);
                }));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(TICK),
            Err(e) => panic!("hostile upstream: accept: {e}"),
        }
    }
    for connection in connections {
        let _ = connection.join();
    }
}

fn serve_tcp_connection(
    mut stream: TcpStream,
    mode: Misbehaviour,
    stop: &AtomicBool,
    seen: &Mutex<Vec<Seen>>,
) {
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(TICK)).unwrap();
    let mut inbuf = Vec::new();
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => inbuf.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => return,
        }
        while inbuf.len() >= 2 {
            let len = usize::from(u16::from_be_bytes([inbuf[0], inbuf[1]]));
            if inbuf.len() < 2 + len {
                break;
            }
            let message: Vec<u8> = inbuf.drain(..2 + len).skip(2).collect();
            let Some(query) = ParsedQuery::parse(&message) else {
                continue;
            };
            seen.lock().unwrap().push(Seen {
                tcp: true,
                name: query.name.clone(),
                qtype: query.qtype,
            });
            for answer in answer(mode, &query, true) {
                let len = u16::try_from(answer.len()).unwrap();
                let framed = [&len.to_be_bytes()[..], &answer].concat();
                if stream.write_all(&framed).is_err() {
                    return;
                }
            }
        }
    }
}

/// What the server reads from a query: enough to answer it.
#[derive(Clone, Debug)]
pub struct ParsedQuery {
    /// The message ID.
    pub id: u16,
    /// The header's RD bit, echoed in answers.
    pub rd: bool,
    /// The name asked for, lower case, without trailing dot.
    pub name: String,
    /// The type asked for.
    pub qtype: u16,
    /// The question section as it came: name, type and class. Answers
    /// repeat it byte for byte, so the firewall sees its own question.
    pub question: Vec<u8>,
    /// The whole query.
    pub raw: Vec<u8>,
}

impl ParsedQuery {
    /// Reads a query with one uncompressed question; `None` for anything
    /// else (a real server would answer FORMERR; this one has other plans).
    pub fn parse(msg: &[u8]) -> Option<Self> {
        let id = u16::from_be_bytes([*msg.first()?, *msg.get(1)?]);
        let flags = *msg.get(2)?;
        if flags & 0x80 != 0 || u16::from_be_bytes([*msg.get(4)?, *msg.get(5)?]) != 1 {
            return None;
        }
        let mut pos = 12;
        let mut labels = Vec::new();
        loop {
            let len = usize::from(*msg.get(pos)?);
            if len == 0 {
                pos += 1;
                break;
            }
            if len > 63 {
                return None;
            }
            let label = msg.get(pos + 1..pos + 1 + len)?;
            labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
            pos += 1 + len;
        }
        let qtype = u16::from_be_bytes([*msg.get(pos)?, *msg.get(pos + 1)?]);
        let question = msg.get(12..pos + 4)?.to_vec();
        Some(Self {
            id,
            rd: flags & 0x01 != 0,
            name: labels.join("."),
            qtype,
            question,
            raw: msg.to_vec(),
        })
    }

    /// Where the first record after the question starts.
    fn records_at(&self) -> usize {
        12 + self.question.len()
    }
}

// --- Fixtures ---------------------------------------------------------------
//
// Records are written out as the bytes that go on the wire. Most owner names
// are the compression pointer c0 0c: "the name at offset 12", where the
// question's name always starts, right after the 12-byte header.

/// Owner `c0 0c` (the question's name), type A, class IN, TTL 300,
/// rdlength 4; the four address bytes follow.
const A_HEAD: [u8; 12] = [
    0xc0, 0x0c, // owner: pointer to offset 12, the question's name
    0x00, 0x01, // type A
    0x00, 0x01, // class IN
    0x00, 0x00, 0x01, 0x2c, // TTL 300
    0x00, 0x04, // rdlength 4
];

/// Owner `c0 0c`, type AAAA, class IN, TTL 300, rdlength 16; the sixteen
/// address bytes follow.
const AAAA_HEAD: [u8; 12] = [
    0xc0, 0x0c, // owner: the question's name
    0x00, 0x1c, // type AAAA (28)
    0x00, 0x01, // class IN
    0x00, 0x00, 0x01, 0x2c, // TTL 300
    0x00, 0x10, // rdlength 16
];

/// An answer record cut off inside its TTL: the packet ends here, with the
/// header still announcing the record.
const TRUNCATED_RECORD: [u8; 9] = [
    0xc0, 0x0c, // owner: the question's name
    0x00, 0x01, // type A
    0x00, 0x01, // class IN
    0x00, 0x00, 0x01, // TTL, three of its four bytes; then nothing
];

/// A TXT record whose rdlength says 64 bytes, of which 6 are there.
const TXT_PAST_END: [u8; 18] = [
    0xc0, 0x0c, // owner: the question's name
    0x00, 0x10, // type TXT (16)
    0x00, 0x01, // class IN
    0x00, 0x00, 0x01, 0x2c, // TTL 300
    0x00, 0x40, // rdlength 64: 58 bytes more than the packet holds
    0x05, b'h', b'e', b'l', b'l', b'o', // one character-string, "hello"
];

/// An A record with five bytes of data: 93.184.215.99 and one too many.
const A_RDLENGTH_5: [u8; 17] = [
    0xc0, 0x0c, // owner: the question's name
    0x00, 0x01, // type A
    0x00, 0x01, // class IN
    0x00, 0x00, 0x01, 0x2c, // TTL 300
    0x00, 0x05, // rdlength 5: an A record's data is exactly 4 bytes
    0x5d, 0xb8, 0xd7, 0x63, // 93.184.215.99
    0x00, // the fifth byte
];

/// An AAAA record with four bytes of data: an IPv4 address where sixteen
/// bytes belong.
const AAAA_RDLENGTH_4: [u8; 16] = [
    0xc0, 0x0c, // owner: the question's name
    0x00, 0x1c, // type AAAA (28)
    0x00, 0x01, // class IN
    0x00, 0x00, 0x01, 0x2c, // TTL 300
    0x00, 0x04, // rdlength 4: an AAAA record's data is exactly 16 bytes
    0x5d, 0xb8, 0xd7, 0x63, // 93.184.215.99
];

/// A well-formed SSHFP record (RFC 4255) for the question's name: RSA key,
/// SHA-1 fingerprint.
const SSHFP_RECORD: [u8; 34] = [
    0xc0, 0x0c, // owner: the question's name
    0x00, 0x2c, // type SSHFP (44)
    0x00, 0x01, // class IN
    0x00, 0x00, 0x01, 0x2c, // TTL 300
    0x00, 0x16, // rdlength 22
    0x01, // algorithm 1: RSA
    0x01, // fingerprint type 1: SHA-1
    0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, // the 20-byte
    0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, // fingerprint
];

/// A TYPE65280 (private use) record: six opaque bytes, "tacet!".
const PRIVATE_RECORD: [u8; 18] = [
    0xc0, 0x0c, // owner: the question's name
    0xff, 0x00, // type 65280: private use
    0x00, 0x01, // class IN
    0x00, 0x00, 0x01, 0x2c, // TTL 300
    0x00, 0x06, // rdlength 6
    b't', b'a', b'c', b'e', b't', b'!', // opaque data
];

/// Another TYPE65280 record, with data that would be a broken name or a
/// pointer if anyone read it as one: opaque means opaque.
const PRIVATE_RECORD_ODD: [u8; 16] = [
    0xc0, 0x0c, // owner: the question's name
    0xff, 0x00, // type 65280
    0x00, 0x01, // class IN
    0x00, 0x00, 0x00, 0x3c, // TTL 60
    0x00, 0x04, // rdlength 4
    0xc0, 0xff, 0x3f, 0x00, // a pointer past the end, a label length of 63
];

/// `tracker.blocked.test` as an uncompressed name: 22 bytes.
const TRACKER_NAME: [u8; 22] = [
    0x07, b't', b'r', b'a', b'c', b'k', b'e', b'r', // "tracker"
    0x07, b'b', b'l', b'o', b'c', b'k', b'e', b'd', // "blocked"
    0x04, b't', b'e', b's', b't', // "test"
    0x00, // root
];

/// The malformed additional record of the cloaking answer: an A record
/// cut off inside its rdlength, the last bytes of the packet. Resolvers
/// that read only the answer section (glibc's) do not mind; a firewall that
/// cannot read it must not relay the answer.
const CUT_ADDITIONAL: [u8; 11] = [
    0xc0, 0x0c, // owner: the question's name
    0x00, 0x01, // type A
    0x00, 0x01, // class IN
    0x00, 0x00, 0x01, 0x2c, // TTL 300
    0x00, // one of rdlength's two bytes; then the packet ends
];

/// The flags of an ordinary answer: QR (response), RD echoed, RA; NOERROR.
fn answer_flags(query: &ParsedQuery) -> [u8; 2] {
    [0x80 | u8::from(query.rd), 0x80]
}

/// A response: the query's ID, `flags`, one question (the query's own,
/// byte for byte), the section counts, then `records` as given.
fn response(
    id: u16,
    flags: [u8; 2],
    question: &[u8],
    counts: [u16; 3],
    records: &[&[u8]],
) -> Vec<u8> {
    let mut msg = Vec::with_capacity(512);
    msg.extend_from_slice(&id.to_be_bytes());
    msg.extend_from_slice(&flags);
    msg.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    for count in counts {
        msg.extend_from_slice(&count.to_be_bytes()); // ANCOUNT, NSCOUNT, ARCOUNT
    }
    msg.extend_from_slice(question);
    for record in records {
        msg.extend_from_slice(record);
    }
    msg
}

/// An A record for the question's name.
pub fn a_record(addr: Ipv4Addr) -> Vec<u8> {
    [&A_HEAD[..], &addr.octets()].concat()
}

/// An AAAA record for the question's name.
pub fn aaaa_record(addr: Ipv6Addr) -> Vec<u8> {
    [&AAAA_HEAD[..], &addr.octets()].concat()
}

/// A two-byte compression pointer to `offset`.
fn pointer(offset: usize) -> [u8; 2] {
    let offset = u16::try_from(offset).unwrap();
    assert!(offset < 0x4000, "pointer offset {offset} too large");
    (0xc000 | offset).to_be_bytes()
}

/// What the server sends for `query` in `mode`: zero, one or more messages.
pub fn answer(mode: Misbehaviour, query: &ParsedQuery, tcp: bool) -> Vec<Vec<u8>> {
    let ok = answer_flags(query);
    let q = &query.question[..];
    let id = query.id;
    let one = |counts, records: &[&[u8]]| vec![response(id, ok, q, counts, records)];
    match mode {
        Misbehaviour::EchoQuery => vec![query.raw.clone()],
        Misbehaviour::Truncated => one([1, 0, 0], &[&TRUNCATED_RECORD]),
        Misbehaviour::RdlengthPastEnd => one([1, 0, 0], &[&TXT_PAST_END]),
        Misbehaviour::BadRdlength if query.qtype == TYPE_AAAA => {
            one([1, 0, 0], &[&AAAA_RDLENGTH_4])
        }
        Misbehaviour::BadRdlength => one([1, 0, 0], &[&A_RDLENGTH_5]),
        Misbehaviour::CountsTooHigh => one([2, 0, 0], &[&a_record(LIE_A)]),
        Misbehaviour::CountsTooLow => one(
            [1, 0, 0],
            &[&a_record(LIE_A), &a_record(Ipv4Addr::new(93, 184, 215, 98))],
        ),
        Misbehaviour::PointerLoop => {
            // The owner name sits at the first record's offset and points
            // there: reading it never reaches a root label.
            let owner = pointer(query.records_at());
            let record = [&owner[..], &A_HEAD[2..], &LIE_A.octets()].concat();
            one([1, 0, 0], &[&record])
        }
        Misbehaviour::LabelLoop => {
            // CNAME data at offset D: the label "loop", then a pointer back
            // to D, so the target reads loop.loop.loop… forever.
            let data_at = query.records_at() + 12;
            let mut record = vec![
                0xc0, 0x0c, // owner: the question's name
                0x00, 0x05, // type CNAME
                0x00, 0x01, // class IN
                0x00, 0x00, 0x01, 0x2c, // TTL 300
                0x00, 0x07, // rdlength 7
                0x04, b'l', b'o', b'o', b'p', // the label "loop"
            ];
            record.extend_from_slice(&pointer(data_at)); // back to the label
            one([1, 0, 0], &[&record])
        }
        Misbehaviour::ForwardPointer => {
            // A CNAME record whose owner points 12 bytes ahead, into its
            // own data, where the name fwd.test is: pointers may only
            // point back, to names already read.
            let data_at = query.records_at() + 12;
            let mut record = pointer(data_at).to_vec(); // owner: forward
            record.extend_from_slice(&[
                0x00, 0x05, // type CNAME
                0x00, 0x01, // class IN
                0x00, 0x00, 0x01, 0x2c, // TTL 300
                0x00, 0x0a, // rdlength 10
                0x03, b'f', b'w', b'd', 0x04, b't', b'e', b's', b't', 0x00, // fwd.test
            ]);
            one([1, 0, 0], &[&record])
        }
        Misbehaviour::PointerOutOfRange => {
            let record = [&[0xff, 0xff][..], &A_HEAD[2..], &LIE_A.octets()].concat();
            // c0 00 | 3f ff: offset 16383, far past the packet's end.
            one([1, 0, 0], &[&record])
        }
        Misbehaviour::CnameToBlockedWithMalformedAdditional => {
            let cname_data_at = query.records_at() + 12;
            let cname = [
                &[
                    0xc0, 0x0c, // owner: the question's name
                    0x00, 0x05, // type CNAME
                    0x00, 0x01, // class IN
                    0x00, 0x00, 0x01, 0x2c, // TTL 300
                    0x00, 0x16, // rdlength 22
                ][..],
                &TRACKER_NAME, // tracker.blocked.test
            ]
            .concat();
            // The tracker's address, owned by the CNAME's target.
            let owner = pointer(cname_data_at);
            let address = if query.qtype == TYPE_AAAA {
                [&owner[..], &AAAA_HEAD[2..], &CLOAKED_TRACKER_AAAA.octets()].concat()
            } else {
                [&owner[..], &A_HEAD[2..], &CLOAKED_TRACKER_A.octets()].concat()
            };
            one([2, 0, 1], &[&cname, &address, &CUT_ADDITIONAL])
        }
        Misbehaviour::UnknownTypes => match query.qtype {
            TYPE_SSHFP => one(
                [1, 1, 1],
                &[&SSHFP_RECORD, &PRIVATE_RECORD, &PRIVATE_RECORD_ODD],
            ),
            TYPE_PRIVATE => one([2, 0, 0], &[&PRIVATE_RECORD, &PRIVATE_RECORD_ODD]),
            TYPE_AAAA => one(
                [2, 1, 1],
                &[
                    &PRIVATE_RECORD,
                    &aaaa_record(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x11)),
                    &PRIVATE_RECORD_ODD,
                    &PRIVATE_RECORD,
                ],
            ),
            _ => one(
                [2, 1, 1],
                &[
                    &PRIVATE_RECORD,
                    &a_record(Ipv4Addr::new(192, 0, 2, 11)),
                    &PRIVATE_RECORD_ODD,
                    &PRIVATE_RECORD,
                ],
            ),
        },
        Misbehaviour::SpecialAddresses => {
            let records: Vec<Vec<u8>> = if query.qtype == TYPE_AAAA {
                SPECIAL_V6
                    .iter()
                    .copied()
                    .chain([UPSTREAM_V6.parse().unwrap(), PUBLIC_AMONG_SPECIAL_AAAA])
                    .map(aaaa_record)
                    .collect()
            } else {
                SPECIAL_V4
                    .iter()
                    .copied()
                    .chain([UPSTREAM_V4.parse().unwrap(), PUBLIC_AMONG_SPECIAL_A])
                    .map(a_record)
                    .collect()
            };
            let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
            let count = u16::try_from(refs.len()).unwrap();
            one([count, 0, 0], &refs)
        }
        Misbehaviour::ManyAddresses => {
            let records: Vec<Vec<u8>> = (1..=MANY).map(|i| a_record(many_a(i))).collect();
            let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
            one([u16::from(MANY), 0, 0], &refs)
        }
        Misbehaviour::Stall => Vec::new(),
        Misbehaviour::WrongId => vec![response(
            id.wrapping_add(1),
            ok,
            q,
            [1, 0, 0],
            &[&a_record(LIE_A)],
        )],
        Misbehaviour::WrongQuestion => {
            // lie.allowed.test, type and class of the real question.
            let mut other = vec![
                0x03, b'l', b'i', b'e', // "lie"
                0x07, b'a', b'l', b'l', b'o', b'w', b'e', b'd', // "allowed"
                0x04, b't', b'e', b's', b't', 0x00, // "test", root
            ];
            other.extend_from_slice(&q[q.len() - 4..]);
            vec![response(id, ok, &other, [1, 0, 0], &[&a_record(LIE_A)])]
        }
        Misbehaviour::MalformedOverTcp if tcp => one([1, 0, 0], &[&TRUNCATED_RECORD]),
        Misbehaviour::MalformedOverTcp => {
            // QR, TC (0x02), RD echoed; RA: "too big, ask over TCP".
            let tc = [0x82 | u8::from(query.rd), 0x80];
            vec![response(id, tc, q, [0, 0, 0], &[])]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::burst::{encode_query, Query};

    fn query(name: &str, qtype: u16) -> ParsedQuery {
        ParsedQuery::parse(&encode_query(&Query {
            id: 0x1234,
            name: name.into(),
            qtype,
        }))
        .unwrap()
    }

    #[test]
    fn queries_parse_into_name_type_and_question_bytes() {
        let q = query("Www.Allowed.test", TYPE_SSHFP);
        assert_eq!(q.id, 0x1234);
        assert!(q.rd);
        assert_eq!(q.name, "www.allowed.test");
        assert_eq!(q.qtype, TYPE_SSHFP);
        // 3www 7allowed 4test 0, type, class.
        assert_eq!(q.question.len(), 18 + 4);
        assert_eq!(q.records_at(), 34);
    }

    #[test]
    fn an_honest_looking_answer_parses_with_the_burst_client() {
        let q = query("x.allowed.test", TYPE_A);
        let msg = &answer(Misbehaviour::WrongId, &q, false)[0];
        let reply = crate::burst::parse_reply(msg, Duration::ZERO).unwrap();
        assert_eq!(reply.id, 0x1235);
        assert_eq!(reply.addrs, [std::net::IpAddr::V4(LIE_A)]);
        let many = &answer(Misbehaviour::ManyAddresses, &q, false)[0];
        let reply = crate::burst::parse_reply(many, Duration::ZERO).unwrap();
        assert_eq!(reply.addrs.len(), usize::from(MANY));
    }

    #[test]
    fn the_pointer_loop_points_at_itself() {
        let q = query("x.allowed.test", TYPE_A);
        let msg = &answer(Misbehaviour::PointerLoop, &q, false)[0];
        let at = q.records_at();
        assert_eq!(msg[at..at + 2], pointer(at));
    }

    #[test]
    fn the_label_loop_points_back_at_its_label() {
        let q = query("x.allowed.test", TYPE_A);
        let msg = &answer(Misbehaviour::LabelLoop, &q, false)[0];
        let data = q.records_at() + 12;
        assert_eq!(&msg[data..data + 5], b"\x04loop");
        assert_eq!(msg[data + 5..data + 7], pointer(data));
        assert_eq!(msg.len(), data + 7);
    }

    #[test]
    fn the_forward_pointer_points_at_the_records_own_data() {
        let q = query("x.allowed.test", TYPE_A);
        let msg = &answer(Misbehaviour::ForwardPointer, &q, false)[0];
        let at = q.records_at();
        assert_eq!(msg[at..at + 2], pointer(at + 12));
        assert_eq!(&msg[at + 12..], b"\x03fwd\x04test\x00");
    }

    #[test]
    fn the_cloaking_answer_ends_inside_its_additional_record() {
        let q = query("cdn.allowed.test", TYPE_A);
        let msg = &answer(
            Misbehaviour::CnameToBlockedWithMalformedAdditional,
            &q,
            false,
        )[0];
        let at = q.records_at();
        // CNAME: 12 bytes of fixed fields and 22 of target.
        assert_eq!(&msg[at + 12..at + 34], &TRACKER_NAME);
        // A: owner pointer to the target, then the address.
        assert_eq!(msg[at + 34..at + 36], pointer(at + 12));
        assert_eq!(msg[at + 46..at + 50], CLOAKED_TRACKER_A.octets());
        assert_eq!(&msg[at + 50..], &CUT_ADDITIONAL);
        // The answer section alone parses (glibc's view of it), and leads
        // to the tracker's address.
        let reply = crate::burst::parse_reply(msg, Duration::ZERO).unwrap();
        assert_eq!(reply.addrs, [std::net::IpAddr::V4(CLOAKED_TRACKER_A)]);
    }

    #[test]
    fn the_tc_answer_is_empty_and_flagged() {
        let q = query("x.allowed.test", TYPE_A);
        let udp = &answer(Misbehaviour::MalformedOverTcp, &q, false)[0];
        assert_eq!(udp[2] & 0x02, 0x02);
        assert_eq!(udp.len(), q.records_at());
        let tcp = &answer(Misbehaviour::MalformedOverTcp, &q, true)[0];
        assert_eq!(&tcp[q.records_at()..], &TRUNCATED_RECORD);
    }
}
