package dev.tacet.android

import android.content.Context
import dev.tacet.android.tunnel.AppBypass
import dev.tacet.android.tunnel.DnsChoice
import dev.tacet.android.tunnel.UserSettings

/**
 * [UserSettings] in `SharedPreferences`, in credential-protected storage:
 * the pasted list may say a lot about the user, and nothing needs it
 * before the first unlock (BOOT_COMPLETED comes after it).
 */
class SettingsStore(context: Context) {
    private val prefs = context.getSharedPreferences("tacet", Context.MODE_PRIVATE)

    /** The saved settings. */
    fun load(): UserSettings = UserSettings(
        wantOn = prefs.getBoolean(WANT_ON, false),
        enabledLists = prefs.getString(LISTS, null)?.split(',')?.filter { it.isNotEmpty() },
        customList = prefs.getString(CUSTOM, "") ?: "",
        discovery = prefs.getBoolean(DISCOVERY, false),
        pausedUntilMs = prefs.getLong(PAUSED_UNTIL, 0).takeIf { it > 0 },
        dns = DnsChoice.decode(prefs.getString(DNS, null)),
        bypassApps = AppBypass.normalized(prefs.getStringSet(BYPASS, null).orEmpty()),
    )

    /** Saves [change] applied to the saved settings. */
    @Synchronized
    fun update(change: (UserSettings) -> UserSettings) {
        val s = change(load())
        prefs.edit()
            .putBoolean(WANT_ON, s.wantOn)
            .putString(LISTS, s.enabledLists?.joinToString(","))
            .putString(CUSTOM, s.customList)
            .putBoolean(DISCOVERY, s.discovery)
            .putLong(PAUSED_UNTIL, s.pausedUntilMs ?: 0)
            .putString(DNS, s.dns.encode())
            .putStringSet(BYPASS, AppBypass.normalized(s.bypassApps))
            .apply()
    }

    private companion object {
        const val WANT_ON = "want_on"
        const val LISTS = "enabled_lists"
        const val CUSTOM = "custom_list"
        const val DISCOVERY = "discovery"
        const val PAUSED_UNTIL = "paused_until_ms"
        const val DNS = "dns"
        const val BYPASS = "bypass_apps"
    }
}
