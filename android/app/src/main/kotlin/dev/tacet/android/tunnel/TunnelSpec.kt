package dev.tacet.android.tunnel

import java.net.Inet4Address
import java.net.Inet6Address
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
 * network's DNS servers) and the addresses of blocked names the firewall
 * learned (so that a connection that skips DNS is rejected too). Everything
 * else keeps its normal path, so tacet never carries the phone's traffic.
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

        /** The most learned addresses routed in; past it, the rest are left out (sorted order). */
        const val MAX_LEARNED_ROUTES = 2000

        /** The tunnel for a set of learned addresses (from [LearnedRoutes.parse]). */
        fun build(learned: Set<InetAddress>): TunnelSpec = TunnelSpec(
            addresses = listOf(IpPrefix(V4_ADDRESS, 24), IpPrefix(V6_ADDRESS, 64)),
            dnsServers = listOf(V4_RESOLVER, V6_RESOLVER),
            routes = listOf(IpPrefix(V4_RESOLVER, 32), IpPrefix(V6_RESOLVER, 128)) +
                learned.map { IpPrefix(IpLiteral.format(it), if (it is Inet4Address) 32 else 128) },
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

/** The addresses of a `RoutesChanged` event, checked and in a stable order. */
object LearnedRoutes {
    /**
     * Parses the firewall's address strings, dropping what cannot or need
     * not be routed (not an address, the tunnel's own prefixes, unspecified,
     * loopback, multicast, link-local), sorted so that the same set compares
     * equal however it was ordered, and capped at
     * [TunnelSpec.MAX_LEARNED_ROUTES].
     */
    fun parse(routes: List<String>): Set<InetAddress> = routes.asSequence()
        .mapNotNull(IpLiteral::parse)
        .filterNot {
            it.isAnyLocalAddress || it.isLoopbackAddress || it.isMulticastAddress ||
                it.isLinkLocalAddress || TunnelSpec.isTunnelAddress(it)
        }
        .distinct()
        .sortedWith(compareBy<InetAddress>({ it.address.size }, { IpLiteral.format(it) }))
        .take(TunnelSpec.MAX_LEARNED_ROUTES)
        .toCollection(LinkedHashSet())
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
