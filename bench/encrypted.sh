#!/usr/bin/env bash
# bench/encrypted.sh: what DNS over TLS and over HTTPS cost beside plain
# UDP, all through tacet to the same unbound, measured in the same run.
#
#   sudo bench/encrypted.sh          # DURATION=10 s per run, RATE=10000 q/s
#
#   phone ns (tacet0 TUN)  --veth--  upstream ns: unbound on 10.200.0.2
#                                      :53 plain, :853 DoT, :443 DoH
#
# unbound answers every nN.bench.example from local data (no recursion, no
# validator); its certificate is for bench-dns.example, issued by a CA this
# script makes and throws away, handed to tacet with --upstream-ca.
#
# For each upstream (plain UDP, DoT, DoH) tacet is started afresh, warmed
# up (the encrypted connection open), and then:
#   cpu      dnsperf offers RATE queries/s for DURATION s; tacet's CPU time
#            over the queries answered is the CPU per forwarded query
#   max qps  dnsperf with 256 outstanding for DURATION s
#   median   one query at a time, LATENCY_QUERIES of them
#            (tacet-e2e-latency), over the warm connection
# and unbound asked directly over plain UDP is the floor of the latency.
# Targets (#14): CPU per query over DoT at most 1.5x plain UDP's, over DoH
# at most 2x; added median latency over a warm connection at most 100 us.

. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-10}
RATE=${RATE:-10000}
LATENCY_QUERIES=${LATENCY_QUERIES:-20000}
PROBE=${LATENCY_BIN:-$BENCH_ROOT/target/release/tacet-e2e-latency}
CERT_NAME=bench-dns.example
UNBOUND_PID=

bench_preflight
for tool in unbound openssl; do
    command -v "$tool" >/dev/null || die "missing $tool (apt-get install unbound openssl)"
done
if [ ! -x "$PROBE" ]; then
    (cd "$BENCH_ROOT" && cargo build --release -p tacet-e2e --bin tacet-e2e-latency)
fi
bench_network
trap 'set +e; [ -n "$UNBOUND_PID" ] && kill "$UNBOUND_PID" 2>/dev/null; bench_cleanup' EXIT

# A throwaway CA and a certificate for $CERT_NAME.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=tacet-bench-ca -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$CERT_NAME" \
    -keyout "$WORK/server.key" -out "$WORK/server.csr" 2>/dev/null
openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
    -CAcreateserial -days 1 -out "$WORK/server.pem" \
    -extfile <(printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\n' "$CERT_NAME") 2>/dev/null

cat >"$WORK/unbound.conf" <<CONF
server:
    chroot: ""
    username: ""
    directory: "$WORK"
    use-syslog: no
    logfile: ""
    verbosity: 0
    num-threads: 1
    so-reuseport: no
    interface-automatic: no
    interface: $UPSTREAM@53
    interface: $UPSTREAM@853
    interface: $UPSTREAM@443
    tls-port: 853
    https-port: 443
    http-endpoint: "/dns-query"
    tls-service-pem: "$WORK/server.pem"
    tls-service-key: "$WORK/server.key"
    incoming-num-tcp: 64
    access-control: 0.0.0.0/0 allow
    module-config: "iterator"
    local-zone: "." refuse
    local-zone: "bench.example." redirect
    local-data: "bench.example. 300 IN A 192.0.2.1"
remote-control:
    control-enable: no
CONF
taskset -c "$FW_CPU" ip netns exec "$UPSTREAM_NS" unbound -d -c "$WORK/unbound.conf" \
    >"$WORK/unbound.log" 2>&1 &
UNBOUND_PID=$!
awk 'BEGIN { for (i = 0; i < 20000; i++) print "n" i ".bench.example A" }' >"$WORK/forwarded.txt"
for i in $(seq 100); do
    ip netns exec "$PHONE_NS" dnsperf -s "$UPSTREAM" -d <(echo "n0.bench.example A") -n 1 -t 1 \
        2>/dev/null | grep -q 'Queries completed: *1 ' && break
    [ "$i" = 100 ] && die "unbound did not answer: $(cat "$WORK/unbound.log")"
    sleep 0.1
done

# latency SERVER -> "median_us p99_us"
latency() {
    taskset -c "$LOAD_CPU" ip netns exec "$PHONE_NS" "$PROBE" "$1" "$WORK/forwarded.txt" \
        "$LATENCY_QUERIES" | awk '{ printf "%.0f %.0f\n", $6, $10 }'
}

# cpu_per_query -> "answered_qps lost% tacet_us_per_query" at RATE q/s
cpu_per_query() {
    local before after
    before=$(cpu_ticks "$TACET_PID")
    taskset -c "$LOAD_CPU" ip netns exec "$PHONE_NS" dnsperf -s "$RESOLVER" \
        -d "$WORK/forwarded.txt" -l "$DURATION" -Q "$RATE" -c 8 -q 256 -T 1 \
        >"$WORK/dnsperf-rate.txt" 2>&1
    after=$(cpu_ticks "$TACET_PID")
    awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" '
        /Queries completed:/ { done = $3 }
        /Queries lost:/ { gsub(/[()%]/, "", $4); lost = $4 }
        /Queries per second:/ { qps = $4 }
        END { printf "%.0f %s %.1f\n", qps, lost, (done > 0 ? 1e6 * t / hz / done : 0) }' \
        "$WORK/dnsperf-rate.txt"
}

echo "tacet: $TACET"
echo "cores: $CORES (tacet+unbound on $FW_CPU, dnsperf on $LOAD_CPU); $DURATION s per run at $RATE q/s"
echo
declare -A QPS LOST CPU MAXQPS MED P99
for path in udp dot doh; do
    case $path in
        udp) TACET_UPSTREAM=$UPSTREAM ;;
        dot) TACET_UPSTREAM="tls://$UPSTREAM#$CERT_NAME" ;;
        doh) TACET_UPSTREAM="https://$UPSTREAM/dns-query#$CERT_NAME" ;;
    esac
    export TACET_UPSTREAM
    bench_tacet --upstream-ca "$WORK/ca.pem"
    # Warm-up: the connection opens, caches fill.
    taskset -c "$LOAD_CPU" ip netns exec "$PHONE_NS" dnsperf -s "$RESOLVER" \
        -d "$WORK/forwarded.txt" -l 1 >/dev/null 2>&1 || true
    read -r QPS[$path] LOST[$path] CPU[$path] < <(cpu_per_query)
    read -r MAXQPS[$path] _ < <(bench_throughput "max-$path" "$RESOLVER" "$WORK/forwarded.txt" -c 8 -q 256 -T 1)
    read -r MED[$path] P99[$path] < <(latency "$RESOLVER")
    bench_tacet_stop >"$WORK/stats-$path.txt"
done
read -r d_med d_p99 < <(latency "$UPSTREAM")

printf "%-22s %9s %6s %12s %9s %9s %9s %9s\n" path "qps" "lost%" "µs CPU/query" "vs UDP" "max qps" "median µs" "p99 µs"
for path in udp dot doh; do
    printf "%-22s %9s %6s %12s %9s %9s %9s %9s\n" "through tacet, $path" "${QPS[$path]}" "${LOST[$path]}" \
        "${CPU[$path]}" "$(ratio "${CPU[$path]}" "${CPU[udp]}")" "${MAXQPS[$path]}" "${MED[$path]}" "${P99[$path]}"
done
printf "%-22s %9s %6s %12s %9s %9s %9s %9s\n" "unbound direct, udp" - - - - - "$d_med" "$d_p99"
echo
for path in dot doh; do
    echo "$path, tacet's counters: $(grep -o '"encrypted":{[^}]*}' "$WORK/stats-$path.txt" || cat "$WORK/stats-$path.txt")"
done
echo
verdict=ok
dot_ratio=$(ratio "${CPU[dot]}" "${CPU[udp]}")
doh_ratio=$(ratio "${CPU[doh]}" "${CPU[udp]}")
echo "CPU per query vs plain UDP: DoT ${dot_ratio}x (target ≤ 1.5), DoH ${doh_ratio}x (target ≤ 2)"
awk -v r="$dot_ratio" 'BEGIN { exit !(r <= 1.5) }' || verdict=MISSED
awk -v r="$doh_ratio" 'BEGIN { exit !(r <= 2) }' || verdict=MISSED
for path in dot doh; do
    added=$((MED[$path] - MED[udp]))
    echo "added median latency over a warm connection, $path vs udp through tacet: $added µs (target ≤ 100)"
    [ "$added" -le 100 ] || verdict=MISSED
done
echo "targets: $verdict"
