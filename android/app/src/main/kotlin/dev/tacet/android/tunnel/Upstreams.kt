package dev.tacet.android.tunnel

import java.net.Inet6Address
import java.net.InetAddress

/**
 * The network's own resolvers, which the firewall forwards allowed queries
 * to (`FirewallConfig.upstreams`).
 *
 * They come from the default network's `LinkProperties.dnsServers`. The app
 * is excluded from its own VPN, so its default network is the real one
 * (Wi-Fi, mobile) even while the tunnel is up, and the firewall's upstream
 * sockets bypass the tunnel the same way.
 */
object Upstreams {
    /**
     * The upstreams for the firewall, in the network's order, without
     * duplicates, without the firewall's own resolvers (forwarding to itself
     * would loop), and without link-local IPv6 resolvers (their scope, the
     * interface, does not survive the text the firewall takes; a network
     * that has only those is rare: it then looks offline to tacet).
     */
    fun fromResolvers(servers: List<InetAddress>): List<String> = servers.asSequence()
        .filterNot { TunnelSpec.isTunnelAddress(it) || it.isAnyLocalAddress || it.isMulticastAddress }
        .filterNot { it is Inet6Address && it.isLinkLocalAddress }
        .map(IpLiteral::format)
        .distinct()
        .toList()
}
