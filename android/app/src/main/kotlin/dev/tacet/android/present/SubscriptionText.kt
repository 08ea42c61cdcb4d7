package dev.tacet.android.present

import dev.tacet.android.R
import dev.tacet.ffi.ListUpdate
import dev.tacet.ffi.Subscription
import dev.tacet.ffi.UpdateOutcome

/** What the lists screen says about lists followed by URL. */
object SubscriptionText {
    val INTRO = Text.of(R.string.subs_intro)

    /** "about 70,000 rules · GPL-3.0" for a catalogue entry. */
    fun catalogLine(approxRules: UInt, licence: String): Text = Text.of(R.string.subs_catalog_line, approxRules.toLong(), licence)

    /** One line of status: how big the copy in use is, when it was checked, what went wrong. */
    fun status(s: Subscription, nowMs: Long): Text {
        s.damaged?.let { return Text.of(R.string.subs_damaged, it) }
        val copy = when {
            s.lastChangedUnixMs == null -> Text.of(R.string.subs_not_fetched)
            s.unusedLines > 0uL -> Text.plural(R.plurals.subs_rules_unused, s.unusedLines.toLong(), Text.plural(R.plurals.subs_rules, s.names.toLong()))
            else -> Text.plural(R.plurals.subs_rules, s.names.toLong())
        }
        val checked = s.lastCheckedUnixMs?.let { Text.of(R.string.subs_checked, ago(nowMs - it.toLong())) }
        val line = Text.Joined(listOfNotNull(copy, checked), R.string.separator_parts)
        val error = s.lastError?.let { Text.of(R.string.subs_kept_copy, it) }
        return Text.Joined(listOfNotNull(line, error), R.string.separator_lines)
    }

    /** "just now", "5 min ago", "3 h ago", "2 days ago". */
    fun ago(ms: Long): Text {
        val minutes = ms.coerceAtLeast(0) / 60_000
        return when {
            minutes < 1 -> Text.of(R.string.ago_now)
            minutes < 60 -> Text.plural(R.plurals.ago_minutes, minutes)
            minutes < 48 * 60 -> Text.plural(R.plurals.ago_hours, minutes / 60)
            else -> Text.plural(R.plurals.ago_days, minutes / (24 * 60))
        }
    }

    /** What an update did, for a short message. */
    fun summary(updates: List<ListUpdate>): Text {
        if (updates.isEmpty()) return Text.of(R.string.subs_none_to_check)
        val changed = updates.count { it.outcome is UpdateOutcome.Changed }
        val kept = updates.filter { it.outcome is UpdateOutcome.Kept }
        val first = kept.firstOrNull()
        return when {
            first != null -> {
                val reason = (first.outcome as UpdateOutcome.Kept).reason
                if (kept.size == 1) {
                    Text.of(R.string.subs_kept, first.title, reason)
                } else {
                    Text.plural(R.plurals.subs_kept_and_more, kept.size - 1L, first.title, reason)
                }
            }
            changed > 0 -> Text.plural(R.plurals.subs_updated, changed.toLong())
            else -> Text.of(R.string.subs_all_current)
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
