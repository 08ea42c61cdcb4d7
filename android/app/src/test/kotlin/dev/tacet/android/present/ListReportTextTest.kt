package dev.tacet.android.present

import dev.tacet.ffi.ParseReport
import dev.tacet.ffi.UnusedLine
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import java.util.Locale

class ListReportTextTest {
    private fun report(
        lines: Long = 0, rules: Long = 0, ignored: Long = 0, domains: Long = 0, hosts: Long = 0,
        unused: List<UnusedLine> = emptyList(), problems: Map<String, Long> = emptyMap(),
        unusedCount: Long = unused.size.toLong(),
    ) = ParseReport(
        lines = lines.toULong(), rules = rules.toULong(), ignored = ignored.toULong(),
        unusedCount = unusedCount.toULong(), hosts = hosts.toULong(), domains = domains.toULong(),
        adblock = 0u, adblockAllow = 0u, wildcards = 0u, addresses = 0u, badfilters = 0u,
        unused = unused, problems = problems.mapValues { it.value.toULong() },
    )

    private fun line(n: Int, kind: String) = UnusedLine(n.toUInt(), "/ads$n/", "$kind is not supported", kind)

    @Test
    fun `an empty paste says so`() {
        assertEquals("Nothing pasted yet.", ListReportText.of(report(), Locale.US).summary)
    }

    @Test
    fun `a clean list gives counts by kind`() {
        val text = ListReportText.of(report(lines = 1_210, rules = 1_212, ignored = 10, domains = 1_198, hosts = 1), Locale.US)
        assertEquals("1,212 rules from 1,210 lines · every line used · 10 blank or comments", text.summary)
        assertEquals(listOf("1,198 domains", "1 hosts line"), text.used)
        assertEquals(emptyList<ListReportText.UnusedGroup>(), text.unused)
    }

    @Test
    fun `unused lines are grouped by why, biggest first, with a few examples each`() {
        val unused = (1..5).map { line(it, "regular expression") } + line(9, "invalid name")
        val text = ListReportText.of(
            report(lines = 20, rules = 14, domains = 14, unused = unused,
                problems = mapOf("regular expression" to 5, "invalid name" to 1)),
            Locale.US,
        )
        assertEquals("14 rules from 20 lines · 6 lines not used", text.summary)
        assertEquals(listOf("regular expression", "invalid name"), text.unused.map { it.kind })
        val regex = text.unused[0]
        assertEquals(5, regex.count)
        assertEquals(
            listOf(
                "line 1: /ads1/ (regular expression is not supported)",
                "line 2: /ads2/ (regular expression is not supported)",
                "line 3: /ads3/ (regular expression is not supported)",
            ),
            regex.examples,
        )
        assertEquals(2, regex.more)
        assertEquals(0, text.unused[1].more)
    }

    @Test
    fun `counts go on past the core's 1000 kept lines`() {
        val unused = (1..1000).map { line(it, "regular expression") }
        val text = ListReportText.of(
            report(lines = 5000, unused = unused, unusedCount = 4000, problems = mapOf("regular expression" to 4000)),
            Locale.US,
        )
        assertEquals(4000, text.unused.single().count)
        assertEquals(3997, text.unused.single().more)
        assertEquals("0 rules from 5,000 lines · 4,000 lines not used", text.summary)
    }

    @Test
    fun `many kinds are folded into one last group`() {
        val kinds = (1..9).map { "kind $it" }
        val problems = kinds.withIndex().associate { (i, k) -> k to (20L - i) }
        val text = ListReportText.of(report(lines = 200, unusedCount = problems.values.sum(), problems = problems), Locale.US)
        assertEquals(ListReportText.MAX_GROUPS, text.unused.size)
        val last = text.unused.last()
        assertEquals("4 other kinds", last.kind)
        assertEquals(15L + 14 + 13 + 12, last.count)
    }
}
