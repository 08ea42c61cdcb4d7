package dev.tacet.android.present

import dev.tacet.android.R
import dev.tacet.ffi.JournalAction
import dev.tacet.ffi.JournalEntry
import dev.tacet.ffi.JournalReason
import java.time.Instant
import java.time.LocalDate
import java.time.ZoneId
import java.time.format.DateTimeFormatter
import java.util.Locale

/**
 * One journal entry as the journal screen shows it: the name, a line of
 * detail (when, how often, which app, why), and the one-tap button that
 * does the opposite of what happened (Allow a blocked name, Block an
 * allowed one).
 */
data class JournalRow(
    /** The name asked for. */
    val name: String,
    /** "14:03 · 12× · com.example.app · blocked: Telemetry, line 42". */
    val detail: Text,
    /** Whether the firewall blocked it. */
    val blocked: Boolean,
    /**
     * The button's label (`R.string`): "Allow" or "Block"; null where neither helps
     * (a canary name, a stopped resolver bypass, an unreadable answer, a
     * failed query): allowing those names changes nothing the user wants.
     */
    val actionLabel: Int?,
    /** The package of the app that asked, when known (for its icon). */
    val app: String? = null,
) {
    companion object {
        /** The row for [entry], with times in [zone], "today" relative to [nowMs]. */
        fun of(
            entry: JournalEntry,
            listTitles: Map<String, String>,
            nowMs: Long,
            zone: ZoneId,
            locale: Locale = Locale.getDefault(),
            appLabel: (String) -> String? = { null },
        ): JournalRow {
            val at = Instant.ofEpochMilli(entry.lastUnixMs.toLong()).atZone(zone)
            val today = LocalDate.ofInstant(Instant.ofEpochMilli(nowMs), zone)
            val time = if (at.toLocalDate() == today) {
                at.format(DateTimeFormatter.ofPattern("HH:mm", locale))
            } else {
                at.format(DateTimeFormatter.ofPattern("d MMM HH:mm", locale))
            }
            val blocked = entry.action == JournalAction.BLOCKED
            val detail = Text.Joined(
                listOfNotNull(
                    Text.Raw(time),
                    entry.count.takeIf { it > 1u }?.let { Text.plural(R.plurals.journal_times, it.toLong()) },
                    // The app's name as the launcher shows it; its package when it has none.
                    entry.app?.let { Text.Raw(appLabel(it) ?: it) },
                    when (entry.action) {
                        JournalAction.BLOCKED -> Text.of(R.string.journal_blocked_because, reason(entry.reason, listTitles))
                        JournalAction.FAILED -> Text.of(R.string.journal_failed_because, reason(entry.reason, listTitles))
                        JournalAction.ALLOWED -> Text.of(R.string.journal_allowed)
                    },
                ),
                R.string.separator_parts,
            )
            val action = when {
                entry.action == JournalAction.FAILED -> null
                entry.reason is JournalReason.Canary || entry.reason is JournalReason.Bypass -> null
                entry.reason is JournalReason.BadAnswer -> null
                blocked -> R.string.journal_allow
                else -> R.string.journal_block
            }
            return JournalRow(entry.name, detail, blocked, action, entry.app)
        }

        /** Why, in words: which list and line, or what else decided. */
        fun reason(reason: JournalReason, listTitles: Map<String, String>): Text = when (reason) {
            is JournalReason.Rule -> Text.of(R.string.reason_rule, listName(reason.listId, listTitles), reason.line.toLong())
            is JournalReason.Cname ->
                Text.of(R.string.reason_cname, reason.via, listName(reason.listId, listTitles), reason.line.toLong())
            is JournalReason.LearnedAddress -> Text.of(R.string.reason_learned_address, reason.address)
            JournalReason.Canary -> Text.of(R.string.reason_canary)
            JournalReason.Bypass -> Text.of(R.string.reason_bypass)
            JournalReason.NoRule -> Text.of(R.string.reason_no_rule)
            is JournalReason.BadAnswer -> Text.of(R.string.reason_bad_answer, reason.problem)
        }

        /** A list id as the user knows it. */
        fun listName(listId: String, listTitles: Map<String, String>): Text = when (listId) {
            "custom" -> Text.of(R.string.list_custom)
            "pasted" -> Text.of(R.string.list_pasted)
            else -> Text.Raw(listTitles[listId] ?: listId)
        }
    }
}

/** The counters line: blocked attempts today and since install. */
object CounterText {
    /** "1,234 today · 56,789 in total". */
    fun blocked(today: Long, total: Long): Text = Text.of(R.string.counter_blocked, today, total)

    /** The notification's line. */
    fun notification(today: Long): Text = Text.plural(R.plurals.counter_notification, today)

    /** The local offset from UTC in minutes at [nowMs], as `blockedToday` takes it. */
    fun utcOffsetMinutes(nowMs: Long, zone: ZoneId): Int =
        zone.rules.getOffset(Instant.ofEpochMilli(nowMs)).totalSeconds / 60
}
