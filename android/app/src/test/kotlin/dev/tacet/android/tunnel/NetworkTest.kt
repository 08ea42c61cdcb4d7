package dev.tacet.android.tunnel

import dev.tacet.android.R
import dev.tacet.android.present.Text
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.net.Inet6Address
import java.net.InetAddress

class NetworkTest {
    private fun ip(text: String) = InetAddress.getByName(text)

    @Test
    fun `upstreams are the network's resolvers without ours, in order, once each`() {
        val servers = listOf(
            ip("192.168.1.1"), ip("10.111.222.53"), ip("2001:db8::53"), ip("192.168.1.1"),
            ip("fd74:6163:6574::53"), ip("0.0.0.0"),
        )
        assertEquals(listOf("192.168.1.1", "2001:db8:0:0:0:0:0:53"), Upstreams.fromResolvers(servers))
    }

    @Test
    fun `link-local IPv6 resolvers are left out, their scope cannot be passed on`() {
        val scoped = Inet6Address.getByAddress(null, ip("fe80::1").address, 3)
        assertEquals(listOf("192.0.2.1"), Upstreams.fromResolvers(listOf(scoped, ip("192.0.2.1"))))
        assertEquals(emptyList<String>(), Upstreams.fromResolvers(listOf(scoped)))
    }

    @Test
    fun `strict Private DNS is found and explained, automatic is fine`() {
        assertEquals(PrivateDnsMode.Off, PrivateDnsMode.of(active = false, serverName = null))
        assertEquals(PrivateDnsMode.Automatic, PrivateDnsMode.of(active = true, serverName = null))
        assertNull(PrivateDnsMode.Automatic.advice)
        assertNull(PrivateDnsMode.Off.advice)

        val strict = PrivateDnsMode.of(active = true, serverName = "dns.example")
        assertEquals(PrivateDnsMode.Strict("dns.example"), strict)
        assertEquals(Text.of(R.string.private_dns_advice, "dns.example"), strict.advice)
        // Not validated yet: still strict, the phone waits for that provider.
        assertEquals(PrivateDnsMode.Strict("dns.example"), PrivateDnsMode.of(active = false, serverName = "dns.example"))
        assertEquals(PrivateDnsMode.Off, PrivateDnsMode.of(active = false, serverName = " "))
    }
}
