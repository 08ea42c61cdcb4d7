package dev.tacet.android

import android.app.Activity
import android.net.ConnectivityManager
import android.net.LinkProperties
import android.os.Looper
import android.view.View
import android.widget.Button
import android.widget.CompoundButton
import android.widget.EditText
import android.widget.ImageView
import dev.tacet.android.tunnel.TunnelInput
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config

/**
 * TalkBack reads every control: each screen, in each of its states, walked
 * view by view; an image, a switch, a button or a text box with nothing to
 * read (no text, hint or content description) fails, by name.
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35], application = TacetApplication::class, qualifiers = "w360dp-h800dp-xhdpi")
class AccessibilityTest {
    private val app = RuntimeEnvironment.getApplication() as TacetApplication

    @After
    fun tearDown() {
        app.host.io.shutdownNow()
        app.host.fetches.shutdownNow()
    }

    private fun settle() {
        app.host.io.submit {}.get()
        shadowOf(Looper.getMainLooper()).idle()
    }

    private fun <T : Activity> open(type: Class<T>): Activity =
        Robolectric.buildActivity(type).setup().get().also { settle() }

    /** What TalkBack would have nothing to say for, as "Class in screen". */
    private fun unlabelled(screen: String, activity: Activity): List<String> = activity.shown().mapNotNull { v ->
        val said = v.contentDescription?.toString().orEmpty().isNotBlank()
        val silent = when {
            v.importantForAccessibility == View.IMPORTANT_FOR_ACCESSIBILITY_NO -> false
            v is ImageView -> !said
            v is CompoundButton -> !said && v.text.isNullOrBlank()
            v is EditText -> !said && v.hint.isNullOrBlank()
            v is Button -> !said && v.text.isNullOrBlank()
            else -> false
        }
        if (silent) "${v.javaClass.simpleName} in $screen" else null
    }

    /** How many controls of the kinds checked the screen had: a walk that saw nothing would pass. */
    private fun controls(activity: Activity) = activity.shown().count { it is ImageView || it is Button || it is EditText }

    private fun check(screen: String, activity: Activity, atLeast: Int) {
        assertTrue("$screen shows ${controls(activity)} controls", controls(activity) >= atLeast)
        assertEquals(emptyList<String>(), unlabelled(screen, activity))
    }

    @Test
    fun `the main screen, off, on and paused`() {
        check("main, off", open(MainActivity::class.java), 4)
        app.host.update(TunnelInput.SwitchedOn)
        app.host.update(TunnelInput.Running)
        check("main, on", open(MainActivity::class.java), 7)
        app.host.update(TunnelInput.PausedUntil(System.currentTimeMillis() + 300_000))
        check("main, paused", open(MainActivity::class.java), 5)
    }

    @Test
    fun `the journal with rows, their app icons and actions`() {
        app.installLaunchable("com.xiaomi.hm.health", "Mi Fitness")
        app.installLaunchable("com.instagram.android", "Instagram")
        app.showJournal(sampleJournal(System.currentTimeMillis()))
        val journal = open(JournalActivity::class.java)
        assertTrue("no app icon", journal.shown().any { it is ImageView && it !is android.widget.ImageButton })
        check("journal", journal, 8)
    }

    @Test
    fun `the lists screen`() = check("lists", open(ListsActivity::class.java), 8)

    @Test
    fun `the DNS screen, with the Private DNS offer`() {
        val cm = app.getSystemService(ConnectivityManager::class.java)
        shadowOf(cm).setLinkProperties(cm.activeNetwork, LinkProperties().apply { setPrivateDnsServerName("dns.example") })
        check("dns", open(DnsActivity::class.java), 5)
    }

    @Test
    fun `the apps screen, with icons and switches`() {
        app.installLaunchable("com.example.bank", "My Bank")
        app.installLaunchable("com.roborock.smart", "Roborock")
        check("apps", open(AppsActivity::class.java), 4)
    }

    @Test
    fun `the check itself finds an unlabelled image and switch`() {
        val activity = open(AppsActivity::class.java)
        val page = activity.findViewById<android.view.ViewGroup>(android.R.id.content)
        page.addView(ImageView(activity))
        page.addView(android.widget.Switch(activity))
        assertEquals(listOf("ImageView in test", "Switch in test"), unlabelled("test", activity))
    }
}
