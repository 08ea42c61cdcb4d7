package dev.tacet.android.tunnel

/**
 * Where tacet sends the queries it lets through, as the user chose on the
 * DNS screen, saved as one line of text ([encode], [decode]).
 */
sealed interface DnsChoice {
    /** The network's own resolvers (Wi-Fi, mobile), in plain DNS: the default. */
    data object Network : DnsChoice

    /** One of the core's `knownEncryptedResolvers()`, by its id. */
    data class Known(val id: String) : DnsChoice

    /**
     * Upstreams the user typed (or the Private DNS resolver over TLS), each
     * as `FirewallConfig.upstreams` takes it; checked with `parseUpstreams()`
     * before they are saved.
     */
    data class Custom(val entries: List<String>) : DnsChoice

    /** Whether the network sees no name tacet lets through. */
    val encrypted: Boolean get() = this !is Network

    /**
     * The firewall's upstreams: the [network]'s resolvers, or the chosen
     * encrypted ones ([known]: each known resolver's upstreams by id).
     * Null when the choice cannot be honoured (a known resolver this build
     * no longer offers, nothing typed): falling back to plain DNS without
     * being asked would give away what the user chose to hide, so the
     * service says so instead.
     */
    fun upstreams(network: List<String>, known: Map<String, List<String>>): List<String>? = when (this) {
        Network -> network
        is Known -> known[id]?.takeIf { it.isNotEmpty() }
        is Custom -> entries.takeIf { it.isNotEmpty() }
    }

    /** One line for the settings. */
    fun encode(): String = when (this) {
        Network -> NETWORK
        is Known -> KNOWN + id
        is Custom -> CUSTOM + entries.joinToString(SEPARATOR)
    }

    companion object {
        private const val NETWORK = "network"
        private const val KNOWN = "known:"
        private const val CUSTOM = "custom:"
        private const val SEPARATOR = " "

        /** The most entries kept, and their longest text: settings are input too. */
        const val MAX_ENTRIES = 16
        private const val MAX_ENTRY_LENGTH = 512

        /**
         * The saved choice; the network's resolvers when nothing (or
         * nothing readable) was saved. An upstream's text has no spaces, so
         * entries are separated by one.
         */
        fun decode(text: String?): DnsChoice {
            if (text == null) return Network
            return when {
                text.startsWith(KNOWN) -> text.removePrefix(KNOWN).trim()
                    .takeIf { it.isNotEmpty() && it.length <= MAX_ENTRY_LENGTH }?.let(::Known) ?: Network
                text.startsWith(CUSTOM) -> text.removePrefix(CUSTOM).split(SEPARATOR)
                    .filter { it.isNotEmpty() && it.length <= MAX_ENTRY_LENGTH }
                    .take(MAX_ENTRIES)
                    .takeIf { it.isNotEmpty() }?.let(::Custom) ?: Network
                else -> Network
            }
        }

        /** Entries typed one a line (blank lines and spaces around ignored). */
        fun typed(text: String): List<String> = text.lines().map(String::trim).filter(String::isNotEmpty)
    }
}
