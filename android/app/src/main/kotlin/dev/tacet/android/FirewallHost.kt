package dev.tacet.android

import android.content.Context
import android.content.Intent
import android.net.ConnectivityManager
import android.os.Build
import android.os.Handler
import android.os.Looper
import android.util.Log
import dev.tacet.android.tunnel.PauseTimer
import dev.tacet.android.tunnel.PrivateDnsMode
import dev.tacet.android.tunnel.TunnelInput
import dev.tacet.android.tunnel.TunnelState
import dev.tacet.android.tunnel.next
import dev.tacet.ffi.Firewall
import dev.tacet.ffi.FirewallEvent
import dev.tacet.ffi.FirewallException
import dev.tacet.ffi.JournalFilter
import dev.tacet.ffi.JournalPage
import dev.tacet.ffi.FirewallListener
import dev.tacet.ffi.CatalogList
import dev.tacet.ffi.KnownResolver
import dev.tacet.ffi.ListSubscriptions
import dev.tacet.ffi.ListInfo
import dev.tacet.ffi.StoreReader
import dev.tacet.ffi.curatedLists
import dev.tacet.ffi.defaultConfig
import dev.tacet.ffi.knownEncryptedResolvers
import dev.tacet.ffi.listCatalog
import java.io.File
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * What the app's process shares between the VPN service, the screens, the
 * tile and the boot receiver: the one [Firewall] object (its configuration
 * lives as long as the process, whether the tunnel runs or not), the saved
 * settings, the tunnel's state and the pause.
 *
 * Only the service moves [state] while a tunnel exists; everyone else
 * observes it. Observers are called on the main thread.
 */
class FirewallHost(private val app: Context) {
    /** The saved settings. */
    val settings = SettingsStore(app)

    /**
     * The store (journal, counters, the user's names): in no-backup storage,
     * because it is the user's browsing history.
     */
    val storeDir: File = File(app.noBackupFilesDir, "tacet").apply { mkdirs() }

    private val listsOnce = lazy { curatedLists() }

    /** The curated lists of the core in this build. */
    val lists: List<ListInfo> by listsOnce

    /** Whether the native library is loaded and the curated lists read. */
    val preloaded: Boolean get() = listsOnce.isInitialized()

    /**
     * The lists followed by URL, kept in the store beside the journal
     * (never in SharedPreferences). Every call may read or write files, and
     * `update` downloads: never on the main thread.
     */
    val subscriptions: ListSubscriptions by lazy { ListSubscriptions(storeDir.path, null) }

    /** The well-known lists to follow, of the core in this build. */
    val catalog: List<CatalogList> by lazy { listCatalog() }

    /**
     * The firewall takes the followed lists' current copies (after an
     * update, add or remove). A firewall not made yet reads them when it is.
     */
    fun reloadLists() {
        if (!firewallOnce.isInitialized()) return
        try {
            configure { it.reloadLists() }
        } catch (e: FirewallException) {
            Log.w(TAG, "lists not reloaded: ${reasonOf(e)}")
        }
    }

    /** The well-known encrypted resolvers of the core in this build. */
    val knownResolvers: List<KnownResolver> by lazy { knownEncryptedResolvers() }

    /**
     * The firewall's upstreams for the user's DNS choice, given the
     * network's own resolvers; null when the choice cannot be honoured
     * (see [DnsChoice.upstreams]).
     */
    fun chosenUpstreams(network: List<String>): List<String>? =
        settings.load().dns.upstreams(network, knownResolvers.associate { it.id to it.upstreams })

    /** The pause the user chose, restored from the settings. */
    val pause = PauseTimer(WallClock).apply { restore(settings.load().pausedUntilMs) }

    /** For store reads and firewall calls the screens make (never the main thread). */
    val io: ExecutorService = Executors.newSingleThreadExecutor { Thread(it, "tacet-ui-io") }

    /** For list downloads the user asks for: they may take a while, and must not hold up [io]. */
    val fetches: ExecutorService = Executors.newSingleThreadExecutor { Thread(it, "tacet-fetch") }

    private val main = Handler(Looper.getMainLooper())
    private val observers = mutableListOf<() -> Unit>()
    private val configLock = Any()

    /** The tunnel's real state (see [TunnelState]). */
    @Volatile
    var state: TunnelState = TunnelState.Off
        private set

    /**
     * Whether Android's "Block connections without VPN" is on for tacet, as
     * the service last saw it (Android 10+): every app's connections are
     * then cut off, since only DNS and blocked addresses use the tunnel.
     */
    @Volatile
    var lockdown: Boolean = false
        private set

    /** Private DNS on the underlying network, as last seen. */
    @Volatile
    var privateDns: PrivateDnsMode = PrivateDnsMode.Off
        private set

    /**
     * Why encrypted DNS is unavailable (or that queries fell back to plain
     * DNS), as the firewall last said; `null` once it works again.
     */
    @Volatile
    var upstreamNotice: String? = null
        private set

    /** The running service's controls, while it exists. */
    @Volatile
    var tunnel: TunnelControl? = null

    /** Where the service hears routes and stops; set while it runs. */
    @Volatile
    var serviceEvents: ((FirewallEvent) -> Unit)? = null

    // Called on tacet-ffi's event thread: hand over and return at once.
    private val listener = object : FirewallListener {
        override fun onEvent(event: FirewallEvent) {
            when (event) {
                is FirewallEvent.StatsChanged -> main.post { notifyObservers() }
                is FirewallEvent.RoutesChanged, is FirewallEvent.Stopped -> serviceEvents?.invoke(event)
                is FirewallEvent.UpstreamUnavailable -> setUpstreamNotice(app.getString(R.string.notice_encrypted_unavailable, event.reason))
                is FirewallEvent.PlainFallback -> setUpstreamNotice(app.getString(R.string.notice_plain_fallback, event.reason))
                is FirewallEvent.UpstreamRecovered -> setUpstreamNotice(null)
            }
        }
    }

    private val firewallOnce = lazy {
        val known = lists.map { it.id }.toSet()
        Firewall(settings.load().toConfig(defaultConfig(), known, storeDir.path, emptyList()), listener)
    }

    /**
     * The one firewall of the process. Built with the saved settings and
     * no upstream yet: the service adds the network's resolvers before each
     * start.
     */
    val firewall: Firewall by firewallOnce

    /** Runs [change] on the firewall's configuration, one change at a time. */
    fun <T> configure(change: (Firewall) -> T): T = synchronized(configLock) { change(firewall) }

    /** Moves the state; observers hear it on the main thread. */
    fun update(input: TunnelInput) {
        synchronized(this) { state = state.next(input) }
        main.post { notifyObservers() }
    }

    private fun setUpstreamNotice(notice: String?) {
        upstreamNotice = notice
        main.post { notifyObservers() }
    }

    /** Records Private DNS as read from the network's `LinkProperties`. */
    fun setPrivateDns(mode: PrivateDnsMode) {
        if (mode == privateDns) return
        privateDns = mode
        main.post { notifyObservers() }
    }

    /** Records whether "Block connections without VPN" is on. */
    fun setLockdown(on: Boolean) {
        if (on == lockdown) return
        lockdown = on
        main.post { notifyObservers() }
    }

    /** Reads Private DNS from the default network now (the service may not run). */
    fun refreshPrivateDns() {
        if (Build.VERSION.SDK_INT < Build.VERSION_CODES.P) return
        val cm = app.getSystemService(ConnectivityManager::class.java) ?: return
        val lp = cm.getLinkProperties(cm.activeNetwork) ?: return
        setPrivateDns(PrivateDnsMode.of(lp.isPrivateDnsActive, lp.privateDnsServerName))
    }

    /** Calls [observer] on the main thread when the state or the counters change. */
    fun observe(observer: () -> Unit) {
        observers += observer
    }

    /** Stops calling [observer]. */
    fun unobserve(observer: () -> Unit) {
        observers -= observer
    }

    private fun notifyObservers() = observers.toList().forEach { it() }

    /**
     * Starts the VPN service (the permission must have been granted:
     * `VpnService.prepare` returned null).
     */
    fun switchOn(context: Context) {
        settings.update { it.copy(wantOn = true) }
        update(TunnelInput.SwitchedOn)
        context.startForegroundService(Intent(context, TacetVpnService::class.java).setAction(TacetVpnService.ACTION_START))
    }

    /** Stops the tunnel, and keeps it off after a reboot. */
    fun switchOff() {
        settings.update { it.copy(wantOn = false) }
        val control = tunnel
        if (control != null) control.stop() else update(TunnelInput.SwitchedOff)
    }

    /**
     * A page of the journal (io thread), or null before the first run wrote
     * the store. Only a running firewall writes the journal, so the screen
     * tests put their entries here.
     */
    var journalPage: (JournalFilter, String?, UInt) -> JournalPage? = { filter, cursor, size ->
        openStore()?.use { it.journal(filter, cursor, size) }
    }

    /** Opens the store for reading, or null before the first run wrote it. */
    fun openStore(): StoreReader? = try {
        StoreReader.open(storeDir.path)
    } catch (e: FirewallException) {
        Log.i(TAG, "store not readable yet: ${reasonOf(e)}")
        null
    }

    companion object {
        /** The log tag of the app. Never log a name or address above DEBUG. */
        const val TAG = "tacet"

        /** The plain sentence of a firewall error, for the user. */
        fun reasonOf(e: FirewallException): String = when (e) {
            is FirewallException.BadFileDescriptor -> e.reason
            is FirewallException.InvalidConfig -> e.reason
            is FirewallException.InvalidInput -> e.reason
            is FirewallException.UpstreamUnreachable -> e.reason
            is FirewallException.StoreUnavailable -> e.reason
            is FirewallException.Internal -> e.reason
        }
    }
}

/** What the screens and the tile ask of the running VPN service. */
interface TunnelControl {
    /** Stops the tunnel and the service. */
    fun stop()

    /** Lets everything through for [minutes]. */
    fun pause(minutes: Int)

    /** Filters again now. */
    fun resume()

    /** The user chose other DNS servers: use them now, in the same tunnel. */
    fun dnsChanged()

    /** The user changed which apps skip the firewall: a new tunnel, the same rules. */
    fun appsChanged()
}
