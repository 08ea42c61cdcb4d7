#!/usr/bin/env bash
# bench/idle.sh: does tacet sleep when the phone is idle?
#
#   sudo bench/idle.sh               # IDLE_SECS=60, SETTLE_SECS=75
#
# Starts the firewall on a TUN (with dnsmasq as upstream), sends a few
# queries, waits SETTLE_SECS: for the kernel's start-up traffic into a new
# interface (MLD reports, the first router solicitations), and for the one
# deferred write of the store's counters, about a minute after the last
# query (a write with fsync blocks, so it shows as several voluntary
# switches). Then it reads every thread's voluntary
# context switches from /proc/PID/task/*/status, waits IDLE_SECS with no
# traffic, and reads them again. A thread that woke up had a timer or a
# poll loop running: the target is no change at all for the I/O thread.

. "$(dirname "$0")/lib.sh"

IDLE_SECS=${IDLE_SECS:-60}
SETTLE_SECS=${SETTLE_SECS:-75}

bench_preflight
bench_network
bench_dnsmasq
printf '0.0.0.0 idle-blocked.example\n' >"$WORK/blocklist.txt"
bench_tacet --blocklist "$WORK/blocklist.txt"
printf 'n1.bench.example A\nidle-blocked.example A\n' >"$WORK/q.txt"
ip netns exec "$PHONE_NS" dnsperf -s "$RESOLVER" -d "$WORK/q.txt" -n 1 >/dev/null

# snapshot -> lines "TID NAME VOLUNTARY NONVOLUNTARY"
snapshot() {
    local status
    for status in /proc/"$TACET_PID"/task/*/status; do
        awk -v tid="$(basename "$(dirname "$status")")" '
            /^Name:/ { name = $2 }
            /^voluntary_ctxt_switches:/ { v = $2 }
            /^nonvoluntary_ctxt_switches:/ { n = $2 }
            END { print tid, name, v, n }' "$status"
    done | sort
}

# Packets the kernel itself put into the TUN (IPv6 router solicitations
# keep coming with exponential backoff, RFC 7559): each one rightly wakes the
# I/O thread, so wake-ups are judged against them.
tun_packets() {
    ip netns exec "$PHONE_NS" cat /sys/class/net/tacet0/statistics/tx_packets
}

echo "settling ${SETTLE_SECS} s…"
sleep "$SETTLE_SECS"
snapshot >"$WORK/before"
packets_before=$(tun_packets)
echo "idle ${IDLE_SECS} s…"
sleep "$IDLE_SECS"
snapshot >"$WORK/after"
packets=$(( $(tun_packets) - packets_before ))

echo
printf "%-8s %-16s %12s %12s %8s %12s\n" tid thread "vol before" "vol after" "woke" "nonvol diff"
join "$WORK/before" "$WORK/after" | awk -v packets="$packets" '{
    printf "%-8s %-16s %12s %12s %8s %12s\n", $1, $2, $3, $6, $6 - $3, $7 - $4
    woke += $6 - $3 }
    END { print ""
          print "packets the kernel sent into the TUN meanwhile: " packets
          if (woke == 0) print "idle: ok, no thread woke up in the idle period"
          else if (woke <= packets) print "idle: ok, " woke " wake-ups, all for packets the kernel sent (no timer)"
          else print "idle: " woke " wake-ups for " packets " packets: " woke - packets " without a packet (target 0)" }'
echo
bench_tacet_stop
