package dev.tacet.android.tunnel

import dev.tacet.android.R
import dev.tacet.android.present.Text

/**
 * Android's Private DNS setting (Android 9 and later), read from the
 * network's `LinkProperties`, and what it means for tacet.
 *
 * In strict mode ("Private DNS provider hostname") the phone sends every
 * query, encrypted, to that provider and ignores the DNS servers a VPN
 * announces, so tacet sees nothing and blocks nothing. Automatic mode is
 * fine: Android first tries DNS-over-TLS with the announced server (the
 * firewall's virtual resolver, which does not speak it) and falls back to
 * plain DNS, which tacet answers.
 */
sealed interface PrivateDnsMode {
    /** Off, or not supported (before Android 9). */
    data object Off : PrivateDnsMode

    /** Automatic (opportunistic): compatible with tacet. */
    data object Automatic : PrivateDnsMode

    /** Strict, with the named provider: bypasses tacet. */
    data class Strict(val serverName: String) : PrivateDnsMode

    companion object {
        /**
         * The mode from `LinkProperties.isPrivateDnsActive` and
         * `privateDnsServerName`. A server name means strict mode even while
         * the provider is not validated yet (`active` false): Android then
         * sends nothing in the clear, it waits for the provider.
         */
        fun of(active: Boolean, serverName: String?): PrivateDnsMode = when {
            !serverName.isNullOrBlank() -> Strict(serverName)
            active -> Automatic
            else -> Off
        }
    }

    /** What to tell the user, or null when nothing needs fixing. */
    val advice: Text?
        get() = when (this) {
            is Strict -> Text.of(R.string.private_dns_advice, serverName)
            else -> null
        }
}
