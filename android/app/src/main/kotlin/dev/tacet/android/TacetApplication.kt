package dev.tacet.android

import android.app.Application
import android.content.Context
import android.util.Log

/** The app's process: holds the [FirewallHost] every component shares. */
class TacetApplication : Application() {
    /** Created on first use: loading the native library takes a moment. */
    val host: FirewallHost by lazy { FirewallHost(this) }

    /**
     * Loads the native library and reads what the screens show first (the
     * curated lists, the known resolvers, the catalogue) on a thread of its
     * own as the process starts, so that a screen's first access finds them
     * ready instead of loading the library on the main thread. A screen
     * opened sooner waits for the same lazy value, never loads it twice.
     */
    override fun onCreate() {
        super.onCreate()
        Thread({
            try {
                host.lists
                host.knownResolvers
                host.catalog
            } catch (e: Throwable) {
                // The screen that needs them reports it, in its context.
                Log.w("tacet", "native library not preloaded: $e")
            }
        }, "tacet-preload").apply { isDaemon = true }.start()
    }
}

/** The process's [FirewallHost], from any component's context. */
val Context.host: FirewallHost get() = (applicationContext as TacetApplication).host
