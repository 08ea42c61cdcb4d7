package dev.tacet.android.tunnel

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test

class DebouncerTest {
    private val time = FakeTime()

    @Test
    fun `a burst of route changes gives one rebuild with the last set`() {
        val fired = mutableListOf<Int>()
        val d = Debouncer<Int>(time, time, quietMs = 2_000, maxWaitMs = 10_000) { fired += it }
        repeat(20) { i ->
            d.submit(i)
            time.advance(100)
        }
        assertEquals(emptyList<Int>(), fired)
        time.advance(2_000)
        assertEquals(listOf(19), fired)
        assertEquals(0, time.pending)
    }

    @Test
    fun `a steady stream still fires once the longest wait is up`() {
        val fired = mutableListOf<Pair<Long, Int>>()
        val start = time.now
        val d = Debouncer<Int>(time, time, quietMs = 2_000, maxWaitMs = 10_000) { fired += (time.now - start) to it }
        for (i in 0 until 25) {
            d.submit(i)
            time.advance(1_000)
        }
        // One every 10 s, carrying the latest value at that moment.
        assertEquals(listOf(10_000L to 9, 20_000L to 19), fired)
    }

    @Test
    fun `two firings are at least the minimum gap apart`() {
        val fired = mutableListOf<Long>()
        val d = Debouncer<Int>(time, time, quietMs = 2_000, maxWaitMs = 10_000, minGapMs = 30_000) { fired += time.now }
        d.submit(1)
        time.advance(2_000)
        d.submit(2)
        time.advance(5_000)
        assertEquals(1, fired.size)
        time.advance(30_000)
        assertEquals(listOf(fired[0], fired[0] + 30_000), fired)
    }

    @Test
    fun `the first routes after start go in at once, later ones are batched`() {
        val fired = mutableListOf<Pair<Long, Int>>()
        val start = time.now
        val d = Debouncer<Int>(time, time, 2_000, 10_000, 30_000, firstQuietMs = 300) { fired += (time.now - start) to it }
        d.submit(1) // the address rules, announced at start
        time.advance(20)
        d.submit(2) // the enforced names' addresses, a moment later
        time.advance(300)
        assertEquals(listOf(320L to 2), fired)
        d.submit(3)
        time.advance(2_000)
        assertEquals(1, fired.size, "then the minimum gap holds")
        time.advance(30_000)
        assertEquals(listOf(320L to 2, 30_320L to 3), fired)
    }

    @Test
    fun `cancel drops the pending value`() {
        val fired = mutableListOf<Int>()
        val d = Debouncer<Int>(time, time, 2_000, 10_000) { fired += it }
        d.submit(1)
        d.cancel()
        time.advance(60_000)
        assertEquals(emptyList<Int>(), fired)
    }

    @Test
    fun `the same upstreams again cause no restart`() {
        val applied = mutableListOf<List<String>>()
        val change = SettledChange(time, time, 1_500, 5_000, 0, listOf("192.0.2.1")) { applied += it; true }
        change.submit(listOf("192.0.2.1"))
        time.advance(10_000)
        assertEquals(emptyList<List<String>>(), applied)

        // The network flaps: another set, then the old one again within the window.
        change.submit(listOf("198.51.100.1"))
        time.advance(500)
        change.submit(listOf("192.0.2.1"))
        time.advance(10_000)
        assertEquals(emptyList<List<String>>(), applied)

        change.submit(listOf("198.51.100.1", "2001:db8::1"))
        time.advance(10_000)
        assertEquals(listOf(listOf("198.51.100.1", "2001:db8::1")), applied)
        assertEquals(listOf("198.51.100.1", "2001:db8::1"), change.applied)
    }

    @Test
    fun `a change that failed to apply is tried again`() {
        var ok = false
        var calls = 0
        val change = SettledChange(time, time, 1_000, 5_000, 0, setOf<String>()) { calls++; ok }
        change.submit(setOf("a"))
        time.advance(2_000)
        assertEquals(1, calls)
        assertEquals(setOf<String>(), change.applied)
        ok = true
        change.submit(setOf("a"))
        time.advance(2_000)
        assertEquals(2, calls)
        assertEquals(setOf("a"), change.applied)
    }

    @Test
    fun `the notification count is throttled, and the last value is not lost`() {
        val shown = mutableListOf<Pair<Long, Int>>()
        val start = time.now
        val t = Throttle<Int>(time, time, 5_000) { shown += (time.now - start) to it }
        t.submit(1) // at once
        for (i in 2..50) {
            time.advance(100)
            t.submit(i)
        }
        time.advance(10_000)
        assertEquals(listOf(0L to 1, 5_000L to 50), shown)
        time.advance(60_000)
        t.submit(51) // after a quiet spell: at once again
        assertEquals(74_900L to 51, shown.last())
    }
}
