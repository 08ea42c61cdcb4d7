package dev.tacet.android

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.net.VpnService
import android.util.Log

/**
 * Starts the firewall again after a reboot or an app update, if the user
 * had it on. (With Always-on VPN set, Android starts the service itself;
 * starting it twice is harmless.)
 */
class BootReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        if (intent.action != Intent.ACTION_BOOT_COMPLETED && intent.action != Intent.ACTION_MY_PACKAGE_REPLACED) return
        if (!context.host.settings.load().wantOn) return
        // Without the permission (revoked meanwhile), only the app can ask.
        if (VpnService.prepare(context) != null) {
            Log.i(FirewallHost.TAG, "not restarting: the VPN permission is gone")
            return
        }
        context.host.switchOn(context)
    }
}
