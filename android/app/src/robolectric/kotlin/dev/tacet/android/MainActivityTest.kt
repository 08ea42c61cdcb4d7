package dev.tacet.android

import android.Manifest
import android.app.Activity
import android.content.Intent
import android.net.ConnectivityManager
import android.net.LinkProperties
import android.os.Looper
import android.widget.Button
import android.widget.Switch
import android.widget.TextView
import dev.tacet.android.tunnel.TunnelInput
import dev.tacet.android.tunnel.TunnelState
import org.junit.After
import org.junit.Before
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config
import org.robolectric.shadows.ShadowVpnService

/**
 * The main screen started by Robolectric in the app's own [TacetApplication]:
 * what it shows for each tunnel state, and what the switch asks of Android.
 * The VPN service itself is not started (Robolectric records the intent).
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35], application = TacetApplication::class)
class MainActivityTest {
    private val app = RuntimeEnvironment.getApplication() as TacetApplication

    /** What the main screen's controls ask the running service, recorded. */
    private class RecordingTunnel : TunnelControl {
        val calls = mutableListOf<String>()
        override fun stop() { calls += "stop" }
        override fun pause(minutes: Int) { calls += "pause $minutes" }
        override fun resume() { calls += "resume" }
        override fun dnsChanged() { calls += "dns" }
        override fun appsChanged() { calls += "apps" }
    }

    private fun start(): Activity = Robolectric.buildActivity(MainActivity::class.java).setup().get()

    /** Runs what was posted to the main thread (the host's observers). */
    private fun idle() = shadowOf(Looper.getMainLooper()).idle()


    private fun Activity.texts() = shown().filterIsInstance<TextView>().filter { it !is Button }.map { it.text.toString() }
    private fun Activity.buttons() = shown().filterIsInstance<Button>().filter { it !is Switch }
    private fun Activity.switch() = shown().filterIsInstance<Switch>().single()

    @Before
    fun consentAlreadyGiven() {
        // Robolectric keeps this static between tests.
        ShadowVpnService.setPrepareResult(null)
    }

    @After
    fun tearDown() {
        app.host.io.shutdownNow()
    }

    @Test
    fun `when off the switch is unchecked, no pause is offered, and the counters read zero before any store`() {
        val activity = start()
        assertFalse(activity.switch().isChecked)
        assertTrue(activity.texts().contains("Off: nothing is blocked"))
        // The counters (and the DNS line) are read on the io thread, through the native library.
        app.host.io.submit {}.get()
        idle()
        assertEquals(
            listOf(
                "Journal: what was blocked, and which app tried",
                "Lists, keep-working names and your own list",
                "Apps that skip the firewall",
                "DNS: your network's, not encrypted",
            ),
            activity.buttons().map { it.text.toString() },
        )
        assertTrue(activity.texts().toString(), activity.texts().contains("0 today · 0 in total"))
        assertTrue(activity.texts().contains("Nothing yet."))
    }

    @Test
    fun `switching on with the VPN consent given starts the service and shows Starting`() {
        val activity = start()
        activity.switch().performClick()
        idle()
        val service = shadowOf(app).nextStartedService
        assertEquals(TacetVpnService::class.java.name, service.component?.className)
        assertEquals(TacetVpnService.ACTION_START, service.action)
        assertEquals(TunnelState.Starting(), app.host.state)
        assertTrue(app.host.settings.load().wantOn)
        assertTrue(activity.switch().isChecked)
        assertTrue(activity.texts().contains("Starting…"))
        // Android 13+: the live count's notification needs asking.
        val asked = shadowOf(activity).lastRequestedPermission
        assertEquals(listOf(Manifest.permission.POST_NOTIFICATIONS), asked.requestedPermissions.toList())
    }

    @Test
    fun `consent refused in Android's dialog starts nothing, and the switch goes back with the reason`() {
        val consent = Intent("android.net.vpn.PREPARE_FOR_TEST")
        ShadowVpnService.setPrepareResult(consent)
        val activity = start()
        activity.switch().performClick()
        val asked = shadowOf(activity).nextStartedActivityForResult
        assertEquals(consent.action, asked.intent.action)
        shadowOf(activity).receiveResult(asked.intent, Activity.RESULT_CANCELED, null)
        idle()
        assertNull(shadowOf(app).nextStartedService)
        assertFalse(activity.switch().isChecked)
        assertTrue(activity.texts().contains("Stopped: the VPN permission was not given"))
        assertFalse(app.host.state.running)
    }

    @Test
    fun `consent given in Android's dialog starts the service`() {
        val consent = Intent("android.net.vpn.PREPARE_FOR_TEST")
        ShadowVpnService.setPrepareResult(consent)
        val activity = start()
        activity.switch().performClick()
        val asked = shadowOf(activity).nextStartedActivityForResult
        shadowOf(activity).receiveResult(asked.intent, Activity.RESULT_OK, null)
        idle()
        assertEquals(TacetVpnService::class.java.name, shadowOf(app).nextStartedService.component?.className)
        assertTrue(activity.switch().isChecked)
    }

    @Test
    fun `Block connections without VPN is explained on the main screen, and only when on`() {
        val activity = start()
        assertFalse(activity.texts().any { it.contains("Block connections without VPN") })
        app.host.setLockdown(true)
        idle()
        assertTrue(activity.texts().contains(activity.getString(R.string.lockdown_advice)))
        app.host.setLockdown(false)
        idle()
        assertFalse(activity.texts().contains(activity.getString(R.string.lockdown_advice)))
    }

    @Test
    fun `with Block connections without VPN on, the state line does not claim to block`() {
        app.host.update(TunnelInput.SwitchedOn)
        app.host.update(TunnelInput.Running)
        val activity = start()
        assertTrue(activity.texts().contains("On: blocking"))
        app.host.setLockdown(true)
        idle()
        assertFalse(activity.texts().contains("On: blocking"))
        assertTrue(activity.texts().toString(), activity.texts().contains("On, but apps are cut off: \"Block connections without VPN\" is on"))
        app.host.setLockdown(false)
        idle()
        assertTrue(activity.texts().contains("On: blocking"))
    }

    @Test
    fun `the notification permission is asked after the VPN consent, not at the same time`() {
        val consent = Intent("android.net.vpn.PREPARE_FOR_TEST")
        ShadowVpnService.setPrepareResult(consent)
        val activity = start()
        activity.switch().performClick()
        val asked = shadowOf(activity).nextStartedActivityForResult
        assertNull(shadowOf(activity).lastRequestedPermission)
        shadowOf(activity).receiveResult(asked.intent, Activity.RESULT_OK, null)
        idle()
        val permission = shadowOf(activity).lastRequestedPermission
        assertEquals(listOf(Manifest.permission.POST_NOTIFICATIONS), permission.requestedPermissions.toList())
    }

    @Test
    fun `the tile's switch on reaches a main screen that is already open, once`() {
        val controller = Robolectric.buildActivity(MainActivity::class.java).setup()
        assertFalse(app.host.state.switchChecked)
        controller.newIntent(Intent(app, MainActivity::class.java).putExtra(MainActivity.EXTRA_SWITCH_ON, true))
        idle()
        assertEquals(TacetVpnService::class.java.name, shadowOf(app).nextStartedService.component?.className)
        assertTrue(controller.get().switch().isChecked)
        // Recreated (a rotation) with the same intent: not started again.
        app.host.switchOff()
        idle()
        controller.recreate()
        idle()
        assertNull(shadowOf(app).nextStartedService)
        assertFalse(app.host.state.switchChecked)
    }

    @Test
    fun `switching off asks the running service to stop and keeps it off after a reboot`() {
        val tunnel = RecordingTunnel()
        app.host.tunnel = tunnel
        app.host.settings.update { it.copy(wantOn = true) }
        app.host.update(TunnelInput.SwitchedOn)
        app.host.update(TunnelInput.Running)
        val activity = start()
        assertTrue(activity.switch().isChecked)
        activity.switch().performClick()
        assertEquals(listOf("stop"), tunnel.calls)
        assertFalse(app.host.settings.load().wantOn)
    }

    @Test
    fun `while on the pause buttons are offered, while paused Resume now and the time left`() {
        val tunnel = RecordingTunnel()
        app.host.tunnel = tunnel
        app.host.update(TunnelInput.SwitchedOn)
        app.host.update(TunnelInput.Running)
        val activity = start()
        assertTrue(activity.texts().contains("On: blocking"))
        val pauses = activity.buttons().filter { it.text.startsWith("Pause") }
        assertEquals(listOf("Pause 5 min", "Pause 15 min", "Pause 60 min"), pauses.map { it.text.toString() })
        pauses[1].performClick()
        assertEquals(listOf("pause 15"), tunnel.calls)

        app.host.update(TunnelInput.PausedUntil(System.currentTimeMillis() + 10 * 60_000 + 500))
        idle()
        assertTrue(activity.switch().isChecked)
        assertTrue(activity.texts().toString(), activity.texts().any { it.startsWith("Paused: everything allowed for 10:0") })
        val resume = activity.buttons().single { !it.text.startsWith("Journal") && !it.text.startsWith("Lists") && !it.text.startsWith("DNS") && !it.text.startsWith("Apps") }
        assertEquals("Resume now", resume.text.toString())
        resume.performClick()
        assertEquals(listOf("pause 15", "resume"), tunnel.calls)
    }

    @Test
    fun `Private DNS in strict mode shows how to turn it off, and nothing shows otherwise`() {
        val cm = app.getSystemService(ConnectivityManager::class.java)
        val strict = LinkProperties().apply { setPrivateDnsServerName("dns.example") }
        shadowOf(cm).setLinkProperties(cm.activeNetwork, strict)
        val activity = start()
        assertTrue(activity.texts().any { it.startsWith("Private DNS is set to \"dns.example\"") })

        shadowOf(cm).setLinkProperties(cm.activeNetwork, LinkProperties())
        Robolectric.buildActivity(MainActivity::class.java).setup().get().let { again ->
            assertFalse(again.texts().any { it.startsWith("Private DNS") })
        }
    }
}
