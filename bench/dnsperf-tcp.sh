#!/usr/bin/env bash
# bench/dnsperf-tcp.sh: queries/s of tacet's DNS over TCP (smoltcp), per core
# of tacet, against UDP through tacet and against dnsmasq over TCP, measured
# in the same run with dnsperf.
#
#   sudo bench/dnsperf-tcp.sh        # DURATION=10 s per run
#
# Six runs, all from the phone namespace, each over TCP and over UDP:
#   blocked    names on a 100,000-line generated blocklist, answered by tacet
#   forwarded  nN.bench.example through tacet to dnsmasq (over UDP) and back
#   direct     the same names straight to dnsmasq over the veth (baseline)
#
# Load: dnsperf with TCP_CLIENTS connections (16) and TCP_OUTSTANDING queries
# outstanding (256), the same for UDP. dnsperf spreads the outstanding
# queries over its connections, so each pipelines 16: tacet's
# MAX_QUERIES_PER_CONNECTION, the most it reads ahead before TCP flow control
# holds the client back, so the pipe stays full without measuring that
# pause. 16 connections are a quarter of MAX_CONNECTIONS (64), far more than
# a phone opens, and fewer than dnsmasq's 20 TCP children, so the direct
# baseline is not capped by dnsmasq's fork-per-connection limit either.
#
# tacet (one I/O thread) and dnsmasq are pinned to core 0, dnsperf to the
# last core. "qps/core" is qps divided by tacet's CPU time over the run
# (utime + stime from /proc/PID/stat): the queries one core of tacet serves
# per second, honest even when dnsperf, not tacet, sets the pace ("load cpu"
# near 100%). The target from the DNS-over-TCP issue: ≥ 20,000 qps per core
# over TCP, for blocked and forwarded queries alike.

. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-10}
BLOCKLIST_SIZE=${BLOCKLIST_SIZE:-100000}
TCP_CLIENTS=${TCP_CLIENTS:-16}
TCP_OUTSTANDING=${TCP_OUTSTANDING:-256}
TARGET_PER_CORE=20000

bench_preflight
bench_network
bench_lists
bench_dnsmasq
bench_tacet --blocklist "$WORK/blocklist.txt"

# throughput LABEL MODE SERVER FILE -> "qps lost% avg_ms tacet_cpu% load_cpu%"
throughput() {
    bench_throughput "$1-$2" "$3" "$4" -m "$2" -c "$TCP_CLIENTS" -q "$TCP_OUTSTANDING" -T 1
}

echo "tacet: $TACET"
echo "cores: $CORES (firewall+dnsmasq on $FW_CPU, dnsperf on $LOAD_CPU); $DURATION s per run;" \
    "blocklist $BLOCKLIST_SIZE rules; $TCP_CLIENTS clients, $TCP_OUTSTANDING outstanding"
# Warm-up: page in the rules and open the paths before anything is measured.
for mode in udp tcp; do
    taskset -c "$LOAD_CPU" ip netns exec "$PHONE_NS" dnsperf -m "$mode" -s "$RESOLVER" \
        -d "$WORK/blocked.txt" -c "$TCP_CLIENTS" -l 1 >/dev/null 2>&1 || true
done

declare -A qps lost avg cpu load
for path in blocked forwarded direct; do
    case $path in
        blocked) server=$RESOLVER file=$WORK/blocked.txt ;;
        forwarded) server=$RESOLVER file=$WORK/forwarded.txt ;;
        direct) server=$UPSTREAM file=$WORK/forwarded.txt ;;
    esac
    for mode in tcp udp; do
        read -r "qps[$path-$mode]" "lost[$path-$mode]" "avg[$path-$mode]" \
            "cpu[$path-$mode]" "load[$path-$mode]" < <(throughput "$path" "$mode" "$server" "$file")
    done
done

echo
printf "%-10s %-4s %9s %7s %8s %10s %9s %10s %8s %10s\n" \
    path mode qps "lost%" "avg ms" "tacet cpu" "load cpu" "qps/core" "vs udp" "vs direct"
for path in blocked forwarded direct; do
    for mode in tcp udp; do
        k=$path-$mode
        if [ "$path" = direct ]; then
            tacet_cpu=- core=- vs_direct=1.00
        else
            tacet_cpu=${cpu[$k]}% core=$(per_core "${qps[$k]}" "${cpu[$k]}")
            vs_direct=$(ratio "${qps[$k]}" "${qps[direct-$mode]}")
        fi
        printf "%-10s %-4s %9s %7s %8s %10s %8s%% %10s %8s %10s\n" \
            "$path" "$mode" "${qps[$k]}" "${lost[$k]}" "${avg[$k]}" "$tacet_cpu" "${load[$k]}" \
            "$core" "$(ratio "${qps[$k]}" "${qps[$path-udp]}")" "$vs_direct"
    done
done
echo
verdict=ok
for path in blocked forwarded; do
    core=$(per_core "${qps[$path-tcp]}" "${cpu[$path-tcp]}")
    echo "$path over TCP: ${qps[$path-tcp]} qps measured, $core qps per core-second of tacet CPU" \
        "(target ≥ $TARGET_PER_CORE)"
    [ "$core" != "-" ] && [ "$core" -ge "$TARGET_PER_CORE" ] || verdict=MISSED
done
echo "targets: $verdict"
echo
bench_tacet_stop
