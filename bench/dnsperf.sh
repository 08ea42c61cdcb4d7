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

# Generated lists: half plain domains (block subdomains too), half hosts
# lines, as published lists mix them. Queries ask for subdomains of the
# plain-domain half and the exact hosts names, spread over the whole list.
awk -v n="$BLOCKLIST_SIZE" 'BEGIN {
    for (i = 0; i < n; i++)
        if (i % 2) print "0.0.0.0 t" i ".hosts.bench-block.example";
        else print "t" i ".ads.bench-block.example";
}' >"$WORK/blocklist.txt"
awk -v n="$BLOCKLIST_SIZE" 'BEGIN {
    for (i = 0; i < 20000; i++) {
        j = (i * 7919) % n;
        if (j % 2) print "t" j ".hosts.bench-block.example A";
        else print "x.t" j ".ads.bench-block.example A";
    }
}' >"$WORK/blocked.txt"
awk 'BEGIN { for (i = 0; i < 20000; i++) print "n" i ".bench.example A" }' >"$WORK/forwarded.txt"

bench_dnsmasq
bench_tacet --blocklist "$WORK/blocklist.txt"

# throughput LABEL SERVER FILE -> "qps lost% avg_ms cpu%"
throughput() {
    local label=$1 server=$2 file=$3 out before after secs cpu
    before=$(cpu_ticks "$TACET_PID")
    out=$(taskset -c "$LOAD_CPU" ip netns exec "$PHONE_NS" dnsperf -s "$server" \
        -d "$file" -l "$DURATION" -c 8 -q 256 -T 1 2>&1)
    after=$(cpu_ticks "$TACET_PID")
    echo "$out" >"$WORK/dnsperf-$label.txt"
    secs=$(echo "$out" | awk '/Run time \(s\):/ { print $4 }')
    cpu=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v s="$secs" \
        'BEGIN { printf "%.0f", 100 * t / hz / s }')
    echo "$out" | awk -v cpu="$cpu" '
        /Queries per second:/ { qps = $4 }
        /Queries lost:/ { gsub(/[()%]/, "", $4); lost = $4 }
        /Average Latency \(s\):/ { avg = $4 * 1000 }
        END { printf "%.0f %s %.3f %s\n", qps, lost, avg, cpu }'
}

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

read -r b_qps b_lost b_avg b_cpu < <(throughput blocked "$RESOLVER" "$WORK/blocked.txt")
read -r f_qps f_lost f_avg f_cpu < <(throughput forwarded "$RESOLVER" "$WORK/forwarded.txt")
read -r d_qps d_lost d_avg d_cpu < <(throughput direct "$UPSTREAM" "$WORK/forwarded.txt")
read -r b_med b_p99 < <(latency "$RESOLVER" "$WORK/blocked.txt")
read -r f_med f_p99 < <(latency "$RESOLVER" "$WORK/forwarded.txt")
read -r d_med d_p99 < <(latency "$UPSTREAM" "$WORK/forwarded.txt")

per_core() { awk -v q="$1" -v c="$2" 'BEGIN { if (c > 0) printf "%.0f", q * 100 / c; else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

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
