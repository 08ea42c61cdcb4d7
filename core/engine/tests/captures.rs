#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! Every UDP DNS message in the real captures of ../shared/data/pcaps
//! (tcpdump's and PcapPlusPlus's test suites: EDNS options, DNSSEC, bad
//! cookies, URI records, compression loops, a stack-overflow packet...) is
//! sent to the engine as if an app had sent it to the virtual resolver:
//! nothing panics, and every query gets a well-formed answer or a forward.

use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use etherparse::{SlicedPacket, TransportSlice};
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::DataLink;
use tacet_engine::dns::Query;
use tacet_engine::{wire, Config, Engine, UpstreamCommand};
use tacet_rules::{ListInfo, RuleSet, RuleSetBuilder};

fn captures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/pcaps")
}

/// Every UDP payload to or from port 53 or 8053 in one capture file.
fn dns_payloads(path: &Path) -> Vec<Vec<u8>> {
    let mut frames: Vec<(DataLink, Vec<u8>)> = Vec::new();
    let bytes = std::fs::read(path).unwrap();
    if bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        let mut reader = PcapNgReader::new(Cursor::new(&bytes)).unwrap();
        let mut links = Vec::new();
        while let Some(block) = reader.next_block() {
            match block.unwrap() {
                Block::InterfaceDescription(i) => links.push(i.linktype),
                Block::EnhancedPacket(p) => {
                    frames.push((links[p.interface_id as usize], p.data.into_owned()));
                }
                _ => {}
            }
        }
    } else {
        let mut reader = PcapReader::new(BufReader::new(File::open(path).unwrap())).unwrap();
        let link = reader.header().datalink;
        // Raw records: some of tcpdump's captures were cut shorter than
        // the original packets, which the checked reader refuses.
        while let Some(packet) = reader.next_raw_packet() {
            frames.push((link, packet.unwrap().data.into_owned()));
        }
    }
    frames
        .iter()
        .filter_map(|(link, frame)| {
            let sliced = match link {
                DataLink::ETHERNET => SlicedPacket::from_ethernet(frame),
                DataLink::NULL | DataLink::LOOP => SlicedPacket::from_ip(frame.get(4..)?),
                _ => SlicedPacket::from_ip(frame),
            }
            .ok()?;
            let Some(TransportSlice::Udp(udp)) = sliced.transport else {
                return None;
            };
            let ports = [udp.source_port(), udp.destination_port()];
            (ports.contains(&53) || ports.contains(&8053)).then(|| udp.payload().to_vec())
        })
        .collect()
}

fn all_payloads() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<PathBuf> = ["tcpdump", "pcapplusplus"]
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(captures_dir().join(d)).expect("the shared captures must be there")
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    files.sort();
    let payloads: Vec<_> = files
        .iter()
        .flat_map(|f| {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            dns_payloads(f).into_iter().map(move |p| (name.clone(), p))
        })
        .collect();
    assert!(
        payloads.len() > 100,
        "expected the captures' DNS messages, found {}",
        payloads.len()
    );
    payloads
}

/// Blocks every name asked in the captures, so the block path sees them all.
fn block_everything(payloads: &[(String, Vec<u8>)]) -> Arc<RuleSet> {
    let names: String = payloads
        .iter()
        .filter_map(|(_, p)| Query::parse(p).ok())
        .filter(|q| !q.name.is_empty() && !q.name.contains('\\'))
        .map(|q| format!("0.0.0.0 {}\n", q.name))
        .collect();
    let mut builder = RuleSetBuilder::new();
    let info = ListInfo {
        id: "captures".into(),
        title: "captures".into(),
    };
    builder
        .add_list(info, Cursor::new(names.into_bytes()))
        .unwrap();
    Arc::new(builder.build())
}

/// Feeds every payload; returns (queries answered, forwarded, dropped).
fn replay(engine: &mut Engine, payloads: &[(String, Vec<u8>)]) -> (usize, usize, usize) {
    let app = "10.111.222.1:33333".parse().unwrap();
    let resolver = "10.111.222.53:53".parse().unwrap();
    let (mut answered, mut forwarded, mut dropped) = (0, 0, 0);
    for (file, payload) in payloads {
        let packet = wire::build_udp(app, resolver, payload).unwrap();
        engine.handle_tun_packet(Instant::now(), &packet);
        let answer = engine.poll_tun_packet();
        let upstream = engine.poll_upstream();
        match Query::parse(payload) {
            Ok(query) => {
                if let Some(packet) = answer {
                    let wire::Packet::Udp(d) = wire::parse(&packet).unwrap() else {
                        panic!("{file}: not UDP")
                    };
                    assert_eq!(d.destination, app);
                    check_answer(file, &query, d.payload);
                    answered += 1;
                } else {
                    let Some(UpstreamCommand::Send(sent)) = upstream else {
                        panic!("{file}: query {} lost", query.name)
                    };
                    assert_eq!(&sent.message, payload);
                    forwarded += 1;
                }
            }
            Err(_) => {
                assert!(upstream.is_none(), "{file}: a non-query was forwarded");
                dropped += usize::from(answer.is_none());
            }
        }
        while engine.poll_event().is_some() {}
    }
    (answered, forwarded, dropped)
}

/// An answer the firewall wrote: its header and question match the query,
/// and simple-dns reads it whole wherever it knows the question's type.
fn check_answer(file: &str, query: &Query<'_>, answer: &[u8]) {
    assert_eq!(&answer[..2], &query.id.to_be_bytes(), "{file}: ID");
    assert_eq!(answer[2] & 0x80, 0x80, "{file}: QR");
    assert_eq!(
        &answer[12..query.head().len()],
        &query.head()[12..],
        "{file}: question echoed"
    );
    if simple_dns::QTYPE::try_from(query.qtype).is_ok() {
        let parsed = simple_dns::Packet::parse(answer);
        assert!(
            parsed.is_ok(),
            "{file}: answer to {} type {} unreadable: {parsed:?}",
            query.name,
            query.qtype
        );
    }
}

#[test]
fn every_captured_message_forwarded_or_answered_never_a_panic() {
    let payloads = all_payloads();
    let mut engine = Engine::new(Config::default(), Arc::new(RuleSet::empty()));
    let (answered, forwarded, dropped) = replay(&mut engine, &payloads);
    let stats = engine.stats();
    assert_eq!(stats.queries as usize, forwarded + answered);
    assert!(forwarded > 20, "forwarded {forwarded}");
    assert_eq!(
        stats.malformed as usize,
        payloads.len() - stats.queries as usize
    );
    println!(
        "{} messages: {forwarded} forwarded, {answered} answered, {dropped} dropped",
        payloads.len()
    );
}

#[test]
fn every_captured_query_blocked_gets_a_readable_block_answer() {
    let payloads = all_payloads();
    let rules = block_everything(&payloads);
    let mut engine = Engine::new(Config::default(), rules);
    let (answered, _forwarded, _dropped) = replay(&mut engine, &payloads);
    let stats = engine.stats();
    assert!(stats.blocked > 20, "blocked {}", stats.blocked);
    assert!(answered as u64 >= stats.blocked);
}

#[test]
fn truncations_of_every_captured_message_never_panic() {
    let payloads = all_payloads();
    let mut engine = Engine::new(Config::default(), Arc::new(RuleSet::empty()));
    let app = "10.111.222.1:33333".parse().unwrap();
    let resolver = "10.111.222.53:53".parse().unwrap();
    for (_, payload) in &payloads {
        for len in (0..payload.len()).step_by(3) {
            let packet = wire::build_udp(app, resolver, &payload[..len]).unwrap();
            engine.handle_tun_packet(Instant::now(), &packet);
            // IP-level truncations too.
            engine.handle_tun_packet(Instant::now(), &packet[..packet.len().min(len)]);
            while engine.poll_tun_packet().is_some() {}
            while engine.poll_upstream().is_some() {}
        }
    }
}

/// Every response in the captures, read as an upstream answer to its own
/// question: the engine's reader refuses exactly the damaged ones. The
/// captures hold deliberately broken messages (compression loops, forward
/// pointers, a stack-overflow packet, cut records); the refusals must all
/// be among messages simple-dns cannot read either (it reads the rest
/// except records of types it does not know, which are relayed opaque),
/// and a well-formed answer is never refused.
#[test]
fn captured_answers_are_refused_only_when_damaged() {
    use tacet_engine::answer;
    let payloads = all_payloads();
    let (mut accepted, mut refused) = (0, Vec::new());
    for (file, payload) in &payloads {
        if payload.len() < 12 || payload[2] & 0x80 == 0 {
            continue;
        }
        let question = question_of(payload);
        match answer::inspect(payload, &question) {
            Ok(_) => accepted += 1,
            Err(problem) => {
                let simple = simple_dns::Packet::parse(payload);
                assert!(
                    simple.is_err(),
                    "{file}: refused ({problem}) an answer simple-dns reads: {simple:?}"
                );
                refused.push(format!("{file}: {problem}"));
            }
        }
    }
    println!("{accepted} answers read, {} refused:", refused.len());
    for line in &refused {
        println!("  {line}");
    }
    assert!(accepted > 100, "{accepted}");
}

/// The wire question of a message (empty if it has none readable).
fn question_of(message: &[u8]) -> Vec<u8> {
    let mut pos = 12;
    loop {
        match message.get(pos) {
            Some(0) => {
                pos += 1;
                break;
            }
            Some(&len) if len < 64 => pos += 1 + usize::from(len),
            _ => return Vec::new(),
        }
    }
    message.get(12..pos + 4).unwrap_or_default().to_vec()
}
