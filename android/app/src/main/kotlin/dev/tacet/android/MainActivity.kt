package dev.tacet.android

import android.Manifest
import android.app.Activity
import android.content.Intent
import android.content.pm.PackageManager
import android.net.VpnService
import android.os.Build
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.provider.Settings
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.Switch
import android.widget.TextView
import dev.tacet.android.present.CounterText
import dev.tacet.android.present.DnsText
import dev.tacet.android.present.Text
import dev.tacet.android.tunnel.PauseTimer
import dev.tacet.android.tunnel.TunnelInput
import dev.tacet.android.tunnel.TunnelState
import dev.tacet.android.tunnel.describe
import dev.tacet.ffi.FirewallException
import java.time.ZoneId

/**
 * The main screen: the switch and the tunnel's real state, Private DNS
 * advice, pause buttons, the blocked counters (today, total) and the
 * most-blocked names, and the way to the journal and the lists.
 */
class MainActivity : Activity() {
    private val main = Handler(Looper.getMainLooper())
    private lateinit var status: TextView
    private lateinit var switch: Switch
    private lateinit var privateDns: TextView
    private lateinit var lockdown: TextView
    private lateinit var upstreamNotice: TextView
    private lateinit var dnsButton: android.widget.Button
    private lateinit var pauseRow: LinearLayout
    private lateinit var counters: TextView
    private lateinit var topNames: TextView
    private val observer: () -> Unit = { render(); refreshCounters() }
    // While paused, the time left is redrawn every second (render() re-posts it).
    private val tick = Runnable { render() }
    private var rendering = false

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val page = column()
        status = text(size = 17f, bold = true)
        switch = Switch(this).apply {
            setText(R.string.main_switch)
            textSize = 22f
            setOnCheckedChangeListener { _, on -> if (!rendering) onSwitch(on) }
        }
        privateDns = text().apply { setTextColor(getColor(R.color.warning)) }
        // The DNS screen offers to use the Private DNS resolver over TLS,
        // and opens Android's settings from there.
        privateDns.setOnClickListener { startActivity(Intent(this, DnsActivity::class.java)) }
        upstreamNotice = text().apply { setTextColor(getColor(R.color.warning)) }
        upstreamNotice.setOnClickListener { startActivity(Intent(this, DnsActivity::class.java)) }
        dnsButton = button(getString(R.string.main_open_dns)) { startActivity(Intent(this, DnsActivity::class.java)) }
        lockdown = text().apply { setTextColor(getColor(R.color.warning)) }
        lockdown.setOnClickListener { startActivity(Intent(Settings.ACTION_VPN_SETTINGS)) }
        pauseRow = row()
        counters = text(size = 28f, bold = true)
        topNames = text()
        page.addWide(switch).addWide(status).addWide(lockdown).addWide(privateDns).addWide(upstreamNotice)
            .addWide(pauseRow)
            .addWide(heading(getString(R.string.main_blocked_heading))).addWide(counters)
            .addWide(heading(getString(R.string.main_top_heading))).addWide(topNames)
            .addWide(button(getString(R.string.main_open_journal)) { startActivity(Intent(this, JournalActivity::class.java)) })
            .addWide(button(getString(R.string.main_open_lists)) { startActivity(Intent(this, ListsActivity::class.java)) })
            .addWide(button(getString(R.string.main_open_apps)) { startActivity(Intent(this, AppsActivity::class.java)) })
            .addWide(dnsButton)
        setScreen(R.string.app_name, ScrollView(this).apply { addView(page) })
        // Not again when the activity is recreated (rotation) with the same intent.
        if (savedInstanceState == null) switchOnIfAsked(intent)
    }

    /** singleTop: the tile's "switch on" reaches a main screen already open. */
    override fun onNewIntent(intent: Intent) {
        super.onNewIntent(intent)
        setIntent(intent)
        switchOnIfAsked(intent)
    }

    private fun switchOnIfAsked(intent: Intent?) {
        if (intent?.getBooleanExtra(EXTRA_SWITCH_ON, false) != true) return
        intent.removeExtra(EXTRA_SWITCH_ON)
        onSwitch(true)
    }

    override fun onStart() {
        super.onStart()
        host.observe(observer)
        host.refreshPrivateDns()
        render()
        refreshCounters()
        main.post(tick)
    }

    override fun onStop() {
        host.unobserve(observer)
        main.removeCallbacks(tick)
        super.onStop()
    }

    private fun onSwitch(on: Boolean) {
        if (!on) {
            host.switchOff()
            return
        }
        // Asks once; afterwards (or with Always-on) prepare() returns null.
        // The notification permission is asked after the VPN consent, not
        // over it: two system dialogs at once confuse.
        val consent = VpnService.prepare(this)
        if (consent == null) {
            host.switchOn(this)
            askForNotifications()
        } else {
            startActivityForResult(consent, REQUEST_VPN)
        }
    }

    @Deprecated("Framework Activity result API; androidx is not used here")
    override fun onActivityResult(requestCode: Int, resultCode: Int, data: Intent?) {
        @Suppress("DEPRECATION")
        super.onActivityResult(requestCode, resultCode, data)
        if (requestCode != REQUEST_VPN) return
        if (resultCode == RESULT_OK) {
            host.switchOn(this)
            askForNotifications()
        } else {
            host.update(TunnelInput.SwitchedOn)
            host.update(TunnelInput.StartFailed(Text.of(R.string.main_vpn_refused)))
        }
    }

    /** Android 13+: the live count is a notification, which needs asking. */
    private fun askForNotifications() {
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU &&
            checkSelfPermission(Manifest.permission.POST_NOTIFICATIONS) != PackageManager.PERMISSION_GRANTED
        ) {
            requestPermissions(arrayOf(Manifest.permission.POST_NOTIFICATIONS), REQUEST_NOTIFICATIONS)
        }
    }

    private fun render() {
        val state = host.state
        rendering = true
        switch.isChecked = state.switchChecked
        rendering = false
        status.text = words(state.describe(System.currentTimeMillis(), host.privateDns, host.lockdown))
        status.setTextColor(getColor(stateColor(state)))
        val advice = host.privateDns.advice
        privateDns.text = advice?.let { words(it) } ?: ""
        privateDns.visibility = if (advice == null) TextView.GONE else TextView.VISIBLE
        lockdown.text = if (host.lockdown) getString(R.string.lockdown_advice) else ""
        lockdown.visibility = if (host.lockdown) TextView.VISIBLE else TextView.GONE
        val notice = host.upstreamNotice.takeIf { state.running }
        upstreamNotice.text = notice ?: ""
        upstreamNotice.visibility = if (notice == null) TextView.GONE else TextView.VISIBLE
        pauseRow.removeAllViews()
        when {
            state is TunnelState.Paused -> pauseRow.addWeighted(button(getString(R.string.main_resume)) { host.tunnel?.resume() })
            state.running -> PauseTimer.CHOICES_MINUTES.forEach { m ->
                pauseRow.addWeighted(button(resources.getQuantityString(R.plurals.main_pause, m, m)) { host.tunnel?.pause(m) })
            }
        }
        if (state is TunnelState.Paused) {
            main.removeCallbacks(tick)
            main.postDelayed(tick, 1_000)
        }
    }

    private fun refreshCounters() {
        host.io.execute {
            val now = System.currentTimeMillis()
            val read = try {
                host.openStore()?.use { store ->
                    val today = store.blockedToday(now.toULong(), CounterText.utcOffsetMinutes(now, ZoneId.systemDefault()))
                    val all = store.counters(TOP_NAMES.toUInt())
                    words(CounterText.blocked(today.toLong(), all.blockedTotal.toLong())) to
                        all.topNames.joinToString("\n") { getString(R.string.main_top_name, it.name, it.count.toLong()) }
                            .ifEmpty { getString(R.string.main_nothing_yet) }
                }
            } catch (e: FirewallException) {
                getString(R.string.main_counters_unavailable, FirewallHost.reasonOf(e)) to ""
            }
            val (line, top) = read ?: (words(CounterText.blocked(0, 0)) to getString(R.string.main_nothing_yet))
            // Off the main thread: the first call into the core loads it.
            val dns = words(DnsText.summary(host.settings.load().dns, host.knownResolvers.associate { it.id to it.name }))
            runOnUiThread {
                dnsButton.text = dns
                counters.text = line
                topNames.text = top
            }
        }
    }

    /** The state line's colour: protected, paused, off, or needs attention. */
    private fun stateColor(state: TunnelState): Int = when {
        host.lockdown || host.privateDns.advice != null -> R.color.warning
        state is TunnelState.Failed || state is TunnelState.Revoked -> R.color.warning
        state is TunnelState.Paused -> R.color.state_paused
        state.running -> R.color.state_on
        else -> R.color.state_off
    }

    companion object {
        /** Set by the tile when the VPN permission must be asked first. */
        const val EXTRA_SWITCH_ON = "dev.tacet.android.SWITCH_ON"
        private const val REQUEST_VPN = 1
        private const val REQUEST_NOTIFICATIONS = 2
        private const val TOP_NAMES = 5
    }
}
