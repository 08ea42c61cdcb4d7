package dev.tacet.android.tunnel

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class DnsChoiceTest {
    private val network = listOf("192.0.2.1", "2001:db8::1")
    private val known = mapOf("quad9" to listOf("tls://9.9.9.9#dns.quad9.net", "tls://[2620:fe::fe]#dns.quad9.net"))

    @Test
    fun `every choice survives the settings`() {
        for (choice in listOf(
            DnsChoice.Network,
            DnsChoice.Known("quad9"),
            DnsChoice.Custom(listOf("tls://192.0.2.9#dns.example", "https://[2001:db8::9]/dns-query#dns.example")),
        )) {
            assertEquals(choice, DnsChoice.decode(choice.encode()))
        }
    }

    @Test
    fun `nothing saved, or anything unreadable, is the network's DNS`() {
        for (text in listOf(null, "", "network", "known:", "custom:", "custom:   ", "tls://9.9.9.9", "known:${"x".repeat(600)}")) {
            assertEquals(DnsChoice.Network, DnsChoice.decode(text), "$text")
        }
        // A settings file with hundreds of entries keeps the first few.
        val many = "custom:" + (1..500).joinToString(" ") { "tls://192.0.2.$it#d.example" }
        assertEquals(DnsChoice.MAX_ENTRIES, (DnsChoice.decode(many) as DnsChoice.Custom).entries.size)
    }

    @Test
    fun `the upstreams are the network's or the chosen encrypted ones, never a silent fallback`() {
        assertEquals(network, DnsChoice.Network.upstreams(network, known))
        assertEquals(known["quad9"], DnsChoice.Known("quad9").upstreams(network, known))
        val own = listOf("tls://192.0.2.9#dns.example")
        assertEquals(own, DnsChoice.Custom(own).upstreams(network, known))
        // A resolver this build no longer offers: not plain DNS instead.
        assertNull(DnsChoice.Known("gone").upstreams(network, known))
        assertNull(DnsChoice.Custom(emptyList()).upstreams(network, known))
        assertFalse(DnsChoice.Network.encrypted)
        assertTrue(DnsChoice.Known("quad9").encrypted)
    }

    @Test
    fun `typed entries are one a line`() {
        assertEquals(listOf("tls://192.0.2.9#a.example", "192.0.2.1"), DnsChoice.typed("  tls://192.0.2.9#a.example \n\n192.0.2.1\n"))
    }
}
