package dev.tacet.android.tunnel

import java.net.Inet4Address
import java.net.Inet6Address
import java.math.BigInteger
import java.net.InetAddress

/** An address and prefix length, as `VpnService.Builder.addAddress` / `addRoute` take them. */
data class IpPrefix(val address: String, val length: Int) {
    override fun toString() = "$address/$length"
}

/**
 * Everything the VPN interface is built with, as plain data: the service
 * hands it to `VpnService.Builder` line by line, and the tests check it
 * without Android.
 *
 * Only DNS goes into the tunnel: the virtual resolvers (announced as the
 * network's DNS servers), plus what the firewall rejects: the networks of
 * address rules and the addresses of blocked names it learned (so that a
 * connection that skips DNS is rejected too). Everything else keeps its
 * normal path, so tacet never carries the phone's traffic.
 */
data class TunnelSpec(
    /** The interface's own addresses. */
    val addresses: List<IpPrefix>,
    /** The DNS servers announced to every app: the firewall's virtual resolvers. */
    val dnsServers: List<String>,
    /** What is routed into the tunnel. */
    val routes: List<IpPrefix>,
) {
    companion object {
        /** The interface's IPv4 address, in a /24 that is unlikely to clash with a LAN. */
        const val V4_ADDRESS = "10.111.222.1"

        /** The interface's IPv6 address, in a ULA /64 ("tacet" in hex). */
        const val V6_ADDRESS = "fd74:6163:6574::1"

        /** The firewall's virtual IPv4 resolver (the core answers DNS sent there). */
        const val V4_RESOLVER = "10.111.222.53"

        /** The firewall's virtual IPv6 resolver. */
        const val V6_RESOLVER = "fd74:6163:6574::53"

        /** The most firewall routes taken; past it, the rest are left out (sorted order). */
        const val MAX_LEARNED_ROUTES = 2000

        /** The tunnel for the firewall's routes (from [LearnedRoutes.parse]). */
        fun build(learned: Set<IpPrefix>): TunnelSpec = TunnelSpec(
            addresses = listOf(IpPrefix(V4_ADDRESS, 24), IpPrefix(V6_ADDRESS, 64)),
            dnsServers = listOf(V4_RESOLVER, V6_RESOLVER),
            routes = listOf(IpPrefix(V4_RESOLVER, 32), IpPrefix(V6_RESOLVER, 128)) + learned,
        )

        /** Whether [address] is inside the tunnel's own prefixes (already ours). */
        fun isTunnelAddress(address: InetAddress): Boolean {
            val bytes = address.address
            return when (address) {
                is Inet4Address -> bytes[0] == 10.toByte() && bytes[1] == 111.toByte() && bytes[2] == 222.toByte()
                is Inet6Address -> bytes.copyOfRange(0, 8).contentEquals(V6_PREFIX_BYTES)
                else -> false
            }
        }

        private val V6_PREFIX_BYTES = InetAddress.getByName("fd74:6163:6574::").address.copyOfRange(0, 8)
    }
}

/** The networks of a `RoutesChanged` event, checked and in a stable order. */
object LearnedRoutes {
    /**
     * Parses the firewall's `address/length` strings (a bare address is a
     * host route), dropping what cannot or need not be routed (not an
     * address, a bad length, a network whose address is in the tunnel's own
     * prefixes, unspecified (so never a default route), loopback, multicast
     * or link-local). Host bits are cleared, as `Builder.addRoute` demands.
     * Sorted (IPv4 first, then by address and length) so that the same set
     * compares equal however it was ordered, and capped at
     * [TunnelSpec.MAX_LEARNED_ROUTES].
     */
    fun parse(routes: List<String>): Set<IpPrefix> = routes.asSequence()
        .mapNotNull(::network)
        .filterNot { (address, _) ->
            address.isAnyLocalAddress || address.isLoopbackAddress || address.isMulticastAddress ||
                address.isLinkLocalAddress || TunnelSpec.isTunnelAddress(address)
        }
        .distinctBy { (address, length) -> IpLiteral.format(address) to length }
        .sortedWith(
            compareBy<Pair<InetAddress, Int>>(
                { it.first.address.size },
                { BigInteger(1, it.first.address) }, // numerically, not as text
                { it.second },
            ),
        )
        .take(TunnelSpec.MAX_LEARNED_ROUTES)
        .map { (address, length) -> IpPrefix(IpLiteral.format(address), length) }
        .toCollection(LinkedHashSet())

    /** `text` as (network address, prefix length), host bits cleared; or null. */
    private fun network(text: String): Pair<InetAddress, Int>? {
        val parts = text.trim().split('/')
        if (parts.size > 2) return null
        val address = IpLiteral.parse(parts[0]) ?: return null
        val bits = address.address.size * 8
        val length = if (parts.size == 2) parts[1].toIntOrNull() ?: return null else bits
        if (length !in 0..bits) return null
        val masked = address.address.copyOf()
        for (i in masked.indices) {
            val keep = (length - i * 8).coerceIn(0, 8)
            masked[i] = (masked[i].toInt() and (0xff shl (8 - keep)) and 0xff).toByte()
        }
        return InetAddress.getByAddress(masked) to length
    }
}

/** IP address literals, parsed without ever asking DNS. */
object IpLiteral {
    private val V4 = Regex("""(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}""")
    private val V6 = Regex("""[0-9A-Fa-f:.]+""")

    /**
     * The address [text] spells (`192.0.2.1`, `2001:db8::1`), or null.
     * `InetAddress.getByName` alone would look a name up (or read `1.2.3` as
     * an address), so the text is checked to be a literal first.
     */
    fun parse(text: String): InetAddress? {
        val t = text.trim()
        val literal = V4.matches(t) || (t.contains(':') && V6.matches(t))
        if (!literal) return null
        return try {
            InetAddress.getByName(t)
        } catch (_: java.net.UnknownHostException) {
            null
        }
    }

    /** The address as text, without an IPv6 scope (`%wlan0`). */
    fun format(address: InetAddress): String = address.hostAddress.substringBefore('%')
}
