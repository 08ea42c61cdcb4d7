#!/usr/bin/env bash
# bench/flood.sh: answered UDP queries per second and tacet's memory while an
# app floods the resolver's port 53 with TCP connections, beside the same
# without a flood, measured in the same run.
#
#   sudo bench/flood.sh              # DURATION=10 s per dnsperf run
#   sudo RATE=0 bench/flood.sh       # dnsperf as fast as it can instead
#
# Two phases, each with two dnsperf runs from the phone namespace:
#   blocked    names on a 100,000-line generated blocklist, answered by tacet
#   forwarded  nN.bench.example through tacet to dnsmasq and back
# first without a flood (the baseline), then during a TCP connection flood
# at 10.111.222.53:53 from tests/src/bin/tcp_flood.rs (tacet-e2e-tcp-flood:
# one thread opens and closes connections as fast as it can, another holds
# FLOOD_HOLD open, more than tacet's 64 slots, so the flood's SYNs meet a
# full table), which prints the connects per second it made.
#
# Load: dnsperf offers RATE queries per second (default 10,000, far more
# than a phone asks) with up to 256 outstanding, so "answered qps" shows
# whether tacet keeps up; RATE=0 lifts the limit (then dnsperf and the flood
# share the load core, and a lower qps is partly theirs). tacet and dnsmasq
# are pinned to core 0, dnsperf and the flood to the last core.
#
# Memory: tacet's VmRSS (/proc/PID/status) sampled every 100 ms during each
# dnsperf run: at its start and its peak; and 2 s after the flood ended.

. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-10}
RATE=${RATE:-10000}
FLOOD_HOLD=${FLOOD_HOLD:-100}
BLOCKLIST_SIZE=${BLOCKLIST_SIZE:-100000}
FLOOD=${FLOOD_BIN:-$BENCH_ROOT/target/release/tacet-e2e-tcp-flood}

bench_preflight
if [ ! -x "$FLOOD" ]; then
    (cd "$BENCH_ROOT" && cargo build --release -p tacet-e2e --bin tacet-e2e-tcp-flood)
fi
bench_network
# Enough local ports that the flood measures tacet, not the phone's range.
ip netns exec "$PHONE_NS" sysctl -q -w net.ipv4.ip_local_port_range="1024 65535"
bench_lists
bench_dnsmasq
bench_tacet --blocklist "$WORK/blocklist.txt"

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# Samples tacet's VmRSS every 100 ms into $WORK/rss-LABEL (one value a line)
# until $WORK/rss-LABEL.stop exists.
sample_rss() {
    local label=$1
    rm -f "$WORK/rss-$label" "$WORK/rss-$label.stop"
    while [ ! -e "$WORK/rss-$label.stop" ]; do
        rss_kib "$TACET_PID" >>"$WORK/rss-$label" 2>/dev/null || break
        sleep 0.1
    done
}

# run LABEL SERVER FILE -> "qps lost% avg_ms tacet_cpu% load_cpu% rss_start_kib rss_peak_kib"
run() {
    local label=$1 server=$2 file=$3 sampler result
    local rate_args=()
    [ "$RATE" -gt 0 ] && rate_args=(-Q "$RATE")
    sample_rss "$label" &
    sampler=$!
    result=$(bench_throughput "$label" "$server" "$file" -c 8 -q 256 -T 1 "${rate_args[@]}")
    touch "$WORK/rss-$label.stop"
    wait "$sampler" 2>/dev/null || true
    echo "$result $(head -n1 "$WORK/rss-$label") $(sort -n "$WORK/rss-$label" | tail -n1)"
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

echo "tacet: $TACET"
echo "flood: $FLOOD (holding $FLOOD_HOLD connections)"
echo "cores: $CORES (firewall+dnsmasq on $FW_CPU, dnsperf and flood on $LOAD_CPU);" \
    "$DURATION s per run; offered rate ${RATE:-0}/s (0: unlimited); blocklist $BLOCKLIST_SIZE rules"
# Warm-up: page in the rules before anything is measured.
taskset -c "$LOAD_CPU" ip netns exec "$PHONE_NS" dnsperf -s "$RESOLVER" -d "$WORK/blocked.txt" -l 1 >/dev/null 2>&1 || true
rss_start=$(rss_kib "$TACET_PID")

read -r q_b l_b a_b c_b ld_b s_b p_b < <(run base-blocked "$RESOLVER" "$WORK/blocked.txt")
read -r q_f l_f a_f c_f ld_f s_f p_f < <(run base-forwarded "$RESOLVER" "$WORK/forwarded.txt")

# The flood covers both runs of the second phase, starting a second early.
flood_secs=$((2 * DURATION + 3))
taskset -c "$LOAD_CPU" ip netns exec "$PHONE_NS" "$FLOOD" "$RESOLVER:53" "$flood_secs" "$FLOOD_HOLD" \
    >"$WORK/flood.txt" 2>"$WORK/flood.err" &
flood_pid=$!
sleep 1
read -r Q_b L_b A_b C_b LD_b S_b P_b < <(run flood-blocked "$RESOLVER" "$WORK/blocked.txt")
read -r Q_f L_f A_f C_f LD_f S_f P_f < <(run flood-forwarded "$RESOLVER" "$WORK/forwarded.txt")
wait "$flood_pid" || die "the flood failed: $(cat "$WORK/flood.err")"
sleep 2
rss_after=$(rss_kib "$TACET_PID")
# After: does DNS answer as before once the flood is over?
read -r q_a l_a a_a c_a ld_a s_a p_a < <(run after-blocked "$RESOLVER" "$WORK/blocked.txt")

echo
printf "%-11s %-10s %9s %7s %8s %10s %9s %10s %10s %9s\n" \
    phase path qps "lost%" "avg ms" "tacet cpu" "load cpu" "rss MiB" "peak MiB" "vs base"
row() {
    printf "%-11s %-10s %9s %7s %8s %9s%% %8s%% %10s %10s %9s\n" \
        "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$(mib "$8")" "$(mib "$9")" "${10}"
}
row "no flood" blocked "$q_b" "$l_b" "$a_b" "$c_b" "$ld_b" "$s_b" "$p_b" 1.00
row "no flood" forwarded "$q_f" "$l_f" "$a_f" "$c_f" "$ld_f" "$s_f" "$p_f" 1.00
row "TCP flood" blocked "$Q_b" "$L_b" "$A_b" "$C_b" "$LD_b" "$S_b" "$P_b" "$(ratio "$Q_b" "$q_b")"
row "TCP flood" forwarded "$Q_f" "$L_f" "$A_f" "$C_f" "$LD_f" "$S_f" "$P_f" "$(ratio "$Q_f" "$q_f")"
row "after" blocked "$q_a" "$l_a" "$a_a" "$c_a" "$ld_a" "$s_a" "$p_a" "$(ratio "$q_a" "$q_b")"
echo
read -r _ connects _ secs _ per_sec _ established _ refused _ unanswered _ local_errors _ held_max \
    <"$WORK/flood.txt"
echo "TCP flood: $connects connects in $secs s ($per_sec/s): $established established," \
    "$refused refused, $unanswered unanswered, $local_errors local errors, $held_max held at once"
peak=$(sort -n "$WORK"/rss-* | tail -n1)
echo "tacet memory: $(mib "$rss_start") MiB before, peak $(mib "$peak") MiB," \
    "$(mib "$rss_after") MiB 2 s after the flood ($(ratio "$rss_after" "$rss_start") x)"
echo
bench_tacet_stop
