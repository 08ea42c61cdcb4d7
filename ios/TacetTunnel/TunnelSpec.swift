// The tunnel's layout, the same as Android's (tunnel/TunnelSpec.kt): only
// DNS goes into the tunnel, plus what the firewall rejects.

import Foundation
import Network
import NetworkExtension

/// An address and prefix length, host bits cleared.
struct IPPrefix: Hashable {
    let address: String
    let length: Int
    let isIPv6: Bool
}

enum TunnelSpec {
    /// The interface's addresses: a /24 unlikely to clash with a LAN, and a
    /// ULA /64 ("tacet" in hex).
    static let v4Address = "10.111.222.1"
    static let v6Address = "fd74:6163:6574::1"

    /// The firewall's virtual resolvers: the core answers DNS sent there.
    static let v4Resolver = "10.111.222.53"
    static let v6Resolver = "fd74:6163:6574::53"

    /// The most firewall routes taken; past it, the rest are left out.
    static let maxLearnedRoutes = 2000

    /// The settings for the firewall's `learned` routes. With `claimAllNames`
    /// the virtual resolvers answer every name (`matchDomains = [""]`: the
    /// tunnel is not the default route, so without it they would only serve
    /// the match domains); without it they claim one name nothing asks for,
    /// so the system's default resolvers show through (see `Upstreams`).
    static func settings(learned: [IPPrefix], claimAllNames: Bool) -> NEPacketTunnelNetworkSettings {
        // No server: the "remote address" is only shown in Settings.
        let settings = NEPacketTunnelNetworkSettings(tunnelRemoteAddress: "127.0.0.1")

        let v4 = NEIPv4Settings(addresses: [v4Address], subnetMasks: ["255.255.255.0"])
        v4.includedRoutes = [NEIPv4Route(destinationAddress: v4Resolver, subnetMask: "255.255.255.255")]
            + learned.filter { !$0.isIPv6 }.map { NEIPv4Route(destinationAddress: $0.address, subnetMask: subnetMask($0.length)) }
        settings.ipv4Settings = v4

        let v6 = NEIPv6Settings(addresses: [v6Address], networkPrefixLengths: [64])
        v6.includedRoutes = [NEIPv6Route(destinationAddress: v6Resolver, networkPrefixLength: 128)]
            + learned.filter { $0.isIPv6 }.map { NEIPv6Route(destinationAddress: $0.address, networkPrefixLength: NSNumber(value: $0.length)) }
        settings.ipv6Settings = v6

        let dns = NEDNSSettings(servers: [v4Resolver, v6Resolver])
        dns.matchDomains = claimAllNames ? [""] : ["tacet.invalid"]
        settings.dnsSettings = dns
        return settings
    }

    /// `255.255.255.0` for 24.
    static func subnetMask(_ length: Int) -> String {
        let bits: UInt32 = length <= 0 ? 0 : UInt32.max << UInt32(32 - min(length, 32))
        return [24, 16, 8, 0].map { String((bits >> UInt32($0)) & 0xff) }.joined(separator: ".")
    }

    /// Whether `raw` (4 or 16 bytes) is inside the tunnel's own prefixes.
    static func isTunnelAddress(_ raw: Data) -> Bool {
        let bytes = [UInt8](raw)
        if bytes.count == 4 { return bytes[0] == 10 && bytes[1] == 111 && bytes[2] == 222 }
        return bytes.count == 16 && bytes.prefix(8).elementsEqual([0xfd, 0x74, 0x61, 0x63, 0x65, 0x74, 0, 0])
    }
}

/// The networks of a `RoutesChanged` event, checked and in a stable order
/// (Android's `LearnedRoutes`).
enum LearnedRoutes {
    /// Parses `address/length` strings (a bare address is a host route),
    /// dropping what cannot or need not be routed: not an address, a bad
    /// length, the tunnel's own prefixes, unspecified (so never a default
    /// route), loopback, multicast, link-local. Host bits are cleared.
    /// Sorted, IPv4 first, so the same set compares equal however it came.
    static func parse(_ routes: [String]) -> [IPPrefix] {
        let networks = Set(routes.compactMap(network))
        let sorted = networks.sorted { a, b in
            if a.raw.count != b.raw.count { return a.raw.count < b.raw.count }
            if a.raw != b.raw { return a.raw.lexicographicallyPrecedes(b.raw) }
            return a.length < b.length
        }
        return sorted.prefix(TunnelSpec.maxLearnedRoutes).compactMap { net in
            if net.raw.count == 4 {
                return IPv4Address(net.raw).map { IPPrefix(address: "\($0)", length: net.length, isIPv6: false) }
            }
            return IPv6Address(net.raw).map { IPPrefix(address: "\($0)", length: net.length, isIPv6: true) }
        }
    }

    private struct Parsed: Hashable {
        let raw: Data
        let length: Int
    }

    private static func network(_ text: String) -> Parsed? {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else { return nil }
        let literal = String(parts[0])
        let raw: Data
        if let v4 = IPv4Address(literal), !literal.contains(":") {
            guard !v4.isLoopback, !v4.isMulticast, !v4.isLinkLocal else { return nil }
            raw = v4.rawValue
        } else if let v6 = IPv6Address(literal), literal.contains(":") {
            guard !v6.isLoopback, !v6.isMulticast, !v6.isLinkLocal else { return nil }
            raw = v6.rawValue
        } else {
            return nil
        }
        let bits = raw.count * 8
        let length = parts.count == 2 ? Int(parts[1]) : Optional(bits)
        guard let length, (0...bits).contains(length) else { return nil }
        let masked = Data(raw.enumerated().map { index, byte in
            let keep = max(0, min(8, length - index * 8))
            return keep == 0 ? 0 : byte & UInt8(truncatingIfNeeded: 0xff << (8 - keep))
        })
        guard !masked.allSatisfy({ $0 == 0 }), !TunnelSpec.isTunnelAddress(masked) else { return nil }
        return Parsed(raw: masked, length: length)
    }
}

/// The network's own resolvers, which the firewall forwards allowed
/// queries to (Android's `Upstreams`).
///
/// They are read with libresolv (`res_ninit`), the system's default
/// resolver configuration: the only public way on iOS (NWPath says whether
/// DNS works, not which servers; SystemConfiguration's dynamic store is
/// macOS only). Its limit: while the tunnel claims every name
/// (`matchDomains = [""]`), libresolv reports the tunnel's own virtual
/// resolvers. So they are read before the first settings are applied, and
/// after a network change the provider briefly applies settings that claim
/// no name, reads, and claims every name again; queries sent in that moment
/// go to the network's resolver unfiltered.
enum Upstreams {
    /// The usable resolvers of the system's list: in order, without
    /// duplicates, without the tunnel's own (forwarding to itself would
    /// loop), without unspecified, multicast or link-local IPv6 ones (their
    /// scope does not survive the text the firewall takes).
    static func read() -> [String] {
        let size = 1024
        var buffer = [CChar](repeating: 0, count: size)
        guard tacet_system_resolvers(&buffer, size) > 0 else { return [] }
        let lines = String(cString: buffer).split(separator: "\n").map(String.init)
        var seen = Set<String>()
        return lines.compactMap(usable).filter { seen.insert($0).inserted }
    }

    private static func usable(_ text: String) -> String? {
        if text.contains("%") { return nil } // scoped: IPv6 link-local
        if let v4 = IPv4Address(text), !text.contains(":") {
            let raw = v4.rawValue
            guard !raw.allSatisfy({ $0 == 0 }), !v4.isMulticast, !TunnelSpec.isTunnelAddress(raw) else { return nil }
            return "\(v4)"
        }
        if let v6 = IPv6Address(text) {
            let raw = v6.rawValue
            guard !raw.allSatisfy({ $0 == 0 }), !v6.isMulticast, !v6.isLinkLocal, !TunnelSpec.isTunnelAddress(raw) else { return nil }
            return "\(v6)"
        }
        return nil
    }
}
