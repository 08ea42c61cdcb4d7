#!/usr/bin/env python3
"""Time to first answer of a DNS server started from scratch.

    first_answer.py SERVER PORT NAME CMD [ARGS...]

Starts CMD, then asks SERVER:PORT for NAME (type A) over UDP every
millisecond until an answer comes back, and prints one line:

    <ms from start to first answer> <RSS KiB then> <anonymous RSS KiB then> <rcode> <answers>

(anonymous: the heap and stacks, without the pages of mapped files, which
are the page cache's, clean and shared)

then stops CMD (SIGTERM, SIGKILL after 30 s). Sends only to SERVER, which
the caller puts in a network namespace it created. Exits 1 if no answer
came within TIMEOUT seconds (default 120) or CMD exited first. With SERVER_LOG set, CMD's stderr is appended to
that file.
"""

import os
import random
import signal
import socket
import struct
import subprocess
import sys
import time


def query(name, ident):
    header = struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0)
    labels = b"".join(
        bytes([len(label)]) + label.encode() for label in name.rstrip(".").split(".")
    )
    return header + labels + b"\x00" + struct.pack(">HH", 1, 1)


def status(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    server, port, name, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
    timeout = float(os.environ.get("TIMEOUT", "120"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(0.001)
    start = time.monotonic()
    # The server's stderr goes to SERVER_LOG if set (to see what it did).
    log = open(os.environ["SERVER_LOG"], "ab") if os.environ.get("SERVER_LOG") else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
    answer = None
    try:
        while time.monotonic() - start < timeout:
            if proc.poll() is not None:
                sys.exit(f"{cmd[0]} exited with {proc.returncode} before answering")
            try:
                sock.sendto(query(name, random.randrange(65536)), (server, port))
            except OSError:
                # No route yet (the TUN is not up): try again.
                time.sleep(0.001)
                continue
            try:
                data = sock.recv(4096)
            except (socket.timeout, ConnectionRefusedError):
                continue
            if len(data) >= 12 and data[2] & 0x80:
                answer = data
                break
        elapsed = time.monotonic() - start
        if answer is None:
            sys.exit(f"no answer within {timeout} s")
        rss, anon = status(proc.pid, "VmRSS"), status(proc.pid, "RssAnon")
        rcode = answer[3] & 0x0F
        ancount = struct.unpack(">H", answer[6:8])[0]
        print(f"{elapsed * 1000:.0f} {rss} {anon} {rcode} {ancount}")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
