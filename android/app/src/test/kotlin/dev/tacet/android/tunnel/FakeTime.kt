package dev.tacet.android.tunnel

/** A clock and scheduler on virtual time: tasks run when the test advances it. */
class FakeTime(var now: Long = 1_000_000L) : Clock, Scheduler {
    private class Task(val at: Long, val seq: Long, val run: () -> Unit) { var cancelled = false }

    private val tasks = mutableListOf<Task>()
    private var seq = 0L

    override fun nowMs() = now

    override fun schedule(delayMs: Long, task: () -> Unit): Cancellable {
        val t = Task(now + delayMs, seq++, task)
        tasks += t
        return Cancellable { t.cancelled = true }
    }

    /** Moves time on by [ms], running every task due on the way, in order. */
    fun advance(ms: Long) {
        val end = now + ms
        while (true) {
            val next = tasks.filter { !it.cancelled && it.at <= end }.minWithOrNull(compareBy({ it.at }, { it.seq })) ?: break
            tasks.remove(next)
            now = maxOf(now, next.at)
            next.run()
        }
        now = end
    }

    /** Tasks waiting to run. */
    val pending: Int get() = tasks.count { !it.cancelled }
}
