package dev.tacet.android

import android.app.Activity
import android.content.Intent
import android.net.ConnectivityManager
import android.os.Bundle
import android.provider.Settings
import android.text.InputType
import android.text.SpannableStringBuilder
import android.text.Spanned
import android.text.style.RelativeSizeSpan
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.RadioButton
import android.widget.RadioGroup
import android.widget.ScrollView
import android.widget.TextView
import dev.tacet.android.present.DnsText
import dev.tacet.android.tunnel.DnsChoice
import dev.tacet.android.tunnel.PrivateDnsMode
import dev.tacet.ffi.parseUpstreams
import dev.tacet.ffi.privateDnsUpstreams

/**
 * Where tacet sends the names it lets through: the network's own DNS
 * (plain), one of the core's well-known encrypted resolvers, or the
 * user's own; and, when Android's strict Private DNS is set, the offer to
 * use that same resolver over TLS so that turning Private DNS off (which
 * tacet needs) keeps DNS encrypted.
 */
class DnsActivity : Activity() {
    private lateinit var choices: RadioGroup
    private lateinit var custom: EditText
    private lateinit var customReport: TextView
    private lateinit var offer: LinearLayout
    private var rendering = false

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val page = column()
        page.addWide(text(words(DnsText.INTRO), 14f))
        offer = column(0)
        page.addWide(offer)
        choices = RadioGroup(this)
        choices.addView(choice(NETWORK_ID, words(DnsText.NETWORK_TITLE), words(DnsText.NETWORK_DETAIL)))
        host.knownResolvers.forEachIndexed { i, r -> choices.addView(choice(KNOWN_ID + i, r.name, getString(R.string.dns_encrypted, r.description))) }
        choices.addView(choice(CUSTOM_ID, words(DnsText.CUSTOM_TITLE), words(DnsText.CUSTOM_DETAIL)))
        choices.setOnCheckedChangeListener { _, id -> if (!rendering) onChoice(id) }
        page.addWide(heading(getString(R.string.dns_ask_heading))).addWide(choices)
        custom = EditText(this).apply {
            hint = "tls://9.9.9.9#dns.quad9.net"
            inputType = InputType.TYPE_CLASS_TEXT or InputType.TYPE_TEXT_FLAG_MULTI_LINE or InputType.TYPE_TEXT_VARIATION_URI
            minLines = 2
            contentDescription = getString(R.string.dns_custom_description)
        }
        customReport = text(size = 13f)
        page.addWide(custom).addWide(button(getString(R.string.dns_check_custom)) { useCustom(custom.text.toString()) })
            .addWide(customReport)
        setScreen(R.string.dns_title, ScrollView(this).apply { addView(page) })
        render()
    }

    override fun onStart() {
        super.onStart()
        host.refreshPrivateDns()
        render()
    }

    private fun choice(id: Int, title: String, detail: String): RadioButton = RadioButton(this).apply {
        this.id = id
        text = SpannableStringBuilder(title).append("\n")
            .append(detail, RelativeSizeSpan(0.85f), Spanned.SPAN_EXCLUSIVE_EXCLUSIVE)
        textSize = 16f
        setPadding(dp(8), dp(8), 0, dp(8))
    }

    private fun render() {
        val dns = host.settings.load().dns
        rendering = true
        choices.check(
            when (dns) {
                DnsChoice.Network -> NETWORK_ID
                is DnsChoice.Known -> KNOWN_ID + host.knownResolvers.indexOfFirst { it.id == dns.id }.coerceAtLeast(0)
                is DnsChoice.Custom -> CUSTOM_ID
            },
        )
        rendering = false
        if (dns is DnsChoice.Custom && custom.text.isEmpty()) custom.setText(dns.entries.joinToString("\n"))
        renderOffer(host.privateDns, dns)
    }

    /** The Private DNS offer, when strict Private DNS is set. */
    private fun renderOffer(mode: PrivateDnsMode, dns: DnsChoice) {
        offer.removeAllViews()
        if (mode !is PrivateDnsMode.Strict) return
        val inUse = dns is DnsChoice.Custom && dns.entries.all { it.endsWith("#${mode.serverName}") }
        offer.addWide(heading(getString(R.string.dns_private_heading)))
        offer.addWide(text(words(DnsText.privateDnsOffer(mode.serverName, inUse)), 14f))
        if (!inUse) offer.addWide(button(getString(R.string.dns_use_private, mode.serverName)) { usePrivateDns(mode.serverName) })
        offer.addWide(button(getString(R.string.dns_open_settings)) { startActivity(Intent(Settings.ACTION_WIRELESS_SETTINGS)) })
    }

    private fun onChoice(id: Int) {
        when {
            id == NETWORK_ID -> save(DnsChoice.Network)
            id == CUSTOM_ID -> useCustom(custom.text.toString())
            else -> host.knownResolvers.getOrNull(id - KNOWN_ID)?.let { save(DnsChoice.Known(it.id)) }
        }
    }

    /** Checks the typed entries with the core; saves them only when all are usable. */
    private fun useCustom(text: String) {
        val typed = DnsChoice.typed(text)
        if (typed.isEmpty()) {
            customReport.text = words(DnsText.CUSTOM_EMPTY)
            render()
            return
        }
        host.io.execute {
            val report = DnsText.customReport(parseUpstreams(typed), DnsChoice.MAX_ENTRIES)
            runOnUiThread {
                customReport.text = words(report.message)
                if (report.usable) save(DnsChoice.Custom(typed)) else render()
            }
        }
    }

    /**
     * Looks up the Private DNS provider's addresses on the real network (as
     * Android itself does for its Private DNS), off the main thread, and
     * uses them over TLS with the provider's name checked.
     */
    private fun usePrivateDns(serverName: String) {
        customReport.text = getString(R.string.dns_looking_up, serverName)
        host.io.execute {
            val addresses = try {
                val cm = getSystemService(ConnectivityManager::class.java)
                cm.activeNetwork?.getAllByName(serverName)?.mapNotNull { it.hostAddress }.orEmpty()
            } catch (e: java.io.IOException) {
                emptyList()
            } catch (e: SecurityException) {
                emptyList()
            }
            val upstreams = privateDnsUpstreams(serverName, addresses)
            runOnUiThread {
                if (upstreams.isEmpty()) {
                    customReport.text = words(DnsText.privateDnsNotFound(serverName))
                } else {
                    custom.setText(upstreams.joinToString("\n"))
                    customReport.text = words(DnsText.privateDnsInUse(serverName))
                    save(DnsChoice.Custom(upstreams.take(DnsChoice.MAX_ENTRIES)))
                }
            }
        }
    }

    private fun save(choice: DnsChoice) {
        host.settings.update { it.copy(dns = choice) }
        // A running tunnel takes the new upstreams at once; no new tunnel.
        host.tunnel?.dnsChanged()
        render()
    }

    private companion object {
        const val NETWORK_ID = 1
        const val CUSTOM_ID = 2
        const val KNOWN_ID = 100
    }
}
