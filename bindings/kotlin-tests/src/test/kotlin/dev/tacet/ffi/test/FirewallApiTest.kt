// The bindings without a tunnel: lists, parse reports, name checks, typed
// errors, per-name rules and the store reader. No root needed.
package dev.tacet.ffi.test

import dev.tacet.ffi.CheckResult
import dev.tacet.ffi.CustomRule
import dev.tacet.ffi.CustomRuleKind
import dev.tacet.ffi.Firewall
import dev.tacet.ffi.FirewallException
import dev.tacet.ffi.JournalFilter
import dev.tacet.ffi.StoreReader
import dev.tacet.ffi.Verdict
import dev.tacet.ffi.curatedLists
import dev.tacet.ffi.defaultConfig
import dev.tacet.ffi.parseList
import java.nio.file.Files
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

class FirewallApiTest {
    private fun config(storeDir: String? = null) =
        defaultConfig().copy(upstreams = listOf("127.0.0.1:5399"), storeDir = storeDir)

    @Test
    fun curatedListsAndDefaults() {
        val lists = curatedLists()
        val ids = lists.map { it.id }
        assertTrue("xiaomi-huami-telemetry" in ids, "ids: $ids")
        assertTrue(lists.any { it.isAllowlist }, "a keep-working allowlist ships")
        assertEquals(lists.filter { it.defaultOn }.map { it.id }, defaultConfig().enabledLists)
        assertEquals(10u, defaultConfig().blockTtlSecs)
    }

    @Test
    fun pastedListReportsBadLines() {
        val text = """
            # my list
            ads.tacet.test
            ||tracker.tacet.test^
            0.0.0.0 hosts.tacet.test
            /regex-ads/
            example.com##.banner
            ||nosep.tacet.test
        """.trimIndent()
        val preview = parseList(text)
        Firewall(config(), null).use { firewall ->
            val report = firewall.setCustomList(text)
            assertEquals(preview, report)
            assertEquals(7uL, report.lines)
            // A /regex/ rule and ||name without ^ are AdGuard rules too
            // (#15): only the cosmetic rule is of no use to DNS.
            assertEquals(5uL, report.rules)
            assertEquals(1uL, report.ignored)
            assertEquals(1uL, report.unusedCount)
            assertEquals(listOf(6u), report.unused.map { it.line })
            assertEquals("example.com##.banner", report.unused[0].excerpt)
            assertEquals("cosmetic rule", report.unused[0].kind)
            assertEquals(text, firewall.config().customList)

            // The pasted list applies at once, and says where a rule stands.
            val check = firewall.checkName("X.Ads.Tacet.Test.")
            assertEquals(
                CheckResult("x.ads.tacet.test", Verdict.BLOCKED, "pasted", "Your pasted list", 2u),
                check,
            )
        }
    }

    @Test
    fun checkNameAgainstCuratedLists() {
        Firewall(config(), null).use { firewall ->
            val blocked = firewall.checkName("api-mifit.huami.com")
            assertEquals(Verdict.BLOCKED, blocked.verdict)
            assertEquals("xiaomi-huami-telemetry", blocked.listId)
            assertEquals(Verdict.ALLOWED, firewall.checkName("pool.ntp.org").verdict)
            assertEquals(Verdict.UNLISTED, firewall.checkName("example.com").verdict)
            assertEquals(Verdict.UNLISTED, firewall.checkName("facebook.com").verdict)

            firewall.setListEnabled("facebook", true)
            assertEquals(Verdict.BLOCKED, firewall.checkName("facebook.com").verdict)
            assertTrue("facebook" in firewall.config().enabledLists)
            firewall.setListEnabled("xiaomi-huami-telemetry", false)
            assertEquals(Verdict.UNLISTED, firewall.checkName("api-mifit.huami.com").verdict)

            assertThrows<FirewallException.InvalidInput> { firewall.checkName("not a name") }
        }
    }

    @Test
    fun badConfigIsATypedError() {
        val e = assertThrows<FirewallException.InvalidConfig> {
            Firewall(defaultConfig().copy(upstreams = listOf("dns.google")), null)
        }
        assertTrue(e.reason.contains("dns.google"), e.reason)
        assertThrows<FirewallException.InvalidConfig> {
            Firewall(defaultConfig().copy(enabledLists = listOf("no-such-list")), null)
        }
        Firewall(config(), null).use { firewall ->
            assertThrows<FirewallException.InvalidConfig> { firewall.setListEnabled("nope", true) }
            // A refused change leaves the configuration as it was.
            assertEquals(config(), firewall.config())
        }
    }

    @Test
    fun badFileDescriptorIsATypedError() {
        Firewall(config(), null).use { firewall ->
            for (fd in listOf(-1, 9999)) {
                val e = assertThrows<FirewallException.BadFileDescriptor> { firewall.start(fd) }
                assertEquals(fd, e.fd)
            }
            assertFalse(firewall.isRunning())
            firewall.stop()
            firewall.stop()
            assertEquals(0uL, firewall.stats().queries)
        }
    }

    @Test
    fun blockAndAllowNamesThroughTheStore() {
        val dir = Files.createTempDirectory("tacet-kt-store").toString()
        Firewall(config(dir), null).use { firewall ->
            firewall.blockName("Ads.Tacet.Test")
            assertEquals(Verdict.BLOCKED, firewall.checkName("x.ads.tacet.test").verdict)
            assertEquals("custom", firewall.checkName("ads.tacet.test").listId)
            firewall.allowName("api-mifit.huami.com")
            assertEquals(Verdict.ALLOWED, firewall.checkName("api-mifit.huami.com").verdict)

            StoreReader.open(dir).use { reader ->
                assertEquals(
                    listOf(
                        CustomRule("ads.tacet.test", CustomRuleKind.BLOCK),
                        CustomRule("api-mifit.huami.com", CustomRuleKind.ALLOW),
                    ),
                    reader.customRules(),
                )
                val page = reader.journal(JournalFilter(), null, 10u)
                assertTrue(page.entries.isEmpty())
                assertNull(page.next)
                assertEquals(0uL, reader.counters(5u).blockedTotal)
            }

            firewall.forgetName("ads.tacet.test")
            assertEquals(Verdict.UNLISTED, firewall.checkName("ads.tacet.test").verdict)
            assertThrows<FirewallException.InvalidInput> { firewall.blockName("bad name!") }
        }
        Firewall(config(), null).use { firewall ->
            assertThrows<FirewallException.StoreUnavailable> { firewall.blockName("a.tacet.test") }
        }
    }

    @Test
    fun storeReaderErrorsAreTyped() {
        assertThrows<FirewallException.StoreUnavailable> {
            StoreReader.open("/nonexistent/tacet-store")
        }
        val dir = Files.createTempDirectory("tacet-kt-store").toString()
        StoreReader.open(dir).use { reader ->
            assertThrows<FirewallException.InvalidInput> {
                reader.journal(JournalFilter(), "not-a-cursor", 10u)
            }
            assertThrows<FirewallException.InvalidInput> {
                reader.journal(JournalFilter(client = "phone"), null, 10u)
            }
        }
    }
}
