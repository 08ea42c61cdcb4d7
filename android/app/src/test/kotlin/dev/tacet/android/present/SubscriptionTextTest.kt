package dev.tacet.android.present

import dev.tacet.android.R
import dev.tacet.ffi.ListUpdate
import dev.tacet.ffi.Subscription
import dev.tacet.ffi.UpdateOutcome
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Test
import java.util.Locale

class SubscriptionTextTest {
    init {
        Locale.setDefault(Locale.US)
    }

    private val now = 1_800_000_000_000L

    // Built by hand, as ListSubscriptions.list() returns them (it needs the native library).
    private fun sub(changed: Long? = now - 3_600_000, error: String? = null, unused: ULong = 0u) = Subscription(
        id = "hagezi-light", url = "https://example.org/light.txt", title = "HaGeZi Light",
        addedUnixMs = 0u, lastCheckedUnixMs = (now - 7_200_000).toULong(), lastSuccessUnixMs = null,
        lastChangedUnixMs = changed?.toULong(), names = 70_123u, lines = 70_200u, unusedLines = unused,
        bytes = 1_000_000u, lastError = error, failures = 0u, nextCheckUnixMs = null, damaged = null,
    )

    private fun rules(n: Long) = Text.plural(R.plurals.subs_rules, n)
    private val twoHoursAgo = Text.of(R.string.subs_checked, Text.plural(R.plurals.ago_hours, 2))
    private fun status(vararg line: Text, error: Text? = null) =
        Text.Joined(listOfNotNull(Text.Joined(line.toList(), R.string.separator_parts), error), R.string.separator_lines)

    @Test
    fun `the status says the copy's size, when it was checked, and what went wrong`() {
        assertEquals(status(rules(70_123), twoHoursAgo), SubscriptionText.status(sub(), now))
        assertEquals(
            status(Text.plural(R.plurals.subs_rules_unused, 3, rules(70_123)), twoHoursAgo),
            SubscriptionText.status(sub(unused = 3u), now),
        )
        assertEquals(status(Text.of(R.string.subs_not_fetched), twoHoursAgo), SubscriptionText.status(sub(changed = null), now))
        assertEquals(
            status(rules(70_123), twoHoursAgo, error = Text.of(R.string.subs_kept_copy, "HTTP 404")),
            SubscriptionText.status(sub(error = "HTTP 404"), now),
        )
        val damaged = sub().copy(damaged = "its status file is not JSON")
        assertEquals(Text.of(R.string.subs_damaged, "its status file is not JSON"), SubscriptionText.status(damaged, now))
    }

    @Test
    fun `times are said the way people say them`() {
        assertEquals(Text.of(R.string.ago_now), SubscriptionText.ago(10_000))
        assertEquals(Text.plural(R.plurals.ago_minutes, 5), SubscriptionText.ago(5 * 60_000))
        assertEquals(Text.plural(R.plurals.ago_hours, 3), SubscriptionText.ago(3 * 3_600_000))
        assertEquals(Text.plural(R.plurals.ago_days, 3), SubscriptionText.ago(3 * 86_400_000L))
        assertEquals(Text.of(R.string.ago_now), SubscriptionText.ago(-5))
    }

    @Test
    fun `an update's summary leads with what went wrong`() {
        assertEquals(Text.of(R.string.subs_none_to_check), SubscriptionText.summary(emptyList()))
        assertEquals(Text.of(R.string.subs_all_current), SubscriptionText.summary(listOf(ListUpdate("a", "A", UpdateOutcome.Unchanged))))
        assertEquals(
            Text.plural(R.plurals.subs_updated, 1),
            SubscriptionText.summary(listOf(ListUpdate("a", "A", UpdateOutcome.Changed(0u, 5u)))),
        )
        assertEquals(
            Text.of(R.string.subs_kept, "B", "HTTP 500"),
            SubscriptionText.summary(listOf(ListUpdate("b", "B", UpdateOutcome.Kept("HTTP 500")))),
        )
        assertEquals(
            Text.plural(R.plurals.subs_kept_and_more, 1, "B", "a web page, not a list"),
            SubscriptionText.summary(
                listOf(
                    ListUpdate("a", "A", UpdateOutcome.Changed(0u, 5u)),
                    ListUpdate("b", "B", UpdateOutcome.Kept("a web page, not a list")),
                    ListUpdate("c", "C", UpdateOutcome.Kept("HTTP 500")),
                ),
            ),
        )
    }

    @Test
    fun `only a paste that is one https address is offered to follow`() {
        assertEquals("https://example.org/list.txt", SubscriptionText.urlIn("  https://example.org/list.txt\n"))
        assertNull(SubscriptionText.urlIn("http://example.org/list.txt"))
        assertNull(SubscriptionText.urlIn("https://example.org/a.txt\nads.example"))
        assertNull(SubscriptionText.urlIn("ads.example"))
        assertNull(SubscriptionText.urlIn("https://"))
    }
}
