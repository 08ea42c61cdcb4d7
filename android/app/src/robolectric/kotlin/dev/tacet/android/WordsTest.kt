package dev.tacet.android

import android.content.res.Resources
import dev.tacet.android.present.CounterText
import dev.tacet.android.present.DnsText
import dev.tacet.android.present.JournalRow
import dev.tacet.android.present.ListReportText
import dev.tacet.android.present.SubscriptionText
import dev.tacet.android.tunnel.PrivateDnsMode
import dev.tacet.android.tunnel.StartRetry
import dev.tacet.android.tunnel.TunnelState
import dev.tacet.android.tunnel.describe
import dev.tacet.android.tunnel.headline
import dev.tacet.ffi.JournalAction
import dev.tacet.ffi.JournalEntry
import dev.tacet.ffi.JournalReason
import dev.tacet.ffi.ListUpdate
import dev.tacet.ffi.ParseReport
import dev.tacet.ffi.Subscription
import dev.tacet.ffi.UnusedLine
import dev.tacet.ffi.UpdateOutcome
import dev.tacet.ffi.UpstreamEntry
import dev.tacet.ffi.UpstreamKind
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.annotation.Config
import java.time.ZoneId
import java.time.ZonedDateTime
import java.util.Locale

/**
 * The English the formatters of present/ and tunnel/ come to, through the
 * app's own strings.xml: the JUnit tests check ids and arguments, these
 * check that the words, the plurals and the number grouping read right.
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35], qualifiers = "en-rUS")
class WordsTest {
    private val res: Resources = RuntimeEnvironment.getApplication().resources

    @Test
    fun `the state line, and the tile's word for it`() {
        val strict = PrivateDnsMode.Strict("dns.example")
        assertEquals("Off: nothing is blocked", res.words(TunnelState.Off.describe(0)))
        assertEquals("On: blocking", res.words(TunnelState.On.describe(0)))
        assertEquals("On, but bypassed: Private DNS sends DNS to dns.example", res.words(TunnelState.On.describe(0, strict)))
        assertEquals(
            "On, but apps are cut off: \"Block connections without VPN\" is on",
            res.words(TunnelState.On.describe(0, strict, lockdown = true)),
        )
        assertEquals("Paused: everything allowed for 4:59", res.words(TunnelState.Paused(300_000).describe(1_000)))
        assertEquals(
            "Paused for 4:59, but apps are cut off: \"Block connections without VPN\" is on",
            res.words(TunnelState.Paused(300_000).describe(1_000, lockdown = true)),
        )
        assertEquals(
            "Starting: waiting for a retry in 4 s (no upstream has a route)",
            res.words(TunnelState.Starting(StartRetry.waitingFor("no upstream has a route", 4_000)).describe(0)),
        )
        assertEquals("On, but bypassed", res.words(TunnelState.On.headline(strict)))
        assertEquals("Apps cut off", res.words(TunnelState.On.headline(strict, lockdown = true)))
        assertEquals("On", res.words(TunnelState.On.headline()))
        val advice = res.words(strict.advice!!)
        assertTrue(advice, advice.startsWith("Private DNS is set to \"dns.example\", so your phone"))
        assertTrue(advice, "tacet ask dns.example itself" in advice && "Off or Automatic" in advice)
    }

    private fun ok(text: String) = UpstreamEntry(text, UpstreamKind.TLS, "192.0.2.9:853", "dns.example", null)

    @Test
    fun `the DNS screen's reports`() {
        assertEquals("In use: 1 encrypted server.", res.words(DnsText.customReport(listOf(ok("tls://a#d")), 16).message))
        assertEquals("In use: 2 encrypted servers.", res.words(DnsText.customReport(listOf(ok("tls://a#d"), ok("tls://b#d")), 16).message))
        val bad = DnsText.customReport(
            listOf(ok("tls://a#d"), UpstreamEntry("tls://dns.example", null, null, null, "give the address, not the name"), UpstreamEntry("x", null, null, null, null)),
            16,
        )
        assertEquals("Line 2, tls://dns.example: give the address, not the name\nLine 3, x: not a DNS server", res.words(bad.message))
        assertEquals("At most 16 servers: 17 were typed.", res.words(DnsText.customReport(List(17) { ok("tls://$it#d") }, 16).message))
        assertEquals("DNS: Quad9, encrypted", res.words(DnsText.summary(dev.tacet.android.tunnel.DnsChoice.Known("quad9"), mapOf("quad9" to "Quad9"))))
    }

    private val now = 1_800_000_000_000L

    private fun sub(unused: ULong = 0u, error: String? = null) = Subscription(
        id = "hagezi-light", url = "https://example.org/light.txt", title = "HaGeZi Light",
        addedUnixMs = 0u, lastCheckedUnixMs = (now - 7_200_000).toULong(), lastSuccessUnixMs = null,
        lastChangedUnixMs = (now - 3_600_000).toULong(), names = 70_123u, lines = 70_200u, unusedLines = unused,
        bytes = 1_000_000u, lastError = error, failures = 0u, nextCheckUnixMs = null, damaged = null,
    )

    @Test
    fun `the lists screen's status lines and update summaries`() {
        assertEquals("70,123 rules · checked 2 h ago", res.words(SubscriptionText.status(sub(), now)))
        assertEquals("70,123 rules, 1 line not used · checked 2 h ago", res.words(SubscriptionText.status(sub(unused = 1u), now)))
        assertEquals("70,123 rules, 3 lines not used · checked 2 h ago", res.words(SubscriptionText.status(sub(unused = 3u), now)))
        assertEquals(
            "70,123 rules · checked 2 h ago\nKept the last copy: HTTP 404",
            res.words(SubscriptionText.status(sub(error = "HTTP 404"), now)),
        )
        assertEquals("47 h ago", res.words(SubscriptionText.ago(47 * 3_600_000L)))
        assertEquals("2 days ago", res.words(SubscriptionText.ago(48 * 3_600_000L)))
        assertEquals("3 days ago", res.words(SubscriptionText.ago(3 * 86_400_000L)))
        assertEquals("about 70,000 rules · GPL-3.0", res.words(SubscriptionText.catalogLine(70_000u, "GPL-3.0")))
        val changed = ListUpdate("a", "A", UpdateOutcome.Changed(0u, 5u))
        assertEquals("1 list updated", res.words(SubscriptionText.summary(listOf(changed))))
        assertEquals("2 lists updated", res.words(SubscriptionText.summary(listOf(changed, changed))))
        assertEquals(
            "B: a web page, not a list (and 1 more kept their last copy)",
            res.words(
                SubscriptionText.summary(
                    listOf(changed, ListUpdate("b", "B", UpdateOutcome.Kept("a web page, not a list")), ListUpdate("c", "C", UpdateOutcome.Kept("HTTP 500"))),
                ),
            ),
        )
    }

    @Test
    fun `the paste report`() {
        val report = ParseReport(
            lines = 1_210u, rules = 1_212u, ignored = 1u, unusedCount = 1u, hosts = 1u, domains = 1_198u,
            adblock = 0u, adblockAllow = 0u, wildcards = 0u, addresses = 2u, badfilters = 0u,
            unused = listOf(UnusedLine(3u, "/ads/", "regular expressions are not supported", "regular expression")),
            problems = mapOf("regular expression" to 1uL),
        )
        val text = ListReportText.of(report)
        assertEquals("1,212 rules from 1,210 lines · 1 line not used · 1 blank or comment", res.words(text.summary))
        assertEquals(listOf("1,198 domains", "1 hosts line", "2 addresses or ranges"), text.used.map { res.words(it) })
        assertEquals("regular expression", res.words(text.unused.single().kind))
        assertEquals(listOf("line 3: /ads/ (regular expressions are not supported)"), text.unused.single().examples.map { res.words(it) })
    }

    @Test
    fun `a journal row and the counters`() {
        val zone = ZoneId.of("Europe/Paris")
        val at = ZonedDateTime.of(2024, 5, 1, 14, 29, 0, 0, zone).toInstant().toEpochMilli()
        val entry = JournalEntry(
            seq = 1u, timeUnixMs = at.toULong(), lastUnixMs = at.toULong(), name = "app-measurement.com",
            qtype = 1u, qtypeName = "A", action = JournalAction.BLOCKED, reason = JournalReason.Rule("telemetry-google", 42u),
            client = "10.111.222.1", app = "com.example.fitness", count = 12u,
        )
        val row = JournalRow.of(entry, mapOf("telemetry-google" to "Google telemetry"), at + 60_000, zone, Locale.US)
        assertEquals("14:29 · 12× · com.example.fitness · blocked: Google telemetry, line 42", res.words(row.detail))
        assertEquals("Allow", res.getString(row.actionLabel!!))
        assertEquals("your pasted list, line 3", res.words(JournalRow.reason(JournalReason.Rule("pasted", 3u), emptyMap())))
        assertEquals(
            "its alias t.example is in your block and allow names, line 7",
            res.words(JournalRow.reason(JournalReason.Cname("t.example", "custom", 7u), emptyMap())),
        )
        assertEquals("1,234 today · 56,789 in total", res.words(CounterText.blocked(1_234, 56_789)))
        assertEquals("1 blocked attempt today", res.words(CounterText.notification(1)))
        assertEquals("1,234 blocked attempts today", res.words(CounterText.notification(1_234)))
    }
}
