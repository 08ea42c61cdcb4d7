package dev.tacet.android

import android.app.Activity
import android.content.ComponentName
import android.content.pm.ActivityInfo
import android.graphics.Insets
import android.os.Looper
import android.view.View
import android.view.ViewGroup
import android.view.WindowInsets
import android.view.WindowManager
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config

/**
 * Edge to edge (Android 15): every screen keeps its content out from under
 * the status bar, the navigation bar and the keyboard, by padding itself
 * with the insets the window gives it. Robolectric draws no bars, so the
 * insets are handed to each screen here as a phone would.
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35], application = TacetApplication::class)
class InsetsTest {
    private val app = RuntimeEnvironment.getApplication() as TacetApplication

    @After
    fun tearDown() {
        app.host.io.shutdownNow()
        app.host.fetches.shutdownNow()
    }

    private fun <T : Activity> root(type: Class<T>): View {
        val activity = Robolectric.buildActivity(type).setup().get()
        app.host.io.submit {}.get()
        shadowOf(Looper.getMainLooper()).idle()
        return activity.findViewById<ViewGroup>(android.R.id.content).getChildAt(0)
    }

    private fun bars(ime: Int = 0): WindowInsets = WindowInsets.Builder()
        .setInsets(WindowInsets.Type.statusBars(), Insets.of(0, 63, 0, 0))
        .setInsets(WindowInsets.Type.navigationBars(), Insets.of(0, 0, 0, 42))
        .setInsets(WindowInsets.Type.displayCutout(), Insets.of(21, 0, 0, 0))
        .setInsets(WindowInsets.Type.ime(), Insets.of(0, 0, 0, ime))
        .build()

    private fun View.pads() = listOf(paddingLeft, paddingTop, paddingRight, paddingBottom)

    @Test
    fun `every screen is padded by the system bars and the cutout, and takes them`() {
        for (type in listOf(MainActivity::class.java, JournalActivity::class.java, ListsActivity::class.java, DnsActivity::class.java, AppsActivity::class.java)) {
            val root = root(type)
            val before = root.pads()
            val left = root.dispatchApplyWindowInsets(bars())
            assertEquals(type.simpleName, listOf(before[0] + 21, before[1] + 63, before[2], before[3] + 42), root.pads())
            // Consumed: nothing inside pads itself again.
            assertEquals(type.simpleName, Insets.NONE, left.getInsets(WindowInsets.Type.systemBars()))
        }
    }

    @Test
    fun `the keyboard's height replaces the navigation bar's at the bottom, and goes when it closes`() {
        val root = root(ListsActivity::class.java)
        val before = root.pads()
        root.dispatchApplyWindowInsets(bars(ime = 840))
        assertEquals(before[3] + 840, root.paddingBottom)
        root.dispatchApplyWindowInsets(bars(ime = 0))
        assertEquals(before[3] + 42, root.paddingBottom)
    }

    @Test
    fun `the lists screen, with the paste box, resizes for the keyboard`() {
        val info: ActivityInfo = app.packageManager.getActivityInfo(ComponentName(app, ListsActivity::class.java), 0)
        // Deprecated from API 30 for the insets above; Android 8 to 10 still go by it.
        @Suppress("DEPRECATION")
        assertEquals(WindowManager.LayoutParams.SOFT_INPUT_ADJUST_RESIZE, info.softInputMode and WindowManager.LayoutParams.SOFT_INPUT_MASK_ADJUST)
    }
}
