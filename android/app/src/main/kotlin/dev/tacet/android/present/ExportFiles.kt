package dev.tacet.android.present

import dev.tacet.ffi.ExportFormat
import java.io.File
import java.time.Instant
import java.time.ZoneId
import java.time.format.DateTimeFormatter

/**
 * The journal export files the share sheet reads through the app's own
 * content provider: how they are named, and which names the provider
 * serves (only those, only from the export directory, so that a crafted
 * URI cannot reach any other file of the app).
 */
object ExportFiles {
    /** The directory under the app's cache dir. */
    const val DIR = "export"

    private val NAME = Regex("""tacet-journal-\d{8}-\d{6}\.(csv|json)""")

    /** "tacet-journal-20240501-140312.csv". */
    fun fileName(nowMs: Long, zone: ZoneId, format: ExportFormat): String {
        val stamp = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").format(Instant.ofEpochMilli(nowMs).atZone(zone))
        val ext = if (format == ExportFormat.JSON) "json" else "csv"
        return "tacet-journal-$stamp.$ext"
    }

    /** The file a URI's last path segment names inside [dir], or null if it is not an export's name. */
    fun resolve(dir: File, segment: String?): File? =
        segment?.takeIf { NAME.matches(it) }?.let { File(dir, it) }

    /** The MIME type of an export, from its name. */
    fun mimeType(name: String): String = if (name.endsWith(".json")) "application/json" else "text/csv"
}
