package dev.tacet.android.tunnel

/**
 * A source of time in milliseconds. The service passes
 * `SystemClock.elapsedRealtime` for timers (it does not jump when the user
 * changes the clock) and `System.currentTimeMillis` for what is shown;
 * tests pass a fake they move by hand.
 */
fun interface Clock {
    /** Now, in milliseconds. */
    fun nowMs(): Long
}

/** A task scheduled with a [Scheduler] that has not run yet. */
fun interface Cancellable {
    /** Makes sure the task does not run (nothing if it already ran). */
    fun cancel()
}

/**
 * Runs tasks later, all on one thread. On Android a `Handler` on the
 * service's worker thread; in tests a virtual-time fake, so debouncing is
 * tested without sleeping.
 */
fun interface Scheduler {
    /** Runs [task] after [delayMs] milliseconds (0: as soon as possible). */
    fun schedule(delayMs: Long, task: () -> Unit): Cancellable
}
