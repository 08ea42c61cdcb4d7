package dev.tacet.android

import android.content.Context
import android.util.Log
import dev.tacet.android.tunnel.AppBypass
import dev.tacet.android.tunnel.DnsChoice
import dev.tacet.android.tunnel.UserSettings
import java.io.File
import java.io.IOException

/**
 * [UserSettings] in `SharedPreferences`, in credential-protected storage:
 * the pasted list may say a lot about the user, and nothing needs it
 * before the first unlock (BOOT_COMPLETED comes after it).
 *
 * The pasted list is a file of its own beside the store ([pastedFile]),
 * not a preference: `SharedPreferences` rewrites its whole file on every
 * change, so a list of megabytes was written again at every switch and
 * pause. The file is written only when the text changed, whole (a
 * temporary file renamed over it), and read once a process.
 */
class SettingsStore(context: Context) {
    private val prefs = context.getSharedPreferences("tacet", Context.MODE_PRIVATE)

    /** Where the pasted list is kept. */
    val pastedFile = File(context.noBackupFilesDir, "pasted-list.txt")

    /** The pasted list as last read or written by this store. */
    @Volatile private var pasted: String? = null

    /** The saved settings. */
    fun load(): UserSettings = UserSettings(
        wantOn = prefs.getBoolean(WANT_ON, false),
        enabledLists = prefs.getString(LISTS, null)?.split(',')?.filter { it.isNotEmpty() },
        customList = pastedList(),
        discovery = prefs.getBoolean(DISCOVERY, false),
        pausedUntilMs = prefs.getLong(PAUSED_UNTIL, 0).takeIf { it > 0 },
        dns = DnsChoice.decode(prefs.getString(DNS, null)),
        bypassApps = AppBypass.normalized(prefs.getStringSet(BYPASS, null).orEmpty()),
    )

    /** Saves [change] applied to the saved settings. */
    @Synchronized
    fun update(change: (UserSettings) -> UserSettings) {
        val s = change(load())
        if (s.customList != pastedList()) writePasted(s.customList)
        prefs.edit()
            .putBoolean(WANT_ON, s.wantOn)
            .putString(LISTS, s.enabledLists?.joinToString(","))
            .putBoolean(DISCOVERY, s.discovery)
            .putLong(PAUSED_UNTIL, s.pausedUntilMs ?: 0)
            .putString(DNS, s.dns.encode())
            .putStringSet(BYPASS, AppBypass.normalized(s.bypassApps))
            .apply()
    }

    /**
     * The pasted list: from this store's memory, else its file, else (a
     * version that kept it in the preferences) moved from there into the
     * file once.
     */
    @Synchronized
    private fun pastedList(): String {
        pasted?.let { return it }
        val text = try {
            if (pastedFile.isFile) pastedFile.readText() else migrate()
        } catch (e: IOException) {
            Log.w(TAG, "pasted list not read: $e")
            ""
        }
        pasted = text
        return text
    }

    private fun migrate(): String {
        val old = prefs.getString(CUSTOM, null) ?: return ""
        writePasted(old)
        // Once, at the first read after the update: at once, not queued.
        prefs.edit().remove(CUSTOM).commit()
        return old
    }

    private fun writePasted(text: String) {
        try {
            pastedFile.parentFile?.mkdirs()
            val tmp = File(pastedFile.path + ".tmp")
            tmp.writeText(text)
            if (!tmp.renameTo(pastedFile)) throw IOException("cannot rename $tmp")
            pasted = text
        } catch (e: IOException) {
            // The list in force stays what it was; the next change tries again.
            Log.w(TAG, "pasted list not saved: $e")
        }
    }

    private companion object {
        const val TAG = "tacet"
        const val WANT_ON = "want_on"
        const val LISTS = "enabled_lists"
        /** Where versions before the pasted list's own file kept it. */
        const val CUSTOM = "custom_list"
        const val DISCOVERY = "discovery"
        const val PAUSED_UNTIL = "paused_until_ms"
        const val DNS = "dns"
        const val BYPASS = "bypass_apps"
    }
}
