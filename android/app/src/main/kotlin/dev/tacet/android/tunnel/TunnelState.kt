package dev.tacet.android.tunnel

import dev.tacet.android.R
import dev.tacet.android.present.Text

/**
 * What the tunnel really is doing, as the switch, the tile and the
 * notification show it. Only the VPN service moves it (from what the OS and
 * the firewall report), so a dead service cannot leave the switch "on".
 */
sealed interface TunnelState {
    /** Not running, as the user wants. */
    data object Off : TunnelState

    /** Asked to run: waiting for the VPN permission, a network, or the firewall. */
    data class Starting(val waitingFor: Text? = null) : TunnelState

    /** Filtering. */
    data object On : TunnelState

    /** Running but letting everything through until [untilMs] (wall clock). */
    data class Paused(val untilMs: Long) : TunnelState

    /** Stopped on its own, or could not start; [reason] is shown. */
    data class Failed(val reason: Text) : TunnelState

    /** The OS took the VPN away (another VPN app started, or the user revoked it). */
    data object Revoked : TunnelState

    /** Whether the switch shows "on": the user wants it and it is (or is getting) there. */
    val switchChecked: Boolean
        get() = this is Starting || this is On || this is Paused

    /** Whether the firewall runs on a tunnel now. */
    val running: Boolean
        get() = this is On || this is Paused
}

/** What happened to the tunnel; fed to [TunnelState.next]. */
sealed interface TunnelInput {
    /** The user (switch, tile) or Always-on asked for it to run. */
    data object SwitchedOn : TunnelInput

    /** The user asked for it to stop; the service stops it. */
    data object SwitchedOff : TunnelInput

    /** Waiting for something before the tunnel can be built (a network). */
    data class Waiting(val what: Text) : TunnelInput

    /** The firewall runs on a freshly built tunnel. */
    data object Running : TunnelInput

    /** Building the tunnel or starting the firewall failed. */
    data class StartFailed(val reason: Text) : TunnelInput

    /** Starting failed for a passing reason; it is tried again ([what]: when, and why). */
    data class Retrying(val what: Text) : TunnelInput

    /** The user paused filtering until [untilMs]. */
    data class PausedUntil(val untilMs: Long) : TunnelInput

    /** The pause ended (timer, or the user resumed). */
    data object Resumed : TunnelInput

    /** The firewall or the service stopped without being asked to. */
    data class Died(val reason: Text) : TunnelInput

    /** `VpnService.onRevoke`: the OS took the VPN away. */
    data object Revoked : TunnelInput
}

/**
 * The next state after [input]. Inputs that make no sense in a state (a
 * pause while off, a late "running" after the user switched off) leave it
 * as it is, so that events racing each other cannot show a tunnel that is
 * not there.
 */
fun TunnelState.next(input: TunnelInput): TunnelState = when (input) {
    TunnelInput.SwitchedOn -> if (switchChecked) this else TunnelState.Starting()
    TunnelInput.SwitchedOff -> TunnelState.Off
    is TunnelInput.Waiting -> if (this is TunnelState.Starting) TunnelState.Starting(input.what) else this
    // A rebuilt tunnel (new routes or resolvers) keeps a pause going.
    TunnelInput.Running -> if (this is TunnelState.Starting) TunnelState.On else this
    is TunnelInput.StartFailed -> if (this == TunnelState.Off) this else TunnelState.Failed(input.reason)
    // The switch stays on: a pause the user chose is given again on the next start.
    is TunnelInput.Retrying -> if (switchChecked) TunnelState.Starting(input.what) else this
    is TunnelInput.PausedUntil -> if (running) TunnelState.Paused(input.untilMs) else this
    TunnelInput.Resumed -> if (this is TunnelState.Paused) TunnelState.On else this
    is TunnelInput.Died -> if (switchChecked) TunnelState.Failed(input.reason) else this
    TunnelInput.Revoked -> if (this == TunnelState.Off) this else TunnelState.Revoked
}

/**
 * One line for the status text and the notification. With strict Private
 * DNS the phone's DNS goes past the tunnel ([privateDns]), and with
 * Android's "Block connections without VPN" ([lockdown]) every connection
 * but DNS is cut off: then "On" must not claim to block.
 */
fun TunnelState.describe(nowMs: Long, privateDns: PrivateDnsMode = PrivateDnsMode.Off, lockdown: Boolean = false): Text =
    when (this) {
        TunnelState.Off -> Text.of(R.string.state_off)
        is TunnelState.Starting -> waitingFor?.let { Text.of(R.string.state_starting_for, it) } ?: Text.of(R.string.state_starting)
        TunnelState.On -> when {
            lockdown -> Text.of(R.string.state_on_lockdown)
            privateDns is PrivateDnsMode.Strict -> Text.of(R.string.state_on_private_dns, privateDns.serverName)
            else -> Text.of(R.string.state_on)
        }
        is TunnelState.Paused -> {
            val left = PauseTimer.formatRemaining(untilMs - nowMs)
            Text.of(if (lockdown) R.string.state_paused_lockdown else R.string.state_paused, left)
        }
        is TunnelState.Failed -> Text.of(R.string.state_failed, reason)
        TunnelState.Revoked -> Text.of(R.string.state_revoked)
    }

/** The same state in a word or two, for the Quick Settings tile's subtitle. */
fun TunnelState.headline(privateDns: PrivateDnsMode = PrivateDnsMode.Off, lockdown: Boolean = false): Text = when (this) {
    TunnelState.Off, TunnelState.Revoked -> Text.of(R.string.state_short_off)
    is TunnelState.Starting -> Text.of(R.string.state_short_starting)
    TunnelState.On -> when {
        lockdown -> Text.of(R.string.state_short_lockdown)
        privateDns is PrivateDnsMode.Strict -> Text.of(R.string.state_short_private_dns)
        else -> Text.of(R.string.state_short_on)
    }
    is TunnelState.Paused -> Text.of(if (lockdown) R.string.state_short_lockdown else R.string.state_short_paused)
    is TunnelState.Failed -> Text.of(R.string.state_short_failed)
}
