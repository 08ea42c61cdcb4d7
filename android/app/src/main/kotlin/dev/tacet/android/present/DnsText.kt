package dev.tacet.android.present

import dev.tacet.android.R
import dev.tacet.android.tunnel.DnsChoice
import dev.tacet.ffi.UpstreamEntry
import dev.tacet.ffi.UpstreamKind

/** What the DNS screen and the main screen say about where names go. */
object DnsText {
    val INTRO = Text.of(R.string.dns_intro)
    val NETWORK_TITLE = Text.of(R.string.dns_network_title)
    val NETWORK_DETAIL = Text.of(R.string.dns_network_detail)
    val CUSTOM_TITLE = Text.of(R.string.dns_custom_title)
    val CUSTOM_DETAIL = Text.of(R.string.dns_custom_detail)
    val CUSTOM_EMPTY = Text.of(R.string.dns_custom_empty)

    /** The check of typed entries: whether they can be saved, and what to show. */
    data class Report(val usable: Boolean, val message: Text)

    /** Reads the core's check of each typed entry (`parseUpstreams`). */
    fun customReport(entries: List<UpstreamEntry>, max: Int): Report {
        if (entries.isEmpty()) return Report(false, CUSTOM_EMPTY)
        if (entries.size > max) return Report(false, Text.of(R.string.dns_custom_too_many, max, entries.size))
        val bad = entries.withIndex().filter { it.value.error != null || it.value.kind == null }
        if (bad.isNotEmpty()) {
            val lines = bad.map { (i, e) ->
                // The core's reason is its own words; "not a DNS server" is ours.
                val why = e.error?.let { Text.Raw(it) } ?: Text.of(R.string.dns_custom_not_a_server)
                Text.of(R.string.dns_custom_bad_line, i + 1, e.text, why)
            }
            return Report(false, Text.Joined(lines, R.string.separator_lines))
        }
        val plain = entries.count { it.kind == UpstreamKind.PLAIN }
        return when {
            plain == entries.size -> Report(true, Text.of(R.string.dns_custom_plain))
            plain > 0 -> Report(false, Text.of(R.string.dns_custom_mixed))
            else -> Report(true, Text.plural(R.plurals.dns_custom_encrypted, entries.size.toLong()))
        }
    }

    /** The offer beside strict Private DNS (which tacet cannot see past). */
    fun privateDnsOffer(serverName: String, inUse: Boolean): Text =
        Text.of(if (inUse) R.string.dns_private_offer_in_use else R.string.dns_private_offer, serverName)

    fun privateDnsInUse(serverName: String): Text = Text.of(R.string.dns_private_in_use, serverName)

    fun privateDnsNotFound(serverName: String): Text = Text.of(R.string.dns_private_not_found, serverName)

    /** One line for the main screen: where names go now. */
    fun summary(choice: DnsChoice, knownNames: Map<String, String>): Text = when (choice) {
        DnsChoice.Network -> Text.of(R.string.dns_summary_network)
        is DnsChoice.Known -> Text.of(R.string.dns_summary_encrypted, knownNames[choice.id] ?: choice.id)
        is DnsChoice.Custom -> {
            val name = choice.entries.firstNotNullOfOrNull { e -> e.substringAfter('#', "").substringBefore(';').ifEmpty { null } }
            if (name != null) Text.of(R.string.dns_summary_encrypted, name) else Text.of(R.string.dns_summary_custom_plain)
        }
    }
}
