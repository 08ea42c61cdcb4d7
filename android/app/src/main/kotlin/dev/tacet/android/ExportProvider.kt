package dev.tacet.android

import android.content.ContentProvider
import android.content.ContentValues
import android.content.Context
import android.database.Cursor
import android.database.MatrixCursor
import android.net.Uri
import android.os.ParcelFileDescriptor
import android.provider.OpenableColumns
import dev.tacet.android.present.ExportFiles
import java.io.File
import java.io.FileNotFoundException

/**
 * Serves journal exports, read-only, to the app the user shares them with
 * (`FLAG_GRANT_READ_URI_PERMISSION`): the framework's stand-in for
 * androidx's FileProvider. Not exported; only names [ExportFiles] accepts,
 * only from the export directory.
 */
class ExportProvider : ContentProvider() {
    override fun onCreate() = true

    private fun fileOf(uri: Uri): File? {
        val context = context ?: return null
        return ExportFiles.resolve(File(context.cacheDir, ExportFiles.DIR), uri.lastPathSegment)?.takeIf { it.isFile }
    }

    override fun getType(uri: Uri): String? = fileOf(uri)?.let { ExportFiles.mimeType(it.name) }

    /** Name and size: what share targets (mail, drive) ask before reading. */
    override fun query(
        uri: Uri, projection: Array<out String>?, selection: String?, selectionArgs: Array<out String>?, sortOrder: String?,
    ): Cursor? {
        val file = fileOf(uri) ?: return null
        val columns = projection ?: arrayOf(OpenableColumns.DISPLAY_NAME, OpenableColumns.SIZE)
        return MatrixCursor(columns, 1).apply {
            addRow(
                columns.map {
                    when (it) {
                        OpenableColumns.DISPLAY_NAME -> file.name
                        OpenableColumns.SIZE -> file.length()
                        else -> null
                    }
                },
            )
        }
    }

    override fun openFile(uri: Uri, mode: String): ParcelFileDescriptor {
        if (mode != "r") throw SecurityException("exports are read-only")
        val file = fileOf(uri) ?: throw FileNotFoundException("no such export")
        return ParcelFileDescriptor.open(file, ParcelFileDescriptor.MODE_READ_ONLY)
    }

    override fun insert(uri: Uri, values: ContentValues?): Uri? = throw UnsupportedOperationException("read-only")
    override fun delete(uri: Uri, selection: String?, selectionArgs: Array<out String>?): Int =
        throw UnsupportedOperationException("read-only")
    override fun update(uri: Uri, values: ContentValues?, selection: String?, selectionArgs: Array<out String>?): Int =
        throw UnsupportedOperationException("read-only")

    companion object {
        /** The authority declared in the manifest. */
        fun authority(context: Context) = "${context.packageName}.export"
    }
}
