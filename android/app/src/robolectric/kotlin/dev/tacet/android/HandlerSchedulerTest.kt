package dev.tacet.android

import android.os.Handler
import android.os.Looper
import android.os.SystemClock
import dev.tacet.android.tunnel.Debouncer
import dev.tacet.android.tunnel.SettledChange
import org.junit.Assert.assertEquals
import org.junit.Assert.assertSame
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config
import java.time.Duration

/**
 * [HandlerScheduler] and [ElapsedClock] on a real `Looper`, whose time
 * Robolectric moves by hand: the service's debouncing as it runs on a
 * phone (the plain-Kotlin `DebouncerTest` runs it on a fake scheduler).
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35])
class HandlerSchedulerTest {
    private val looper = Looper.getMainLooper()
    private val scheduler = HandlerScheduler(Handler(looper))

    private fun idleFor(ms: Long) = shadowOf(looper).idleFor(Duration.ofMillis(ms))

    @Test
    fun `a task runs once, after its delay, on the handler's thread`() {
        val ran = mutableListOf<Looper?>()
        scheduler.schedule(500) { ran += Looper.myLooper() }
        idleFor(499)
        assertEquals(0, ran.size)
        idleFor(1)
        assertEquals(1, ran.size)
        assertSame(looper, ran[0])
        idleFor(10_000)
        assertEquals(1, ran.size)
    }

    @Test
    fun `a cancelled task never runs, and only that one is removed`() {
        val ran = mutableListOf<String>()
        val first = scheduler.schedule(100) { ran += "first" }
        scheduler.schedule(100) { ran += "second" }
        first.cancel()
        idleFor(1_000)
        assertEquals(listOf("second"), ran)
        assertTrue(shadowOf(looper).isIdle)
    }

    @Test
    fun `the elapsed clock moves with the looper's time`() {
        val start = ElapsedClock.nowMs()
        assertEquals(start, SystemClock.elapsedRealtime())
        idleFor(2_500)
        assertEquals(start + 2_500, ElapsedClock.nowMs())
    }

    // The service's route debouncing: 2 s quiet, at most 10 s, 30 s between rebuilds.
    @Test
    fun `a burst of route changes rebuilds once, then not again within 30 s`() {
        val rebuilt = mutableListOf<Pair<Long, String>>()
        val routes = Debouncer<String>(scheduler, ElapsedClock, 2_000, 10_000, 30_000) {
            rebuilt += ElapsedClock.nowMs() to it
        }
        val t0 = ElapsedClock.nowMs()
        routes.submit("a")
        idleFor(1_000)
        routes.submit("a b")
        idleFor(1_000)
        routes.submit("a b c")
        idleFor(1_999)
        assertEquals(emptyList<Pair<Long, String>>(), rebuilt)
        idleFor(1)
        assertEquals(listOf(t0 + 4_000 to "a b c"), rebuilt)

        routes.submit("a b c d")
        idleFor(29_999)
        assertEquals(1, rebuilt.size)
        idleFor(1)
        assertEquals(t0 + 34_000 to "a b c d", rebuilt.last())
    }

    // The resolvers: 1.5 s quiet, at most 5 s; the same set again is no restart.
    @Test
    fun `resolvers announced again unchanged cause no restart`() {
        val applied = mutableListOf<List<String>>()
        val upstreams = SettledChange(scheduler, ElapsedClock, 1_500, 5_000, 0, listOf("192.0.2.53")) {
            applied += it
            true
        }
        upstreams.submit(listOf("198.51.100.53"))
        upstreams.submit(listOf("192.0.2.53"))
        idleFor(1_500)
        assertEquals(emptyList<List<String>>(), applied)
        upstreams.submit(listOf("198.51.100.53"))
        idleFor(1_500)
        assertEquals(listOf(listOf("198.51.100.53")), applied)
    }
}
