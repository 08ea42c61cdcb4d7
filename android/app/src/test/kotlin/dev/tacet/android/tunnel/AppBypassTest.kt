package dev.tacet.android.tunnel

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.util.Locale

class AppBypassTest {
    private val own = "dev.tacet.android"

    @Test
    fun `the chosen apps that are installed are disallowed, sorted, once, without our own`() {
        val installed = setOf("com.example.bank", "com.roborock.smart", own)
        val chosen = listOf("com.roborock.smart", "com.example.bank", "com.roborock.smart", own, "com.gone.app")
        assertEquals(listOf("com.example.bank", "com.roborock.smart"), AppBypass.disallowed(chosen, own) { it in installed })
    }

    @Test
    fun `an uninstalled or malformed package is never handed to the builder`() {
        val asked = mutableListOf<String>()
        val out = AppBypass.disallowed(listOf("com.gone.app", "", "no-dots", "com..x", "1com.x", "com.x y", "a".repeat(300) + ".b"), own) {
            asked += it
            false
        }
        assertEquals(emptyList<String>(), out)
        // Only well-formed names reach PackageManager at all.
        assertEquals(listOf("com.gone.app"), asked)
    }

    @Test
    fun `a huge saved set is capped`() {
        val many = (0 until AppBypass.MAX_APPS + 500).map { "com.example.app$it" }
        assertEquals(AppBypass.MAX_APPS, AppBypass.disallowed(many, own) { true }.size)
        assertEquals(AppBypass.MAX_APPS, AppBypass.normalized(many).size)
    }

    @Test
    fun `package names as Android has them`() {
        assertTrue(AppBypass.isPackageName("com.example.bank"))
        assertTrue(AppBypass.isPackageName("com.example_2.app_"))
        assertFalse(AppBypass.isPackageName("com"))
        assertFalse(AppBypass.isPackageName(".com.x"))
        assertFalse(AppBypass.isPackageName("com.x/y"))
    }

    private data class App(val pkg: String, val label: String)

    @Test
    fun `the screen lists excluded apps first, then by label as the locale sorts, then by package, without our own`() {
        val apps = listOf(
            App("com.zeta", "zeta"),
            App("com.bank", "Bank"),
            App(own, "tacet"),
            App("com.alpha2", "Alpha"),
            App("com.alpha1", "Alpha"),
            App("com.eclair", "Éclair"),
            App("com.delta", "delta"),
            App("com.zeta", "zeta"),
        )
        val ordered = AppBypass.ordered(apps, setOf("com.zeta"), own, Locale.FRENCH, pkg = App::pkg, label = App::label)
        assertEquals(listOf("com.zeta", "com.alpha1", "com.alpha2", "com.bank", "com.delta", "com.eclair"), ordered.map { it.pkg })
    }
}
