package dev.tacet.android

import android.app.Application
import android.app.QueuedWork
import dev.tacet.android.tunnel.UserSettings
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.annotation.Config
import java.io.File

/** [SettingsStore] on the framework's real `SharedPreferences` (an XML file per app). */
// A plain Application, not the manifest's TacetApplication: its preload
// thread makes the FirewallHost, whose SettingsStore opens the preferences,
// and when that wins the race with a test writing the file first, the
// framework's cached copy is the empty one.
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35], application = Application::class)
class SettingsStoreTest {
    private val app: Application = RuntimeEnvironment.getApplication()
    private val file = File(app.dataDir, "shared_prefs/tacet.xml")

    private val chosen = UserSettings(
        wantOn = true,
        enabledLists = listOf("ads-core", "telemetry-google"),
        customList = "ads.example\n||tracker.example^\n",
        discovery = true,
        pausedUntilMs = 1_714_572_000_000,
        dns = dev.tacet.android.tunnel.DnsChoice.Custom(listOf("tls://192.0.2.9#dns.example", "tls://[2001:db8::9]#dns.example")),
        bypassApps = setOf("com.example.bank", "com.roborock.smart"),
    )

    /** Waits for `apply()`'s write to the file, as the framework does when the app goes to the background. */
    private fun flush() = QueuedWork.waitToFinish()

    @Test
    fun `a new install has the firewall off, the default lists, nothing pasted and no pause`() {
        assertEquals(UserSettings(), SettingsStore(app).load())
    }

    @Test
    fun `every choice reads back, also from another store of the same process`() {
        SettingsStore(app).update { chosen }
        assertEquals(chosen, SettingsStore(app).load())
        flush()
        val xml = file.readText()
        assertTrue(xml, xml.contains("""<boolean name="want_on" value="true" />"""))
        assertTrue(xml, xml.contains("""<long name="paused_until_ms" value="1714572000000" />"""))
    }

    @Test
    fun `the pasted list is a file of its own, written only when it changes`() {
        val store = SettingsStore(app)
        store.update { chosen }
        flush()
        assertEquals(chosen.customList, store.pastedFile.readText())
        assertTrue(file.readText(), !file.readText().contains("tracker.example"))
        // A switch or a pause leaves the file alone.
        store.pastedFile.setLastModified(1_000_000)
        store.update { it.copy(wantOn = false, pausedUntilMs = null) }
        assertEquals(1_000_000L, store.pastedFile.lastModified())
        store.update { it.copy(customList = "other.example\n") }
        assertEquals("other.example\n", store.pastedFile.readText())
        assertEquals("other.example\n", SettingsStore(app).load().customList)
    }

    @Test
    fun `update applies the change to what is saved`() {
        val store = SettingsStore(app)
        store.update { chosen }
        store.update { it.copy(wantOn = false) }
        assertEquals(chosen.copy(wantOn = false), store.load())
    }

    @Test
    fun `every list switched off stays off, and is not mistaken for the defaults`() {
        val store = SettingsStore(app)
        store.update { it.copy(enabledLists = emptyList()) }
        assertEquals(emptyList<String>(), store.load().enabledLists)
        store.update { it.copy(enabledLists = null) }
        assertNull(store.load().enabledLists)
    }

    @Test
    fun `an ended pause is saved as none`() {
        val store = SettingsStore(app)
        store.update { chosen }
        store.update { it.copy(pausedUntilMs = null) }
        assertNull(store.load().pausedUntilMs)
    }

    // The file name and keys are a saved format: renaming one would reset
    // every user's settings on update (the firewall off after the reboot).
    @Test
    fun `the file a previous version saved is read`() {
        file.parentFile!!.mkdirs()
        file.writeText(
            """
            <?xml version='1.0' encoding='utf-8' standalone='yes' ?>
            <map>
                <boolean name="want_on" value="true" />
                <string name="enabled_lists">ads-core,,telemetry-google</string>
                <string name="custom_list">ads.example
            ||tracker.example^
            </string>
                <boolean name="discovery" value="true" />
                <long name="paused_until_ms" value="1714572000000" />
            </map>
            """.trimIndent(),
        )
        // It had no DNS choice (the network's, as before) and no app bypassed.
        val store = SettingsStore(app)
        assertEquals(chosen.copy(dns = dev.tacet.android.tunnel.DnsChoice.Network, bypassApps = emptySet()), store.load())
        // Its pasted list moved into the list's own file, out of the preferences.
        flush()
        assertEquals(chosen.customList, store.pastedFile.readText())
        assertTrue(file.readText(), !file.readText().contains("custom_list"))
        assertEquals(chosen.customList, SettingsStore(app).load().customList)
    }

    @Test
    fun `a corrupt file gives the defaults, and the next save replaces it`() {
        file.parentFile!!.mkdirs()
        file.writeText("<map><boolean name=\"want_on\" value=\"tr")
        val store = SettingsStore(app)
        assertEquals(UserSettings(), store.load())
        store.update { chosen }
        flush()
        assertTrue(file.readText().contains("""<boolean name="discovery" value="true" />"""))
    }
}
