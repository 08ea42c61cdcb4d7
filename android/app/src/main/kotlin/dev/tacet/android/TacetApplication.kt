package dev.tacet.android

import android.app.Application
import android.content.Context

/** The app's process: holds the [FirewallHost] every component shares. */
class TacetApplication : Application() {
    /** Created on first use: loading the native library takes a moment. */
    val host: FirewallHost by lazy { FirewallHost(this) }
}

/** The process's [FirewallHost], from any component's context. */
val Context.host: FirewallHost get() = (applicationContext as TacetApplication).host
