package dev.tacet.android

import android.app.Application
import android.content.ContentResolver
import android.net.Uri
import android.provider.OpenableColumns
import dev.tacet.android.present.ExportFiles
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertThrows
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.annotation.Config
import java.io.File
import java.io.FileNotFoundException

/** [ExportProvider] behind the framework's `ContentResolver`, as a share target reads an export. */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35])
class ExportProviderTest {
    private val app: Application = RuntimeEnvironment.getApplication()
    private val resolver: ContentResolver = app.contentResolver
    private val csv = "time,name,action\n2024-05-01T14:03:12Z,app-measurement.com,blocked\n"
    private lateinit var provider: ExportProvider

    private fun uri(segment: String): Uri =
        Uri.Builder().scheme("content").authority(ExportProvider.authority(app)).appendPath(segment).build()

    private val export = uri("tacet-journal-20240501-140312.csv")

    @Before
    fun setUp() {
        provider = Robolectric.setupContentProvider(ExportProvider::class.java, ExportProvider.authority(app))
        val dir = File(app.cacheDir, ExportFiles.DIR).apply { mkdirs() }
        File(dir, "tacet-journal-20240501-140312.csv").writeText(csv)
        File(dir, "tacet-journal-20240501-140313.json").writeText("[]")
        // Named like an export, but outside the export directory: no URI may reach it.
        File(app.cacheDir, "tacet-journal-20240501-140314.csv").writeText("not an export")
    }

    @Test
    fun `a share target reads the export's name, size, type and bytes`() {
        resolver.query(export, null, null, null, null)!!.use { c ->
            assertEquals(1, c.count)
            c.moveToFirst()
            assertEquals("tacet-journal-20240501-140312.csv", c.getString(c.getColumnIndexOrThrow(OpenableColumns.DISPLAY_NAME)))
            assertEquals(csv.length.toLong(), c.getLong(c.getColumnIndexOrThrow(OpenableColumns.SIZE)))
        }
        assertEquals("text/csv", resolver.getType(export))
        assertEquals("application/json", resolver.getType(uri("tacet-journal-20240501-140313.json")))
        assertEquals(csv, resolver.openInputStream(export)!!.use { it.readBytes().decodeToString() })
    }

    @Test
    fun `a query answers the columns asked for, in that order`() {
        resolver.query(export, arrayOf(OpenableColumns.SIZE, "_data"), null, null, null)!!.use { c ->
            assertEquals(listOf(OpenableColumns.SIZE, "_data"), c.columnNames.toList())
            c.moveToFirst()
            assertEquals(csv.length.toLong(), c.getLong(0))
            assertNull(c.getString(1))
        }
    }

    @Test
    fun `only export names, only from the export directory, are served`() {
        val refused = listOf(
            uri("../shared_prefs/tacet.xml"),
            uri("../tacet-journal-20240501-140314.csv"),
            uri("tacet-journal-20240501-140312.csv.bak"),
            uri("tacet-journal-20240501-999999.csv"), // an export's name, but no such file
            Uri.parse("content://${ExportProvider.authority(app)}/export/..%2F..%2Fshared_prefs%2Ftacet.xml"),
        )
        for (u in refused) {
            assertThrows(u.toString(), FileNotFoundException::class.java) { resolver.openInputStream(u) }
            assertNull(u.toString(), resolver.query(u, null, null, null, null))
            assertNull(u.toString(), resolver.getType(u))
        }
    }

    @Test
    fun `exports are read-only`() {
        assertThrows(SecurityException::class.java) { provider.openFile(export, "w") }
        assertThrows(SecurityException::class.java) { provider.openFile(export, "rw") }
        assertThrows(UnsupportedOperationException::class.java) { provider.insert(export, null) }
        assertThrows(UnsupportedOperationException::class.java) { provider.delete(export, null, null) }
        assertThrows(UnsupportedOperationException::class.java) { provider.update(export, null, null, null) }
        assertEquals(csv, File(app.cacheDir, "export/tacet-journal-20240501-140312.csv").readText())
    }
}
