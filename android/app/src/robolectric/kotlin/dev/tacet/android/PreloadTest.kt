package dev.tacet.android

import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.annotation.Config

/** The native library is loaded off the main thread as the process starts. */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35])
class PreloadTest {
    @Test
    fun `the process start loads the library and the curated lists on a thread of its own`() {
        val app = RuntimeEnvironment.getApplication() as TacetApplication
        // `preloaded` reads whether the lazy value is there, never makes it:
        // only the preload thread can have made it.
        val deadline = System.nanoTime() + 10_000_000_000L
        while (!app.host.preloaded && System.nanoTime() < deadline) Thread.sleep(20)
        assertTrue("the curated lists were not read by the preload thread", app.host.preloaded)
    }
}
