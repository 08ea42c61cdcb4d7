package dev.tacet.android.tunnel

import dev.tacet.ffi.AppResolver
import dev.tacet.ffi.Transport
import java.net.InetSocketAddress

/**
 * Which app made a connection in the tunnel: Android 10 (API 29) and later
 * tell the active VPN app the owner of a connection
 * (`ConnectivityManager.getConnectionOwnerUid`), and `PackageManager`
 * names the uid. Earlier versions cannot tell: the journal then has no app.
 *
 * The two Android calls come in as interfaces, so the mapping (version
 * check, failures, shared uids, the cache) is tested on the JVM.
 *
 * The firewall asks through [resolver] (set with `Firewall.setAppResolver`)
 * for each query and connection it journals, on its own thread, while the
 * app's socket is still open; it caches the answers for a few seconds.
 */
class AppAttribution(
    private val sdkInt: Int,
    private val owner: ConnectionOwner,
    private val packages: PackageNames,
) {
    /** `ConnectivityManager.getConnectionOwnerUid`: a uid, or -1 (`Process.INVALID_UID`). */
    fun interface ConnectionOwner {
        /** The uid owning the [protocol] (6 TCP, 17 UDP) connection from [local] to [remote]. */
        fun uid(protocol: Int, local: InetSocketAddress, remote: InetSocketAddress): Int
    }

    /** `PackageManager.getNameForUid`: a package name, `sharedUserId:uid`, or null. */
    fun interface PackageNames {
        /** The name of [uid]. */
        fun nameForUid(uid: Int): String?
    }

    // uid -> name; uids are few and names rarely change (an uninstall and
    // reinstall may reuse a uid: the cache is bounded and the process short-lived).
    private val names = object : LinkedHashMap<Int, String>(64, 0.75f, true) {
        override fun removeEldestEntry(eldest: MutableMap.MutableEntry<Int, String>?) = size > CACHE_SIZE
    }

    /**
     * The app behind the connection, or null when the platform cannot tell
     * (before Android 10, a protocol other than TCP/UDP, a connection that
     * is gone, or the call refused: only the active VPN app may ask).
     */
    @Synchronized
    fun appFor(protocol: Int, local: InetSocketAddress, remote: InetSocketAddress): String? {
        if (sdkInt < MIN_SDK || (protocol != TCP && protocol != UDP)) return null
        // Android 10 resolves in netd, on sockets of its own: every DNS
        // query would be "the DNS resolver". From Android 11 the resolver's
        // sockets carry the asking app's uid. Connections are the app's own.
        if (sdkInt < MIN_SDK_DNS && remote.port == DNS_PORT) return null
        val uid = try {
            owner.uid(protocol, local, remote)
        } catch (_: SecurityException) {
            return null
        } catch (_: IllegalArgumentException) {
            return null
        }
        if (uid < 0) return null
        return names.getOrPut(uid) { nameOf(uid) }
    }

    /** This mapping as the firewall's resolver: endpoints come as `address:port` text. */
    val resolver: AppResolver = object : AppResolver {
        override fun appFor(transport: Transport, local: String, remote: String): String? {
            val from = endpoint(local) ?: return null
            val to = endpoint(remote) ?: return null
            return appFor(if (transport == Transport.TCP) TCP else UDP, from, to)
        }
    }

    private fun nameOf(uid: Int): String {
        val name = try {
            packages.nameForUid(uid)
        } catch (_: SecurityException) {
            null
        }
        // Apps sharing a uid are named "sharedUserId:uid" (android.uid.system:1000).
        return name?.substringBefore(':')?.takeIf { it.isNotBlank() } ?: "uid $uid"
    }

    companion object {
        /** Android 10: the first with `getConnectionOwnerUid`. */
        const val MIN_SDK = 29

        /** Android 11: the first whose DNS sockets are the asking app's. */
        const val MIN_SDK_DNS = 30

        private const val DNS_PORT = 53

        /** IPPROTO_TCP. */
        const val TCP = 6

        /** IPPROTO_UDP. */
        const val UDP = 17

        private const val CACHE_SIZE = 256

        /**
         * An endpoint as the firewall would give it (`10.111.222.1:40000`,
         * `[fd74:6163:6574::1]:40000`), or null.
         */
        fun endpoint(text: String): InetSocketAddress? {
            val t = text.trim()
            val (host, port) = if (t.startsWith('[')) {
                val end = t.indexOf("]:").takeIf { it > 0 } ?: return null
                t.substring(1, end) to t.substring(end + 2)
            } else {
                val colon = t.lastIndexOf(':').takeIf { it > 0 && t.indexOf(':') == it } ?: return null
                t.substring(0, colon) to t.substring(colon + 1)
            }
            val address = IpLiteral.parse(host) ?: return null
            val number = port.toIntOrNull()?.takeIf { it in 0..65535 } ?: return null
            return InetSocketAddress(address, number)
        }
    }
}
