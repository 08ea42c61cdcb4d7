package dev.tacet.android.tunnel

import dev.tacet.android.R
import dev.tacet.android.present.Text
import dev.tacet.android.tunnel.TunnelInput.Died
import dev.tacet.android.tunnel.TunnelInput.PausedUntil
import dev.tacet.android.tunnel.TunnelInput.Resumed
import dev.tacet.android.tunnel.TunnelInput.Revoked
import dev.tacet.android.tunnel.TunnelInput.Running
import dev.tacet.android.tunnel.TunnelInput.StartFailed
import dev.tacet.android.tunnel.TunnelInput.SwitchedOff
import dev.tacet.android.tunnel.TunnelInput.SwitchedOn
import dev.tacet.android.tunnel.TunnelInput.Waiting
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class TunnelStateTest {
    private fun run(vararg inputs: TunnelInput, from: TunnelState = TunnelState.Off) =
        inputs.fold(from) { s, i -> s.next(i) }

    @Test
    fun `switching on goes through starting to on`() {
        assertEquals(TunnelState.Starting(), run(SwitchedOn))
        assertEquals(TunnelState.Starting(Text.Raw("a network")), run(SwitchedOn, Waiting(Text.Raw("a network"))))
        assertEquals(TunnelState.On, run(SwitchedOn, Waiting(Text.Raw("a network")), Running))
        assertTrue(run(SwitchedOn).switchChecked)
        assertFalse(run(SwitchedOn).running)
    }

    @Test
    fun `pause, resume, and a rebuilt tunnel keeps the pause`() {
        val paused = run(SwitchedOn, Running, PausedUntil(5_000))
        assertEquals(TunnelState.Paused(5_000), paused)
        assertEquals(paused, paused.next(Running))
        assertEquals(TunnelState.On, paused.next(Resumed))
        assertTrue(paused.switchChecked && paused.running)
    }

    @Test
    fun `a pause while off or starting is ignored`() {
        assertEquals(TunnelState.Off, run(PausedUntil(5_000)))
        assertEquals(TunnelState.Starting(), run(SwitchedOn, PausedUntil(5_000)))
    }

    @Test
    fun `a dead firewall shows as stopped, with why, and unchecks the switch`() {
        val failed = run(SwitchedOn, Running, Died(Text.Raw("the tunnel was closed")))
        assertEquals(TunnelState.Failed(Text.Raw("the tunnel was closed")), failed)
        assertFalse(failed.switchChecked)
        assertEquals(Text.of(R.string.state_failed, Text.Raw("the tunnel was closed")), failed.describe(0))
        assertEquals(TunnelState.Failed(Text.Raw("no upstream")), run(SwitchedOn, StartFailed(Text.Raw("no upstream"))))
    }

    @Test
    fun `late events after switching off do not turn it back on`() {
        assertEquals(TunnelState.Off, run(SwitchedOn, Running, SwitchedOff, Running))
        assertEquals(TunnelState.Off, run(SwitchedOn, SwitchedOff, Died(Text.Raw("stopped"))))
        assertEquals(TunnelState.Off, run(SwitchedOn, SwitchedOff, StartFailed(Text.Raw("late"))))
        assertEquals(TunnelState.Off, run(Revoked))
    }

    @Test
    fun `revoked, then on again`() {
        val revoked = run(SwitchedOn, Running, Revoked)
        assertEquals(TunnelState.Revoked, revoked)
        assertFalse(revoked.switchChecked)
        assertEquals(TunnelState.Starting(), revoked.next(SwitchedOn))
        assertEquals(TunnelState.Starting(), run(SwitchedOn, Died(Text.Raw("x")), SwitchedOn))
    }

    @Test
    fun `switching on twice does not restart`() {
        assertEquals(TunnelState.On, run(SwitchedOn, Running, SwitchedOn))
    }

    @Test
    fun `the paused status shows the time left`() {
        assertEquals(Text.of(R.string.state_paused, "4:59"), TunnelState.Paused(300_000).describe(1_000))
        assertEquals(Text.of(R.string.state_short_paused), TunnelState.Paused(300_000).headline())
    }

    @Test
    fun `with strict Private DNS on does not claim to block`() {
        assertEquals(Text.of(R.string.state_on), TunnelState.On.describe(0, PrivateDnsMode.Automatic))
        val strict = PrivateDnsMode.Strict("dns.example")
        assertEquals(Text.of(R.string.state_on_private_dns, "dns.example"), TunnelState.On.describe(0, strict))
        assertEquals(Text.of(R.string.state_short_private_dns), TunnelState.On.headline(strict))
        assertEquals(Text.of(R.string.state_off), TunnelState.Off.describe(0, strict))
        assertEquals(Text.of(R.string.state_short_off), TunnelState.Off.headline(strict))
    }

    @Test
    fun `with lockdown on does not claim to block, nor to let everything through`() {
        val strict = PrivateDnsMode.Strict("dns.example")
        // Lockdown cuts every app off, which is worse than a bypass: it is what the line says.
        assertEquals(Text.of(R.string.state_on_lockdown), TunnelState.On.describe(0, strict, lockdown = true))
        assertEquals(Text.of(R.string.state_on_lockdown), TunnelState.On.describe(0, lockdown = true))
        assertEquals(Text.of(R.string.state_short_lockdown), TunnelState.On.headline(lockdown = true))
        assertEquals(Text.of(R.string.state_paused_lockdown, "4:59"), TunnelState.Paused(300_000).describe(1_000, lockdown = true))
        assertEquals(Text.of(R.string.state_short_lockdown), TunnelState.Paused(300_000).headline(lockdown = true))
        assertEquals(Text.of(R.string.state_off), TunnelState.Off.describe(0, lockdown = true))
    }
}
