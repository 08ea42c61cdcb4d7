//! DNS messages on the firewall's side: reading the one question of a query
//! and writing the answers the firewall gives itself (block answers,
//! SERVFAIL, FORMERR, NOTIMP).
//!
//! Queries are read here, not with simple-dns, for one reason: simple-dns
//! refuses a question whose type it does not know (TLSA, SSHFP, NSEC3,
//! private types...), and a resolver must still forward or answer those.
//! Answers echo the query's header and question bytes as they came, as RFC
//! 1035 asks, so they work for every type too. simple-dns checks every
//! answer in the tests. Upstream answers are read by [`crate::answer`].

use std::fmt::Write as _;

/// The fixed size of a DNS header.
pub const HEADER_LEN: usize = 12;
/// Record type A.
pub const TYPE_A: u16 = 1;
/// Record type AAAA.
pub const TYPE_AAAA: u16 = 28;
const TYPE_SOA: u16 = 6;
const TYPE_OPT: u16 = 41;
const CLASS_IN: u16 = 1;
/// The UDP payload size the firewall advertises in its own EDNS answers
/// (the DNS Flag Day 2020 value, safe from fragmentation).
const EDNS_PAYLOAD: u16 = 1232;

/// The largest UDP answer sent to a serve-mode client, whatever its EDNS
/// size: DNS flag day 2020's, below any fragmentation.
pub const MAX_UDP_ANSWER: u16 = 1232;

/// What a client without EDNS takes over UDP (RFC 1035).
pub const UDP_SIZE_WITHOUT_EDNS: u16 = 512;

const FLAG_QR: u16 = 0x8000;
const FLAG_TC: u16 = 0x0200;
const FLAG_RD: u16 = 0x0100;
const FLAG_RA: u16 = 0x0080;
const FLAG_CD: u16 = 0x0010;
const OPCODE_MASK: u16 = 0x7800;

/// The mname and rname of the SOA in negative block answers: a name under
/// `.invalid` (RFC 2606) that no one can own.
const SOA_NAMES: &[u8] = b"\x05tacet\x07invalid\x00\x0ahostmaster\x05tacet\x07invalid\x00";

/// A response code the firewall answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rcode {
    /// NOERROR.
    NoError = 0,
    /// FORMERR: the query could not be understood.
    FormErr = 1,
    /// SERVFAIL: the upstream failed.
    ServFail = 2,
    /// NXDOMAIN: the name does not exist.
    NxDomain = 3,
    /// NOTIMP: not a standard query.
    NotImp = 4,
    /// REFUSED.
    Refused = 5,
}

/// Why a DNS message from the phone is not a query the firewall serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryError {
    /// Not a DNS query at all (too short, a response, a broken name): it is
    /// dropped, because an answer could not even echo its question.
    Malformed,
    /// A query the firewall answers with this code instead of serving it:
    /// FORMERR for a question count other than one, NOTIMP for an opcode
    /// other than QUERY.
    Refuse(Rcode),
}

/// The parts of a query the firewall acts on. The name is lowercase and
/// dotted without the trailing dot (`api-mifit.huami.com`), the form rules
/// are looked up in; the root is the empty string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query<'a> {
    /// The query's ID.
    pub id: u16,
    /// The question's name, as rules see it.
    pub name: String,
    /// The question's type.
    pub qtype: u16,
    /// The question's class.
    pub qclass: u16,
    /// Whether the query carried an EDNS OPT record.
    pub edns: bool,
    /// The most bytes the asker takes in a UDP answer: its EDNS payload
    /// size, or 512 without EDNS (RFC 6891: never less than 512).
    pub udp_size: u16,
    flags: u16,
    /// The header and question bytes, echoed in every answer.
    head: &'a [u8],
}

impl<'a> Query<'a> {
    /// Reads a query; never panics on any input.
    pub fn parse(message: &'a [u8]) -> Result<Self, QueryError> {
        let mut reader = Reader {
            bytes: message,
            pos: 0,
        };
        let id = reader.u16().ok_or(QueryError::Malformed)?;
        let flags = reader.u16().ok_or(QueryError::Malformed)?;
        let qdcount = reader.u16().ok_or(QueryError::Malformed)?;
        let ancount = reader.u16().ok_or(QueryError::Malformed)?;
        let nscount = reader.u16().ok_or(QueryError::Malformed)?;
        let arcount = reader.u16().ok_or(QueryError::Malformed)?;
        if flags & FLAG_QR != 0 {
            return Err(QueryError::Malformed);
        }
        if flags & OPCODE_MASK != 0 {
            return Err(QueryError::Refuse(Rcode::NotImp));
        }
        if qdcount != 1 {
            return Err(QueryError::Refuse(Rcode::FormErr));
        }
        let mut name = String::with_capacity(64);
        reader.name(&mut name).ok_or(QueryError::Malformed)?;
        let qtype = reader.u16().ok_or(QueryError::Malformed)?;
        let qclass = reader.u16().ok_or(QueryError::Malformed)?;
        let head = message.get(..reader.pos).ok_or(QueryError::Malformed)?;
        // EDNS is best effort: a query with broken records after its
        // question is still answered, just without an OPT record.
        let opt = reader.opt_size(usize::from(ancount) + usize::from(nscount), arcount);
        Ok(Self {
            id,
            name,
            qtype,
            qclass,
            edns: opt.is_some(),
            udp_size: opt.map_or(UDP_SIZE_WITHOUT_EDNS, |size| {
                size.max(UDP_SIZE_WITHOUT_EDNS)
            }),
            flags,
            head,
        })
    }

    /// The wire form of the header and question, for answers that must
    /// repeat the question exactly.
    pub fn head(&self) -> &'a [u8] {
        self.head
    }

    /// The wire form of the question alone: name, type and class.
    pub fn question(&self) -> Option<&'a [u8]> {
        self.head.get(HEADER_LEN..)
    }

    /// An empty answer with the TC bit set: "ask again over TCP".
    pub fn answer_truncated(&self) -> Vec<u8> {
        let mut out = self.start_answer(Rcode::NoError, 0, 0);
        if let Some(flags) = out.get_mut(2) {
            *flags |= (FLAG_TC >> 8) as u8;
        }
        self.finish(out)
    }

    /// An answer with this code and no records: NODATA for NOERROR, or
    /// SERVFAIL, REFUSED, NXDOMAIN... A negative answer carries a SOA so the
    /// phone caches it for `negative_ttl` seconds (RFC 2308).
    pub fn answer_empty(&self, rcode: Rcode, negative_ttl: Option<u32>) -> Vec<u8> {
        let mut out = self.start_answer(rcode, 0, u16::from(negative_ttl.is_some()));
        if let Some(ttl) = negative_ttl {
            push_soa(&mut out, ttl);
        }
        self.finish(out)
    }

    /// A NOERROR answer with one address record for the question's name.
    pub fn answer_address(&self, rtype: u16, rdata: &[u8], ttl: u32) -> Vec<u8> {
        let mut out = self.start_answer(Rcode::NoError, 1, 0);
        out.extend_from_slice(&[0xc0, 0x0c]); // the question's name
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&u16::try_from(rdata.len()).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(rdata);
        self.finish(out)
    }

    fn start_answer(&self, rcode: Rcode, ancount: u16, nscount: u16) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.head.len() + 80);
        out.extend_from_slice(self.head);
        let flags = FLAG_QR | FLAG_RA | (self.flags & (FLAG_RD | FLAG_CD)) | rcode as u16;
        write_u16(&mut out, 2, flags);
        write_u16(&mut out, 6, ancount);
        write_u16(&mut out, 8, nscount);
        write_u16(&mut out, 10, u16::from(self.edns));
        out
    }

    fn finish(&self, mut out: Vec<u8>) -> Vec<u8> {
        if self.edns {
            // An OPT record for the root: our payload size, no flags.
            out.extend_from_slice(&[0, 0, 41]);
            out.extend_from_slice(&EDNS_PAYLOAD.to_be_bytes());
            out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        }
        out
    }
}

/// A recursive query for `name` (in rule form: lowercase, dotted) and
/// `qtype`, ID zero (the runtime gives every query a random ID); `None`
/// for a name that cannot be written (an empty or overlong label).
pub fn query_message(name: &str, qtype: u16) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(HEADER_LEN + name.len() + 6);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&FLAG_RD.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|l| (1..=63).contains(l))?;
        out.push(len);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    if out.len() - HEADER_LEN > 255 {
        return None;
    }
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    Some(out)
}

/// An answer with `rcode` to a query that [`Query::parse`] refused: the
/// header with the question count zeroed, so nothing unparsed is echoed.
pub fn refusal(message: &[u8], rcode: Rcode) -> Option<Vec<u8>> {
    let header = message.get(..HEADER_LEN)?;
    let mut out = header.to_vec();
    let flags = u16::from_be_bytes([header[2], header[3]]);
    let answer_flags = FLAG_QR | FLAG_RA | (flags & (OPCODE_MASK | FLAG_RD)) | rcode as u16;
    write_u16(&mut out, 2, answer_flags);
    for offset in [4, 6, 8, 10] {
        write_u16(&mut out, offset, 0);
    }
    Some(out)
}

/// Whether `response` answers the same question as `query`: same type and
/// class, same name compared case-insensitively (resolvers may change the
/// case of names, RFC 4343 and the 0x20 trick).
pub fn same_question(query: &[u8], response: &[u8]) -> bool {
    match (Question::read(query), Question::read(response)) {
        (Some(q), Some(r)) => q == r,
        _ => false,
    }
}

/// Whether a response has the TC (truncated) bit set.
pub fn is_truncated(response: &[u8]) -> bool {
    response
        .get(2)
        .is_some_and(|b| u16::from(*b) << 8 & FLAG_TC != 0)
}

/// An answer cut to its header and question with the TC bit set, for a
/// UDP client that takes fewer bytes than the whole answer: it asks again
/// over TCP (RFC 7766). `None` if the answer has no single readable
/// question.
pub fn truncate(answer: &[u8]) -> Option<Vec<u8>> {
    let mut reader = Reader {
        bytes: answer,
        pos: 4,
    };
    if reader.u16()? != 1 {
        return None;
    }
    reader.pos = HEADER_LEN;
    reader.skip_name()?;
    reader.skip(4)?;
    let mut out = answer.get(..reader.pos)?.to_vec();
    if let Some(flags) = out.get_mut(2) {
        *flags |= (FLAG_TC >> 8) as u8;
    }
    for offset in [6, 8, 10] {
        write_u16(&mut out, offset, 0);
    }
    Some(out)
}

/// Rewrites the ID of a DNS message in place; false if it is too short.
pub fn set_id(message: &mut [u8], id: u16) -> bool {
    match message.get_mut(..2) {
        Some(bytes) => {
            bytes.copy_from_slice(&id.to_be_bytes());
            true
        }
        None => false,
    }
}

/// Reads the ID of a DNS message.
pub fn id(message: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*message.first()?, *message.get(1)?]))
}

#[derive(PartialEq, Eq)]
struct Question {
    name: String,
    qtype: u16,
    qclass: u16,
}

impl Question {
    fn read(message: &[u8]) -> Option<Self> {
        let mut reader = Reader {
            bytes: message,
            pos: 4,
        };
        if reader.u16()? != 1 {
            return None;
        }
        reader.pos = HEADER_LEN;
        let mut name = String::new();
        reader.name(&mut name)?;
        Some(Self {
            name,
            qtype: reader.u16()?,
            qclass: reader.u16()?,
        })
    }
}

fn write_u16(out: &mut [u8], offset: usize, value: u16) {
    if let Some(bytes) = out.get_mut(offset..offset + 2) {
        bytes.copy_from_slice(&value.to_be_bytes());
    }
}

fn push_soa(out: &mut Vec<u8>, ttl: u32) {
    out.extend_from_slice(&[0xc0, 0x0c]);
    out.extend_from_slice(&TYPE_SOA.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    let rdlength = SOA_NAMES.len() + 20;
    out.extend_from_slice(&u16::try_from(rdlength).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(SOA_NAMES);
    // serial, refresh, retry, expire, and the negative-caching minimum.
    for value in [1, 3600, 600, 86400, ttl] {
        out.extend_from_slice(&value.to_be_bytes());
    }
}

/// A cursor over a DNS message that returns `None` instead of reading past
/// the end.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn u8(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        let end = self.pos.checked_add(n)?;
        (end <= self.bytes.len()).then(|| self.pos = end)
    }

    /// Reads an uncompressed name into `out` in rule form: lowercase, dotted,
    /// no trailing dot. Bytes that cannot appear in a hostname are written
    /// as `\DDD`, as in zone files, so they can never match a rule by
    /// accident. A question name is never compressed (nothing precedes it
    /// to point at), so a pointer there is malformed.
    fn name(&mut self, out: &mut String) -> Option<()> {
        let mut wire_len = 1;
        loop {
            let len = usize::from(self.u8()?);
            if len == 0 {
                return Some(());
            }
            if len > 63 {
                return None;
            }
            wire_len += len + 1;
            if wire_len > 255 {
                return None;
            }
            let label = self.bytes.get(self.pos..self.pos + len)?;
            self.pos += len;
            if !out.is_empty() {
                out.push('.');
            }
            for &b in label {
                match b {
                    b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => out.push(char::from(b)),
                    b'A'..=b'Z' => out.push(char::from(b.to_ascii_lowercase())),
                    _ => {
                        let _ = write!(out, "\\{b:03}");
                    }
                }
            }
        }
    }

    /// Skips a possibly compressed name in a record.
    fn skip_name(&mut self) -> Option<()> {
        loop {
            let len = self.u8()?;
            match len {
                0 => return Some(()),
                0xc0..=0xff => return self.skip(1),
                1..=63 => self.skip(usize::from(len))?,
                _ => return None,
            }
        }
    }

    /// Walks `skip` records, then `arcount` additional ones, looking for OPT.
    /// The payload size of the OPT record among the additional records,
    /// if there is one (its class field carries the size).
    fn opt_size(&mut self, skip: usize, arcount: u16) -> Option<u16> {
        let mut walk = || -> Option<Option<u16>> {
            for index in 0..skip + usize::from(arcount) {
                self.skip_name()?;
                let rtype = self.u16()?;
                let class = self.u16()?;
                self.skip(4)?;
                let rdlength = self.u16()?;
                self.skip(usize::from(rdlength))?;
                if index >= skip && rtype == TYPE_OPT {
                    return Some(Some(class));
                }
            }
            Some(None)
        };
        walk().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::hex;
    use simple_dns::rdata::RData;

    /// `dig +noedns Api-Mifit.Huami.COM A`: ID 0xbeef, RD.
    fn query_a() -> Vec<u8> {
        hex("beef 0100 0001 0000 0000 0000
             09 4170692d4d69666974 05 4875616d69 03 434f4d 00 0001 0001")
    }

    /// `dig AAAA tracker.example` with EDNS (OPT, 1232 bytes, DO unset).
    fn query_aaaa_edns() -> Vec<u8> {
        hex("0102 0110 0001 0000 0000 0001
             07 747261636b6572 07 6578616d706c65 00 001c 0001
             00 0029 04d0 00 00 0000 0000")
    }

    #[test]
    fn truncation_keeps_header_and_question_and_sets_tc() {
        let bytes = query_aaaa_edns();
        let q = Query::parse(&bytes).unwrap();
        assert_eq!(q.udp_size, 1232, "the OPT record's class");
        assert_eq!(Query::parse(&query_a()).unwrap().udp_size, 512);
        let answer = q.answer_address(TYPE_AAAA, &[0; 16], 60);
        let cut = truncate(&answer).unwrap();
        assert_eq!(
            cut,
            hex("0102 8390 0001 0000 0000 0000
                 07 747261636b6572 07 6578616d706c65 00 001c 0001"),
            "QR RD TC RA CD as asked, no records"
        );
        assert!(truncate(&cut[..20]).is_none(), "a question cut short");
        assert!(truncate(&[0; 11]).is_none());
    }

    #[test]
    fn reads_the_question_in_rule_form() {
        let bytes = query_a();
        let q = Query::parse(&bytes).unwrap();
        assert_eq!(
            (q.id, q.name.as_str(), q.qtype, q.qclass, q.edns),
            (0xbeef, "api-mifit.huami.com", 1, 1, false)
        );
        let bytes = query_aaaa_edns();
        let q = Query::parse(&bytes).unwrap();
        assert_eq!(
            (q.name.as_str(), q.qtype, q.edns),
            ("tracker.example", TYPE_AAAA, true)
        );
    }

    #[test]
    fn unknown_types_are_queries_too() {
        // TYPE65280 (private use): simple-dns refuses it; we must not.
        let bytes = hex("0001 0100 0001 0000 0000 0000 01 61 00 ff00 0001");
        assert_eq!(Query::parse(&bytes).unwrap().qtype, 0xff00);
    }

    #[test]
    fn null_answer_a_parses_with_simple_dns() {
        let bytes = query_a();
        let q = Query::parse(&bytes).unwrap();
        let answer = q.answer_address(TYPE_A, &[0, 0, 0, 0], 10);
        let p = simple_dns::Packet::parse(&answer).unwrap();
        assert_eq!(p.id(), 0xbeef);
        assert!(p.has_flags(
            simple_dns::PacketFlag::RESPONSE | simple_dns::PacketFlag::RECURSION_DESIRED
        ));
        assert_eq!(p.rcode(), simple_dns::RCODE::NoError);
        assert_eq!(p.questions.len(), 1);
        assert_eq!(p.answers.len(), 1);
        assert_eq!(p.answers[0].ttl, 10);
        assert_eq!(
            p.answers[0].rdata,
            RData::A(simple_dns::rdata::A { address: 0 })
        );
        // The question is echoed byte for byte, case included.
        assert_eq!(&answer[12..12 + 25], &bytes[12..]);
    }

    #[test]
    fn edns_queries_get_an_opt_record_back() {
        let bytes = query_aaaa_edns();
        let q = Query::parse(&bytes).unwrap();
        let answer = q.answer_address(TYPE_AAAA, &[0; 16], 10);
        let p = simple_dns::Packet::parse(&answer).unwrap();
        assert_eq!(p.opt().unwrap().udp_packet_size, 1232);
        assert_eq!(
            p.answers[0].rdata,
            RData::AAAA(simple_dns::rdata::AAAA { address: 0 })
        );
        // CD was set in the query and is echoed.
        assert_eq!(answer[3] & 0x10, 0x10);
    }

    #[test]
    fn negative_answers_carry_a_soa_with_the_block_ttl() {
        let bytes = query_a();
        let q = Query::parse(&bytes).unwrap();
        for rcode in [Rcode::NxDomain, Rcode::NoError] {
            let answer = q.answer_empty(rcode, Some(10));
            let p = simple_dns::Packet::parse(&answer).unwrap();
            assert_eq!(p.rcode() as u16, rcode as u16);
            assert!(p.answers.is_empty());
            let RData::SOA(soa) = &p.name_servers[0].rdata else {
                panic!("no SOA")
            };
            assert_eq!((soa.minimum, p.name_servers[0].ttl), (10, 10));
        }
        let bytes = q.answer_empty(Rcode::ServFail, None);
        let servfail = simple_dns::Packet::parse(&bytes).unwrap();
        assert_eq!(servfail.rcode(), simple_dns::RCODE::ServerFailure);
        assert!(servfail.name_servers.is_empty());
    }

    #[test]
    fn responses_and_broken_names_are_malformed() {
        let mut response = query_a();
        response[2] |= 0x80;
        assert_eq!(Query::parse(&response), Err(QueryError::Malformed));
        let mut pointer = query_a();
        pointer[12] = 0xc0;
        assert_eq!(Query::parse(&pointer), Err(QueryError::Malformed));
        let label_64 = [
            &hex("0001 0100 0001 0000 0000 0000 40")[..],
            &[b'a'; 64],
            &hex("00 0001 0001"),
        ]
        .concat();
        assert_eq!(Query::parse(&label_64), Err(QueryError::Malformed));
        let bytes = query_a();
        for len in 0..bytes.len() {
            assert_eq!(
                Query::parse(&bytes[..len]),
                Err(QueryError::Malformed),
                "len {len}"
            );
        }
    }

    #[test]
    fn names_over_255_bytes_are_malformed() {
        let mut bytes = hex("0001 0100 0001 0000 0000 0000");
        for _ in 0..5 {
            bytes.push(50);
            bytes.extend([b'a'; 50]);
        }
        bytes.extend(hex("00 0001 0001"));
        assert_eq!(Query::parse(&bytes), Err(QueryError::Malformed));
    }

    #[test]
    fn other_opcodes_and_question_counts_are_refused_with_a_code() {
        let mut notify = query_a();
        notify[2] |= 0x20; // opcode 4, NOTIFY
        assert_eq!(
            Query::parse(&notify),
            Err(QueryError::Refuse(Rcode::NotImp))
        );
        let answer = refusal(&notify, Rcode::NotImp).unwrap();
        let p = simple_dns::Packet::parse(&answer).unwrap();
        assert_eq!(p.rcode(), simple_dns::RCODE::NotImplemented);
        assert_eq!(p.id(), 0xbeef);
        let mut two = query_a();
        two[5] = 2;
        assert_eq!(Query::parse(&two), Err(QueryError::Refuse(Rcode::FormErr)));
    }

    #[test]
    fn odd_bytes_in_labels_are_escaped_not_matched() {
        let bytes = hex("0001 0100 0001 0000 0000 0000 03 612e62 07 6578616d706c65 00 0001 0001");
        assert_eq!(Query::parse(&bytes).unwrap().name, "a\\046b.example");
    }

    #[test]
    fn same_question_ignores_case_and_checks_type() {
        let query = query_a();
        let mut response = query.clone();
        response[2] |= 0x80;
        response[13] = b'a'; // "Api" -> "api"
        assert!(same_question(&query, &response));
        let mut other_type = response.clone();
        other_type[34] = 28;
        assert!(!same_question(&query, &other_type));
        assert!(!same_question(&query, &response[..20]));
    }

    #[test]
    fn queries_are_written_for_rule_form_names() {
        let m = query_message("api-mifit.huami.com", TYPE_AAAA).unwrap();
        let q = Query::parse(&m).unwrap();
        assert_eq!(
            (q.id, q.name.as_str(), q.qtype),
            (0, "api-mifit.huami.com", 28)
        );
        assert!(query_message("a..example", TYPE_A).is_none());
        assert!(query_message(&"a".repeat(64), TYPE_A).is_none());
        let long = ["a".repeat(60).as_str(); 5].join(".");
        assert!(query_message(&long, TYPE_A).is_none());
    }

    #[test]
    fn ids_and_truncation() {
        let mut m = query_a();
        assert_eq!(id(&m), Some(0xbeef));
        assert!(set_id(&mut m, 7));
        assert_eq!(id(&m), Some(7));
        assert!(!is_truncated(&m));
        m[2] |= 0x02;
        assert!(is_truncated(&m));
        assert!(!set_id(&mut [0u8], 1));
    }
}
