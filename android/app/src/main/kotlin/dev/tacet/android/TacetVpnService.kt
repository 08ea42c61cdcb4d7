package dev.tacet.android

import android.app.Notification
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.PendingIntent
import android.content.Intent
import android.content.pm.PackageManager
import android.content.pm.ServiceInfo
import android.net.ConnectivityManager
import android.net.LinkProperties
import android.net.Network
import android.net.VpnService
import android.os.Build
import android.os.Handler
import android.os.HandlerThread
import android.os.ParcelFileDescriptor
import android.util.Log
import dev.tacet.android.present.CounterText
import dev.tacet.android.present.Text
import dev.tacet.android.tunnel.Cancellable
import dev.tacet.android.tunnel.AppAttribution
import dev.tacet.android.tunnel.AppBypass
import dev.tacet.android.tunnel.IpPrefix
import dev.tacet.android.tunnel.LearnedRoutes
import dev.tacet.android.tunnel.PrivateDnsMode
import dev.tacet.android.tunnel.SettledChange
import dev.tacet.android.tunnel.Throttle
import dev.tacet.android.tunnel.TunnelInput
import dev.tacet.android.tunnel.StartRetry
import dev.tacet.android.tunnel.TunnelSpec
import dev.tacet.android.tunnel.Upstreams
import dev.tacet.android.tunnel.describe
import dev.tacet.ffi.FirewallEvent
import dev.tacet.ffi.FirewallException
import java.time.ZoneId

/**
 * The VPN service: builds the tunnel interface that carries only DNS (and
 * the addresses of blocked names), hands its descriptor to the firewall,
 * and rebuilds it when the firewall learns new addresses or the network's
 * resolvers change. A foreground service whose notification shows the
 * blocked count; it is what Android's Always-on VPN starts.
 *
 * All tunnel work runs on one worker thread ("tacet-tunnel"), so builds,
 * stops and debounced rebuilds never race each other.
 *
 * Rebuilding the tunnel gives a new descriptor; `Firewall.start` on a
 * running firewall swaps it under the same engine, so learned addresses,
 * queries in flight, counters and a pause carry over. Re-establishing still
 * costs Android a new interface, hence the debouncing (2 s quiet, 10 s at
 * most, 30 s between rebuilds), and the routes are taken exactly as the
 * firewall gives them.
 */
class TacetVpnService : VpnService(), TunnelControl {
    private lateinit var worker: HandlerThread
    private lateinit var handler: Handler
    private lateinit var routes: SettledChange<Set<IpPrefix>>
    private lateinit var upstreams: SettledChange<List<String>>
    private lateinit var notificationUpdates: Throttle<Unit>
    private val host get() = application.host
    private var networkCallback: ConnectivityManager.NetworkCallback? = null
    private var running = false
    private var pauseEnd: Cancellable? = null
    private var retry: Cancellable? = null
    private var retryAttempt = 0
    private val statsObserver: () -> Unit = { handler.post { notificationUpdates.submit(Unit) } }

    override fun onCreate() {
        super.onCreate()
        worker = HandlerThread("tacet-tunnel").apply { start() }
        handler = Handler(worker.looper)
        val scheduler = HandlerScheduler(handler)
        // The first routes after start (address rules, then the enforced
        // names' addresses) go in after 300 ms; later ones are batched.
        routes = SettledChange(scheduler, ElapsedClock, 2_000, 10_000, 30_000, emptySet(), firstQuietMs = 300) { r ->
            rebuild(r, upstreams.applied)
        }
        // New network resolvers reach a running firewall without a new
        // tunnel: the tunnel's routes do not depend on them.
        upstreams = SettledChange(scheduler, ElapsedClock, 1_500, 5_000, 0, emptyList()) { u ->
            if (running) applyUpstreams(u) else rebuild(routes.applied, u)
        }
        notificationUpdates = Throttle(scheduler, ElapsedClock, NOTIFICATION_INTERVAL_MS) { showNotification() }
        getSystemService(NotificationManager::class.java).createNotificationChannel(
            NotificationChannel(CHANNEL, getString(R.string.channel_name), NotificationManager.IMPORTANCE_LOW).apply {
                description = getString(R.string.channel_description)
                setShowBadge(false)
            },
        )
        host.tunnel = this
        host.serviceEvents = { event -> handler.post { onFirewallEvent(event) } }
        host.observe(statsObserver)
    }

    /**
     * Who owns a connection in the tunnel (Android 10+; only the active VPN
     * app may ask: this service). Given to the firewall in [rebuild], on the
     * worker thread: the firewall is created lazily, with all its lists, and
     * never on the main thread.
     */
    private val attribution: AppAttribution? by lazy {
        if (Build.VERSION.SDK_INT < Build.VERSION_CODES.Q) return@lazy null
        val connectivity = getSystemService(ConnectivityManager::class.java)
        AppAttribution(
            Build.VERSION.SDK_INT,
            { protocol, local, remote ->
                // Checked again here for lint: the lambda is its own scope.
                if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.Q) {
                    connectivity.getConnectionOwnerUid(protocol, local, remote)
                } else {
                    android.os.Process.INVALID_UID
                }
            },
            { uid -> packageManager.getNameForUid(uid) },
        )
    }

    override fun onStartCommand(intent: Intent?, flags: Int, startId: Int): Int {
        if (intent?.action == ACTION_STOP) {
            stop()
            return START_NOT_STICKY
        }
        // ACTION_START, Always-on (SERVICE_INTERFACE), or a restart after the
        // system killed the process (null intent): all mean "run".
        goForeground()
        host.settings.update { it.copy(wantOn = true) }
        host.update(TunnelInput.SwitchedOn)
        handler.post { startTunnel() }
        return START_STICKY
    }

    private fun goForeground() {
        val notification = buildNotification()
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.UPSIDE_DOWN_CAKE) {
            // Android 14+: a type is required; VPN apps are "system exempted".
            startForeground(NOTIFICATION_ID, notification, ServiceInfo.FOREGROUND_SERVICE_TYPE_SYSTEM_EXEMPTED)
        } else {
            startForeground(NOTIFICATION_ID, notification)
        }
    }

    /** Worker thread: first start, once the resolvers are known. */
    private fun startTunnel() {
        if (running) return
        if (prepare(this) != null) {
            fail(Text.of(R.string.service_needs_permission))
            return
        }
        val cm = getSystemService(ConnectivityManager::class.java)
        if (networkCallback == null) {
            val callback = object : ConnectivityManager.NetworkCallback() {
                override fun onLinkPropertiesChanged(network: Network, lp: LinkProperties) = onNetwork(lp)
            }
            // The app is excluded from its own VPN, so its default network is
            // the real one, also while the tunnel is up.
            cm.registerDefaultNetworkCallback(callback, handler)
            networkCallback = callback
        }
        val now = cm.getLinkProperties(cm.activeNetwork)?.let { Upstreams.fromResolvers(it.dnsServers) }.orEmpty()
        if (now.isEmpty()) {
            host.update(TunnelInput.Waiting(Text.of(R.string.service_waiting_network)))
            return // the network callback starts it
        }
        if (rebuild(routes.applied, now)) upstreams.markApplied(now)
    }

    /** Worker thread: the default network's properties changed. */
    private fun onNetwork(lp: LinkProperties) {
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) {
            host.setPrivateDns(PrivateDnsMode.of(lp.isPrivateDnsActive, lp.privateDnsServerName))
        }
        val resolvers = Upstreams.fromResolvers(lp.dnsServers)
        Log.d(FirewallHost.TAG, "network resolvers: $resolvers")
        // No resolver: the network is going away; keep the old ones until the next.
        if (resolvers.isNotEmpty()) upstreams.submit(resolvers)
    }

    /** Worker thread: an event of the firewall. */
    private fun onFirewallEvent(event: FirewallEvent) {
        when (event) {
            is FirewallEvent.RoutesChanged -> if (running) {
                Log.d(FirewallHost.TAG, "routes changed: ${event.routes.size} networks")
                routes.submit(LearnedRoutes.parse(event.routes))
            }
            // `error == null` follows our own stop() or a replacing start().
            is FirewallEvent.Stopped -> event.error?.let { error ->
                if (running) {
                    Log.w(FirewallHost.TAG, "the firewall stopped on its own: $error")
                    host.update(TunnelInput.Died(Text.Raw(error)))
                    teardown()
                    stopSelf()
                }
            }
            is FirewallEvent.StatsChanged,
            is FirewallEvent.UpstreamUnavailable,
            is FirewallEvent.UpstreamRecovered,
            is FirewallEvent.PlainFallback -> {}
        }
    }

    /**
     * Worker thread: builds the tunnel with [learned] routed in and starts
     * (or restarts) the firewall on it with [resolvers] as upstreams.
     * Returns whether it runs.
     */
    private fun rebuild(learned: Set<IpPrefix>, resolvers: List<String>): Boolean {
        if (resolvers.isEmpty()) return false
        val chosen = host.chosenUpstreams(resolvers) ?: return fail(Text.of(R.string.service_choice_unavailable))
        val spec = TunnelSpec.build(learned)
        try {
            host.configure { it.setConfig(it.config().copy(upstreams = chosen)) }
            attribution?.let { host.firewall.setAppResolver(it.resolver) }
        } catch (e: FirewallException) {
            return failed(e)
        }
        val builder = Builder()
            .setSession("tacet")
            .setConfigureIntent(openAppIntent())
            // The core's upstream sockets must not loop back into the tunnel.
            .addDisallowedApplication(packageName)
        // The apps the user excluded go straight to the network (AppsActivity).
        AppBypass.disallowed(host.settings.load().bypassApps, packageName, ::isInstalled).forEach { pkg ->
            try {
                builder.addDisallowedApplication(pkg)
            } catch (_: PackageManager.NameNotFoundException) {
                // Uninstalled between the check and here: nothing to exclude.
            }
        }
        // The core makes the descriptor non-blocking itself (Tun::from_fd).
        spec.addresses.forEach { builder.addAddress(it.address, it.length) }
        spec.dnsServers.forEach { builder.addDnsServer(it) }
        spec.routes.forEach { builder.addRoute(it.address, it.length) }
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.Q) {
            // Metered-ness follows the real network: tacet carries no traffic.
            builder.setMetered(false)
        }
        val tun: ParcelFileDescriptor = try {
            builder.establish()
        } catch (e: RuntimeException) {
            // IllegalStateException / SecurityException: not prepared any more.
            Log.w(FirewallHost.TAG, "establish failed", e)
            null
        } ?: return fail(Text.of(R.string.service_establish_refused))
        // Always-on with "Block connections without VPN": only DNS and the
        // blocked addresses are routed into the tunnel, so Android cuts every
        // other connection. Say so (main screen, notification).
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.Q) host.setLockdown(isLockdownEnabled)
        val fd = tun.detachFd()
        try {
            host.firewall.start(fd) // owns fd from here, also when it fails...
        } catch (e: FirewallException) {
            // ...except for a bad descriptor, which is still ours to close.
            if (e is FirewallException.BadFileDescriptor) ParcelFileDescriptor.adoptFd(fd).close()
            return failed(e)
        }
        retry?.cancel()
        retry = null
        retryAttempt = 0
        running = true
        host.update(TunnelInput.Running)
        // The new engine knows nothing of a pause: give it the rest (also
        // after the process restarted during a pause, from the settings).
        val minutes = host.pause.minutesForFirewall()
        if (minutes > 0) {
            host.firewall.pause(minutes.toUInt())
            host.pause.untilMs?.let { host.update(TunnelInput.PausedUntil(it)) }
            if (pauseEnd == null) schedulePauseEnd()
        }
        Log.i(FirewallHost.TAG, "tunnel up: ${learned.size} learned routes, ${chosen.size} upstreams")
        notificationUpdates.submit(Unit)
        return true
    }

    /**
     * Worker thread: the running firewall asks [chosenUpstreams] of the
     * network's [resolvers] from now on, in the same tunnel, with the same
     * compiled rules. An upstream without a route is left out by the core;
     * when none has one, the old ones stay until the next network.
     */
    private fun applyUpstreams(resolvers: List<String>): Boolean {
        val chosen = host.chosenUpstreams(resolvers) ?: return fail(Text.of(R.string.service_choice_unavailable))
        return try {
            host.configure { it.setConfig(it.config().copy(upstreams = chosen)) }
            true
        } catch (e: FirewallException) {
            Log.w(FirewallHost.TAG, "kept the upstreams: ${FirewallHost.reasonOf(e)}")
            false
        }
    }

    private fun isInstalled(pkg: String): Boolean = try {
        packageManager.getApplicationInfo(pkg, 0)
        true
    } catch (_: PackageManager.NameNotFoundException) {
        false
    }

    /** A new tunnel with the excluded apps as saved; the rules stay compiled as they are. */
    override fun appsChanged() {
        handler.post { if (running) rebuild(routes.applied, upstreams.applied) }
    }

    override fun dnsChanged() {
        handler.post { if (running) applyUpstreams(upstreams.applied) }
    }

    /**
     * Worker thread: what a failed (re)build does. A firewall that already
     * runs keeps running as it was (a new route or network that cannot be
     * used yet is no reason to stop filtering); a first start is tried
     * again, or stops when only the user can fix it.
     */
    private fun failed(e: FirewallException): Boolean {
        val reason = FirewallHost.reasonOf(e)
        return when {
            running -> {
                Log.w(FirewallHost.TAG, "kept the running tunnel: $reason")
                false
            }
            StartRetry.isTransient(e) -> retryLater(reason)
            else -> fail(Text.Raw(reason))
        }
    }

    /**
     * Worker thread: a start failed for a passing reason. The firewall stops
     * (no tunnel is better than a dead one: apps keep the network), the
     * network callback stays, and the start is tried again after a backoff,
     * or sooner when the network changes.
     */
    private fun retryLater(reason: String): Boolean {
        val delay = StartRetry.delayMs(retryAttempt++)
        Log.w(FirewallHost.TAG, "cannot run yet, again in ${delay / 1000} s: $reason")
        running = false
        host.firewall.setAppResolver(null)
        host.firewall.stop()
        host.update(TunnelInput.Retrying(StartRetry.waitingFor(reason, delay)))
        retry?.cancel()
        retry = HandlerScheduler(handler).schedule(delay) {
            retry = null
            startTunnel()
        }
        notificationUpdates.submit(Unit)
        return false
    }

    private fun fail(reason: Text): Boolean {
        Log.w(FirewallHost.TAG, "cannot run: ${words(reason)}")
        host.update(TunnelInput.StartFailed(reason))
        teardown()
        stopSelf()
        return false
    }

    /** Worker thread: stops the firewall and forgets the network. */
    private fun teardown() {
        retry?.cancel()
        retry = null
        retryAttempt = 0
        routes.cancel()
        upstreams.cancel()
        notificationUpdates.cancel()
        pauseEnd?.cancel()
        pauseEnd = null
        networkCallback?.let { getSystemService(ConnectivityManager::class.java).unregisterNetworkCallback(it) }
        networkCallback = null
        running = false
        host.firewall.setAppResolver(null)
        host.firewall.stop() // closes the tunnel's descriptor
    }

    override fun stop() {
        handler.post {
            host.update(TunnelInput.SwitchedOff)
            teardown()
            stopForeground(STOP_FOREGROUND_REMOVE)
            stopSelf()
        }
    }

    override fun pause(minutes: Int) {
        handler.post {
            if (!running) return@post
            val until = host.pause.start(minutes)
            host.settings.update { it.copy(pausedUntilMs = until) }
            host.firewall.pause(minutes.toUInt())
            host.update(TunnelInput.PausedUntil(until))
            schedulePauseEnd()
            notificationUpdates.submit(Unit)
        }
    }

    /** The shell ends the pause on time (the firewall's unit is the minute). */
    private fun schedulePauseEnd() {
        pauseEnd?.cancel()
        pauseEnd = HandlerScheduler(handler).schedule(host.pause.remainingMs()) { resumeNow() }
    }

    override fun resume() {
        handler.post { resumeNow() }
    }

    private fun resumeNow() {
        pauseEnd?.cancel()
        pauseEnd = null
        host.pause.cancel()
        host.settings.update { it.copy(pausedUntilMs = null) }
        if (running) host.firewall.resume()
        host.update(TunnelInput.Resumed)
        notificationUpdates.submit(Unit)
    }

    /** The OS took the VPN away: another VPN app, or the user in Settings. */
    override fun onRevoke() {
        handler.post {
            host.update(TunnelInput.Revoked)
            teardown()
            stopSelf()
        }
    }

    override fun onDestroy() {
        host.unobserve(statsObserver)
        host.serviceEvents = null
        host.tunnel = null
        handler.post {
            // Destroyed while running: Android stopped us, not the user.
            if (running) {
                host.update(TunnelInput.Died(Text.of(R.string.service_died)))
                teardown()
            }
        }
        worker.quitSafely()
        super.onDestroy()
    }

    /** Worker thread: the notification with today's count. */
    private fun showNotification() {
        getSystemService(NotificationManager::class.java).notify(NOTIFICATION_ID, buildNotification())
    }

    private fun buildNotification(): Notification {
        val now = System.currentTimeMillis()
        val zone = ZoneId.systemDefault()
        val today = try {
            host.openStore()?.use { it.blockedToday(now.toULong(), CounterText.utcOffsetMinutes(now, zone)).toLong() }
        } catch (e: FirewallException) {
            Log.d(FirewallHost.TAG, "counters unreadable: ${FirewallHost.reasonOf(e)}")
            null
        }
        return Notification.Builder(this, CHANNEL)
            .setSmallIcon(applicationInfo.icon)
            .setContentTitle(words(host.state.describe(now, host.privateDns, host.lockdown)))
            .setContentText(
                if (host.lockdown) getString(R.string.lockdown_short) else today?.let { words(CounterText.notification(it)) } ?: getString(R.string.notification_starting),
            )
            .setContentIntent(openAppIntent())
            .setOngoing(true)
            .setOnlyAlertOnce(true)
            .setShowWhen(false)
            .setCategory(Notification.CATEGORY_SERVICE)
            .build()
    }

    private fun openAppIntent(): PendingIntent = PendingIntent.getActivity(
        this, 0, Intent(this, MainActivity::class.java), PendingIntent.FLAG_IMMUTABLE or PendingIntent.FLAG_UPDATE_CURRENT,
    )

    companion object {
        /** Start (or keep) the tunnel running. */
        const val ACTION_START = "dev.tacet.android.START"

        /** Stop the tunnel (when the service is not reachable through [FirewallHost.tunnel]). */
        const val ACTION_STOP = "dev.tacet.android.STOP"

        private const val CHANNEL = "status"
        private const val NOTIFICATION_ID = 1
        private const val NOTIFICATION_INTERVAL_MS = 5_000L
    }
}
