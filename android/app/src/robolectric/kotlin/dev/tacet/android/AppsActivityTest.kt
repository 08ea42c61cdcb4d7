package dev.tacet.android

import android.app.Activity
import android.os.Looper
import android.widget.Switch
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config
import java.time.Duration

/**
 * The per-app bypass screen on Robolectric's package manager: which apps it
 * lists and how, what a switch saves, and that the running tunnel is
 * rebuilt once for a burst of switches (the rules are not touched: only
 * [TunnelControl.appsChanged] is called).
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35], application = TacetApplication::class)
class AppsActivityTest {
    private val app = RuntimeEnvironment.getApplication() as TacetApplication

    private class RecordingTunnel : TunnelControl {
        val calls = mutableListOf<String>()
        override fun stop() { calls += "stop" }
        override fun pause(minutes: Int) { calls += "pause" }
        override fun resume() { calls += "resume" }
        override fun dnsChanged() { calls += "dns" }
        override fun appsChanged() { calls += "apps" }
    }

    @Before
    fun apps() {
        app.installLaunchable("com.roborock.smart", "Roborock")
        app.installLaunchable("com.example.bank", "My Bank")
        app.installLaunchable("com.example.weather", "weather")
    }

    @After
    fun tearDown() {
        app.host.io.shutdownNow()
    }

    private fun start(): Activity = Robolectric.buildActivity(AppsActivity::class.java).setup().get().also {
        app.host.io.submit {}.get()
        shadowOf(Looper.getMainLooper()).idle()
    }

    /** The rows' switches, by the app label their description names. */
    private fun Activity.switches(): List<Pair<String, Switch>> = shown().filterIsInstance<Switch>().map {
        it.contentDescription.toString().removeSuffix(" skips the firewall") to it
    }

    @Test
    fun `every launchable app but tacet is listed by label, each with a switch that says what it does`() {
        val rows = start().switches()
        assertEquals(listOf("My Bank", "Roborock", "weather"), rows.map { it.first })
        assertTrue(rows.none { it.second.isChecked })
    }

    @Test
    fun `the apps already excluded come first, switched on`() {
        app.host.settings.update { it.copy(bypassApps = setOf("com.roborock.smart", "com.uninstalled.app")) }
        val rows = start().switches()
        assertEquals(listOf("Roborock", "My Bank", "weather"), rows.map { it.first })
        assertEquals(listOf(true, false, false), rows.map { it.second.isChecked })
    }

    @Test
    fun `switching apps on and off is saved at once, and the running tunnel is rebuilt once for the burst`() {
        val tunnel = RecordingTunnel()
        app.host.tunnel = tunnel
        val activity = start()
        val rows = activity.switches().toMap()
        rows.getValue("My Bank").performClick()
        rows.getValue("Roborock").performClick()
        rows.getValue("weather").performClick()
        rows.getValue("weather").performClick()
        assertEquals(setOf("com.example.bank", "com.roborock.smart"), app.host.settings.load().bypassApps)
        assertEquals(emptyList<String>(), tunnel.calls)
        shadowOf(Looper.getMainLooper()).idleFor(Duration.ofSeconds(2))
        assertEquals(listOf("apps"), tunnel.calls)
        assertTrue(activity.shown().any { it is android.widget.TextView && it.text.toString() == "2 apps skip the firewall" })
    }

    @Test
    fun `leaving the screen applies a pending change at once`() {
        val tunnel = RecordingTunnel()
        app.host.tunnel = tunnel
        val controller = Robolectric.buildActivity(AppsActivity::class.java).setup()
        app.host.io.submit {}.get()
        shadowOf(Looper.getMainLooper()).idle()
        controller.get().switches().first().second.performClick()
        controller.pause().stop()
        assertEquals(listOf("apps"), tunnel.calls)
        shadowOf(Looper.getMainLooper()).idleFor(Duration.ofSeconds(2))
        assertEquals(listOf("apps"), tunnel.calls)
    }
}
