package dev.tacet.android.tunnel

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

class PauseTimerTest {
    private val time = FakeTime(now = 1_700_000_000_000)
    private val timer = PauseTimer(time)

    @Test
    fun `a pause counts down and ends by itself`() {
        val until = timer.start(15)
        assertEquals(time.now + 15 * 60_000, until)
        assertTrue(timer.isPaused)
        time.advance(60_000)
        assertEquals(14 * 60_000L, timer.remainingMs())
        assertEquals(14, timer.minutesForFirewall())
        time.advance(14 * 60_000L)
        assertFalse(timer.isPaused)
        assertNull(timer.untilMs)
        assertEquals(0, timer.minutesForFirewall())
    }

    @Test
    fun `a restarted firewall gets the rest rounded up to whole minutes`() {
        timer.start(5)
        time.advance(61_000)
        assertEquals(4, timer.minutesForFirewall()) // 3:59 left
        time.advance(3 * 60_000)
        assertEquals(1, timer.minutesForFirewall()) // 0:59 left
    }

    @Test
    fun `a saved deadline comes back, a past one does not`() {
        timer.restore(time.now + 30_000)
        assertEquals(30_000, timer.remainingMs())
        timer.restore(time.now - 1)
        assertFalse(timer.isPaused)
        timer.restore(null)
        assertFalse(timer.isPaused)
    }

    @Test
    fun `cancel resumes`() {
        timer.start(60)
        timer.cancel()
        assertFalse(timer.isPaused)
    }

    @Test
    fun `only sensible lengths`() {
        assertEquals(listOf(5, 15, 60), PauseTimer.CHOICES_MINUTES)
        assertThrows<IllegalArgumentException> { timer.start(0) }
        assertThrows<IllegalArgumentException> { timer.start(PauseTimer.MAX_MINUTES + 1) }
    }

    @Test
    fun `time left is shown rounded up to the second`() {
        assertEquals("5:00", PauseTimer.formatRemaining(300_000))
        assertEquals("4:59", PauseTimer.formatRemaining(299_000))
        assertEquals("5:00", PauseTimer.formatRemaining(299_001))
        assertEquals("0:01", PauseTimer.formatRemaining(1))
        assertEquals("0:00", PauseTimer.formatRemaining(-5))
        assertEquals("1:00:00", PauseTimer.formatRemaining(3_600_000))
    }
}
