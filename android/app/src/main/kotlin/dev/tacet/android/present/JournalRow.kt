package dev.tacet.android.present

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
    /** "14:03 · 12× · com.example.app · Telemetry, line 42". */
    val detail: String,
    /** Whether the firewall blocked it. */
    val blocked: Boolean,
    /**
     * The button's label: "Allow" or "Block"; null where neither helps
     * (a canary name, a stopped resolver bypass, an unreadable answer, a
     * failed query): allowing those names changes nothing the user wants.
     */
    val actionLabel: String?,
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
            val detail = listOfNotNull(
                time,
                entry.count.takeIf { it > 1u }?.let { "$it×" },
                // The app's name as the launcher shows it; its package when it has none.
                entry.app?.let { appLabel(it) ?: it },
                when (entry.action) {
                    JournalAction.BLOCKED -> "blocked: ${reason(entry.reason, listTitles)}"
                    JournalAction.FAILED -> "failed: ${reason(entry.reason, listTitles)}"
                    JournalAction.ALLOWED -> "allowed"
                },
            ).joinToString(" · ")
            val action = when {
                entry.action == JournalAction.FAILED -> null
                entry.reason is JournalReason.Canary || entry.reason is JournalReason.Bypass -> null
                entry.reason is JournalReason.BadAnswer -> null
                blocked -> "Allow"
                else -> "Block"
            }
            return JournalRow(entry.name, detail, blocked, action, entry.app)
        }

        /** Why, in words: which list and line, or what else decided. */
        fun reason(reason: JournalReason, listTitles: Map<String, String>): String = when (reason) {
            is JournalReason.Rule -> "${listName(reason.listId, listTitles)}, line ${reason.line}"
            is JournalReason.Cname ->
                "its alias ${reason.via} is in ${listName(reason.listId, listTitles)}, line ${reason.line}"
            is JournalReason.LearnedAddress -> "connection to ${reason.address}, an address of a blocked name"
            JournalReason.Canary -> "canary name"
            JournalReason.Bypass -> "it tried another resolver than tacet"
            JournalReason.NoRule -> "no rule"
            is JournalReason.BadAnswer -> "the network's resolver sent an answer that could not be read: ${reason.problem}"
        }

        /** A list id as the user knows it. */
        fun listName(listId: String, listTitles: Map<String, String>): String = when (listId) {
            "custom" -> "your block and allow names"
            "pasted" -> "your pasted list"
            else -> listTitles[listId] ?: listId
        }
    }
}

/** The counters line: blocked attempts today and since install. */
object CounterText {
    /** "1,234 today · 56,789 in total", grouped as in [locale]. */
    fun blocked(today: Long, total: Long, locale: Locale = Locale.getDefault()): String =
        String.format(locale, "%,d today · %,d in total", today, total)

    /** The notification's line. */
    fun notification(today: Long, locale: Locale = Locale.getDefault()): String =
        String.format(locale, "%,d blocked attempts today", today)

    /** The local offset from UTC in minutes at [nowMs], as `blockedToday` takes it. */
    fun utcOffsetMinutes(nowMs: Long, zone: ZoneId): Int =
        zone.rules.getOffset(Instant.ofEpochMilli(nowMs)).totalSeconds / 60
}
