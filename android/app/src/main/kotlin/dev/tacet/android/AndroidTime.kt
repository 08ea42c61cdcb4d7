package dev.tacet.android

import android.os.Handler
import android.os.SystemClock
import dev.tacet.android.tunnel.Cancellable
import dev.tacet.android.tunnel.Clock
import dev.tacet.android.tunnel.Scheduler

/** Monotonic time for debouncing: does not jump when the user sets the clock. */
object ElapsedClock : Clock {
    override fun nowMs(): Long = SystemClock.elapsedRealtime()
}

/** Wall-clock time, for what is shown and saved (the end of a pause). */
object WallClock : Clock {
    override fun nowMs(): Long = System.currentTimeMillis()
}

/** A [Scheduler] on a `Handler`'s thread. */
class HandlerScheduler(private val handler: Handler) : Scheduler {
    override fun schedule(delayMs: Long, task: () -> Unit): Cancellable {
        val runnable = Runnable(task)
        handler.postDelayed(runnable, delayMs)
        return Cancellable { handler.removeCallbacks(runnable) }
    }
}
