//! Rejects built from the offending packet: a TCP reset for a connection
//! to a blocked address, an ICMP "administratively prohibited" for
//! anything else. A rejected connection fails at once; a dropped one makes
//! apps and devices hang until their own timeouts, which is what users of
//! silent blockers learned to hate.
//!
//! For UDP and other protocols the code is "administratively prohibited"
//! (ICMP type 3 code 13, RFC 1812; ICMPv6 type 1 code 1), not "port
//! unreachable": it says what happened, a filter refused, and kernels
//! treat it as a hard error (Linux reports EHOSTUNREACH and EACCES to the
//! socket), so the app gives up at once as it would on "refused".

use std::net::IpAddr;

use etherparse::icmpv4::DestUnreachableHeader;
use etherparse::icmpv6::DestUnreachableCode;
use etherparse::{Icmpv4Type, Icmpv6Type, PacketBuilder};

use crate::wire::Segment;

const HOP_LIMIT: u8 = 64;
/// ICMPv4 errors carry at most this much of the offending packet (RFC 1812
/// §4.3.2.3: the whole error within 576 bytes).
const ICMPV4_QUOTE: usize = 576 - 20 - 8;
/// ICMPv6 errors must fit in the minimum IPv6 MTU (RFC 4443 §2.4).
const ICMPV6_QUOTE: usize = 1280 - 40 - 8;

/// The reset answering `segment`, as RFC 9293 §3.10.7.1 prescribes for a
/// closed port: if it carries an ACK, a bare RST with that sequence
/// number; otherwise RST/ACK acknowledging everything it occupied. `None`
/// for a reset, which is never answered.
pub fn tcp_reset(segment: &Segment) -> Option<Vec<u8>> {
    if segment.rst {
        return None;
    }
    let (from, to) = (segment.destination, segment.source);
    let builder = match (from.ip(), to.ip()) {
        (IpAddr::V4(f), IpAddr::V4(t)) => PacketBuilder::ipv4(f.octets(), t.octets(), HOP_LIMIT),
        (IpAddr::V6(f), IpAddr::V6(t)) => PacketBuilder::ipv6(f.octets(), t.octets(), HOP_LIMIT),
        _ => return None,
    };
    let builder = match segment.ack {
        Some(ack) => builder.tcp(from.port(), to.port(), ack, 0).rst(),
        None => {
            let occupied = segment.payload_len + u32::from(segment.syn) + u32::from(segment.fin);
            builder
                .tcp(from.port(), to.port(), 0, 0)
                .rst()
                .ack(segment.seq.wrapping_add(occupied))
        }
    };
    let mut packet = Vec::with_capacity(builder.size(0));
    builder.write(&mut packet, &[]).ok()?;
    Some(packet)
}

/// An ICMP or ICMPv6 "administratively prohibited" from `blocked` (the
/// address the app tried) to `app`, quoting the offending packet.
pub fn prohibited(app: IpAddr, blocked: IpAddr, offending: &[u8]) -> Option<Vec<u8>> {
    let mut packet = Vec::new();
    match (blocked, app) {
        (IpAddr::V4(f), IpAddr::V4(t)) => {
            let quoted = offending.get(..offending.len().min(ICMPV4_QUOTE))?;
            PacketBuilder::ipv4(f.octets(), t.octets(), HOP_LIMIT)
                .icmpv4(Icmpv4Type::DestinationUnreachable(
                    DestUnreachableHeader::FilterProhibited,
                ))
                .write(&mut packet, quoted)
                .ok()?;
        }
        (IpAddr::V6(f), IpAddr::V6(t)) => {
            let quoted = offending.get(..offending.len().min(ICMPV6_QUOTE))?;
            PacketBuilder::ipv6(f.octets(), t.octets(), HOP_LIMIT)
                .icmpv6(Icmpv6Type::DestinationUnreachable(
                    DestUnreachableCode::Prohibited,
                ))
                .write(&mut packet, quoted)
                .ok()?;
        }
        _ => return None,
    }
    Some(packet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    fn segment(syn: bool, ack: Option<u32>) -> Segment {
        Segment {
            source: "10.111.222.1:40000".parse().unwrap(),
            destination: "203.0.113.9:443".parse().unwrap(),
            syn,
            rst: false,
            fin: false,
            seq: 1000,
            ack,
            payload_len: 0,
        }
    }

    #[test]
    fn a_syn_gets_rst_ack_acknowledging_the_syn() {
        let packet = tcp_reset(&segment(true, None)).unwrap();
        let sliced = SlicedPacket::from_ip(&packet).unwrap();
        let Some(TransportSlice::Tcp(tcp)) = sliced.transport else {
            panic!()
        };
        assert!(tcp.rst() && tcp.ack() && !tcp.syn());
        assert_eq!(
            (tcp.sequence_number(), tcp.acknowledgment_number()),
            (0, 1001)
        );
        assert_eq!((tcp.source_port(), tcp.destination_port()), (443, 40000));
        let Some(NetSlice::Ipv4(ip)) = sliced.net else {
            panic!()
        };
        assert_eq!(ip.header().source_addr().to_string(), "203.0.113.9");
        // The checksum is right: the kernel would drop the reset otherwise.
        let header = tcp.to_header();
        let ip = ip.header().to_header();
        assert_eq!(
            header.calc_checksum_ipv4(&ip, &[]).unwrap(),
            header.checksum
        );
    }

    #[test]
    fn a_segment_with_an_ack_gets_a_bare_rst_with_that_sequence() {
        let packet = tcp_reset(&segment(false, Some(77))).unwrap();
        let sliced = SlicedPacket::from_ip(&packet).unwrap();
        let Some(TransportSlice::Tcp(tcp)) = sliced.transport else {
            panic!()
        };
        assert!(tcp.rst() && !tcp.ack());
        assert_eq!(tcp.sequence_number(), 77);
    }

    #[test]
    fn resets_are_never_answered() {
        let mut s = segment(false, Some(1));
        s.rst = true;
        assert!(tcp_reset(&s).is_none());
    }

    #[test]
    fn icmp_prohibited_quotes_the_packet_within_bounds() {
        let offending = crate::wire::build_udp(
            "10.111.222.1:5000".parse().unwrap(),
            "203.0.113.9:3478".parse().unwrap(),
            &[0u8; 2000],
        )
        .unwrap();
        let app: IpAddr = "10.111.222.1".parse().unwrap();
        let packet = prohibited(app, "203.0.113.9".parse().unwrap(), &offending).unwrap();
        assert_eq!(packet.len(), 576);
        let sliced = SlicedPacket::from_ip(&packet).unwrap();
        let Some(TransportSlice::Icmpv4(icmp)) = sliced.transport else {
            panic!()
        };
        assert_eq!((icmp.type_u8(), icmp.code_u8()), (3, 13));
        assert_eq!(
            &packet[28..48],
            &offending[..20],
            "the offending header is quoted"
        );

        let offending6 = crate::wire::build_udp(
            "[fd74:6163:6574::1]:5000".parse().unwrap(),
            "[2001:db8::9]:3478".parse().unwrap(),
            &[0u8; 2000],
        )
        .unwrap();
        let packet = prohibited(
            "fd74:6163:6574::1".parse().unwrap(),
            "2001:db8::9".parse().unwrap(),
            &offending6,
        )
        .unwrap();
        assert_eq!(packet.len(), 1280);
        let sliced = SlicedPacket::from_ip(&packet).unwrap();
        let Some(TransportSlice::Icmpv6(icmp)) = sliced.transport else {
            panic!()
        };
        assert_eq!((icmp.type_u8(), icmp.code_u8()), (1, 1));
    }
}
