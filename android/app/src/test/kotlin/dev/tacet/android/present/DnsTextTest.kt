package dev.tacet.android.present

import dev.tacet.android.tunnel.DnsChoice
import dev.tacet.ffi.UpstreamEntry
import dev.tacet.ffi.UpstreamKind
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class DnsTextTest {
    // Built by hand, as parseUpstreams() returns them (it needs the native library).
    private fun ok(text: String, kind: UpstreamKind) = UpstreamEntry(text, kind, "192.0.2.9:853", "dns.example", null)
    private fun bad(text: String, why: String) = UpstreamEntry(text, null, null, null, why)

    @Test
    fun `encrypted entries are used, and say how many`() {
        val r = DnsText.customReport(listOf(ok("tls://192.0.2.9#dns.example", UpstreamKind.TLS)), 16)
        assertTrue(r.usable)
        assertEquals("In use: 1 encrypted server.", r.message)
    }

    @Test
    fun `a bad entry keeps all from being used and says which line and why`() {
        val r = DnsText.customReport(
            listOf(ok("tls://192.0.2.9#dns.example", UpstreamKind.TLS), bad("tls://dns.example", "give the address, not the name")),
            16,
        )
        assertFalse(r.usable)
        assertEquals("Line 2, tls://dns.example: give the address, not the name", r.message)
    }

    @Test
    fun `plain beside encrypted is refused, plain alone is used with a warning`() {
        val mixed = DnsText.customReport(listOf(ok("tls://192.0.2.9#d", UpstreamKind.TLS), ok("192.0.2.1", UpstreamKind.PLAIN)), 16)
        assertFalse(mixed.usable)
        val plain = DnsText.customReport(listOf(ok("192.0.2.1", UpstreamKind.PLAIN)), 16)
        assertTrue(plain.usable)
        assertTrue("the network can read them" in plain.message, plain.message)
        assertFalse(DnsText.customReport(List(17) { ok("192.0.2.$it", UpstreamKind.PLAIN) }, 16).usable)
        assertFalse(DnsText.customReport(emptyList(), 16).usable)
    }

    @Test
    fun `the main screen says where names go`() {
        val names = mapOf("quad9" to "Quad9")
        assertEquals("DNS: your network's, not encrypted", DnsText.summary(DnsChoice.Network, names))
        assertEquals("DNS: Quad9, encrypted", DnsText.summary(DnsChoice.Known("quad9"), names))
        assertEquals(
            "DNS: dns.example, encrypted",
            DnsText.summary(DnsChoice.Custom(listOf("tls://192.0.2.9#dns.example;pin-sha256=AAAA")), names),
        )
        assertEquals("DNS: your servers, not encrypted", DnsText.summary(DnsChoice.Custom(listOf("192.0.2.1")), names))
    }

    @Test
    fun `the Private DNS offer names the resolver and what to do next`() {
        val offer = DnsText.privateDnsOffer("dns.example", inUse = false)
        assertTrue("dns.example" in offer && "over TLS" in offer && "turn Private DNS off" in offer, offer)
        assertTrue("Off or Automatic" in DnsText.privateDnsOffer("dns.example", inUse = true))
    }
}
