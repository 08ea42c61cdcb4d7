package dev.tacet.android.tunnel

/**
 * The pause the user chose (5, 15 or 60 minutes, for a captive portal or an
 * app that breaks): when it ends, and how long is left.
 *
 * The firewall pauses itself too (`Firewall.pause(minutes)`), but it forgets
 * the pause when it is restarted on a rebuilt tunnel, and it cannot say how
 * long is left; so the shell keeps the deadline, ends the pause with
 * `resume()` on time, and re-applies the rest after a restart. Wall-clock
 * time, so that the deadline survives the process (it is saved).
 */
class PauseTimer(private val clock: Clock) {
    /** When the pause ends (wall clock, ms), or null when not paused. */
    var untilMs: Long? = null
        private set

    /** Pauses for [minutes] from now; returns the end. */
    fun start(minutes: Int): Long {
        require(minutes in 1..MAX_MINUTES) { "a pause lasts 1 to $MAX_MINUTES minutes" }
        return (clock.nowMs() + minutes * MINUTE_MS).also { untilMs = it }
    }

    /** Takes a saved deadline back (after the process restarted); ignored if past. */
    fun restore(savedUntilMs: Long?) {
        untilMs = savedUntilMs?.takeIf { it > clock.nowMs() }
    }

    /** Ends the pause. */
    fun cancel() {
        untilMs = null
    }

    /** Milliseconds left, 0 when not paused; a pause that ran out is forgotten. */
    fun remainingMs(): Long {
        val until = untilMs ?: return 0
        val left = until - clock.nowMs()
        if (left <= 0) untilMs = null
        return left.coerceAtLeast(0)
    }

    /** Whether a pause is running now. */
    val isPaused: Boolean get() = remainingMs() > 0

    /**
     * The pause to ask a restarted firewall for, in whole minutes, rounded
     * up (its unit is the minute; the shell's own timer ends it on time), or
     * 0 when not paused.
     */
    fun minutesForFirewall(): Int {
        val left = remainingMs()
        return if (left == 0L) 0 else ((left + MINUTE_MS - 1) / MINUTE_MS).toInt()
    }

    companion object {
        /** The pauses offered. */
        val CHOICES_MINUTES = listOf(5, 15, 60)

        /** The longest pause accepted. */
        const val MAX_MINUTES = 24 * 60

        private const val MINUTE_MS = 60_000L

        /** `m:ss` (or `h:mm:ss`), rounded up to the second; "0:00" when over. */
        fun formatRemaining(ms: Long): String {
            val total = (ms.coerceAtLeast(0) + 999) / 1000
            val h = total / 3600
            val m = total % 3600 / 60
            val s = total % 60
            return if (h > 0) "%d:%02d:%02d".format(h, m, s) else "%d:%02d".format(m, s)
        }
    }
}
