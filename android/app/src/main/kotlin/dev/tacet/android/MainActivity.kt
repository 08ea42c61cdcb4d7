package dev.tacet.android

import android.Manifest
import android.app.Activity
import android.content.Intent
import android.content.pm.PackageManager
import android.graphics.Color
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
import dev.tacet.android.present.LockdownText
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
        title = "tacet"
        val page = column()
        status = text(size = 17f, bold = true)
        switch = Switch(this).apply {
            text = "Firewall"
            textSize = 20f
            setOnCheckedChangeListener { _, on -> if (!rendering) onSwitch(on) }
        }
        privateDns = text().apply { setTextColor(Color.rgb(0xB0, 0x30, 0x20)) }
        // The DNS screen offers to use the Private DNS resolver over TLS,
        // and opens Android's settings from there.
        privateDns.setOnClickListener { startActivity(Intent(this, DnsActivity::class.java)) }
        upstreamNotice = text().apply { setTextColor(Color.rgb(0xB0, 0x30, 0x20)) }
        upstreamNotice.setOnClickListener { startActivity(Intent(this, DnsActivity::class.java)) }
        dnsButton = button("DNS") { startActivity(Intent(this, DnsActivity::class.java)) }
        lockdown = text().apply { setTextColor(Color.rgb(0xB0, 0x30, 0x20)) }
        lockdown.setOnClickListener { startActivity(Intent(Settings.ACTION_VPN_SETTINGS)) }
        pauseRow = row()
        counters = text(size = 22f, bold = true)
        topNames = text()
        page.addWide(switch).addWide(status).addWide(lockdown).addWide(privateDns).addWide(upstreamNotice)
            .addWide(pauseRow)
            .addWide(heading("Blocked attempts")).addWide(counters)
            .addWide(heading("Most blocked")).addWide(topNames)
            .addWide(button("Journal: what was blocked, and which app tried") { startActivity(Intent(this, JournalActivity::class.java)) })
            .addWide(button("Lists, keep-working names and your own list") { startActivity(Intent(this, ListsActivity::class.java)) })
            .addWide(dnsButton)
        setContentView(ScrollView(this).apply { addView(page) })
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
            host.update(TunnelInput.StartFailed("the VPN permission was not given"))
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
        status.text = state.describe(System.currentTimeMillis(), host.privateDns)
        val advice = host.privateDns.advice
        privateDns.text = advice ?: ""
        privateDns.visibility = if (advice == null) TextView.GONE else TextView.VISIBLE
        lockdown.text = if (host.lockdown) LockdownText.ADVICE else ""
        lockdown.visibility = if (host.lockdown) TextView.VISIBLE else TextView.GONE
        val notice = host.upstreamNotice.takeIf { state.running }
        upstreamNotice.text = notice ?: ""
        upstreamNotice.visibility = if (notice == null) TextView.GONE else TextView.VISIBLE
        pauseRow.removeAllViews()
        when {
            state is TunnelState.Paused -> pauseRow.addWeighted(button("Resume now") { host.tunnel?.resume() })
            state.running -> PauseTimer.CHOICES_MINUTES.forEach { m ->
                pauseRow.addWeighted(button("Pause $m min") { host.tunnel?.pause(m) })
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
                    CounterText.blocked(today.toLong(), all.blockedTotal.toLong()) to
                        all.topNames.joinToString("\n") { "${it.name}  ${it.count}" }.ifEmpty { "Nothing yet." }
                }
            } catch (e: FirewallException) {
                "Counters unavailable: ${FirewallHost.reasonOf(e)}" to ""
            }
            val (line, top) = read ?: (CounterText.blocked(0, 0) to "Nothing yet.")
            // Off the main thread: the first call into the core loads it.
            val dns = DnsText.summary(host.settings.load().dns, host.knownResolvers.associate { it.id to it.name })
            runOnUiThread {
                dnsButton.text = dns
                counters.text = line
                topNames.text = top
            }
        }
    }

    companion object {
        /** Set by the tile when the VPN permission must be asked first. */
        const val EXTRA_SWITCH_ON = "dev.tacet.android.SWITCH_ON"
        private const val REQUEST_VPN = 1
        private const val REQUEST_NOTIFICATIONS = 2
        private const val TOP_NAMES = 5
    }
}
