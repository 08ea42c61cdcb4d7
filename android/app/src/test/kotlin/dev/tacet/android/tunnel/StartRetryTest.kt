package dev.tacet.android.tunnel

import dev.tacet.android.R
import dev.tacet.android.present.Text
import dev.tacet.ffi.FirewallException
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class StartRetryTest {
    @Test
    fun `the wait doubles from 2 s to at most a minute`() {
        assertEquals(listOf(2_000L, 4_000L, 8_000L, 16_000L, 32_000L, 60_000L, 60_000L), (0..6).map(StartRetry::delayMs))
        assertEquals(60_000L, StartRetry.delayMs(Int.MAX_VALUE))
        assertEquals(2_000L, StartRetry.delayMs(-1))
    }

    @Test
    fun `what the network or the moment explains is tried again, what the user must fix is not`() {
        assertTrue(StartRetry.isTransient(FirewallException.UpstreamUnreachable("no route to 2620:fe::fe")))
        assertTrue(StartRetry.isTransient(FirewallException.StoreUnavailable("locked")))
        assertTrue(StartRetry.isTransient(FirewallException.Internal("thread lost")))
        assertFalse(StartRetry.isTransient(FirewallException.InvalidConfig("unknown list")))
        assertFalse(StartRetry.isTransient(FirewallException.BadFileDescriptor(3, "not open")))
    }

    @Test
    fun `while retrying the switch stays on and says when`() {
        val what = StartRetry.waitingFor("no upstream has a route", 4_000)
        val state = TunnelState.On.next(TunnelInput.Retrying(what))
        assertEquals(TunnelState.Starting(what), state)
        assertTrue(state.switchChecked)
        assertEquals(Text.of(R.string.state_retry, 4L, "no upstream has a route"), what)
        assertEquals(Text.of(R.string.state_starting_for, what), state.describe(0))
        // The next successful start is On again; the user switching off wins.
        assertEquals(TunnelState.On, state.next(TunnelInput.Running))
        assertEquals(TunnelState.Off, TunnelState.Off.next(TunnelInput.Retrying(what)))
    }
}
