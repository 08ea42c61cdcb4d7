//! Upstream answers, read completely before anything is relayed.
//!
//! The network's resolver may be hostile (a café's Wi-Fi, a compromised
//! router), so its answers are input like any other: every record of every
//! section is read, names are followed through compression pointers that
//! may only point backwards, record lengths are checked against their
//! types, and the facts the firewall acts on (the names an answer leads
//! to, the addresses it gives) are taken from the answer section. An
//! answer that cannot be read whole is an [`AnswerProblem`]: the engine
//! never relays it, because a record it could not inspect could be the
//! one that cloaks a tracker.
//!
//! Records of types this reader does not know are fine: their data is
//! opaque here and only its length must fit. That is how a resolver
//! forwards SSHFP, TLSA or private types it has never heard of.

use std::fmt;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::dns::{HEADER_LEN, TYPE_A, TYPE_AAAA};

const TYPE_NS: u16 = 2;
const TYPE_CNAME: u16 = 5;
const TYPE_SOA: u16 = 6;
const TYPE_PTR: u16 = 12;
const TYPE_HINFO: u16 = 13;
const TYPE_MX: u16 = 15;
const TYPE_TXT: u16 = 16;
const TYPE_SRV: u16 = 33;
const TYPE_DNAME: u16 = 39;
const TYPE_OPT: u16 = 41;
const TYPE_SVCB: u16 = 64;
const TYPE_HTTPS: u16 = 65;
/// SvcParamKeys of the address hints (RFC 9460 §14.3.2).
const SVC_IPV4HINT: u16 = 4;
const SVC_IPV6HINT: u16 = 6;

const FLAG_QR: u8 = 0x80;
const OPCODE_MASK: u8 = 0x78;
/// The reserved bit of the header's second flags byte.
const FLAG_Z: u8 = 0x40;

/// The record types whose data this reader interprets and checks; the
/// data of every other type is opaque here (only its length must fit).
pub const INTERPRETED_TYPES: &[u16] = &[
    TYPE_A, TYPE_NS, TYPE_CNAME, TYPE_SOA, TYPE_PTR, TYPE_HINFO, TYPE_MX, TYPE_TXT, TYPE_AAAA,
    TYPE_SRV, TYPE_DNAME, TYPE_OPT, TYPE_SVCB, TYPE_HTTPS,
];

/// Record classes (RFC 6895 §3.2): IN, CS (obsolete but assigned), CH, HS
/// and NONE (updates).
const VALID_CLASSES: [u16; 5] = [1, 2, 3, 4, 254];

/// The most compression pointers followed in one name. Pointers may only
/// point backwards, so a loop is impossible; this bounds the work a
/// pathological chain of backward pointers can cause.
const MAX_POINTERS: usize = 64;
/// The longest name on the wire, with its length bytes (RFC 1035 §2.3.4).
const MAX_NAME_WIRE: usize = 255;

/// A section of a DNS message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// The question.
    Question,
    /// The answer section.
    Answer,
    /// The authority section.
    Authority,
    /// The additional section.
    Additional,
}

impl Section {
    fn as_str(self) -> &'static str {
        match self {
            Self::Question => "question",
            Self::Answer => "answer section",
            Self::Authority => "authority section",
            Self::Additional => "additional section",
        }
    }
}

/// What is wrong with an answer the engine refused to relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerProblem {
    /// Shorter than a DNS header.
    TooShort,
    /// The QR bit is clear: the query came back, not an answer.
    NotAResponse,
    /// The opcode is not QUERY.
    WrongOpcode,
    /// The header's reserved Z bit is set (RFC 1035: must be zero).
    ReservedBit,
    /// The question is not the one that was asked.
    OtherQuestion,
    /// A section could not be read.
    Malformed(Section, Defect),
    /// Bytes follow the last record the header counts.
    TrailingBytes,
}

/// What made a section unreadable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Defect {
    /// The message ends inside a record (or has fewer than its header says).
    Truncated,
    /// A label is longer than 63 bytes, a name longer than 255, or a label
    /// type is not defined.
    BadName,
    /// A compression pointer points forward, at itself, or past the end.
    BadPointer,
    /// A record's data does not fit its type (an A record that is not four
    /// bytes, a name that does not fill its record...).
    BadLength,
    /// An OPT record outside the additional section, or more than one.
    BadOpt,
    /// A record of a class that does not exist (IN, CH, HS, NONE are).
    BadClass,
}

impl fmt::Display for AnswerProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort => f.write_str("the answer is shorter than a DNS header"),
            Self::NotAResponse => f.write_str("the answer is not marked as a response"),
            Self::WrongOpcode => f.write_str("the answer's opcode is not QUERY"),
            Self::ReservedBit => f.write_str("the answer sets the header's reserved bit"),
            Self::OtherQuestion => f.write_str("the answer is for another question"),
            Self::TrailingBytes => f.write_str("the answer has bytes after its last record"),
            Self::Malformed(section, defect) => {
                let what = match defect {
                    Defect::Truncated => "ends inside a record",
                    Defect::BadName => "holds a malformed name",
                    Defect::BadPointer => "holds a compression pointer that loops or points ahead",
                    Defect::BadLength => "holds a record whose length does not fit its type",
                    Defect::BadOpt => "holds a misplaced or repeated OPT record",
                    Defect::BadClass => "holds a record of a class that does not exist",
                };
                write!(f, "the {} {what}", section.as_str())
            }
        }
    }
}

/// What the firewall needs from an answer: the addresses in its answer
/// section (A, AAAA, and the address hints of HTTPS/SVCB records) and the
/// names it leads through (CNAME and DNAME targets, HTTPS/SVCB target
/// names), in rule form.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnswerFacts {
    /// Each address with its record's TTL.
    pub addresses: Vec<(IpAddr, u32)>,
    /// Names the answer points to instead of the question's.
    pub aliases: Vec<String>,
    /// Whether the TC bit is set.
    pub truncated: bool,
}

/// Reads a whole upstream answer; `question` is the wire form of the
/// question that was asked (name, type, class), which the answer must
/// repeat (names compared without regard to ASCII case). Never panics.
pub fn inspect(response: &[u8], question: &[u8]) -> Result<AnswerFacts, AnswerProblem> {
    let header = response.get(..HEADER_LEN).ok_or(AnswerProblem::TooShort)?;
    let flags = header.get(2).copied().unwrap_or(0);
    if flags & FLAG_QR == 0 {
        return Err(AnswerProblem::NotAResponse);
    }
    if flags & OPCODE_MASK != 0 {
        return Err(AnswerProblem::WrongOpcode);
    }
    if header.get(3).is_some_and(|low| low & FLAG_Z != 0) {
        return Err(AnswerProblem::ReservedBit);
    }
    let count = |at: usize| {
        usize::from(u16::from_be_bytes([
            header.get(at).copied().unwrap_or(0),
            header.get(at + 1).copied().unwrap_or(0),
        ]))
    };
    let (qdcount, ancount, nscount, arcount) = (count(4), count(6), count(8), count(10));
    let mut reader = Reader {
        bytes: response,
        pos: HEADER_LEN,
    };
    if qdcount != 1 {
        return Err(AnswerProblem::OtherQuestion);
    }
    let start = reader.pos;
    reader
        .name(None)
        .map_err(|d| AnswerProblem::Malformed(Section::Question, d))?;
    reader
        .skip(4)
        .map_err(|d| AnswerProblem::Malformed(Section::Question, d))?;
    let asked = response.get(start..reader.pos).unwrap_or_default();
    if !same_question(asked, question) {
        return Err(AnswerProblem::OtherQuestion);
    }
    let mut facts = AnswerFacts {
        truncated: flags & 0x02 != 0,
        ..AnswerFacts::default()
    };
    let mut opt_seen = false;
    let sections = [
        (Section::Answer, ancount),
        (Section::Authority, nscount),
        (Section::Additional, arcount),
    ];
    for (section, records) in sections {
        for _ in 0..records {
            reader
                .record(section, &mut facts, &mut opt_seen)
                .map_err(|d| AnswerProblem::Malformed(section, d))?;
        }
    }
    if reader.pos != response.len() {
        return Err(AnswerProblem::TrailingBytes);
    }
    Ok(facts)
}

/// Whether two wire-form questions are the same: equal bytes, but for the
/// ASCII case of the name (RFC 4343; resolvers may randomise it, 0x20).
/// The question a resolver repeats is never compressed (nothing precedes
/// it to point at), so byte comparison is exact.
fn same_question(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y))
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn u8(&mut self) -> Result<u8, Defect> {
        let b = *self.bytes.get(self.pos).ok_or(Defect::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn u16(&mut self) -> Result<u16, Defect> {
        Ok(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }

    fn u32(&mut self) -> Result<u32, Defect> {
        Ok(u32::from_be_bytes([
            self.u8()?,
            self.u8()?,
            self.u8()?,
            self.u8()?,
        ]))
    }

    fn skip(&mut self, n: usize) -> Result<(), Defect> {
        let end = self.pos.checked_add(n).ok_or(Defect::Truncated)?;
        if end > self.bytes.len() {
            return Err(Defect::Truncated);
        }
        self.pos = end;
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&[u8], Defect> {
        let start = self.pos;
        self.skip(n)?;
        self.bytes.get(start..self.pos).ok_or(Defect::Truncated)
    }

    /// Reads a possibly compressed name at the cursor, leaving the cursor
    /// after it; with `out`, writes it in rule form (lowercase, dotted, no
    /// trailing dot, odd bytes as `\DDD` so they never match a rule by
    /// accident). A pointer must point before the label that holds it.
    fn name(&mut self, mut out: Option<&mut String>) -> Result<(), Defect> {
        let mut at = self.pos;
        let mut resume = None;
        let mut wire_len = 1;
        let mut pointers = 0;
        loop {
            let len = *self.bytes.get(at).ok_or(Defect::Truncated)?;
            match len {
                0 => {
                    self.pos = resume.unwrap_or(at + 1);
                    return Ok(());
                }
                1..=63 => {
                    let label = self
                        .bytes
                        .get(at + 1..at + 1 + usize::from(len))
                        .ok_or(Defect::Truncated)?;
                    wire_len += usize::from(len) + 1;
                    if wire_len > MAX_NAME_WIRE {
                        return Err(Defect::BadName);
                    }
                    if let Some(out) = out.as_deref_mut() {
                        push_label(out, label);
                    }
                    at += 1 + usize::from(len);
                }
                0xc0..=0xff => {
                    let low = *self.bytes.get(at + 1).ok_or(Defect::Truncated)?;
                    let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                    pointers += 1;
                    if target >= at || target < HEADER_LEN || pointers > MAX_POINTERS {
                        return Err(Defect::BadPointer);
                    }
                    resume.get_or_insert(at + 2);
                    at = target;
                }
                // 0x40 and 0x80: extended and reserved label types.
                _ => return Err(Defect::BadName),
            }
        }
    }

    /// Reads one resource record, collecting what the firewall needs from
    /// the answer section.
    fn record(
        &mut self,
        section: Section,
        facts: &mut AnswerFacts,
        opt_seen: &mut bool,
    ) -> Result<(), Defect> {
        let owner_at = self.pos;
        self.name(None)?;
        let rtype = self.u16()?;
        let class = self.u16()?;
        // OPT's class is the sender's UDP payload size.
        if rtype != TYPE_OPT && !VALID_CLASSES.contains(&class) {
            return Err(Defect::BadClass);
        }
        let ttl = self.u32()?;
        let rdlength = usize::from(self.u16()?);
        let rdata_start = self.pos;
        let rdata_end = rdata_start
            .checked_add(rdlength)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(Defect::Truncated)?;
        if rtype == TYPE_OPT {
            let root_owner = self.bytes.get(owner_at) == Some(&0);
            if section != Section::Additional || *opt_seen || !root_owner {
                return Err(Defect::BadOpt);
            }
            *opt_seen = true;
        }
        let in_answer = section == Section::Answer;
        match rtype {
            TYPE_A => {
                let b: [u8; 4] = self
                    .take(rdlength)?
                    .try_into()
                    .map_err(|_| Defect::BadLength)?;
                if in_answer {
                    facts.addresses.push((IpAddr::V4(Ipv4Addr::from(b)), ttl));
                }
            }
            TYPE_AAAA => {
                let b: [u8; 16] = self
                    .take(rdlength)?
                    .try_into()
                    .map_err(|_| Defect::BadLength)?;
                if in_answer {
                    facts.addresses.push((IpAddr::V6(Ipv6Addr::from(b)), ttl));
                }
            }
            TYPE_CNAME | TYPE_DNAME | TYPE_NS | TYPE_PTR => {
                let mut target = String::new();
                self.name(Some(&mut target))?;
                if in_answer && matches!(rtype, TYPE_CNAME | TYPE_DNAME) && !target.is_empty() {
                    facts.aliases.push(target);
                }
            }
            TYPE_MX => {
                self.skip(2)?;
                self.name(None)?;
            }
            TYPE_SOA => {
                self.name(None)?;
                self.name(None)?;
                self.skip(20)?;
            }
            TYPE_SRV => {
                self.skip(6)?;
                self.name(None)?;
            }
            // Character strings, each a length byte and that many bytes,
            // filling the data exactly: TXT one or more, HINFO two.
            TYPE_TXT | TYPE_HINFO => {
                let mut strings = 0;
                while self.pos < rdata_end {
                    let len = usize::from(self.u8()?);
                    self.skip(len)?;
                    strings += 1;
                }
                if (rtype == TYPE_TXT && strings == 0) || (rtype == TYPE_HINFO && strings != 2) {
                    return Err(Defect::BadLength);
                }
            }
            TYPE_OPT => self.options(rdata_end)?,
            TYPE_SVCB | TYPE_HTTPS => self.svcb(rdata_end, ttl, in_answer, facts)?,
            _ => self.skip(rdlength)?,
        }
        if self.pos != rdata_end {
            return Err(Defect::BadLength);
        }
        Ok(())
    }

    /// The options of an OPT record (RFC 6891 §6.1.2): each a code, a
    /// length and that many bytes, filling the data exactly.
    fn options(&mut self, end: usize) -> Result<(), Defect> {
        while self.pos < end {
            let _code = self.u16()?;
            let len = usize::from(self.u16()?);
            if self.pos + len > end {
                return Err(Defect::BadLength);
            }
            self.skip(len)?;
        }
        Ok(())
    }

    /// The data of an SVCB or HTTPS record (RFC 9460 §2.2): priority,
    /// target name, then parameters, each a key, a length and a value.
    fn svcb(
        &mut self,
        end: usize,
        ttl: u32,
        in_answer: bool,
        facts: &mut AnswerFacts,
    ) -> Result<(), Defect> {
        self.skip(2)?;
        let mut target = String::new();
        self.name(Some(&mut target))?;
        if self.pos > end {
            return Err(Defect::BadLength);
        }
        if in_answer && !target.is_empty() {
            facts.aliases.push(target);
        }
        let mut previous: Option<u16> = None;
        while self.pos < end {
            let key = self.u16()?;
            // Keys appear in increasing order, each once (RFC 9460 §2.2).
            if previous.is_some_and(|p| key <= p) {
                return Err(Defect::BadLength);
            }
            previous = Some(key);
            let len = usize::from(self.u16()?);
            if self.pos + len > end {
                return Err(Defect::BadLength);
            }
            let value = self.take(len)?;
            if !svc_param_fits(key, value) {
                return Err(Defect::BadLength);
            }
            let hints = match key {
                SVC_IPV4HINT => value
                    .chunks(4)
                    .map(|c| <[u8; 4]>::try_from(c).map(|b| IpAddr::V4(b.into())))
                    .collect::<Result<Vec<_>, _>>(),
                SVC_IPV6HINT => value
                    .chunks(16)
                    .map(|c| <[u8; 16]>::try_from(c).map(|b| IpAddr::V6(b.into())))
                    .collect::<Result<Vec<_>, _>>(),
                _ => Ok(Vec::new()),
            }
            .map_err(|_| Defect::BadLength)?;
            if in_answer {
                facts.addresses.extend(hints.into_iter().map(|a| (a, ttl)));
            }
        }
        Ok(())
    }
}

/// Whether an SVCB parameter's value has its key's form (RFC 9460 §7):
/// mandatory a list of keys, alpn non-empty strings, no-default-alpn
/// nothing, port two bytes, address hints whole addresses, ech a
/// length-prefixed list. Other keys are opaque.
fn svc_param_fits(key: u16, value: &[u8]) -> bool {
    let strings = |mut rest: &[u8]| {
        if rest.is_empty() {
            return false;
        }
        while let Some((&len, tail)) = rest.split_first() {
            let len = usize::from(len);
            if len == 0 || tail.len() < len {
                return false;
            }
            rest = tail.get(len..).unwrap_or_default();
        }
        true
    };
    match key {
        0 => !value.is_empty() && value.len() % 2 == 0,
        1 => strings(value),
        2 => value.is_empty(),
        3 => value.len() == 2,
        SVC_IPV4HINT => !value.is_empty() && value.len() % 4 == 0,
        5 => {
            value.len() >= 2
                && usize::from(u16::from_be_bytes([value[0], value[1]])) == value.len() - 2
        }
        SVC_IPV6HINT => !value.is_empty() && value.len() % 16 == 0,
        _ => true,
    }
}

/// Appends one label to a name in rule form.
fn push_label(out: &mut String, label: &[u8]) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::hex;

    /// The question `tracker.example A IN`, as asked.
    fn question() -> Vec<u8> {
        hex("07 747261636b6572 07 6578616d706c65 00 0001 0001")
    }

    /// An answer to it: a header (ID 1, QR RD RA), the question, and
    /// `records` (already counted in `counts`: an, ns, ar).
    fn answer(counts: [u16; 3], records: &str) -> Vec<u8> {
        let mut m = hex("0001 8180 0001");
        for c in counts {
            m.extend(c.to_be_bytes());
        }
        m.extend(question());
        m.extend(hex(records));
        m
    }

    /// `tracker.example A 93.184.215.67`, TTL 300, owner by pointer.
    const A_RECORD: &str = "c00c 0001 0001 0000012c 0004 5db8d743";

    #[test]
    fn a_plain_answer_gives_its_addresses() {
        let facts = inspect(&answer([1, 0, 0], A_RECORD), &question()).unwrap();
        assert_eq!(
            facts.addresses,
            vec![("93.184.215.67".parse().unwrap(), 300)]
        );
        assert!(facts.aliases.is_empty());
    }

    #[test]
    fn cname_chains_and_svcb_targets_become_aliases() {
        // tracker.example CNAME Cdn.Tracker.NET; cdn.tracker.net A ...;
        // HTTPS 1 svc.tracker.net. ipv4hint=93.184.215.68
        let records = "c00c 0005 0001 0000003c 0011 03 43646e 07 547261636b6572 03 4e4554 00
                       c02d 0001 0001 0000003c 0004 5db8d743
                       c00c 0041 0001 0000003c 001b 0001 03 737663 07 747261636b6572 03 6e6574 00 0004 0004 5db8d744";
        let facts = inspect(&answer([3, 0, 0], records), &question()).unwrap();
        assert_eq!(facts.aliases, vec!["cdn.tracker.net", "svc.tracker.net"]);
        assert_eq!(facts.addresses.len(), 2);
    }

    #[test]
    fn unknown_types_are_read_as_opaque_data() {
        // SSHFP (44) and a private-use type (65280) in the answer.
        let records = "c00c 002c 0001 0000003c 0016 01 02 00112233445566778899aabbccddeeff00112233
                       c00c ff00 0001 0000003c 0003 616263";
        let facts = inspect(&answer([2, 0, 0], records), &question()).unwrap();
        assert!(facts.addresses.is_empty() && facts.aliases.is_empty());
    }

    #[test]
    fn each_kind_of_damage_is_refused_with_its_reason() {
        let q = question();
        let good = answer([1, 0, 0], A_RECORD);
        // The query itself, echoed (QR clear).
        let mut echoed = good.clone();
        echoed[2] &= 0x7f;
        assert_eq!(inspect(&echoed, &q), Err(AnswerProblem::NotAResponse));
        // Cut anywhere inside: the header promises a record it lacks.
        for len in 0..good.len() {
            assert!(inspect(&good[..len], &q).is_err(), "cut at {len}");
        }
        // An A record of five bytes.
        let long_a = answer([1, 0, 0], "c00c 0001 0001 0000012c 0005 5db8d74300");
        assert_eq!(
            inspect(&long_a, &q),
            Err(AnswerProblem::Malformed(Section::Answer, Defect::BadLength))
        );
        // A record length past the end.
        let past = answer([1, 0, 0], "c00c 0001 0001 0000012c 00ff 5db8d743");
        assert_eq!(
            inspect(&past, &q),
            Err(AnswerProblem::Malformed(Section::Answer, Defect::Truncated))
        );
        // A pointer to itself, and one that points ahead.
        let looped = answer([1, 0, 0], "c021 0001 0001 0000012c 0004 5db8d743");
        assert_eq!(
            inspect(&looped, &q),
            Err(AnswerProblem::Malformed(
                Section::Answer,
                Defect::BadPointer
            ))
        );
        let ahead = answer([1, 0, 0], "c040 0001 0001 0000012c 0004 5db8d743");
        assert!(inspect(&ahead, &q).is_err());
        // Another question.
        let other = answer([1, 0, 0], A_RECORD);
        let mut other_q = q.clone();
        other_q[1] = b'x';
        assert_eq!(inspect(&other, &other_q), Err(AnswerProblem::OtherQuestion));
        // The reserved Z bit.
        let mut z = good.clone();
        z[3] |= 0x40;
        assert_eq!(inspect(&z, &q), Err(AnswerProblem::ReservedBit));
        // Bytes after the last record.
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(inspect(&trailing, &q), Err(AnswerProblem::TrailingBytes));
        // Two OPT records.
        let opts = answer(
            [1, 0, 2],
            &format!("{A_RECORD} 00 0029 04d0 00000000 0000 00 0029 04d0 00000000 0000"),
        );
        assert_eq!(
            inspect(&opts, &q),
            Err(AnswerProblem::Malformed(
                Section::Additional,
                Defect::BadOpt
            ))
        );
    }

    #[test]
    fn a_cloaking_cname_with_a_broken_additional_record_is_refused() {
        // The hole this module closes: the CNAME leads to a blocked name,
        // and one malformed additional record made the whole inspection
        // "nothing to see", so the answer was relayed.
        let records = "c00c 0005 0001 0000003c 0002 c00c
                       c00c 0001 0001 0000003c 0004 5db8d743
                       c00c 0001 0001 0000003c 0005 5db8d74300";
        let refused = inspect(&answer([2, 0, 1], records), &question());
        assert_eq!(
            refused,
            Err(AnswerProblem::Malformed(
                Section::Additional,
                Defect::BadLength
            ))
        );
        assert_eq!(
            refused.unwrap_err().to_string(),
            "the additional section holds a record whose length does not fit its type"
        );
    }

    #[test]
    fn structured_data_of_known_types_must_fill_the_record() {
        let q = question();
        // TXT "v=1", HINFO "x86" "linux", SRV 0 5 443 tracker.example.
        let good = "c00c 0010 0001 0000003c 0004 03763d31
                    c00c 000d 0001 0000003c 000a 03783836 056c696e7578
                    c00c 0021 0001 0000003c 0008 0000 0005 01bb c00c";
        assert!(inspect(&answer([3, 0, 0], good), &q).is_ok());
        for bad in [
            // A string that runs past its record.
            "c00c 0010 0001 0000003c 0004 07763d31",
            // An empty TXT, and a HINFO with one string.
            "c00c 0010 0001 0000003c 0000",
            "c00c 000d 0001 0000003c 0004 03783836",
            // SRV whose target ends past its record.
            "c00c 0021 0001 0000003c 0007 0000 0005 01bb c0",
        ] {
            assert!(inspect(&answer([1, 0, 0], bad), &q).is_err(), "{bad}");
        }
        // Class 0 does not exist.
        assert_eq!(
            inspect(
                &answer([1, 0, 0], "c00c 0001 0000 0000003c 0004 5db8d743"),
                &q
            ),
            Err(AnswerProblem::Malformed(Section::Answer, Defect::BadClass))
        );
        // SVCB parameters out of order, and a port of three bytes.
        for params in ["0004 0004 5db8d743 0003 0002 01bb", "0003 0003 01bb00"] {
            let rdata = format!("0001 00 {params}");
            let rdlen = hex(&rdata).len();
            let record = format!("c00c 0041 0001 0000003c {rdlen:04x} {rdata}");
            assert!(
                inspect(&answer([1, 0, 0], &record), &q).is_err(),
                "{params}"
            );
        }
        // EDNS options must fill the OPT record.
        let opt = format!("{A_RECORD} 00 0029 04d0 00000000 0006 000a 0004 0102");
        assert!(inspect(&answer([1, 0, 1], &opt), &q).is_err());
    }

    #[test]
    fn the_question_may_come_back_in_another_case() {
        let mut resp = answer([1, 0, 0], A_RECORD);
        resp[13] = b'T';
        assert!(inspect(&resp, &question()).is_ok());
    }

    #[test]
    fn names_longer_than_255_bytes_are_refused() {
        // A CNAME target of five 60-byte labels.
        let label = format!("3c{}", "61".repeat(60));
        let target = format!("{} 00", [label.as_str(); 5].join(" "));
        let rdlen = 5 * 61 + 1;
        let records = format!("c00c 0005 0001 0000003c {rdlen:04x} {target}");
        assert_eq!(
            inspect(&answer([1, 0, 0], &records), &question()),
            Err(AnswerProblem::Malformed(Section::Answer, Defect::BadName))
        );
    }
}
