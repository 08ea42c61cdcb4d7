// The firewall on a real TUN device, driven from Kotlin as a shell would:
// attach to the tunnel, start on its descriptor, ask DNS, read counters and
// events, block and allow from the journal, pause, stop, page the journal.
// Needs root (skipped with a message otherwise; a failure when CI=true).
// All traffic stays on this machine: the tunnel's own prefix and loopback.
package dev.tacet.ffi.test

import dev.tacet.ffi.AppResolver
import dev.tacet.ffi.ExportFormat
import dev.tacet.ffi.Firewall
import dev.tacet.ffi.FirewallEvent
import dev.tacet.ffi.FirewallException
import dev.tacet.ffi.FirewallListener
import dev.tacet.ffi.JournalAction
import dev.tacet.ffi.JournalFilter
import dev.tacet.ffi.JournalReason
import dev.tacet.ffi.StoreReader
import dev.tacet.ffi.Transport
import dev.tacet.ffi.Verdict
import dev.tacet.ffi.defaultConfig
import java.nio.file.Files
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/** Names every app "com.example.camera", and remembers what it was asked. */
class Apps : AppResolver {
    val asked = ConcurrentLinkedQueue<Triple<Transport, String, String>>()

    override fun appFor(transport: Transport, local: String, remote: String): String? {
        asked.add(Triple(transport, local, remote))
        return "com.example.camera"
    }
}

/** Collects events, and can throw to show a failing listener is survived. */
class Events : FirewallListener {
    val queue = LinkedBlockingQueue<FirewallEvent>()
    @Volatile var throwNext = false

    override fun onEvent(event: FirewallEvent) {
        queue.add(event)
        if (throwNext) {
            throwNext = false
            throw IllegalStateException("a listener that throws")
        }
    }

    /** Waits for the first event that `match` accepts. */
    fun <T : FirewallEvent> await(what: String, match: (FirewallEvent) -> T?): T {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5)
        while (System.nanoTime() < deadline) {
            val event = queue.poll(100, TimeUnit.MILLISECONDS) ?: continue
            match(event)?.let { return it }
        }
        throw AssertionError("no $what event within 5 s")
    }
}

class TunnelTest {
    @Test
    fun blocksAllowsPausesJournalsAndReportsEvents() {
        Privileged.requireRoot("the TUN test")
        val dir = Files.createTempDirectory("tacet-kt-tun").toString()
        val events = Events()
        val apps = Apps()
        FakeUpstream().use { upstream ->
            val config = defaultConfig().copy(
                upstreams = listOf(upstream.address),
                storeDir = dir,
                customList = "blocked.tacet.test\n",
            )
            Firewall(config, events).use { firewall ->
                firewall.setAppResolver(apps)
                firewall.start(Tun.open())
                Tun.configure()
                assertTrue(firewall.isRunning())

                // A curated name and a pasted one get the null address.
                assertEquals(DnsAnswer(0, listOf("0.0.0.0")), Dns.resolve("api-mifit.huami.com"))
                assertEquals(DnsAnswer(0, listOf("0.0.0.0")), Dns.resolve("x.blocked.tacet.test"))
                // An unlisted name goes to the upstream.
                assertEquals(DnsAnswer(0, listOf("192.0.2.1")), Dns.resolve("allowed.tacet.test"))

                val stats = firewall.stats()
                assertEquals(3uL, stats.queries)
                assertEquals(2uL, stats.blocked)
                assertEquals(1uL, stats.allowed)
                val event = events.await("stats changed") {
                    (it as? FirewallEvent.StatsChanged)?.takeIf { e -> e.stats.blocked >= 1uL }
                }
                assertTrue(event.stats.queries >= 1uL)

                // A listener that throws does not stop the events.
                events.throwNext = true
                Dns.resolve("again.blocked.tacet.test")
                Thread.sleep(300)
                Dns.resolve("more.blocked.tacet.test")
                events.await("stats changed after a throwing listener") {
                    (it as? FirewallEvent.StatsChanged)?.takeIf { e -> e.stats.blocked >= 4uL }
                }

                // Allow a blocked name seen in the journal, in one call.
                firewall.allowName("api-mifit.huami.com")
                assertEquals(Verdict.ALLOWED, firewall.checkName("api-mifit.huami.com").verdict)
                assertEquals(DnsAnswer(0, listOf("192.0.2.1")), Dns.resolve("api-mifit.huami.com"))
                // And block one that was allowed.
                firewall.blockName("allowed.tacet.test")
                assertEquals(DnsAnswer(0, listOf("0.0.0.0")), Dns.resolve("allowed.tacet.test"))

                // Pausing lets everything through; resuming filters again.
                firewall.pause(1u)
                assertEquals(DnsAnswer(0, listOf("192.0.2.1")), Dns.resolve("blocked.tacet.test"))
                firewall.resume()
                assertEquals(DnsAnswer(0, listOf("0.0.0.0")), Dns.resolve("blocked.tacet.test"))

                firewall.stop()
                firewall.stop()
                assertFalse(firewall.isRunning())
                val final = events.await("stopped") { it as? FirewallEvent.Stopped }
                assertNull(final.error)
                assertEquals(firewall.stats().queries, 9uL)
            }
        }

        // The journal the firewall wrote, read as the app would.
        StoreReader.open(dir).use { reader ->
            val all = reader.journal(JournalFilter(action = JournalAction.BLOCKED), null, 100u)
            val names = all.entries.map { it.name }
            assertTrue("api-mifit.huami.com" in names, "journal: $names")
            assertTrue("x.blocked.tacet.test" in names, "journal: $names")
            val huami = all.entries.first { it.name == "api-mifit.huami.com" }
            assertEquals("A", huami.qtypeName)
            assertEquals("10.111.222.1", huami.client)
            val reason = huami.reason as JournalReason.Rule
            assertEquals("xiaomi-huami-telemetry", reason.listId)
            // The app, as the shell's resolver named it, asked with the query's socket.
            assertEquals("com.example.camera", huami.app)
            val (transport, local, remote) = apps.asked.first()
            assertEquals(Transport.UDP, transport)
            assertTrue(local.startsWith("10.111.222.1:"), local)
            assertEquals("10.111.222.53:53", remote)

            // Paging: one entry at a time, newest first, until the end.
            val paged = mutableListOf<ULong>()
            var cursor: String? = null
            do {
                val page = reader.journal(JournalFilter(action = JournalAction.BLOCKED), cursor, 1u)
                paged += page.entries.map { it.seq }
                cursor = page.next
            } while (cursor != null)
            assertEquals(all.entries.map { it.seq }, paged)

            // Search.
            val found = reader.journal(JournalFilter(nameContains = "HUAMI"), null, 10u)
            assertEquals(listOf("api-mifit.huami.com"), found.entries.map { it.name }.distinct())

            val counters = reader.counters(3u)
            assertTrue(counters.blockedTotal >= 2uL, "counters: $counters")

            val csv = Files.createTempFile("tacet-journal", ".csv")
            val exported = reader.exportJournal(csv.toString(), ExportFormat.CSV, JournalFilter())
            assertEquals(all.entries.size.toULong(), exported)
            assertTrue(Files.readString(csv).contains("api-mifit.huami.com"))
        }
    }

    @Test
    fun startStopCyclesAndIdempotentStop() {
        Privileged.requireRoot("the TUN start/stop test")
        Firewall(defaultConfig().copy(upstreams = listOf("127.0.0.1:5399")), null).use { firewall ->
            // A persistent TUN takes one descriptor at a time, so each cycle
            // stops before the next attaches (a shell starting on a new
            // tunnel while running is covered by the Rust tests).
            repeat(10) {
                firewall.start(Tun.open())
                assertTrue(firewall.isRunning())
                firewall.stop()
                firewall.stop()
                assertFalse(firewall.isRunning())
            }
            firewall.start(Tun.open())
            Tun.configure()
            assertEquals(DnsAnswer(0, listOf("0.0.0.0")), Dns.resolve("api-mifit.huami.com"))
            firewall.stop()
            assertEquals(1uL, firewall.stats().blocked)
        }
    }

    @Test
    fun missingUpstreamIsAConfigError() {
        Privileged.requireRoot("the TUN config test")
        Firewall(defaultConfig(), null).use { firewall ->
            val e = assertThrows<FirewallException.InvalidConfig> { firewall.start(Tun.open()) }
            assertNotNull(e.reason)
            assertFalse(firewall.isRunning())
        }
    }
}
