//! The input of the `upstream_answer` target: one byte that picks the
//! app's question and how the answer is framed, then the upstream's answer.
//!
//! The first byte, bit by bit:
//! - bits 0–1: the name asked, from [`NAMES`] (all allowed by [`RULES`]);
//! - bits 2–4: the record type asked, from [`QTYPES`];
//! - bit 5: the query carries an EDNS OPT record;
//! - bits 6–7: 0 means the rest of the input is the whole answer, as is;
//!   anything else splices the query's ID and question in (three inputs in
//!   four), so that mutations spend their time past the first checks:
//!
//! ```text
//! answer = query ID (2) | input[0..2]: flags | QDCOUNT 1 | input[2..8]: AN, NS, AR counts
//!        | the query's question | input[8..]: the records
//! ```
//!
//! (a shorter input is padded with zeros up to the records).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The app's address and port on the tunnel.
pub const APP: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 111, 222, 1)), 40_000);
/// The virtual resolver the app asks.
pub const RESOLVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 111, 222, 53)), 53);
/// The ID of the app's query.
pub const APP_ID: u16 = 0x7ac3;
/// The rules the engine runs with: `tracker.example` and everything under
/// it is blocked, but for one allowed name; one exact hosts-file name.
pub const RULES: &str = "tracker.example\n@@||ok.tracker.example^\n0.0.0.0 exact.cloak.test\n";
/// The names the app asks for; none is blocked.
pub const NAMES: [&str; 4] = [
    "www.shop.example",
    "ok.tracker.example",
    "cloak.test",
    "a.b.c.d.e.f.g.h.shop.example",
];
/// The record types the app asks for: A, AAAA, HTTPS, SVCB, CNAME, TXT,
/// MX and ANY.
pub const QTYPES: [u16; 8] = [1, 28, 65, 64, 5, 16, 15, 255];

const SPLICED_HEAD: usize = 8;

/// One input, read.
#[derive(Clone, Copy, Debug)]
pub struct Case<'a> {
    /// The name the app asks for.
    pub name: &'static str,
    /// The record type it asks for.
    pub qtype: u16,
    /// Whether its query carries EDNS.
    pub edns: bool,
    /// Whether the query's ID and question are spliced into the answer.
    pub splice: bool,
    /// The rest of the input: the answer, whole or to be spliced.
    pub answer: &'a [u8],
}

impl<'a> Case<'a> {
    /// Reads an input; `None` for the empty one.
    pub fn read(data: &'a [u8]) -> Option<Self> {
        let (&shape, answer) = data.split_first()?;
        Some(Self {
            name: NAMES[usize::from(shape & 3)],
            qtype: QTYPES[usize::from(shape >> 2 & 7)],
            edns: shape & 0x20 != 0,
            splice: shape & 0xc0 != 0,
            answer,
        })
    }

    /// The app's query, as the app would send it.
    pub fn query(&self) -> Vec<u8> {
        let [id_hi, id_lo] = APP_ID.to_be_bytes();
        let arcount = u8::from(self.edns);
        let mut q = vec![id_hi, id_lo, 1, 0, 0, 1, 0, 0, 0, 0, 0, arcount];
        q.extend_from_slice(&question(self.name, self.qtype));
        if self.edns {
            // OPT for the root: 1232-byte payload, no flags, no options.
            q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
        }
        q
    }

    /// The upstream's answer to `query` that this input stands for.
    pub fn response(&self) -> Vec<u8> {
        if !self.splice {
            return self.answer.to_vec();
        }
        let mut head = [0u8; SPLICED_HEAD];
        let given = self.answer.len().min(SPLICED_HEAD);
        head[..given].copy_from_slice(&self.answer[..given]);
        let records = self.answer.get(SPLICED_HEAD..).unwrap_or_default();
        let mut out = Vec::with_capacity(12 + 64 + records.len());
        out.extend_from_slice(&APP_ID.to_be_bytes());
        out.extend_from_slice(&head[..2]);
        out.extend_from_slice(&[0, 1]);
        out.extend_from_slice(&head[2..]);
        out.extend_from_slice(&question(self.name, self.qtype));
        out.extend_from_slice(records);
        out
    }
}

/// The first byte of an input: the question and the framing.
pub fn shape(name: usize, qtype: usize, edns: bool, splice: bool) -> u8 {
    (name & 3) as u8 | ((qtype & 7) as u8) << 2 | u8::from(edns) << 5 | u8::from(splice) << 6
}

/// The input that makes `response` the upstream's answer to the question
/// `shape` picks. Spliced, `response` must carry that question first (as
/// an answer built for it does); its ID and question are left out.
pub fn input(shape: u8, response: &[u8]) -> Vec<u8> {
    let mut out = vec![shape];
    let Some(case) = Case::read(&out) else {
        return out;
    };
    if !case.splice {
        out.extend_from_slice(response);
        return out;
    }
    let skip = 12 + question(case.name, case.qtype).len();
    out.extend_from_slice(response.get(2..4).unwrap_or_default());
    out.extend_from_slice(response.get(6..12).unwrap_or_default());
    out.extend_from_slice(response.get(skip..).unwrap_or_default());
    out
}

/// A question in wire form: the name's labels, then type and class IN.
fn question(name: &str, qtype: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 6);
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&[0, 1]);
    out
}
