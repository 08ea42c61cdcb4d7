package dev.tacet.android.tunnel

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import dev.tacet.ffi.Transport
import org.junit.jupiter.api.Test
import java.net.InetAddress
import java.net.InetSocketAddress

class AppAttributionTest {
    private val local = InetSocketAddress(InetAddress.getByName("10.111.222.1"), 40000)
    private val resolver = InetSocketAddress(InetAddress.getByName("10.111.222.53"), 53)
    private var lookups = 0
    private var nameLookups = 0
    private val uids = mapOf(40000 to 10123, 40001 to 1000, 40002 to 10999, 40003 to -1)
    private val owner = AppAttribution.ConnectionOwner { protocol, l, _ ->
        lookups++
        if (protocol == AppAttribution.UDP) uids.getValue(l.port) else throw SecurityException("not the VPN")
    }
    private val packages = AppAttribution.PackageNames { uid ->
        nameLookups++
        when (uid) {
            10123 -> "com.example.fitness"
            1000 -> "android.uid.system:1000"
            else -> null
        }
    }

    private fun at(port: Int) = InetSocketAddress(local.address, port)

    @Test
    fun `a query's socket is mapped to its app's package`() {
        val apps = AppAttribution(34, owner, packages)
        assertEquals("com.example.fitness", apps.appFor(AppAttribution.UDP, local, resolver))
        assertEquals("android.uid.system", apps.appFor(AppAttribution.UDP, at(40001), resolver))
        assertEquals("uid 10999", apps.appFor(AppAttribution.UDP, at(40002), resolver))
        assertNull(apps.appFor(AppAttribution.UDP, at(40003), resolver))
    }

    @Test
    fun `before Android 10 nobody is asked`() {
        val apps = AppAttribution(28, owner, packages)
        assertNull(apps.appFor(AppAttribution.UDP, local, resolver))
        assertEquals(0, lookups)
    }

    @Test
    fun `a refused lookup or another protocol gives no app`() {
        val apps = AppAttribution(30, owner, packages)
        assertNull(apps.appFor(AppAttribution.TCP, local, resolver)) // the fake refuses TCP
        assertNull(apps.appFor(1, local, resolver)) // ICMP: not asked
        assertEquals(1, lookups)
    }

    @Test
    fun `on Android 10 DNS is not attributed, connections are`() {
        // Android 10 resolves in netd on its own sockets: every query would
        // read "the DNS resolver". A connection to a blocked address is the app's.
        val apps = AppAttribution(29, owner, packages)
        assertNull(apps.appFor(AppAttribution.UDP, local, resolver))
        assertEquals(0, lookups)
        val blockedAddress = InetSocketAddress(InetAddress.getByName("198.51.100.7"), 443)
        assertEquals("com.example.fitness", apps.appFor(AppAttribution.UDP, local, blockedAddress))
        assertEquals(1, lookups)
    }

    @Test
    fun `names are cached per uid`() {
        val apps = AppAttribution(30, owner, packages)
        repeat(5) { apps.appFor(AppAttribution.UDP, local, resolver) }
        assertEquals(5, lookups)
        assertEquals(1, nameLookups)
    }

    @Test
    fun `endpoints as text`() {
        assertEquals(local, AppAttribution.endpoint("10.111.222.1:40000"))
        assertEquals(
            InetSocketAddress(InetAddress.getByName("fd74:6163:6574::1"), 5353),
            AppAttribution.endpoint("[fd74:6163:6574::1]:5353"),
        )
        assertNull(AppAttribution.endpoint("10.111.222.1"))
        assertNull(AppAttribution.endpoint("fd74::1:53"))
        assertNull(AppAttribution.endpoint("host.example:53"))
        assertNull(AppAttribution.endpoint("10.111.222.1:70000"))
    }

    @Test
    fun `the firewall's resolver parses its endpoints and asks with the right protocol`() {
        val asked = mutableListOf<Triple<Int, InetSocketAddress, InetSocketAddress>>()
        val apps = AppAttribution(
            34,
            { protocol, l, r ->
                asked += Triple(protocol, l, r)
                10123
            },
            packages,
        )
        assertEquals("com.example.fitness", apps.resolver.appFor(Transport.UDP, "10.111.222.1:40000", "10.111.222.53:53"))
        assertEquals(
            "com.example.fitness",
            apps.resolver.appFor(Transport.TCP, "[fd74:6163:6574::1]:40001", "[2001:db8::5]:443"),
        )
        assertEquals(
            listOf(
                Triple(AppAttribution.UDP, local, resolver),
                Triple(
                    AppAttribution.TCP,
                    InetSocketAddress(InetAddress.getByName("fd74:6163:6574::1"), 40001),
                    InetSocketAddress(InetAddress.getByName("2001:db8::5"), 443),
                ),
            ),
            asked,
        )
        assertNull(apps.resolver.appFor(Transport.UDP, "not an endpoint", "10.111.222.53:53"))
        assertEquals(2, asked.size, "junk is never asked about")
    }
}
