package dev.tacet.android.present

import dev.tacet.ffi.ParseReport
import java.util.Locale

/**
 * A pasted list's report (`parseList` / `setCustomList`), as the paste box
 * shows it under the text: one summary line, what was used by kind, and the
 * unused lines grouped by why, a few examples per group, so that a
 * 100 000-line paste with 3 000 regular expressions stays readable.
 */
data class ListReportText(
    /** "1 204 rules from 1 210 lines · 4 lines not used · 2 blank or comments". */
    val summary: String,
    /** What was used, by kind ("1 200 domains", "4 hosts lines"). */
    val used: List<String>,
    /** The unused lines, by why, biggest group first. */
    val unused: List<UnusedGroup>,
) {
    /** Unused lines of one kind. */
    data class UnusedGroup(
        /** The kind, as the core labels it (`regular expression`). */
        val kind: String,
        /** How many lines (or names) of this kind were not used. */
        val count: Long,
        /** "line 3: /ads[0-9]/ (why)", at most the cap. */
        val examples: List<String>,
        /** How many more there are than the examples. */
        val more: Long,
    )

    companion object {
        /** Examples shown per group. */
        const val EXAMPLES_PER_GROUP = 3

        /** Groups shown; the rest are folded into the last line. */
        const val MAX_GROUPS = 6

        /** The text for [report], with counts in [locale]. */
        fun of(report: ParseReport, locale: Locale = Locale.getDefault()): ListReportText {
            fun n(value: Long) = String.format(locale, "%,d", value)
            if (report.lines == 0UL) return ListReportText("Nothing pasted yet.", emptyList(), emptyList())

            val unusedCount = report.unusedCount.toLong()
            val summary = buildList {
                add("${n(report.rules.toLong())} ${plural(report.rules.toLong(), "rule")} from ${n(report.lines.toLong())} ${plural(report.lines.toLong(), "line")}")
                add(if (unusedCount == 0L) "every line used" else "${n(unusedCount)} ${plural(unusedCount, "line")} not used")
                if (report.ignored > 0UL) add("${n(report.ignored.toLong())} blank or comments")
            }.joinToString(" · ")

            val used = listOf(
                report.domains to "domain",
                report.hosts to "hosts line",
                report.adblock to "adblock rule",
                report.adblockAllow to "adblock allow rule",
                report.wildcards to "wildcard",
                report.addresses to "address or range",
                report.badfilters to "\$badfilter rule",
            ).filter { it.first > 0UL }.map { (count, what) -> "${n(count.toLong())} ${plural(count.toLong(), what)}" }

            // The examples the core kept (at most 1 000 lines), by kind; the
            // counts come from `problems`, which goes on past that cap.
            val byKind = report.unused.groupBy { it.kind }
            val kinds = (byKind.keys + report.problems.keys).distinct()
            val groups = kinds.map { kind ->
                val examples = byKind[kind].orEmpty()
                val count = maxOf(report.problems[kind]?.toLong() ?: 0L, examples.size.toLong())
                val shown = examples.take(EXAMPLES_PER_GROUP).map { "line ${it.line}: ${it.excerpt} (${it.reason})" }
                UnusedGroup(kind, count, shown, count - shown.size)
            }.sortedWith(compareByDescending<UnusedGroup> { it.count }.thenBy { it.kind })

            val unused = if (groups.size <= MAX_GROUPS) groups else {
                val rest = groups.drop(MAX_GROUPS - 1)
                groups.take(MAX_GROUPS - 1) + UnusedGroup(
                    kind = "${rest.size} other kinds",
                    count = rest.sumOf { it.count },
                    examples = emptyList(),
                    more = rest.sumOf { it.count },
                )
            }
            return ListReportText(summary, used, unused)
        }

        private fun plural(count: Long, word: String) = when {
            count == 1L -> word
            word.endsWith("s") -> "${word}es"
            else -> "${word}s"
        }
    }
}
