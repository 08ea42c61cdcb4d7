//! A hostile upstream, through the engine's public API: an app asks the
//! virtual resolver over the tunnel for an allowed name, and the fuzzer's
//! bytes come back as the upstream's answer (the input's form is in
//! `src/upstream.rs`). Whatever the bytes, the engine does not panic, the
//! app gets exactly one answer (by the query's deadline at the latest), and
//! that answer is either a SERVFAIL or a response that simple-dns parses
//! and whose answer section leads to no name a block rule matches (CNAME,
//! HTTPS and SVCB targets): an answer that cannot be inspected is never
//! relayed.
//!
//! The engine relays records of types it does not interpret as opaque data
//! (as a resolver must: SSHFP, TLSA, private types), while simple-dns reads
//! some of those types' data and refuses what it finds odd there. So before
//! simple-dns reads the answer, a walker of this target's own (records'
//! framing only, independent of the engine's reader) gives every record of
//! a type the engine does not interpret a private type: simple-dns then
//! checks the framing of every record and the data of every interpreted
//! type.
#![no_main]

use std::io::Cursor;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use simple_dns::rdata::RData;
use tacet_engine::{wire, Config, Engine, UpstreamCommand, Verdict};
use tacet_fuzz::upstream::{Case, APP, APP_ID, RESOLVER, RULES};
use tacet_rules::{ListInfo, RuleSet, RuleSetBuilder};

const FLAG_QR: u8 = 0x80;
const RCODE_SERVFAIL: u8 = 2;

fn rules() -> &'static Arc<RuleSet> {
    static RULE_SET: OnceLock<Arc<RuleSet>> = OnceLock::new();
    RULE_SET.get_or_init(|| {
        let mut builder = RuleSetBuilder::new();
        let info = ListInfo {
            id: "fuzz".into(),
            title: "fuzz".into(),
        };
        builder
            .add_list(info, Cursor::new(RULES))
            .expect("the rules are read");
        Arc::new(builder.build())
    })
}

fuzz_target!(|data: &[u8]| {
    let Some(case) = Case::read(data) else { return };
    let mut engine = Engine::new(Config::default(), Arc::clone(rules()));
    let now = Instant::now();
    let query = case.query();
    let packet = wire::build_udp(APP, RESOLVER, &query).expect("a query fits a packet");
    engine.handle_tun_packet(now, &packet);
    assert_eq!(
        engine.poll_tun_packet(),
        None,
        "an allowed name waits for the upstream"
    );
    let sent = match engine.poll_upstream() {
        Some(UpstreamCommand::Send(sent)) => sent,
        other => panic!("an allowed name is forwarded, got {other:?}"),
    };

    engine.handle_upstream_response(now, sent.handle, &case.response());
    let mut answers = drain(&mut engine);
    // An engine that drops an answer it refuses still owes the app one.
    let deadline = now + engine.config().upstream_timeout + Duration::from_secs(1);
    engine.handle_timeout(deadline);
    answers.extend(drain(&mut engine));

    assert_eq!(answers.len(), 1, "the app gets exactly one answer");
    for answer in &answers {
        check_answer(answer);
    }
    assert_eq!(engine.pending_queries(), 0, "nothing is left waiting");
});

fn drain(engine: &mut Engine) -> Vec<Vec<u8>> {
    while engine.poll_upstream().is_some() {}
    while engine.poll_event().is_some() {}
    std::iter::from_fn(|| engine.poll_tun_packet()).collect()
}

/// One packet the engine wrote to the tunnel for the app's query.
fn check_answer(packet: &[u8]) {
    let datagram = match wire::parse(packet) {
        Ok(wire::Packet::Udp(datagram)) => datagram,
        other => panic!("the answer is a valid UDP packet, got {other:?}"),
    };
    assert_eq!(
        (datagram.source, datagram.destination),
        (RESOLVER, APP),
        "the answer goes back the way the query came"
    );
    let message = datagram.payload;
    let header = message
        .get(..12)
        .expect("the answer has a whole DNS header");
    assert_eq!(
        u16::from_be_bytes([header[0], header[1]]),
        APP_ID,
        "the answer carries the app's ID"
    );
    assert!(
        header[2] & FLAG_QR != 0,
        "the app gets a response, not a query (QR=0 relayed): {message:02x?}"
    );
    let answer_count = u16::from_be_bytes([header[6], header[7]]);
    if header[3] & 0x0f == RCODE_SERVFAIL && answer_count == 0 {
        return;
    }
    let neutral = neutral_types(message)
        .unwrap_or_else(|| panic!("relayed an answer whose records do not frame: {message:02x?}"));
    let parsed = simple_dns::Packet::parse(&neutral).unwrap_or_else(|error| {
        panic!("relayed an answer that does not parse ({error}): {message:02x?}")
    });
    for record in &parsed.answers {
        let target = match &record.rdata {
            RData::CNAME(cname) => cname.0.to_string(),
            RData::HTTPS(https) => https.0.target.to_string(),
            RData::SVCB(svcb) => svcb.target.to_string(),
            _ => continue,
        };
        let name = target.trim_end_matches('.').to_ascii_lowercase();
        if let Verdict::Blocked(rule) = rules().lookup(&name) {
            panic!("relayed an answer that leads to {name}, blocked by {rule:?}: {message:02x?}");
        }
    }
}

/// A private-use record type, whose data simple-dns keeps as it is.
const OPAQUE_TYPE: u16 = 0xff00;

/// `message` with the type of every record the engine does not interpret
/// replaced by [`OPAQUE_TYPE`]; `None` if the records do not frame (a name
/// or a record runs past the end). Names are walked, not read: labels and
/// a final pointer.
fn neutral_types(message: &[u8]) -> Option<Vec<u8>> {
    let mut out = message.to_vec();
    let count = |at: usize| usize::from(u16::from_be_bytes([message[at], message[at + 1]]));
    let records = count(6) + count(8) + count(10);
    let mut pos = 12;
    for _ in 0..count(4) {
        pos = skip_name(message, pos)? + 4;
    }
    for _ in 0..records {
        pos = skip_name(message, pos)?;
        let rtype = u16::from_be_bytes([*message.get(pos)?, *message.get(pos + 1)?]);
        let rdlength = usize::from(u16::from_be_bytes([
            *message.get(pos + 8)?,
            *message.get(pos + 9)?,
        ]));
        if !tacet_engine::answer::INTERPRETED_TYPES.contains(&rtype) {
            out[pos..pos + 2].copy_from_slice(&OPAQUE_TYPE.to_be_bytes());
        }
        pos += 10 + rdlength;
        if pos > message.len() {
            return None;
        }
    }
    Some(out)
}

fn skip_name(message: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *message.get(pos)?;
        match len {
            0 => return Some(pos + 1),
            0xc0..=0xff => return Some(pos + 2),
            _ => pos += 1 + usize::from(len),
        }
    }
}
