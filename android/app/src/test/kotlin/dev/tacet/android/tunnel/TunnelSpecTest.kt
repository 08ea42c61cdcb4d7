package dev.tacet.android.tunnel

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Test
import java.net.InetAddress

class TunnelSpecTest {
    @Test
    fun `the tunnel announces and routes only the virtual resolvers`() {
        val spec = TunnelSpec.build(emptySet())
        assertEquals(listOf("10.111.222.1/24", "fd74:6163:6574:0:0:0:0:1/64").map(::prefix), spec.addresses.map(::norm))
        assertEquals(listOf("10.111.222.53", "fd74:6163:6574::53"), spec.dnsServers)
        assertEquals(listOf(IpPrefix("10.111.222.53", 32), IpPrefix("fd74:6163:6574::53", 128)), spec.routes)
    }

    @Test
    fun `learned addresses are routed in as host routes`() {
        val learned = LearnedRoutes.parse(listOf("203.0.113.9", "2001:db8::7"))
        val routes = TunnelSpec.build(learned).routes.drop(2)
        assertEquals(listOf(IpPrefix("203.0.113.9", 32), IpPrefix("2001:db8:0:0:0:0:0:7", 128)), routes)
    }

    @Test
    fun `the same set in another order compares equal, junk is dropped`() {
        val a = LearnedRoutes.parse(listOf("203.0.113.9", "2001:db8::7", "198.51.100.1"))
        val b = LearnedRoutes.parse(
            listOf(
                "2001:db8:0::7", " 198.51.100.1", "203.0.113.9", "203.0.113.9",
                "not-an-address", "1.2.3", "300.1.1.1", "example.com",
                "10.111.222.53", "fd74:6163:6574::99", "0.0.0.0", "::", "127.0.0.1", "224.0.0.1", "fe80::1",
            ),
        )
        assertEquals(a, b)
        assertEquals(
            listOf("198.51.100.1/32", "203.0.113.9/32", "2001:db8:0:0:0:0:0:7/128"),
            b.map(IpPrefix::toString),
        )
    }

    @Test
    fun `networks of address rules are routed whole, host bits cleared`() {
        val routes = LearnedRoutes.parse(
            listOf(
                "203.0.113.9/32", "198.51.100.0/24", "2001:db8::/32", "10.0.0.0/8", "192.0.2.77/24",
                // Junk and what must never be routed in: a default route, a bad length.
                "0.0.0.0/0", "::/0", "198.51.100.0/33", "2001:db8::/129", "198.51.100.0/x", "1.2.3.4/8/8",
                "10.111.222.0/24",
            ),
        )
        assertEquals(
            listOf("10.0.0.0/8", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.9/32", "2001:db8:0:0:0:0:0:0/32"),
            routes.map(IpPrefix::toString),
        )
        assertEquals(routes.toList(), TunnelSpec.build(routes).routes.drop(2))
    }

    @Test
    fun `the number of learned routes is capped`() {
        val many = (0 until 3000).map { "198.51.${it / 250}.${it % 250 + 1}" }
        assertEquals(TunnelSpec.MAX_LEARNED_ROUTES, LearnedRoutes.parse(many).size)
    }

    @Test
    fun `literals never go to DNS`() {
        assertNull(IpLiteral.parse("localhost"))
        assertNull(IpLiteral.parse("1.2.3"))
        assertNull(IpLiteral.parse("01.2.3.4"))
        assertNull(IpLiteral.parse("2001:db8::g"))
        assertEquals(InetAddress.getByName("192.0.2.1"), IpLiteral.parse("192.0.2.1"))
    }

    @Test
    fun `the tunnel's own prefixes are recognised`() {
        assertEquals(true, TunnelSpec.isTunnelAddress(InetAddress.getByName("10.111.222.200")))
        assertEquals(false, TunnelSpec.isTunnelAddress(InetAddress.getByName("10.111.223.1")))
        assertEquals(true, TunnelSpec.isTunnelAddress(InetAddress.getByName("fd74:6163:6574::1234")))
        assertEquals(false, TunnelSpec.isTunnelAddress(InetAddress.getByName("fd74:6163:6575::1")))
    }

    private fun prefix(text: String) = text
    private fun norm(p: IpPrefix) = IpLiteral.format(InetAddress.getByName(p.address)) + "/" + p.length
}
