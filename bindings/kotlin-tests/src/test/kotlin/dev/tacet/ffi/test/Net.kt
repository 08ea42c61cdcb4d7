// Test helpers: attaching to a TUN device through libc (as the OS hands an
// Android VpnService a descriptor), running `ip`, and DNS over UDP.
package dev.tacet.ffi.test

import com.sun.jna.Library
import com.sun.jna.Native
import com.sun.jna.NativeLong
import java.io.ByteArrayOutputStream
import java.net.DatagramPacket
import java.net.DatagramSocket
import java.net.InetAddress
import java.net.InetSocketAddress
import java.net.SocketTimeoutException
import java.nio.ByteBuffer
import java.util.concurrent.TimeUnit
import org.junit.jupiter.api.Assertions.fail
import org.junit.jupiter.api.Assumptions.assumeTrue

/** The libc calls the tests need. */
@Suppress("FunctionName")
interface LibC : Library {
    fun open(path: String, flags: Int): Int
    fun ioctl(fd: Int, request: NativeLong, ifreq: ByteArray): Int
    fun close(fd: Int): Int
    fun geteuid(): Int

    companion object {
        val INSTANCE: LibC = Native.load("c", LibC::class.java)
        const val O_RDWR = 2
        const val TUNSETIFF = 0x400454caL
        const val IFF_TUN: Short = 0x0001
        const val IFF_NO_PI: Short = 0x1000
    }
}

object Privileged {
    /**
     * Skips the calling test when not root, with a message; fails it when
     * CI=true (CI runs as root, so a skip there is a bug).
     */
    fun requireRoot(what: String) {
        val root = LibC.INSTANCE.geteuid() == 0
        if (!root && System.getenv("CI") == "true") {
            fail<Unit>("$what needs root, and CI=true forbids skipping it")
        }
        if (!root) {
            System.err.println("SKIPPED: $what needs root (run: sudo bindings/test-kotlin.sh)")
        }
        assumeTrue(root, "$what needs root")
    }
}

object Tun {
    /** The persistent TUN device that test-kotlin.sh created. */
    val name: String = System.getenv("TACET_TEST_TUN") ?: "tacetkt0"

    /** Attaches to the device and returns its descriptor (IFF_TUN | IFF_NO_PI). */
    fun open(): Int {
        val libc = LibC.INSTANCE
        val fd = libc.open("/dev/net/tun", LibC.O_RDWR)
        check(fd >= 0) { "open /dev/net/tun failed: errno ${Native.getLastError()}" }
        // struct ifreq: char ifr_name[16]; short ifr_flags; padding to 40 bytes.
        val ifreq = ByteArray(40)
        name.toByteArray().copyInto(ifreq)
        val flags = (LibC.IFF_TUN.toInt() or LibC.IFF_NO_PI.toInt())
        ifreq[16] = (flags and 0xff).toByte()
        ifreq[17] = ((flags shr 8) and 0xff).toByte()
        if (libc.ioctl(fd, NativeLong(LibC.TUNSETIFF), ifreq) < 0) {
            val errno = Native.getLastError()
            libc.close(fd)
            error("TUNSETIFF $name failed: errno $errno (did test-kotlin.sh create it?)")
        }
        return fd
    }

    /** Gives the device the tunnel's address and brings it up. */
    fun configure() {
        ip("addr", "flush", "dev", name)
        ip("addr", "add", "10.111.222.1/24", "dev", name)
        ip("link", "set", name, "up")
    }

    fun ip(vararg args: String) {
        val process = ProcessBuilder(listOf("ip") + args).redirectErrorStream(true).start()
        val output = process.inputStream.bufferedReader().readText()
        check(process.waitFor(10, TimeUnit.SECONDS) && process.exitValue() == 0) {
            "ip ${args.joinToString(" ")} failed: $output"
        }
    }
}

/** A DNS answer as far as the tests look at it. */
data class DnsAnswer(val rcode: Int, val addresses: List<String>)

object Dns {
    const val RESOLVER = "10.111.222.53"

    fun query(id: Int, name: String, qtype: Int = 1): ByteArray {
        val out = ByteArrayOutputStream()
        val header = ByteBuffer.allocate(12)
        header.putShort(id.toShort()).putShort(0x0100).putShort(1).putShort(0).putShort(0).putShort(0)
        out.write(header.array())
        for (label in name.split('.')) {
            out.write(label.length)
            out.write(label.toByteArray())
        }
        out.write(0)
        out.write(ByteBuffer.allocate(4).putShort(qtype.toShort()).putShort(1).array())
        return out.toByteArray()
    }

    /** Skips a (possibly compressed) name at `pos`; returns the position after it. */
    private fun skipName(msg: ByteArray, start: Int): Int {
        var pos = start
        while (true) {
            val len = msg[pos].toInt() and 0xff
            if (len == 0) return pos + 1
            if (len and 0xc0 == 0xc0) return pos + 2
            pos += len + 1
        }
    }

    fun parse(msg: ByteArray, length: Int): DnsAnswer {
        val buf = ByteBuffer.wrap(msg, 0, length)
        val flags = buf.getShort(2).toInt()
        val qd = buf.getShort(4).toInt()
        val an = buf.getShort(6).toInt()
        var pos = 12
        repeat(qd) { pos = skipName(msg, pos) + 4 }
        val addresses = mutableListOf<String>()
        repeat(an) {
            pos = skipName(msg, pos)
            val type = buf.getShort(pos).toInt()
            val rdlen = buf.getShort(pos + 8).toInt() and 0xffff
            pos += 10
            if (type == 1 && rdlen == 4) {
                addresses += InetAddress.getByAddress(msg.copyOfRange(pos, pos + 4)).hostAddress
            }
            pos += rdlen
        }
        return DnsAnswer(flags and 0xf, addresses)
    }

    /** Asks the firewall's virtual resolver for the A record of `name`. */
    fun resolve(name: String, timeoutMs: Int = 3000): DnsAnswer {
        DatagramSocket().use { socket ->
            socket.soTimeout = timeoutMs
            val id = (1..0xffff).random()
            val query = query(id, name)
            socket.send(DatagramPacket(query, query.size, InetSocketAddress(RESOLVER, 53)))
            val buf = ByteArray(1500)
            val packet = DatagramPacket(buf, buf.size)
            socket.receive(packet)
            return parse(buf, packet.length)
        }
    }
}

/**
 * An upstream resolver on loopback that answers every A query with
 * 192.0.2.1: lets a test see an allowed name go through, with no traffic
 * off the machine.
 */
class FakeUpstream : AutoCloseable {
    private val socket = DatagramSocket(InetSocketAddress("127.0.0.1", 0))
    val address: String = "127.0.0.1:${socket.localPort}"
    private val thread = Thread {
        val buf = ByteArray(1500)
        while (!socket.isClosed) {
            val packet = DatagramPacket(buf, buf.size)
            try {
                socket.receive(packet)
            } catch (e: Exception) {
                if (e is SocketTimeoutException) continue else break
            }
            val question = buf.copyOfRange(12, packet.length)
            val reply = ByteBuffer.allocate(12 + question.size + 16)
            reply.putShort(ByteBuffer.wrap(buf).getShort(0)).putShort(0x8180.toShort())
                .putShort(1).putShort(1).putShort(0).putShort(0)
            reply.put(question)
            reply.putShort(0xc00c.toShort()).putShort(1).putShort(1).putInt(60).putShort(4)
            reply.put(byteArrayOf(192.toByte(), 0, 2, 1))
            val bytes = reply.array()
            socket.send(DatagramPacket(bytes, bytes.size, packet.socketAddress))
        }
    }.apply {
        isDaemon = true
        start()
    }

    override fun close() {
        socket.close()
        thread.join(2000)
    }
}
