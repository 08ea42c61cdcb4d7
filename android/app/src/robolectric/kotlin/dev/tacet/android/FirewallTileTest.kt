package dev.tacet.android

import android.os.Looper
import android.service.quicksettings.Tile
import dev.tacet.android.tunnel.PrivateDnsMode
import dev.tacet.android.tunnel.TunnelInput
import org.junit.Assert.assertEquals
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config

/** The Quick Settings tile: its state and the word under it follow the tunnel, lockdown and Private DNS. */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35], application = TacetApplication::class)
class FirewallTileTest {
    private val app = RuntimeEnvironment.getApplication() as TacetApplication

    private fun idle() = shadowOf(Looper.getMainLooper()).idle()

    @Test
    fun `the subtitle does not say On while apps are cut off or DNS goes past tacet`() {
        val tile = Robolectric.setupService(FirewallTile::class.java)
        tile.onStartListening()
        assertEquals("tacet", tile.qsTile.label.toString())
        assertEquals(Tile.STATE_INACTIVE, tile.qsTile.state)
        assertEquals("Off", tile.qsTile.subtitle.toString())

        app.host.update(TunnelInput.SwitchedOn)
        app.host.update(TunnelInput.Running)
        idle()
        assertEquals(Tile.STATE_ACTIVE, tile.qsTile.state)
        assertEquals("On", tile.qsTile.subtitle.toString())

        app.host.setPrivateDns(PrivateDnsMode.Strict("dns.example"))
        idle()
        assertEquals("On, but bypassed", tile.qsTile.subtitle.toString())

        app.host.setLockdown(true)
        idle()
        assertEquals("Apps cut off", tile.qsTile.subtitle.toString())
        tile.onStopListening()
    }
}
