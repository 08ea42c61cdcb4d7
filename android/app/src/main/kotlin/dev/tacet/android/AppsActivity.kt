package dev.tacet.android

import android.app.Activity
import android.content.Intent
import android.graphics.drawable.Drawable
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.view.Gravity
import android.view.View
import android.view.ViewGroup
import android.widget.BaseAdapter
import android.widget.ImageView
import android.widget.LinearLayout
import android.widget.ListView
import android.widget.Switch
import android.widget.TextView
import dev.tacet.android.tunnel.AppBypass

/**
 * Per-app bypass: every app with a launcher icon, with its label, icon and
 * a switch; an app switched on goes straight to the network, past the
 * firewall (`addDisallowedApplication` when the tunnel is built). Saved in
 * [SettingsStore]; a change gives the running service a new tunnel, with
 * the rules as they are.
 */
class AppsActivity : Activity() {
    /** One launchable app. */
    data class App(val pkg: String, val label: String)

    private val main = Handler(Looper.getMainLooper())
    private val apps = mutableListOf<App>()
    private val icons = HashMap<String, Drawable?>()
    private var excluded: Set<String> = emptySet()
    private lateinit var adapter: AppAdapter
    private lateinit var summary: TextView
    private lateinit var empty: TextView
    // Several switches in a row make one new tunnel, not one each.
    private var applyPending = false
    private val applyToTunnel = Runnable {
        applyPending = false
        host.tunnel?.appsChanged()
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        excluded = host.settings.load().bypassApps
        // The explanation scrolls away with the apps: at a large font size
        // it would otherwise leave the list a sliver of the screen.
        val header = column(0).apply { setPadding(dp(16), 0, dp(16), 0) }
        header.addWide(text(getString(R.string.apps_intro), 14f))
        summary = text(bold = true).apply { setPadding(0, dp(8), 0, dp(4)) }
        empty = text(getString(R.string.apps_loading)).apply { setPadding(0, dp(24), 0, dp(8)) }
        header.addWide(summary).addWide(empty)
        adapter = AppAdapter()
        val list = ListView(this).apply {
            addHeaderView(header, null, false)
            adapter = this@AppsActivity.adapter
        }
        setScreen(R.string.apps_title, list)
        renderSummary()
        load()
    }

    override fun onStop() {
        // Leaving the screen applies a pending change now.
        if (applyPending) {
            main.removeCallbacks(applyToTunnel)
            applyToTunnel.run()
        }
        super.onStop()
    }

    /** Reads the launchable apps and their labels off the main thread (hundreds of them). */
    private fun load() {
        val first = excluded
        host.io.execute { loadOn(first) }
    }

    private fun loadOn(first: Set<String>) {
        val pm = packageManager
        val launcher = Intent(Intent.ACTION_MAIN).addCategory(Intent.CATEGORY_LAUNCHER)
        val found = pm.queryIntentActivities(launcher, 0).mapNotNull { it.activityInfo?.packageName }.distinct().mapNotNull { pkg ->
            val info = try {
                pm.getApplicationInfo(pkg, 0)
            } catch (_: android.content.pm.PackageManager.NameNotFoundException) {
                return@mapNotNull null // uninstalled meanwhile
            }
            App(pkg, pm.getApplicationLabel(info).toString().ifBlank { pkg })
        }
        val ordered = AppBypass.ordered(found, first, packageName, pkg = App::pkg, label = App::label)
        runOnUiThread {
            apps.clear()
            apps += ordered
            empty.text = getString(R.string.apps_none)
            empty.visibility = if (apps.isEmpty()) View.VISIBLE else View.GONE
            adapter.notifyDataSetChanged()
        }
    }

    private fun setExcluded(pkg: String, skip: Boolean) {
        excluded = if (skip) excluded + pkg else excluded - pkg
        val saved = excluded
        host.settings.update { it.copy(bypassApps = saved) }
        renderSummary()
        main.removeCallbacks(applyToTunnel)
        applyPending = true
        main.postDelayed(applyToTunnel, APPLY_DELAY_MS)
    }

    private fun renderSummary() {
        summary.text = if (excluded.isEmpty()) {
            getString(R.string.apps_skipping_none)
        } else {
            resources.getQuantityString(R.plurals.apps_skipping, excluded.size, excluded.size)
        }
    }

    private fun iconOf(pkg: String): Drawable? = icons.getOrPut(pkg) {
        try {
            packageManager.getApplicationIcon(pkg)
        } catch (_: android.content.pm.PackageManager.NameNotFoundException) {
            null
        }
    }

    private inner class AppAdapter : BaseAdapter() {
        override fun getCount() = apps.size
        override fun getItem(position: Int) = apps[position]
        override fun getItemId(position: Int) = position.toLong()

        override fun getView(position: Int, convertView: View?, parent: ViewGroup?): View {
            val app = apps[position]
            return row().apply {
                gravity = Gravity.CENTER_VERTICAL
                setPadding(dp(16), dp(6), dp(16), dp(6))
                addView(ImageView(this@AppsActivity).apply {
                    setImageDrawable(iconOf(app.pkg) ?: packageManager.defaultActivityIcon)
                    contentDescription = app.label
                }, LinearLayout.LayoutParams(dp(40), dp(40)).apply { marginEnd = dp(12) })
                addWeighted(column(0).addWide(text(app.label, 16f)).addWide(text(app.pkg, 12f)))
                addView(Switch(this@AppsActivity).apply {
                    isChecked = app.pkg in excluded
                    contentDescription = getString(R.string.apps_skip_description, app.label)
                    setOnCheckedChangeListener { _, on -> setExcluded(app.pkg, on) }
                })
            }
        }
    }

    private companion object {
        const val APPLY_DELAY_MS = 1_500L
    }
}
