package dev.tacet.android.tunnel

import dev.tacet.ffi.BlockMode
import dev.tacet.ffi.FirewallConfig
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test

class UserSettingsTest {
    // Built by hand: `defaultConfig()` needs the native library.
    private val base = FirewallConfig(
        upstreams = emptyList(),
        blockMode = BlockMode.NULL_ADDRESS,
        blockTtlSecs = 10u,
        storeDir = null,
        enabledLists = listOf("xiaomi", "keep-working"),
        customList = "",
        discovery = false,
    )
    private val known = setOf("xiaomi", "keep-working", "facebook")

    @Test
    fun `a new install gets the default lists`() {
        val config = UserSettings().toConfig(base, known, "/data/tacet", listOf("192.0.2.1"))
        assertEquals(listOf("xiaomi", "keep-working"), config.enabledLists)
        assertEquals("/data/tacet", config.storeDir)
        assertEquals(listOf("192.0.2.1"), config.upstreams)
        assertEquals(BlockMode.NULL_ADDRESS, config.blockMode)
    }

    @Test
    fun `the user's choices win, and unknown list ids are dropped`() {
        val settings = UserSettings(
            enabledLists = listOf("facebook", "gone-in-this-version", "facebook"),
            customList = "ads.example\n",
            discovery = true,
        )
        val config = settings.toConfig(base, known, "/s", emptyList())
        assertEquals(listOf("facebook"), config.enabledLists)
        assertEquals("ads.example\n", config.customList)
        assertEquals(true, config.discovery)
    }
}
