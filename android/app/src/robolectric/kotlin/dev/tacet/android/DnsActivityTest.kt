package dev.tacet.android

import android.app.Activity
import android.net.ConnectivityManager
import android.net.LinkProperties
import android.os.Looper
import android.widget.Button
import android.widget.EditText
import android.widget.RadioButton
import android.widget.TextView
import dev.tacet.android.tunnel.DnsChoice
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config

/**
 * The DNS screen in the app's own [TacetApplication], with the core's real
 * list of known resolvers and its real check of typed entries.
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35], application = TacetApplication::class)
class DnsActivityTest {
    private val app = RuntimeEnvironment.getApplication() as TacetApplication

    private class RecordingTunnel : TunnelControl {
        var dnsChanges = 0
        override fun stop() {}
        override fun pause(minutes: Int) {}
        override fun resume() {}
        override fun dnsChanged() { dnsChanges++ }
        override fun appsChanged() {}
    }

    private fun start(): Activity = Robolectric.buildActivity(DnsActivity::class.java).setup().get()

    /** Lets the io thread finish, then what it posted to the main thread. */
    private fun settle() {
        app.host.io.submit {}.get()
        shadowOf(Looper.getMainLooper()).idle()
    }


    private fun Activity.radios() = shown().filterIsInstance<RadioButton>()
    private fun Activity.button(label: String) = shown().filterIsInstance<Button>().single { it.text.toString() == label }
    private fun Activity.texts() = shown().filterIsInstance<TextView>().filter { it !is Button }.map { it.text.toString() }

    @After
    fun tearDown() {
        app.host.io.shutdownNow()
    }

    @Test
    fun `the network's DNS is the default, and the known resolvers are offered`() {
        val activity = start()
        val radios = activity.radios()
        assertEquals(app.host.knownResolvers.size + 2, radios.size)
        assertTrue(radios.first().isChecked)
        assertTrue(radios.first().text.startsWith("Your network's DNS\nNot encrypted."))
        assertTrue(radios.any { it.text.startsWith("Quad9\nEncrypted.") })
    }

    @Test
    fun `choosing a known resolver saves it and tells the running tunnel`() {
        val tunnel = RecordingTunnel()
        app.host.tunnel = tunnel
        val activity = start()
        activity.radios().single { it.text.startsWith("Quad9") }.performClick()
        assertEquals(DnsChoice.Known("quad9"), app.host.settings.load().dns)
        assertEquals(1, tunnel.dnsChanges)
        val upstreams = app.host.chosenUpstreams(listOf("192.0.2.1"))!!
        assertTrue(upstreams.toString(), upstreams.all { it.endsWith("#dns.quad9.net") })
    }

    @Test
    fun `typed servers are checked by the core and saved only when all are usable`() {
        val activity = start()
        val box = activity.shown().filterIsInstance<EditText>().single()
        box.setText("tls://192.0.2.9#dns.example\ntls://dns.example")
        activity.button("Check and use these").performClick()
        settle()
        assertEquals(DnsChoice.Network, app.host.settings.load().dns)
        assertTrue(activity.texts().toString(), activity.texts().any { it.startsWith("Line 2, tls://dns.example: ") })

        box.setText("tls://192.0.2.9#dns.example\nhttps://[2001:db8::9]/dns-query#dns.example")
        activity.button("Check and use these").performClick()
        settle()
        assertEquals(
            DnsChoice.Custom(listOf("tls://192.0.2.9#dns.example", "https://[2001:db8::9]/dns-query#dns.example")),
            app.host.settings.load().dns,
        )
        assertTrue(activity.texts().contains("In use: 2 encrypted servers."))
        assertTrue(activity.radios().last().isChecked)
    }

    @Test
    fun `with strict Private DNS the screen offers that resolver over TLS`() {
        val cm = app.getSystemService(ConnectivityManager::class.java)
        shadowOf(cm).setLinkProperties(cm.activeNetwork, LinkProperties().apply { setPrivateDnsServerName("dns.example") })
        val activity = start()
        assertTrue(activity.texts().any { it.startsWith("Private DNS is set to dns.example") })
        activity.button("Use dns.example over TLS")
        activity.button("Open Android's network settings")

        shadowOf(cm).setLinkProperties(cm.activeNetwork, LinkProperties())
        val again = start()
        assertFalse(again.texts().any { it.startsWith("Private DNS") })
    }
}
