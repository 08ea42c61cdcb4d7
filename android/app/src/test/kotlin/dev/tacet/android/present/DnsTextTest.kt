package dev.tacet.android.present

import dev.tacet.android.R
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
        assertEquals(Text.plural(R.plurals.dns_custom_encrypted, 1), r.message)
    }

    @Test
    fun `a bad entry keeps all from being used and says which line and why`() {
        val r = DnsText.customReport(
            listOf(ok("tls://192.0.2.9#dns.example", UpstreamKind.TLS), bad("tls://dns.example", "give the address, not the name")),
            16,
        )
        assertFalse(r.usable)
        assertEquals(
            Text.Joined(
                listOf(Text.of(R.string.dns_custom_bad_line, 2, "tls://dns.example", Text.Raw("give the address, not the name"))),
                R.string.separator_lines,
            ),
            r.message,
        )
    }

    @Test
    fun `plain beside encrypted is refused, plain alone is used with a warning`() {
        val mixed = DnsText.customReport(listOf(ok("tls://192.0.2.9#d", UpstreamKind.TLS), ok("192.0.2.1", UpstreamKind.PLAIN)), 16)
        assertFalse(mixed.usable)
        assertEquals(Text.of(R.string.dns_custom_mixed), mixed.message)
        val plain = DnsText.customReport(listOf(ok("192.0.2.1", UpstreamKind.PLAIN)), 16)
        assertTrue(plain.usable)
        assertEquals(Text.of(R.string.dns_custom_plain), plain.message)
        val many = DnsText.customReport(List(17) { ok("192.0.2.$it", UpstreamKind.PLAIN) }, 16)
        assertFalse(many.usable)
        assertEquals(Text.of(R.string.dns_custom_too_many, 16, 17), many.message)
        assertFalse(DnsText.customReport(emptyList(), 16).usable)
    }

    @Test
    fun `the main screen says where names go`() {
        val names = mapOf("quad9" to "Quad9")
        assertEquals(Text.of(R.string.dns_summary_network), DnsText.summary(DnsChoice.Network, names))
        assertEquals(Text.of(R.string.dns_summary_encrypted, "Quad9"), DnsText.summary(DnsChoice.Known("quad9"), names))
        assertEquals(
            Text.of(R.string.dns_summary_encrypted, "dns.example"),
            DnsText.summary(DnsChoice.Custom(listOf("tls://192.0.2.9#dns.example;pin-sha256=AAAA")), names),
        )
        assertEquals(Text.of(R.string.dns_summary_custom_plain), DnsText.summary(DnsChoice.Custom(listOf("192.0.2.1")), names))
    }

    @Test
    fun `the Private DNS offer names the resolver and what to do next`() {
        assertEquals(Text.of(R.string.dns_private_offer, "dns.example"), DnsText.privateDnsOffer("dns.example", inUse = false))
        assertEquals(Text.of(R.string.dns_private_offer_in_use, "dns.example"), DnsText.privateDnsOffer("dns.example", inUse = true))
    }
}
