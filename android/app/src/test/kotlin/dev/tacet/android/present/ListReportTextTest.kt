package dev.tacet.android.present

import dev.tacet.android.R
import dev.tacet.ffi.ParseReport
import dev.tacet.ffi.UnusedLine
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test

class ListReportTextTest {
    private fun summary(lines: Long, rules: Long, vararg rest: Text) = Text.Joined(
        listOf(Text.plural(R.plurals.report_rules_from_lines, lines, Text.plural(R.plurals.report_rules, rules))) + rest,
        R.string.separator_parts,
    )
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
        assertEquals(Text.of(R.string.report_nothing), ListReportText.of(report()).summary)
    }

    @Test
    fun `a clean list gives counts by kind`() {
        val text = ListReportText.of(report(lines = 1_210, rules = 1_212, ignored = 10, domains = 1_198, hosts = 1))
        assertEquals(summary(1_210, 1_212, Text.of(R.string.report_all_used), Text.plural(R.plurals.report_ignored, 10)), text.summary)
        assertEquals(listOf(Text.plural(R.plurals.report_domains, 1_198), Text.plural(R.plurals.report_hosts, 1)), text.used)
        assertEquals(emptyList<ListReportText.UnusedGroup>(), text.unused)
    }

    @Test
    fun `unused lines are grouped by why, biggest first, with a few examples each`() {
        val unused = (1..5).map { line(it, "regular expression") } + line(9, "invalid name")
        val text = ListReportText.of(
            report(lines = 20, rules = 14, domains = 14, unused = unused,
                problems = mapOf("regular expression" to 5, "invalid name" to 1)),
        )
        assertEquals(summary(20, 14, Text.plural(R.plurals.report_unused, 6)), text.summary)
        assertEquals(listOf(Text.Raw("regular expression"), Text.Raw("invalid name")), text.unused.map { it.kind })
        val regex = text.unused[0]
        assertEquals(5, regex.count)
        assertEquals(
            (1..3).map { Text.of(R.string.report_example, it.toLong(), "/ads$it/", "regular expression is not supported") },
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
        )
        assertEquals(4000, text.unused.single().count)
        assertEquals(3997, text.unused.single().more)
        assertEquals(summary(5_000, 0, Text.plural(R.plurals.report_unused, 4_000)), text.summary)
    }

    @Test
    fun `many kinds are folded into one last group`() {
        val kinds = (1..9).map { "kind $it" }
        val problems = kinds.withIndex().associate { (i, k) -> k to (20L - i) }
        val text = ListReportText.of(report(lines = 200, unusedCount = problems.values.sum(), problems = problems))
        assertEquals(ListReportText.MAX_GROUPS, text.unused.size)
        val last = text.unused.last()
        assertEquals(Text.plural(R.plurals.report_other_kinds, 4), last.kind)
        assertEquals(15L + 14 + 13 + 12, last.count)
    }
}
