//! IP and UDP on the tunnel: reading the packets the phone sends into the
//! TUN (with etherparse) and building the ones the firewall sends back.
//!
//! Parsing turns bytes into a [`Datagram`], which holds only checked values;
//! everything past this module works on it and never re-checks lengths.

use std::net::{IpAddr, SocketAddr};

use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};

/// The hop limit of packets the firewall writes into the tunnel.
const HOP_LIMIT: u8 = 64;

/// A UDP datagram read from the tunnel, with its checksum verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Datagram<'a> {
    /// Who sent it: the app's address and port.
    pub source: SocketAddr,
    /// Where it was going.
    pub destination: SocketAddr,
    /// The UDP payload.
    pub payload: &'a [u8],
}

/// The addresses and flags of a TCP segment from the tunnel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// The app's address and port.
    pub source: SocketAddr,
    /// Where it was going.
    pub destination: SocketAddr,
    /// Whether it opens a connection (SYN without ACK).
    pub syn: bool,
    /// Whether it is a reset (never answered with another).
    pub rst: bool,
    /// Whether it closes its side (FIN).
    pub fin: bool,
    /// Its sequence number.
    pub seq: u32,
    /// Its acknowledgment number, when the ACK flag is set.
    pub ack: Option<u32>,
    /// How many bytes of data it carries.
    pub payload_len: u32,
}

/// What a packet from the tunnel turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// A whole, checksum-verified UDP datagram.
    Udp(Datagram<'a>),
    /// A TCP segment (its checksum is smoltcp's to check, or irrelevant to
    /// a reject).
    Tcp(Segment),
    /// A well-formed IP packet of a kind this layer does not handle
    /// (ICMP, fragments, other protocols).
    Other,
}

/// Why a packet from the tunnel was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// Not a well-formed IPv4 or IPv6 packet (or its UDP header is cut).
    Malformed,
    /// The IPv4 header or UDP checksum does not match the bytes.
    BadChecksum,
}

/// Reads one IP packet as written by the phone's kernel into the TUN.
pub fn parse(packet: &[u8]) -> Result<Packet<'_>, WireError> {
    let sliced = SlicedPacket::from_ip(packet).map_err(|_| WireError::Malformed)?;
    if let (Some(net), Some(TransportSlice::Tcp(tcp))) = (&sliced.net, &sliced.transport) {
        let (source, destination) = match net {
            NetSlice::Ipv4(ip) => (
                IpAddr::V4(ip.header().source_addr()),
                IpAddr::V4(ip.header().destination_addr()),
            ),
            NetSlice::Ipv6(ip) => (
                IpAddr::V6(ip.header().source_addr()),
                IpAddr::V6(ip.header().destination_addr()),
            ),
            NetSlice::Arp(_) => return Ok(Packet::Other),
        };
        return Ok(Packet::Tcp(Segment {
            source: SocketAddr::new(source, tcp.source_port()),
            destination: SocketAddr::new(destination, tcp.destination_port()),
            syn: tcp.syn() && !tcp.ack(),
            rst: tcp.rst(),
            fin: tcp.fin(),
            seq: tcp.sequence_number(),
            ack: tcp.ack().then(|| tcp.acknowledgment_number()),
            payload_len: u32::try_from(tcp.payload().len()).unwrap_or(u32::MAX),
        }));
    }
    let (Some(net), Some(TransportSlice::Udp(udp))) = (sliced.net, sliced.transport) else {
        return Ok(Packet::Other);
    };
    let header = udp.to_header();
    let (source, destination, checksum) = match &net {
        NetSlice::Ipv4(ip) => {
            if ip.is_payload_fragmented() {
                return Ok(Packet::Other);
            }
            let ip_header = ip.header().to_header();
            if ip_header.calc_header_checksum() != ip_header.header_checksum {
                return Err(WireError::BadChecksum);
            }
            // A zero UDP checksum over IPv4 means "not computed" (RFC 768).
            let checksum = match header.checksum {
                0 => Ok(0),
                _ => header.calc_checksum_ipv4(&ip_header, udp.payload()),
            };
            (
                IpAddr::V4(ip_header.source.into()),
                IpAddr::V4(ip_header.destination.into()),
                checksum,
            )
        }
        NetSlice::Ipv6(ip) => {
            if ip.is_payload_fragmented() {
                return Ok(Packet::Other);
            }
            let ip_header = ip.header().to_header();
            (
                IpAddr::V6(ip_header.source.into()),
                IpAddr::V6(ip_header.destination.into()),
                header.calc_checksum_ipv6(&ip_header, udp.payload()),
            )
        }
        NetSlice::Arp(_) => return Ok(Packet::Other),
    };
    if checksum.map_err(|_| WireError::Malformed)? != header.checksum {
        return Err(WireError::BadChecksum);
    }
    Ok(Packet::Udp(Datagram {
        source: SocketAddr::new(source, udp.source_port()),
        destination: SocketAddr::new(destination, udp.destination_port()),
        payload: udp.payload(),
    }))
}

/// Builds an IP/UDP packet from `source` to `destination` carrying
/// `payload`, with correct lengths and checksums.
///
/// Returns `None` when the addresses are of different families or the
/// payload does not fit in one UDP datagram.
pub fn build_udp(source: SocketAddr, destination: SocketAddr, payload: &[u8]) -> Option<Vec<u8>> {
    let builder = match (source.ip(), destination.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), HOP_LIMIT),
        (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), HOP_LIMIT),
        _ => return None,
    }
    .udp(source.port(), destination.port());
    let mut packet = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut packet, payload).ok()?;
    Some(packet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::hex;

    /// `dig @10.111.222.53 a.example` as the Linux kernel writes it into a
    /// TUN: IPv4, UDP 10.111.222.1:40000 -> 10.111.222.53:53, no EDNS.
    const QUERY_V4: &str = "4500003700004000401169a10a6fde010a6fde35\
         9c400035002321eb\
         1234010000010000000000000161076578616d706c650000010001";

    fn query_v4() -> Vec<u8> {
        hex(QUERY_V4)
    }

    #[test]
    fn parses_a_udp_query_over_ipv4() {
        let packet = query_v4();
        let Packet::Udp(d) = parse(&packet).unwrap() else {
            panic!("not udp")
        };
        assert_eq!(d.source, "10.111.222.1:40000".parse().unwrap());
        assert_eq!(d.destination, "10.111.222.53:53".parse().unwrap());
        assert_eq!(&d.payload[..2], &[0x12, 0x34]);
    }

    #[test]
    fn the_builder_writes_the_fixture_byte_for_byte() {
        let built = build_udp(
            "10.111.222.1:40000".parse().unwrap(),
            "10.111.222.53:53".parse().unwrap(),
            &query_v4()[28..],
        )
        .unwrap();
        assert_eq!(built, query_v4());
    }

    #[test]
    fn a_flipped_payload_bit_fails_the_udp_checksum() {
        let mut packet = query_v4();
        let last = packet.len() - 1;
        packet[last] ^= 0x01;
        assert_eq!(parse(&packet), Err(WireError::BadChecksum));
    }

    #[test]
    fn a_flipped_ip_header_bit_fails_the_header_checksum() {
        let mut packet = query_v4();
        packet[8] ^= 0x01; // TTL
        assert_eq!(parse(&packet), Err(WireError::BadChecksum));
    }

    #[test]
    fn zero_udp_checksum_over_ipv4_is_accepted() {
        let mut packet = query_v4();
        packet[26] = 0;
        packet[27] = 0;
        assert!(matches!(parse(&packet), Ok(Packet::Udp(_))));
    }

    #[test]
    fn ipv6_round_trip() {
        let src: SocketAddr = "[fd74:6163:6574::1]:5353".parse().unwrap();
        let dst: SocketAddr = "[fd74:6163:6574::53]:53".parse().unwrap();
        let packet = build_udp(src, dst, b"hello").unwrap();
        assert_eq!(packet[0] >> 4, 6);
        let Packet::Udp(d) = parse(&packet).unwrap() else {
            panic!("not udp")
        };
        assert_eq!(
            (d.source, d.destination, d.payload),
            (src, dst, &b"hello"[..])
        );
    }

    #[test]
    fn truncated_and_garbage_packets_are_errors_not_panics() {
        let packet = query_v4();
        for len in 0..packet.len() {
            let _ = parse(&packet[..len]);
        }
        assert_eq!(parse(&[0x45]), Err(WireError::Malformed));
        assert_eq!(parse(&[0x00; 40]), Err(WireError::Malformed));
    }

    #[test]
    fn tcp_is_read_and_fragments_are_other() {
        // IPv4 + a minimal TCP header (SYN), checksums irrelevant here.
        let mut tcp = hex("45000028000040004006000 00a6fde010a6fde35");
        tcp.extend(hex("9c40003500000000000000005002ffff00000000"));
        let Ok(Packet::Tcp(segment)) = parse(&tcp) else {
            panic!("not TCP")
        };
        assert_eq!(segment.destination, "10.111.222.53:53".parse().unwrap());
        assert!(segment.syn && !segment.rst);
        let mut fragment = query_v4();
        fragment[6] = 0x20; // more fragments
        fragment[10] = 0;
        fragment[11] = 0;
        let fixed = {
            let sliced = SlicedPacket::from_ip(&fragment).unwrap();
            let NetSlice::Ipv4(ip) = sliced.net.unwrap() else {
                panic!()
            };
            ip.header().to_header().calc_header_checksum()
        };
        fragment[10..12].copy_from_slice(&fixed.to_be_bytes());
        assert_eq!(parse(&fragment), Ok(Packet::Other));
    }

    #[test]
    fn mixed_families_are_refused_by_the_builder() {
        let v4: SocketAddr = "10.0.0.1:53".parse().unwrap();
        let v6: SocketAddr = "[::1]:53".parse().unwrap();
        assert!(build_udp(v4, v6, b"x").is_none());
    }
}
