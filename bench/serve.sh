#!/usr/bin/env bash
# bench/serve.sh: serve mode (the home network's resolver) beside dnsmasq
# and unbound given the same list, in the same run, with dnsperf.
#
#   sudo bench/serve.sh              # DURATION=10 s a run, BLOCKLIST_SIZE=100000
#
#   LAN device ns (dnsperf, 10.200.0.1)  --veth--  gateway ns (10.200.0.2)
#
# In the gateway namespace: the upstream (dnsmasq on port 53, answering
# nN.bench.example itself, nothing else) and the three servers measured,
# one at a time, each on its own port, pinned to core 0 with the upstream;
# dnsperf runs on the last core. For each server:
#   blocked     names of the generated blocklist (bench_lists in lib.sh)
#   forwarded   nN.bench.example, sent on to the upstream
# with the queries per second dnsperf got (256 outstanding) and the
# server's own CPU per answered query (utime + stime over the run divided
# by the queries completed), and its resident memory after the runs.
#
# The list, the same for all: half the names block their subdomains too
# (dnsmasq `address=/NAME/`, unbound `local-zone: "NAME." always_null`),
# half are hosts lines (exact names; given to dnsmasq and unbound in the
# same subtree form, which blocks at least as much). Blocked answers are
# 0.0.0.0 from all three. Forwarding: dnsmasq with `cache-size=0` (a pure
# forwarder, as tacet is); unbound cannot turn its cache off, so after the
# first pass over the 20,000 names it answers forwarded names from its
# cache: its forwarded row is a cache's, not a forwarder's.
# Blocky, measured in an earlier setup (21.5k blocked queries/s), is not
# here: its Go module is not served by the proxy this machine reaches.

. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-10}
BLOCKLIST_SIZE=${BLOCKLIST_SIZE:-100000}
SERVED=10.200.0.2
bench_preflight
command -v unbound >/dev/null || die "missing unbound (.ci/install-deps installs it)"
bench_network
bench_lists
bench_dnsmasq

# Every line as a subtree rule, in each server's own form.
awk '{ n = ($1 == "0.0.0.0") ? $2 : $1; print "address=/" n "/0.0.0.0" }' \
    "$WORK/blocklist.txt" >"$WORK/dnsmasq-list.conf"
{
    bench_unbound_server "$SERVED@5301" 10.200.0.0/24
    cat <<EOF
    do-not-query-localhost: no
    module-config: "iterator"
EOF
    awk '{ n = ($1 == "0.0.0.0") ? $2 : $1; print "    local-zone: \"" n ".\" always_null" }' \
        "$WORK/blocklist.txt"
    cat <<EOF
forward-zone:
    name: "."
    forward-addr: $UPSTREAM@53
remote-control:
    control-enable: no
EOF
} >"$WORK/unbound.conf"
unbound-checkconf "$WORK/unbound.conf" >/dev/null || die "unbound config refused"

SERVER_PID=
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}
trap 'stop_server; bench_cleanup' EXIT

# start_server PORT CMD... : starts it in the gateway namespace on core 0
# and waits until it answers a blocked name.
start_server() {
    local port=$1 i
    shift
    taskset -c "$FW_CPU" ip netns exec "$UPSTREAM_NS" "$@" >"$WORK/server.out" 2>"$WORK/server.err" &
    SERVER_PID=$!
    for i in $(seq 300); do
        if ip netns exec "$PHONE_NS" dnsperf -s "$SERVED" -p "$port" -d <(head -n 1 "$WORK/blocked.txt") \
            -n 1 -t 1 2>/dev/null | grep -q 'Queries completed: *1 '; then
            return
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || die "$* exited: $(cat "$WORK/server.err")"
        sleep 0.1
    done
    die "$1 did not answer within 30 s: $(cat "$WORK/server.err")"
}

# run PORT FILE -> "qps cpu_us_per_query"
run() {
    local port=$1 file=$2 before after
    before=$(cpu_ticks "$SERVER_PID")
    taskset -c "$LOAD_CPU" ip netns exec "$PHONE_NS" dnsperf -s "$SERVED" -p "$port" \
        -d "$file" -l "$DURATION" -c 8 -q 256 -T 1 >"$WORK/dnsperf.txt" 2>&1
    after=$(cpu_ticks "$SERVER_PID")
    awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" '
        /Queries completed:/ { done = $3 }
        /Queries per second:/ { qps = $4 }
        END { if (done > 0) printf "%.0f %.2f\n", qps, t / hz * 1e6 / done; else print "0 -" }' \
        "$WORK/dnsperf.txt"
}

declare -A ROW
measure() {
    local label=$1 port=$2 bq bcpu fq fcpu rss
    shift 2
    echo "$label…" >&2
    start_server "$port" "$@"
    # Warm-up: page in the rules, fill caches.
    taskset -c "$LOAD_CPU" ip netns exec "$PHONE_NS" dnsperf -s "$SERVED" -p "$port" \
        -d "$WORK/blocked.txt" -l 1 >/dev/null 2>&1 || true
    read -r bq bcpu < <(run "$port" "$WORK/blocked.txt")
    read -r fq fcpu < <(run "$port" "$WORK/forwarded.txt")
    rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status")
    stop_server
    ROW[$label]="$bq $bcpu $fq $fcpu $rss"
}

measure "tacet serve" 5302 "$TACET" serve --listen "$SERVED:5302" --upstream "$UPSTREAM" \
    --store "$WORK/store" --blocklist "$WORK/blocklist.txt"
measure "dnsmasq" 5300 dnsmasq --keep-in-foreground --no-resolv --no-hosts \
    --conf-file="$WORK/dnsmasq-list.conf" --bind-interfaces --listen-address="$SERVED" \
    --port=5300 --server="$UPSTREAM" --cache-size=0 --user=root --log-facility=/dev/null
measure "unbound" 5301 unbound -d -c "$WORK/unbound.conf"

echo
echo "tacet: $TACET"
echo "$BLOCKLIST_SIZE-rule list; $DURATION s a run, 256 queries outstanding; servers on core $FW_CPU, dnsperf on core $LOAD_CPU"
printf "%-12s %12s %14s %14s %16s %8s %16s\n" server "blocked qps" "µs CPU/query" "forwarded qps" "µs CPU/query" "RSS MiB" "blocked qps/core"
read -r tq tcpu _ < <(echo "${ROW[tacet serve]}")
for label in "tacet serve" dnsmasq unbound; do
    read -r bq bcpu fq fcpu rss < <(echo "${ROW[$label]}")
    per=$(awk -v c="$bcpu" 'BEGIN { if (c > 0) printf "%.0f", 1e6 / c; else print "-" }')
    printf "%-12s %12s %14s %14s %16s %8s %16s\n" "$label" "$bq" "$bcpu" "$fq" "$fcpu" "$rss" "$per"
done
echo
for label in dnsmasq unbound; do
    read -r _ bcpu _ fcpu _ < <(echo "${ROW[$label]}")
    echo "tacet serve's CPU per blocked query: $(ratio "$tcpu" "$bcpu")× $label's"
done
