package dev.tacet.android.present

import dev.tacet.android.R
import dev.tacet.ffi.ParseReport

/**
 * A pasted list's report (`parseList` / `setCustomList`), as the paste box
 * shows it under the text: one summary line, what was used by kind, and the
 * unused lines grouped by why, a few examples per group, so that a
 * 100 000-line paste with 3 000 regular expressions stays readable.
 */
data class ListReportText(
    /** "1,204 rules from 1,210 lines · 4 lines not used · 2 blank or comments". */
    val summary: Text,
    /** What was used, by kind ("1,200 domains", "4 hosts lines"). */
    val used: List<Text>,
    /** The unused lines, by why, biggest group first. */
    val unused: List<UnusedGroup>,
) {
    /** Unused lines of one kind. */
    data class UnusedGroup(
        /** The kind, as the core labels it (`regular expression`), or "4 other kinds". */
        val kind: Text,
        /** How many lines (or names) of this kind were not used. */
        val count: Long,
        /** "line 3: /ads[0-9]/ (why)", at most the cap. */
        val examples: List<Text>,
        /** How many more there are than the examples. */
        val more: Long,
    )

    companion object {
        /** Examples shown per group. */
        const val EXAMPLES_PER_GROUP = 3

        /** Groups shown; the rest are folded into the last line. */
        const val MAX_GROUPS = 6

        /** The text for [report]. */
        fun of(report: ParseReport): ListReportText {
            if (report.lines == 0UL) return ListReportText(Text.of(R.string.report_nothing), emptyList(), emptyList())

            val unusedCount = report.unusedCount.toLong()
            val rules = Text.plural(R.plurals.report_rules, report.rules.toLong())
            val summary = Text.Joined(
                listOfNotNull(
                    Text.plural(R.plurals.report_rules_from_lines, report.lines.toLong(), rules),
                    if (unusedCount == 0L) Text.of(R.string.report_all_used) else Text.plural(R.plurals.report_unused, unusedCount),
                    report.ignored.takeIf { it > 0UL }?.let { Text.plural(R.plurals.report_ignored, it.toLong()) },
                ),
                R.string.separator_parts,
            )

            val used = listOf(
                report.domains to R.plurals.report_domains,
                report.hosts to R.plurals.report_hosts,
                report.adblock to R.plurals.report_adblock,
                report.adblockAllow to R.plurals.report_adblock_allow,
                report.wildcards to R.plurals.report_wildcards,
                report.addresses to R.plurals.report_addresses,
                report.badfilters to R.plurals.report_badfilters,
            ).filter { it.first > 0UL }.map { (count, what) -> Text.plural(what, count.toLong()) }

            // The examples the core kept (at most 1 000 lines), by kind; the
            // counts come from `problems`, which goes on past that cap.
            val byKind = report.unused.groupBy { it.kind }
            val kinds = (byKind.keys + report.problems.keys).distinct()
            val groups = kinds.map { kind ->
                val examples = byKind[kind].orEmpty()
                val count = maxOf(report.problems[kind]?.toLong() ?: 0L, examples.size.toLong())
                val shown = examples.take(EXAMPLES_PER_GROUP).map {
                    Text.of(R.string.report_example, it.line.toLong(), it.excerpt, it.reason)
                }
                kind to UnusedGroup(Text.Raw(kind), count, shown, count - shown.size)
            }.sortedWith(compareByDescending<Pair<String, UnusedGroup>> { it.second.count }.thenBy { it.first }).map { it.second }

            val unused = if (groups.size <= MAX_GROUPS) groups else {
                val rest = groups.drop(MAX_GROUPS - 1)
                groups.take(MAX_GROUPS - 1) + UnusedGroup(
                    kind = Text.plural(R.plurals.report_other_kinds, rest.size.toLong()),
                    count = rest.sumOf { it.count },
                    examples = emptyList(),
                    more = rest.sumOf { it.count },
                )
            }
            return ListReportText(summary, used, unused)
        }
    }
}
