package dev.tacet.android.present

import dev.tacet.android.tunnel.DnsChoice
import dev.tacet.ffi.UpstreamEntry
import dev.tacet.ffi.UpstreamKind

/** What the DNS screen and the main screen say about where names go. */
object DnsText {
    const val INTRO =
        "tacet answers blocked names itself and asks a DNS server for the rest. Plain DNS can be " +
            "read and changed by the network (the café's Wi-Fi, the mobile operator); encrypted DNS " +
            "only by the server you choose."
    const val NETWORK_TITLE = "Your network's DNS"
    const val NETWORK_DETAIL = "Not encrypted. Whatever the Wi-Fi or mobile network hands out: it sees every name let through."
    const val CUSTOM_TITLE = "Your own servers"
    const val CUSTOM_DETAIL =
        "One a line: tls://ADDRESS#NAME (DNS over TLS), https://ADDRESS/dns-query#NAME (DNS over HTTPS), " +
            "or an address for plain DNS. NAME is what the certificate must be for; it is never looked up."
    const val CUSTOM_EMPTY = "Type at least one server, one a line."

    /** The check of typed entries: whether they can be saved, and what to show. */
    data class Report(val usable: Boolean, val message: String)

    /** Reads the core's check of each typed entry (`parseUpstreams`). */
    fun customReport(entries: List<UpstreamEntry>, max: Int): Report {
        if (entries.isEmpty()) return Report(false, CUSTOM_EMPTY)
        if (entries.size > max) return Report(false, "At most $max servers: ${entries.size} were typed.")
        val bad = entries.withIndex().filter { it.value.error != null || it.value.kind == null }
        if (bad.isNotEmpty()) {
            return Report(
                false,
                bad.joinToString("\n") { (i, e) -> "Line ${i + 1}, ${e.text}: ${e.error ?: "not a DNS server"}" },
            )
        }
        val plain = entries.count { it.kind == UpstreamKind.PLAIN }
        return when {
            plain == entries.size -> Report(true, "In use. These are plain DNS: the network can read them.")
            plain > 0 -> Report(
                false,
                "Plain DNS beside encrypted servers would send names in the clear whenever the encrypted " +
                    "ones are slow. Keep only the encrypted ones, or only plain ones.",
            )
            else -> Report(true, "In use: ${entries.size} encrypted server${if (entries.size == 1) "" else "s"}.")
        }
    }

    /** The offer beside strict Private DNS (which tacet cannot see past). */
    fun privateDnsOffer(serverName: String, inUse: Boolean): String =
        if (inUse) {
            "tacet asks $serverName over TLS, as Private DNS did. Now set Private DNS to Off or Automatic " +
                "in Android's network settings: until then your phone sends its questions past tacet."
        } else {
            "Private DNS is set to $serverName, so your phone sends its questions straight there, past " +
                "tacet. tacet can ask $serverName itself, over TLS: then turn Private DNS off and your DNS " +
                "stays just as encrypted."
        }

    fun privateDnsInUse(serverName: String): String =
        "In use: $serverName over TLS. Now turn Private DNS off in Android's network settings."

    fun privateDnsNotFound(serverName: String): String =
        "Could not find $serverName's addresses on this network. Check the connection, or type its " +
            "address below as tls://ADDRESS#$serverName."

    /** One line for the main screen: where names go now. */
    fun summary(choice: DnsChoice, knownNames: Map<String, String>): String = when (choice) {
        DnsChoice.Network -> "DNS: your network's, not encrypted"
        is DnsChoice.Known -> "DNS: ${knownNames[choice.id] ?: choice.id}, encrypted"
        is DnsChoice.Custom -> {
            val name = choice.entries.firstNotNullOfOrNull { e -> e.substringAfter('#', "").substringBefore(';').ifEmpty { null } }
            if (name != null) "DNS: $name, encrypted" else "DNS: your servers, not encrypted"
        }
    }
}
