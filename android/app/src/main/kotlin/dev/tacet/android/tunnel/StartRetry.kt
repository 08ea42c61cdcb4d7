package dev.tacet.android.tunnel

import dev.tacet.android.R
import dev.tacet.android.present.Text
import dev.tacet.ffi.FirewallException

/**
 * When a start that failed is tried again. The user's switch means "keep me
 * filtered": a failure the network or the moment explains (no upstream with
 * a route during a handover, the store still held by the process before
 * this one, a hiccup inside the core) is tried again, 2 s after the first
 * failure and doubling to at most a minute, and at once when the network
 * changes; a failure only the user can fix (the VPN permission, another
 * VPN app, a configuration the core refuses) stops and says why.
 */
object StartRetry {
    private const val FIRST_MS = 2_000L
    private const val MOST_MS = 60_000L

    /** The wait before try number [attempt] + 1 (0: after the first failure). */
    fun delayMs(attempt: Int): Long =
        if (attempt >= 5) MOST_MS else (FIRST_MS shl attempt.coerceAtLeast(0)).coerceAtMost(MOST_MS)

    /** Whether trying again later can help. */
    fun isTransient(e: FirewallException): Boolean = when (e) {
        is FirewallException.UpstreamUnreachable,
        is FirewallException.StoreUnavailable,
        is FirewallException.Internal,
        -> true
        is FirewallException.BadFileDescriptor,
        is FirewallException.InvalidConfig,
        is FirewallException.InvalidInput,
        -> false
    }

    /** What the status line says while waiting. */
    fun waitingFor(reason: String, delayMs: Long): Text = Text.of(R.string.state_retry, delayMs / 1000, reason)
}
