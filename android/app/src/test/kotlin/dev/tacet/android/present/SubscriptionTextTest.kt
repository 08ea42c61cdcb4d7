package dev.tacet.android.present

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

    @Test
    fun `the status says the copy's size, when it was checked, and what went wrong`() {
        assertEquals("70,123 rules · checked 2 h ago", SubscriptionText.status(sub(), now))
        assertEquals("70,123 rules, 3 lines not used · checked 2 h ago", SubscriptionText.status(sub(unused = 3u), now))
        assertEquals("Not fetched yet · checked 2 h ago", SubscriptionText.status(sub(changed = null), now))
        assertEquals(
            "70,123 rules · checked 2 h ago\nKept the last copy: HTTP 404",
            SubscriptionText.status(sub(error = "HTTP 404"), now),
        )
        val damaged = sub().copy(damaged = "its status file is not JSON")
        assertEquals("Cannot be read (its status file is not JSON): remove it and subscribe again.", SubscriptionText.status(damaged, now))
    }

    @Test
    fun `times are said the way people say them`() {
        assertEquals("just now", SubscriptionText.ago(10_000))
        assertEquals("5 min ago", SubscriptionText.ago(5 * 60_000))
        assertEquals("3 h ago", SubscriptionText.ago(3 * 3_600_000))
        assertEquals("3 days ago", SubscriptionText.ago(3 * 86_400_000L))
        assertEquals("just now", SubscriptionText.ago(-5))
    }

    @Test
    fun `an update's summary leads with what went wrong`() {
        assertEquals("No list to check.", SubscriptionText.summary(emptyList()))
        assertEquals("All lists are current", SubscriptionText.summary(listOf(ListUpdate("a", "A", UpdateOutcome.Unchanged))))
        assertEquals("1 list updated", SubscriptionText.summary(listOf(ListUpdate("a", "A", UpdateOutcome.Changed(0u, 5u)))))
        assertEquals(
            "B: a web page, not a list (and 1 more kept their last copy)",
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
