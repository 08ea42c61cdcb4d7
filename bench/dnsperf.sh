#!/usr/bin/env bash
# bench/dnsperf.sh: queries/s and latency of tacet, with dnsmasq queried
# directly as the baseline, measured in the same run with dnsperf.
#
#   sudo bench/dnsperf.sh            # DURATION=10 s per throughput run
#
# Three paths, all from the phone namespace:
#   blocked    names on a 100,000-line generated blocklist, answered by tacet
#   forwarded  nN.bench.example through tacet to dnsmasq and back
#   direct     the same names straight to dnsmasq over the veth (baseline)
#
# Throughput: dnsperf with 256 queries outstanding for DURATION seconds,
# tacet and dnsmasq pinned to core 0, dnsperf to the last core. tacet's own
# CPU use during the run is measured too, so "qps per core-second" is known
# even when dnsperf, not tacet, is the bottleneck.
#
# Latency: one query at a time (no queueing), LATENCY_QUERIES queries, each
# round trip timed by tests/src/bin/latency.rs (tacet-e2e-latency), which
# prints the median and 99th percentile. Not dnsperf: it reports only mean
# and standard deviation, and a mean is dragged by a few scheduler outliers;
# and its one-at-a-time mode (-q 1) hands each query between two threads,
# which is slow and adds that handoff to every time it prints with -v.
# "Added latency" is median(forwarded) - median(direct).

. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-10}
LATENCY_QUERIES=${LATENCY_QUERIES:-20000}
PROBE=${LATENCY_BIN:-$BENCH_ROOT/target/release/tacet-e2e-latency}
BLOCKLIST_SIZE=${BLOCKLIST_SIZE:-100000}

bench_preflight
if [ ! -x "$PROBE" ]; then
    (cd "$BENCH_ROOT" && cargo build --release -p tacet-e2e --bin tacet-e2e-latency)
fi
bench_network

bench_lists
bench_dnsmasq
bench_tacet --blocklist "$WORK/blocklist.txt"

# throughput LABEL SERVER FILE -> "qps lost% avg_ms tacet_cpu% load_cpu%"
throughput() { bench_throughput "$1" "$2" "$3" -c 8 -q 256 -T 1; }

# latency SERVER FILE -> "median_us p99_us"
latency() {
    taskset -c "$LOAD_CPU" ip netns exec "$PHONE_NS" "$PROBE" "$1" "$2" "$LATENCY_QUERIES" |
        awk '{ printf "%.0f %.0f\n", $6, $10 }'
}

echo "tacet: $TACET"
echo "latency probe: $PROBE"
echo "cores: $CORES (firewall+dnsmasq on $FW_CPU, dnsperf on $LOAD_CPU); $DURATION s per run; blocklist $BLOCKLIST_SIZE rules"
# Warm-up: page in the rules and fill caches before anything is measured.
taskset -c "$LOAD_CPU" ip netns exec "$PHONE_NS" dnsperf -s "$RESOLVER" -d "$WORK/blocked.txt" -l 1 >/dev/null 2>&1 || true

read -r b_qps b_lost b_avg b_cpu _ < <(throughput blocked "$RESOLVER" "$WORK/blocked.txt")
read -r f_qps f_lost f_avg f_cpu _ < <(throughput forwarded "$RESOLVER" "$WORK/forwarded.txt")
read -r d_qps d_lost d_avg d_cpu _ < <(throughput direct "$UPSTREAM" "$WORK/forwarded.txt")
read -r b_med b_p99 < <(latency "$RESOLVER" "$WORK/blocked.txt")
read -r f_med f_p99 < <(latency "$RESOLVER" "$WORK/forwarded.txt")
read -r d_med d_p99 < <(latency "$UPSTREAM" "$WORK/forwarded.txt")

echo
printf "%-10s %10s %7s %9s %9s %12s %10s %10s %9s\n" \
    path "qps" "lost%" "avg ms" "tacet cpu" "qps/core" "median µs" "p99 µs" "vs direct"
printf "%-10s %10s %7s %9s %8s%% %12s %10s %10s %9s\n" \
    blocked "$b_qps" "$b_lost" "$b_avg" "$b_cpu" "$(per_core "$b_qps" "$b_cpu")" "$b_med" "$b_p99" "$(ratio "$b_qps" "$d_qps")"
printf "%-10s %10s %7s %9s %8s%% %12s %10s %10s %9s\n" \
    forwarded "$f_qps" "$f_lost" "$f_avg" "$f_cpu" "$(per_core "$f_qps" "$f_cpu")" "$f_med" "$f_p99" "$(ratio "$f_qps" "$d_qps")"
printf "%-10s %10s %7s %9s %9s %12s %10s %10s %9s\n" \
    direct "$d_qps" "$d_lost" "$d_avg" "-" "-" "$d_med" "$d_p99" "1.00"
echo
added=$((f_med - d_med))
echo "added median latency, forwarded vs direct: ${added} µs (target ≤ 50 µs)"
b_core=$(per_core "$b_qps" "$b_cpu")
echo "blocked: $b_qps qps measured, $b_core qps per core-second of tacet CPU (target ≥ 100000 on one core)"
verdict=ok
[ "$added" -le 50 ] || verdict=MISSED
[ "$b_core" != "-" ] && [ "$b_core" -ge 100000 ] || verdict=MISSED
echo "targets: $verdict"
echo
bench_tacet_stop
