package dev.tacet.android.tunnel

/**
 * Folds a burst of values into one call of `action` with the last of them.
 *
 * It fires [quietMs] after the last value, but no later than [maxWaitMs]
 * after the first value of the burst (a steady stream still gets through),
 * and never sooner than [minGapMs] after the previous firing (rebuilding the
 * tunnel costs the firewall its in-memory state, so it must not happen
 * several times a second whatever the input does). Until it has fired once,
 * it waits only [firstQuietMs]: the first routes after the tunnel starts
 * (the address rules, then the enforced names' addresses a few milliseconds
 * later) go in at once, not seconds later.
 *
 * Not thread-safe: call it on the scheduler's thread, where `action` runs.
 */
class Debouncer<T>(
    private val scheduler: Scheduler,
    private val clock: Clock,
    private val quietMs: Long,
    private val maxWaitMs: Long,
    private val minGapMs: Long = 0,
    private val firstQuietMs: Long = quietMs,
    private val action: (T) -> Unit,
) {
    private class Pending<T>(val value: T)

    private var latest: Pending<T>? = null
    private var burstStartMs: Long? = null
    private var lastFiredMs: Long? = null
    private var task: Cancellable? = null

    /** Takes [value] as the latest; `action` runs once the burst settles. */
    fun submit(value: T) {
        val now = clock.nowMs()
        val start = burstStartMs ?: now.also { burstStartMs = it }
        latest = Pending(value)
        val quiet = if (lastFiredMs == null) firstQuietMs else quietMs
        var at = minOf(now + quiet, start + maxWaitMs)
        lastFiredMs?.let { at = maxOf(at, it + minGapMs) }
        task?.cancel()
        task = scheduler.schedule((at - now).coerceAtLeast(0)) { fire() }
    }

    /** Drops the pending value, if any. */
    fun cancel() {
        task?.cancel()
        task = null
        latest = null
        burstStartMs = null
    }

    /** Whether a value is waiting to be passed on. */
    val isPending: Boolean get() = latest != null

    private fun fire() {
        val pending = latest ?: return
        task = null
        latest = null
        burstStartMs = null
        lastFiredMs = clock.nowMs()
        action(pending.value)
    }
}

/**
 * Applies the settled value of a burst (see [Debouncer]) only when it differs
 * from the one applied last: the same resolvers announced again, or the same
 * routes, cause no tunnel rebuild.
 *
 * `apply` returns whether the value took effect; if not (the tunnel could
 * not be rebuilt), the old value stays the applied one, so that the same
 * value submitted again is tried again.
 */
class SettledChange<T>(
    scheduler: Scheduler,
    clock: Clock,
    quietMs: Long,
    maxWaitMs: Long,
    minGapMs: Long,
    initial: T,
    firstQuietMs: Long = quietMs,
    private val apply: (T) -> Boolean,
) {
    /** The value applied last. */
    var applied: T = initial
        private set

    private val debouncer = Debouncer<T>(scheduler, clock, quietMs, maxWaitMs, minGapMs, firstQuietMs) { value ->
        if (value != applied && apply(value)) applied = value
    }

    /** Takes [value] as the latest wanted one. */
    fun submit(value: T) = debouncer.submit(value)

    /**
     * Records [value] as applied without calling `apply`: the tunnel was
     * built with it for another reason (a start, a change of the other kind).
     */
    fun markApplied(value: T) {
        applied = value
    }

    /** Drops the pending value. */
    fun cancel() = debouncer.cancel()
}

/**
 * Runs `action` at most once per [intervalMs]: at once after a quiet spell,
 * otherwise once at the end of the window, with the latest value. For the
 * notification's live count: the system drops updates that come faster than
 * a few per second, and each one wakes the notification shade.
 */
class Throttle<T>(
    private val scheduler: Scheduler,
    private val clock: Clock,
    private val intervalMs: Long,
    private val action: (T) -> Unit,
) {
    private class Pending<T>(val value: T)

    private var lastMs: Long? = null
    private var latest: Pending<T>? = null
    private var task: Cancellable? = null

    /** Passes [value] on now, or at the end of the current window. */
    fun submit(value: T) {
        val now = clock.nowMs()
        val last = lastMs
        if (task == null && (last == null || now >= last + intervalMs)) {
            lastMs = now
            action(value)
            return
        }
        latest = Pending(value)
        if (task == null) {
            task = scheduler.schedule((last ?: now) + intervalMs - now) { flush() }
        }
    }

    /** Drops the pending value. */
    fun cancel() {
        task?.cancel()
        task = null
        latest = null
    }

    private fun flush() {
        task = null
        val pending = latest ?: return
        latest = null
        lastMs = clock.nowMs()
        action(pending.value)
    }
}
