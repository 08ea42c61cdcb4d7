package dev.tacet.android.present

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
        assertEquals("14:29 · 12× · com.example.fitness · blocked: Google telemetry, line 42", row.detail)
        assertEquals("Allow", row.actionLabel)
    }

    @Test
    fun `the app is named as the launcher names it, by its package when it has no label`() {
        val labels = mapOf("com.example.fitness" to "Zepp Life")
        val row = JournalRow.of(entry(app = "com.example.fitness"), titles, now, zone, Locale.US, labels::get)
        assertEquals("14:29 · Zepp Life · blocked: Google telemetry, line 42", row.detail)
        assertEquals("com.example.fitness", row.app)
        val unknown = JournalRow.of(entry(app = "uid 10234"), titles, now, zone, Locale.US, labels::get)
        assertEquals("14:29 · uid 10234 · blocked: Google telemetry, line 42", unknown.detail)
    }

    @Test
    fun `an allowed entry from another day offers Block`() {
        val row = JournalRow.of(
            entry(action = JournalAction.ALLOWED, reason = JournalReason.NoRule, lastMs = now - 2 * 86_400_000L),
            titles, now, zone, Locale.US,
        )
        assertEquals("29 Apr 14:30 · allowed", row.detail)
        assertEquals("Block", row.actionLabel)
    }

    @Test
    fun `a failed entry says the answer could not be read`() {
        val row = JournalRow.of(
            entry(action = JournalAction.FAILED, reason = JournalReason.BadAnswer("the answer is not marked as a response")),
            titles, now, zone, Locale.US,
        )
        assertEquals(
            "14:29 · failed: the network's resolver sent an answer that could not be read: " +
                "the answer is not marked as a response",
            row.detail,
        )
        assertNull(row.actionLabel)
    }

    @Test
    fun `a canary or a stopped resolver bypass offers no Allow, a blocked address does`() {
        assertNull(JournalRow.of(entry(reason = JournalReason.Canary), titles, now, zone, Locale.US).actionLabel)
        assertNull(JournalRow.of(entry(reason = JournalReason.Bypass), titles, now, zone, Locale.US).actionLabel)
        val address = JournalRow.of(entry(reason = JournalReason.LearnedAddress("192.0.2.7")), titles, now, zone, Locale.US)
        assertEquals("Allow", address.actionLabel)
    }

    @Test
    fun `every reason reads as words`() {
        assertEquals("your pasted list, line 3", JournalRow.reason(JournalReason.Rule("pasted", 3u), titles))
        assertEquals("your block and allow names, line 1", JournalRow.reason(JournalReason.Rule("custom", 1u), titles))
        assertEquals("some-new-list, line 2", JournalRow.reason(JournalReason.Rule("some-new-list", 2u), titles))
        assertEquals(
            "its alias t.example is in Google telemetry, line 7",
            JournalRow.reason(JournalReason.Cname("t.example", "telemetry-google", 7u), titles),
        )
        assertEquals(
            "connection to 203.0.113.9, an address of a blocked name",
            JournalRow.reason(JournalReason.LearnedAddress("203.0.113.9"), titles),
        )
        assertEquals("it tried another resolver than tacet", JournalRow.reason(JournalReason.Bypass, titles))
        assertEquals("canary name", JournalRow.reason(JournalReason.Canary, titles))
    }

    @Test
    fun `counters read with the locale's grouping`() {
        assertEquals("1,234 today · 56,789 in total", CounterText.blocked(1_234, 56_789, Locale.US))
        assertEquals("7 blocked attempts today", CounterText.notification(7, Locale.US))
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
