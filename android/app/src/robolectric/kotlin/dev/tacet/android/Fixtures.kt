package dev.tacet.android

import android.app.Application
import android.content.ComponentName
import android.content.Intent
import android.content.IntentFilter
import android.content.pm.ApplicationInfo
import android.content.pm.PackageInfo
import dev.tacet.ffi.JournalAction
import dev.tacet.ffi.JournalEntry
import dev.tacet.ffi.JournalPage
import dev.tacet.ffi.JournalReason
import org.robolectric.Shadows.shadowOf

/** Installs an app with a launcher activity and [label] into Robolectric's package manager. */
fun Application.installLaunchable(pkg: String, label: String) {
    val pm = shadowOf(packageManager)
    pm.installPackage(PackageInfo().apply {
        packageName = pkg
        applicationInfo = ApplicationInfo().apply {
            packageName = pkg
            nonLocalizedLabel = label
        }
    })
    val main = ComponentName(pkg, "$pkg.Main")
    pm.addActivityIfNotPresent(main)
    pm.addIntentFilterForActivity(main, IntentFilter(Intent.ACTION_MAIN).apply { addCategory(Intent.CATEGORY_LAUNCHER) })
}

/** A morning's journal of a phone with a fitness band, a social app and a game, newest first. */
fun sampleJournal(nowMs: Long): List<JournalEntry> {
    fun entry(seq: Int, minutesAgo: Int, name: String, app: String?, count: UInt, reason: JournalReason, action: JournalAction = JournalAction.BLOCKED) =
        JournalEntry(
            seq = seq.toULong(), timeUnixMs = (nowMs - minutesAgo * 60_000L - 3_600_000L).toULong(),
            lastUnixMs = (nowMs - minutesAgo * 60_000L).toULong(), name = name, qtype = 1u, qtypeName = "A",
            action = action, reason = reason, client = "10.111.222.1", app = app, count = count,
        )
    return listOf(
        entry(9, 1, "api-mifit.huami.com", "com.xiaomi.hm.health", 312u, JournalReason.Rule("xiaomi", 12u)),
        entry(8, 3, "graph.facebook.com", "com.instagram.android", 41u, JournalReason.Rule("facebook", 3u)),
        entry(7, 7, "app-measurement.com", "com.king.candycrush", 17u, JournalReason.Rule("telemetry-google", 42u)),
        entry(6, 12, "use-application-dns.net", null, 2u, JournalReason.Canary),
        entry(5, 20, "mon.tiktokv.com", "com.zhiliaoapp.musically", 9u, JournalReason.Rule("tiktok", 7u)),
        entry(4, 33, "weather.example.com", "com.example.weather", 1u, JournalReason.NoRule, JournalAction.ALLOWED),
    )
}

/** Makes the journal screen read [entries], as the store would give them. */
fun TacetApplication.showJournal(entries: List<JournalEntry>) {
    host.journalPage = { filter, _, _ ->
        JournalPage(entries.filter { e -> filter.nameContains?.let { e.name.contains(it) } ?: true }, null)
    }
}
