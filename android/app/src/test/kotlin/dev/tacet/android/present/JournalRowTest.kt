package dev.tacet.android.present

import dev.tacet.android.R
import dev.tacet.ffi.ExportFormat
import dev.tacet.ffi.JournalAction
import dev.tacet.ffi.JournalEntry
import dev.tacet.ffi.JournalReason
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Test
import java.io.File
import java.time.ZoneId
import java.time.ZonedDateTime
import java.util.Locale

class JournalRowTest {
    private fun parts(vararg parts: Text) = Text.Joined(parts.toList(), R.string.separator_parts)
    private val googleLine42 = Text.of(R.string.journal_blocked_because, Text.of(R.string.reason_rule, Text.Raw("Google telemetry"), 42L))
    private val zone = ZoneId.of("Europe/Paris")
    private val now = ZonedDateTime.of(2024, 5, 1, 14, 30, 0, 0, zone).toInstant().toEpochMilli()
    private val titles = mapOf("telemetry-google" to "Google telemetry")

    private fun entry(
        action: JournalAction = JournalAction.BLOCKED,
        reason: JournalReason = JournalReason.Rule("telemetry-google", 42u),
        lastMs: Long = now - 60_000,
        count: UInt = 1u,
        app: String? = null,
    ) = JournalEntry(
        seq = 1u, timeUnixMs = lastMs.toULong(), lastUnixMs = lastMs.toULong(), name = "app-measurement.com",
        qtype = 1u, qtypeName = "A", action = action, reason = reason, client = "10.111.222.1", app = app, count = count,
    )

    @Test
    fun `a blocked entry today shows time, count, app, list and line, and an Allow button`() {
        val row = JournalRow.of(entry(count = 12u, app = "com.example.fitness"), titles, now, zone, Locale.US)
        assertEquals("app-measurement.com", row.name)
        assertEquals(parts(Text.Raw("14:29"), Text.plural(R.plurals.journal_times, 12), Text.Raw("com.example.fitness"), googleLine42), row.detail)
        assertEquals(R.string.journal_allow, row.actionLabel)
    }

    @Test
    fun `the app is named as the launcher names it, by its package when it has no label`() {
        val labels = mapOf("com.example.fitness" to "Zepp Life")
        val row = JournalRow.of(entry(app = "com.example.fitness"), titles, now, zone, Locale.US, labels::get)
        assertEquals(parts(Text.Raw("14:29"), Text.Raw("Zepp Life"), googleLine42), row.detail)
        assertEquals("com.example.fitness", row.app)
        val unknown = JournalRow.of(entry(app = "uid 10234"), titles, now, zone, Locale.US, labels::get)
        assertEquals(parts(Text.Raw("14:29"), Text.Raw("uid 10234"), googleLine42), unknown.detail)
    }

    @Test
    fun `an allowed entry from another day offers Block`() {
        val row = JournalRow.of(
            entry(action = JournalAction.ALLOWED, reason = JournalReason.NoRule, lastMs = now - 2 * 86_400_000L),
            titles, now, zone, Locale.US,
        )
        assertEquals(parts(Text.Raw("29 Apr 14:30"), Text.of(R.string.journal_allowed)), row.detail)
        assertEquals(R.string.journal_block, row.actionLabel)
    }

    @Test
    fun `a failed entry says the answer could not be read`() {
        val row = JournalRow.of(
            entry(action = JournalAction.FAILED, reason = JournalReason.BadAnswer("the answer is not marked as a response")),
            titles, now, zone, Locale.US,
        )
        assertEquals(
            parts(
                Text.Raw("14:29"),
                Text.of(R.string.journal_failed_because, Text.of(R.string.reason_bad_answer, "the answer is not marked as a response")),
            ),
            row.detail,
        )
        assertNull(row.actionLabel)
    }

    @Test
    fun `a canary or a stopped resolver bypass offers no Allow, a blocked address does`() {
        assertNull(JournalRow.of(entry(reason = JournalReason.Canary), titles, now, zone, Locale.US).actionLabel)
        assertNull(JournalRow.of(entry(reason = JournalReason.Bypass), titles, now, zone, Locale.US).actionLabel)
        val address = JournalRow.of(entry(reason = JournalReason.LearnedAddress("192.0.2.7")), titles, now, zone, Locale.US)
        assertEquals(R.string.journal_allow, address.actionLabel)
    }

    @Test
    fun `every reason reads as words`() {
        assertEquals(Text.of(R.string.reason_rule, Text.of(R.string.list_pasted), 3L), JournalRow.reason(JournalReason.Rule("pasted", 3u), titles))
        assertEquals(Text.of(R.string.reason_rule, Text.of(R.string.list_custom), 1L), JournalRow.reason(JournalReason.Rule("custom", 1u), titles))
        assertEquals(Text.of(R.string.reason_rule, Text.Raw("some-new-list"), 2L), JournalRow.reason(JournalReason.Rule("some-new-list", 2u), titles))
        assertEquals(
            Text.of(R.string.reason_cname, "t.example", Text.Raw("Google telemetry"), 7L),
            JournalRow.reason(JournalReason.Cname("t.example", "telemetry-google", 7u), titles),
        )
        assertEquals(
            Text.of(R.string.reason_learned_address, "203.0.113.9"),
            JournalRow.reason(JournalReason.LearnedAddress("203.0.113.9"), titles),
        )
        assertEquals(Text.of(R.string.reason_bypass), JournalRow.reason(JournalReason.Bypass, titles))
        assertEquals(Text.of(R.string.reason_canary), JournalRow.reason(JournalReason.Canary, titles))
    }

    @Test
    fun `counters say today's and all blocked attempts`() {
        assertEquals(Text.of(R.string.counter_blocked, 1_234L, 56_789L), CounterText.blocked(1_234, 56_789))
        assertEquals(Text.plural(R.plurals.counter_notification, 7), CounterText.notification(7))
        assertEquals(120, CounterText.utcOffsetMinutes(now, zone)) // CEST
    }

    @Test
    fun `export files are named by time and only those names are served`() {
        val name = ExportFiles.fileName(now, zone, ExportFormat.CSV)
        assertEquals("tacet-journal-20240501-143000.csv", name)
        assertEquals("tacet-journal-20240501-143000.json", ExportFiles.fileName(now, zone, ExportFormat.JSON))
        val dir = File("/cache/export")
        assertEquals(File(dir, name), ExportFiles.resolve(dir, name))
        assertNull(ExportFiles.resolve(dir, "../shared_prefs/tacet.xml"))
        assertNull(ExportFiles.resolve(dir, "tacet-journal-20240501-143000.csv/../../x"))
        assertNull(ExportFiles.resolve(dir, null))
        assertEquals("text/csv", ExportFiles.mimeType(name))
        assertEquals("application/json", ExportFiles.mimeType("tacet-journal-20240501-143000.json"))
    }
}
