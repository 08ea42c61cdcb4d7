package dev.tacet.android

import android.app.PendingIntent
import android.content.Intent
import android.net.VpnService
import android.os.Build
import android.service.quicksettings.Tile
import android.service.quicksettings.TileService
import dev.tacet.android.tunnel.headline

/** The Quick Settings tile: shows the tunnel's real state, toggles it. */
class FirewallTile : TileService() {
    private val observer: () -> Unit = { render() }

    override fun onStartListening() {
        host.observe(observer)
        render()
    }

    override fun onStopListening() {
        host.unobserve(observer)
    }

    override fun onClick() {
        if (host.state.switchChecked) {
            host.switchOff()
        } else if (VpnService.prepare(this) == null) {
            host.switchOn(this)
        } else {
            // The VPN permission is asked from an activity.
            val intent = Intent(this, MainActivity::class.java)
                .putExtra(MainActivity.EXTRA_SWITCH_ON, true)
                .addFlags(Intent.FLAG_ACTIVITY_NEW_TASK)
            if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.UPSIDE_DOWN_CAKE) {
                startActivityAndCollapse(PendingIntent.getActivity(this, 0, intent, PendingIntent.FLAG_IMMUTABLE))
            } else {
                @Suppress("DEPRECATION")
                startActivityAndCollapse(intent)
            }
        }
    }

    private fun render() {
        val tile = qsTile ?: return
        val state = host.state
        tile.state = if (state.switchChecked) Tile.STATE_ACTIVE else Tile.STATE_INACTIVE
        tile.label = getString(R.string.app_name)
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.Q) tile.subtitle = words(state.headline(host.privateDns, host.lockdown))
        tile.updateTile()
    }
}
