package dev.tacet.android

import android.app.Activity
import android.graphics.Bitmap
import android.graphics.Canvas
import android.net.ConnectivityManager
import android.net.LinkProperties
import android.os.Looper
import dev.tacet.android.tunnel.TunnelInput
import org.junit.After
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config
import org.robolectric.annotation.GraphicsMode
import java.io.File

/**
 * Every screen drawn by the framework's real renderer (Robolectric's native
 * graphics) into a PNG, the way a phone of 360 × 800 dp would show it:
 * the only way anyone here sees the app. A screen that cannot be drawn, or
 * draws nothing, fails. `android/render-screens.sh` copies them to
 * `docs/screens/` for the README.
 */
@RunWith(RobolectricTestRunner::class)
@GraphicsMode(GraphicsMode.Mode.NATIVE)
@Config(sdk = [35], application = TacetApplication::class, qualifiers = "w360dp-h800dp-xhdpi")
class ScreensTest {
    private val app = RuntimeEnvironment.getApplication() as TacetApplication
    private val dir = File(System.getProperty("tacet.screens.dir") ?: "build/screens").apply { mkdirs() }

    @After
    fun tearDown() {
        app.host.io.shutdownNow()
    }

    private fun settle() {
        app.host.io.submit {}.get()
        shadowOf(Looper.getMainLooper()).idle()
    }

    private fun <T : Activity> shoot(name: String, type: Class<T>) {
        val activity = Robolectric.buildActivity(type).setup().get()
        settle()
        val view = activity.window.decorView
        assertTrue("$name has no size", view.width > 0 && view.height > 0)
        val bitmap = Bitmap.createBitmap(view.width, view.height, Bitmap.Config.ARGB_8888)
        view.draw(Canvas(bitmap))
        // Something was drawn: not every pixel the same.
        val first = bitmap.getPixel(0, 0)
        val drawn = (0 until bitmap.height step 8).any { y -> (0 until bitmap.width step 8).any { x -> bitmap.getPixel(x, y) != first } }
        assertTrue("$name is blank", drawn)
        File(dir, "$name.png").outputStream().use { bitmap.compress(Bitmap.CompressFormat.PNG, 100, it) }
    }

    private fun strictPrivateDns() {
        val cm = app.getSystemService(ConnectivityManager::class.java)
        shadowOf(cm).setLinkProperties(cm.activeNetwork, LinkProperties().apply { setPrivateDnsServerName("dns.example") })
    }

    @Test
    fun `main screen, off`() = shoot("main-off", MainActivity::class.java)

    @Test
    fun `main screen, on`() {
        app.host.update(TunnelInput.SwitchedOn)
        app.host.update(TunnelInput.Running)
        shoot("main-on", MainActivity::class.java)
    }

    @Test
    fun `main screen, Private DNS in the way`() {
        strictPrivateDns()
        app.host.update(TunnelInput.SwitchedOn)
        app.host.update(TunnelInput.Running)
        shoot("main-private-dns", MainActivity::class.java)
    }

    @Test
    fun `main screen, paused`() {
        app.host.update(TunnelInput.SwitchedOn)
        app.host.update(TunnelInput.Running)
        app.host.update(TunnelInput.PausedUntil(System.currentTimeMillis() + 14 * 60_000 + 30_000))
        shoot("main-paused", MainActivity::class.java)
    }

    @Test
    fun `main screen, Block connections without VPN on`() {
        app.host.update(TunnelInput.SwitchedOn)
        app.host.update(TunnelInput.Running)
        app.host.setLockdown(true)
        shoot("main-lockdown", MainActivity::class.java)
    }

    @Test
    fun `DNS screen`() = shoot("dns", DnsActivity::class.java)

    @Test
    fun `DNS screen, Private DNS offer`() {
        strictPrivateDns()
        shoot("dns-private-dns", DnsActivity::class.java)
    }

    @Test
    fun `lists screen`() = shoot("lists", ListsActivity::class.java)

    @Test
    fun `journal screen, empty`() = shoot("journal-empty", JournalActivity::class.java)

    private fun journalWithRows() {
        app.installLaunchable("com.xiaomi.hm.health", "Mi Fitness")
        app.installLaunchable("com.instagram.android", "Instagram")
        app.installLaunchable("com.king.candycrush", "Candy Crush Saga")
        app.installLaunchable("com.zhiliaoapp.musically", "TikTok")
        app.installLaunchable("com.example.weather", "Weather")
        app.showJournal(sampleJournal(System.currentTimeMillis()))
    }

    @Test
    fun `journal screen, with rows`() {
        journalWithRows()
        shoot("journal", JournalActivity::class.java)
    }

    @Test
    @Config(qualifiers = "+night")
    fun `journal screen, dark`() {
        journalWithRows()
        shoot("journal-dark", JournalActivity::class.java)
    }

    private fun someApps() {
        listOf(
            "com.example.bank" to "My Bank", "com.roborock.smart" to "Roborock", "com.spotify.music" to "Spotify",
            "org.mozilla.firefox" to "Firefox", "com.whatsapp" to "WhatsApp", "com.xiaomi.hm.health" to "Mi Fitness",
            "com.google.android.apps.maps" to "Maps",
        ).forEach { (pkg, label) -> app.installLaunchable(pkg, label) }
        app.host.settings.update { it.copy(bypassApps = setOf("com.example.bank", "com.roborock.smart")) }
    }

    @Test
    fun `apps that skip the firewall`() {
        someApps()
        shoot("apps", AppsActivity::class.java)
    }

    @Test
    @Config(qualifiers = "+night")
    fun `main screen, on, dark`() {
        app.host.update(TunnelInput.SwitchedOn)
        app.host.update(TunnelInput.Running)
        shoot("main-on-dark", MainActivity::class.java)
    }

    @Test
    @Config(fontScale = 2.0f)
    fun `main screen, on, at the largest font size`() {
        app.host.update(TunnelInput.SwitchedOn)
        app.host.update(TunnelInput.Running)
        shoot("main-on-largest-font", MainActivity::class.java)
    }

    @Test
    @Config(fontScale = 2.0f)
    fun `apps screen, at the largest font size`() {
        someApps()
        shoot("apps-largest-font", AppsActivity::class.java)
    }

    @Test
    @Config(qualifiers = "+night")
    fun `lists screen, dark`() = shoot("lists-dark", ListsActivity::class.java)
}
