package dev.tacet.android.tunnel

import dev.tacet.ffi.FirewallConfig

/**
 * What the user chose, saved across restarts (`SharedPreferences` on the
 * phone) and turned into the firewall's configuration.
 */
data class UserSettings(
    /** The user had the firewall on: start it again after a reboot. */
    val wantOn: Boolean = false,
    /** The curated lists that are on; null until the user changes them (then: the defaults). */
    val enabledLists: List<String>? = null,
    /** The pasted list. */
    val customList: String = "",
    /** Discovery mode: journal allowed queries too. */
    val discovery: Boolean = false,
    /** The end of a running pause (wall clock, ms). */
    val pausedUntilMs: Long? = null,
    /** Where the names let through are asked. */
    val dns: DnsChoice = DnsChoice.Network,
    /** The apps that skip the firewall (package names; see [AppBypass]). */
    val bypassApps: Set<String> = emptySet(),
) {
    /**
     * The firewall's configuration: [base] (from `defaultConfig()`, whose
     * lists are the defaults of a new install) with the user's choices.
     * List ids the installed core no longer knows (an update removed a list)
     * are dropped: the firewall refuses a configuration with one.
     */
    fun toConfig(
        base: FirewallConfig,
        knownListIds: Set<String>,
        storeDir: String,
        upstreams: List<String>,
    ): FirewallConfig = base.copy(
        upstreams = upstreams,
        storeDir = storeDir,
        enabledLists = (enabledLists ?: base.enabledLists).filter { it in knownListIds }.distinct(),
        customList = customList,
        discovery = discovery,
    )
}
