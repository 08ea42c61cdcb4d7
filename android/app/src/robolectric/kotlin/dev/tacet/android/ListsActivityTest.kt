package dev.tacet.android

import android.app.Activity
import android.net.NetworkCapabilities
import android.app.job.JobScheduler
import android.os.Looper
import android.widget.Button
import android.widget.EditText
import android.widget.Switch
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
 * The lists screen with the core's real catalogue and a real store: what
 * it offers to follow, and the job that keeps followed lists current. No
 * list is fetched here (that needs a server: the e2e tests have one).
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35], application = TacetApplication::class)
class ListsActivityTest {
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


    @Test
    fun `every catalogue list has a switch, off before anything is followed`() {
        val activity = Robolectric.buildActivity(ListsActivity::class.java).setup().get()
        settle()
        val switches = activity.shown().filterIsInstance<Switch>().associateBy { it.text.toString() }
        for (list in app.host.catalog) {
            val s = switches[list.title] ?: error("no switch for ${list.title}: ${switches.keys}")
            assertTrue(!s.isChecked)
        }
    }

    @Test
    fun `a followed list shows its status and the daily check is scheduled on unmetered networks`() {
        val list = app.host.catalog.first()
        app.host.subscriptions.add(list.url, list.title) // not fetched: due at once
        ListUpdateJob.schedule(app)
        val job = app.getSystemService(JobScheduler::class.java).allPendingJobs.single()
        assertTrue(job.requiredNetwork!!.hasCapability(NetworkCapabilities.NET_CAPABILITY_NOT_METERED))
        assertTrue(job.isPersisted && job.isRequireBatteryNotLow)

        val activity = Robolectric.buildActivity(ListsActivity::class.java).setup().get()
        settle()
        val switch = activity.shown().filterIsInstance<Switch>().single { it.text.toString() == list.title }
        assertTrue(switch.isChecked)
        val texts = activity.shown().filterIsInstance<android.widget.TextView>().map { it.text.toString() }
        assertTrue(texts.toString(), texts.any { it.startsWith("Not fetched yet") })

        // Unfollowed: no list left, no job left.
        app.host.subscriptions.remove(app.host.subscriptions.list().single().id)
        ListUpdateJob.schedule(app)
        assertTrue(app.getSystemService(JobScheduler::class.java).allPendingJobs.isEmpty())
    }

    @Test
    fun `a pasted web address is offered to follow instead`() {
        val activity = Robolectric.buildActivity(ListsActivity::class.java).setup().get()
        settle()
        val paste = activity.shown().filterIsInstance<EditText>().single { it.minLines >= 6 }
        paste.setText("https://example.org/hosts.txt")
        val offer = activity.shown().filterIsInstance<Button>().map { it.text.toString() }
        assertTrue(offer.toString(), "Follow https://example.org/hosts.txt" in offer)
    }
}
