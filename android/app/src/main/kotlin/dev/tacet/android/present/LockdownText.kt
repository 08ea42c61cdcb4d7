package dev.tacet.android.present

/**
 * What to say when Android's "Block connections without VPN" is on for
 * tacet (always-on lockdown). tacet routes only DNS and the blocked
 * addresses into its tunnel; with lockdown, Android drops everything that
 * does not go through the VPN, so every app is cut off. DNS66,
 * personalDNSfilter and Blokada users hit the same thing; some Android
 * builds switch lockdown on together with always-on.
 */
object LockdownText {
    /** The notification's line. */
    const val SHORT = "Apps are cut off: turn off \"Block connections without VPN\""

    /** The main screen's explanation, with what to do. */
    const val ADVICE =
        "Android's \"Block connections without VPN\" is on for tacet. tacet only sends DNS and " +
            "blocked addresses through its VPN, so Android cuts every other connection: apps " +
            "cannot reach anything. To fix it, open Settings → Network & internet → VPN → tacet " +
            "and turn \"Block connections without VPN\" off (Always-on VPN can stay on)."
}
