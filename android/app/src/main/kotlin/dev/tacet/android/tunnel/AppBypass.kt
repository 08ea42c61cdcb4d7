package dev.tacet.android.tunnel

import java.text.Collator
import java.util.Locale

/**
 * Per-app bypass: the apps the user excluded from filtering (a bank's app,
 * a vacuum's), which the tunnel leaves out with
 * `VpnService.Builder.addDisallowedApplication`, and the order the
 * screen lists the installed apps in.
 */
object AppBypass {
    /**
     * At most this many excluded packages are saved and applied: a phone
     * has a few hundred apps; the cap keeps a corrupt settings file from
     * making the tunnel build take ages.
     */
    const val MAX_APPS = 2_000

    /** The longest package name taken (Android's limit is 255). */
    private const val MAX_PACKAGE_LENGTH = 255

    /**
     * The packages to disallow in the tunnel: the user's [chosen] ones that
     * are [installed] (Builder.addDisallowedApplication refuses an unknown
     * package, and one uninstalled since must not stop the tunnel), without
     * [own] (the app excludes itself anyway), each once, sorted (the same
     * choices build the same tunnel), at most [MAX_APPS].
     */
    fun disallowed(chosen: Collection<String>, own: String, installed: (String) -> Boolean): List<String> =
        chosen.asSequence()
            .filter(::isPackageName)
            .filter { it != own }
            .distinct()
            .sorted()
            .take(MAX_APPS)
            .filter(installed)
            .toList()

    /** The saved form of a choice: valid package names, each once, sorted, capped. */
    fun normalized(chosen: Collection<String>): Set<String> =
        chosen.filter(::isPackageName).distinct().sorted().take(MAX_APPS).toSortedSet()

    /**
     * The screen's rows: [apps] without [own], the [excluded] ones first
     * (what the user chose is what they look for), then by label as the
     * locale sorts it, then by package (two apps may share a label).
     */
    fun <A> ordered(
        apps: List<A>,
        excluded: Set<String>,
        own: String,
        locale: Locale = Locale.getDefault(),
        pkg: (A) -> String,
        label: (A) -> String,
    ): List<A> {
        val collator = Collator.getInstance(locale).apply { strength = Collator.SECONDARY }
        return apps.filter { pkg(it) != own }
            .distinctBy(pkg)
            .sortedWith(
                compareBy<A> { pkg(it) !in excluded }
                    .then { a, b -> collator.compare(label(a), label(b)) }
                    .thenBy(pkg),
            )
    }

    /** Whether [s] looks like a Java package name (as Android's are): dotted, letters, digits, '_'. */
    fun isPackageName(s: String): Boolean {
        if (s.isEmpty() || s.length > MAX_PACKAGE_LENGTH) return false
        val parts = s.split('.')
        return parts.size >= 2 && parts.all { p ->
            p.isNotEmpty() && (p[0].isLetter() || p[0] == '_') && p.all { it.isLetterOrDigit() || it == '_' }
        }
    }
}
