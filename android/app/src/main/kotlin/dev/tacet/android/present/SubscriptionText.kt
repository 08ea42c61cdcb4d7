package dev.tacet.android.present

import dev.tacet.ffi.ListUpdate
import dev.tacet.ffi.Subscription
import dev.tacet.ffi.UpdateOutcome
import java.text.NumberFormat
import java.util.Locale

/** What the lists screen says about lists followed by URL. */
object SubscriptionText {
    const val INTRO =
        "Lists followed by their web address are fetched over HTTPS and checked once a day, on " +
            "Wi-Fi; when a download fails or looks wrong, the last good copy keeps blocking."

    private fun count(n: Long): String = NumberFormat.getIntegerInstance(Locale.getDefault()).format(n)

    /** "about 70,000 rules · GPL-3.0" for a catalogue entry. */
    fun catalogLine(approxRules: UInt, licence: String): String = "about ${count(approxRules.toLong())} rules · $licence"

    /** One line of status: how big the copy in use is, when it was checked, what went wrong. */
    fun status(s: Subscription, nowMs: Long): String {
        s.damaged?.let { return "Cannot be read ($it): remove it and subscribe again." }
        val copy = if (s.lastChangedUnixMs == null) {
            "Not fetched yet"
        } else {
            val unused = if (s.unusedLines > 0uL) ", ${count(s.unusedLines.toLong())} lines not used" else ""
            "${count(s.names.toLong())} rules$unused"
        }
        val checked = s.lastCheckedUnixMs?.let { " · checked ${ago(nowMs - it.toLong())}" } ?: ""
        val error = s.lastError?.let { "\nKept the last copy: $it" } ?: ""
        return copy + checked + error
    }

    /** "just now", "5 min ago", "3 h ago", "2 days ago". */
    fun ago(ms: Long): String {
        val minutes = ms.coerceAtLeast(0) / 60_000
        return when {
            minutes < 1 -> "just now"
            minutes < 60 -> "$minutes min ago"
            minutes < 48 * 60 -> "${minutes / 60} h ago"
            else -> "${minutes / (24 * 60)} days ago"
        }
    }

    /** What an update did, for a short message. */
    fun summary(updates: List<ListUpdate>): String {
        if (updates.isEmpty()) return "No list to check."
        val changed = updates.count { it.outcome is UpdateOutcome.Changed }
        val kept = updates.filter { it.outcome is UpdateOutcome.Kept }
        return when {
            kept.isNotEmpty() -> "${kept.first().title}: ${(kept.first().outcome as UpdateOutcome.Kept).reason}" +
                if (kept.size > 1) " (and ${kept.size - 1} more kept their last copy)" else ""
            changed > 0 -> "$changed list${if (changed == 1) "" else "s"} updated"
            else -> "All lists are current"
        }
    }

    /**
     * The web address in a paste, when the paste is one and nothing else
     * (then the lists screen offers to follow it instead of pasting the
     * page's text).
     */
    fun urlIn(pasted: String): String? {
        val text = pasted.trim()
        if (text.isEmpty() || text.any { it.isWhitespace() }) return null
        return text.takeIf { it.startsWith("https://", ignoreCase = true) && text.length > "https://".length + 3 }
    }
}
