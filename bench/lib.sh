# bench/lib.sh: the benchmark network, shared by dnsperf.sh, dnsperf-tcp.sh
# and idle.sh.
#
#   phone ns (tacet0 TUN, 10.111.222.53)  --veth--  upstream ns (dnsmasq 10.200.0.2)
#
# Everything runs in namespaces this script creates (named tb-*-PID) and is
# removed on exit, Ctrl-C included. No packet leaves them: dnsmasq answers
# bench.example itself and refuses everything else (no upstream of its own).

set -euo pipefail

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PHONE_NS=tb-ph-$$
UPSTREAM_NS=tb-up-$$
UPSTREAM=10.200.0.2
RESOLVER=10.111.222.53
WORK=$(mktemp -d /tmp/tacet-bench.XXXXXX)
TACET_PID=
DNSMASQ_PID=

die() { echo "error: $*" >&2; exit 1; }

bench_preflight() {
    [ "$(id -u)" = 0 ] || die "needs root (network namespaces and a TUN device): sudo $0"
    local tool
    for tool in ip dnsmasq dnsperf taskset; do
        command -v "$tool" >/dev/null || die "missing $tool (apt-get install iproute2 dnsmasq-base dnsperf util-linux)"
    done
    TACET=${TACET_BIN:-$BENCH_ROOT/target/release/tacet}
    if [ ! -x "$TACET" ]; then
        echo "building the release binary…" >&2
        (cd "$BENCH_ROOT" && cargo build --release -p tacet)
    fi
    [ -x "$TACET" ] || die "no tacet binary at $TACET"
    CORES=$(nproc)
    # The firewall (and dnsmasq) get core 0, the load generator the last
    # core, so neither steals the other's CPU on a 2-core machine.
    FW_CPU=0
    LOAD_CPU=$((CORES - 1))
}

bench_cleanup() {
    set +e
    [ -n "$TACET_PID" ] && kill "$TACET_PID" 2>/dev/null && wait "$TACET_PID" 2>/dev/null
    [ -n "$DNSMASQ_PID" ] && kill "$DNSMASQ_PID" 2>/dev/null && wait "$DNSMASQ_PID" 2>/dev/null
    ip netns del "$PHONE_NS" 2>/dev/null
    ip netns del "$UPSTREAM_NS" 2>/dev/null
    rm -rf "$WORK"
}

bench_network() {
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
    ip netns add "$PHONE_NS"
    ip netns add "$UPSTREAM_NS"
    ip -n "$PHONE_NS" link set lo up
    ip -n "$UPSTREAM_NS" link set lo up
    ip link add ph0 netns "$PHONE_NS" type veth peer name up0 netns "$UPSTREAM_NS"
    ip -n "$PHONE_NS" addr add 10.200.0.1/24 dev ph0
    ip -n "$UPSTREAM_NS" addr add "$UPSTREAM/24" dev up0
    ip -n "$PHONE_NS" link set ph0 up
    ip -n "$UPSTREAM_NS" link set up0 up
}

# dnsmasq answers every nN.bench.example with 192.0.2.1 from its own config.
# In the foreground but not --no-daemon: that debug mode serves TCP
# connections one at a time in the main process, which stalls a TCP baseline
# with several connections. (It still closes a TCP connection after 100
# queries; dnsperf reconnects.)
bench_dnsmasq() {
    taskset -c "$FW_CPU" ip netns exec "$UPSTREAM_NS" dnsmasq --keep-in-foreground \
        --no-resolv --no-hosts --conf-file=/dev/null --bind-interfaces \
        --listen-address="$UPSTREAM" --user=root --log-facility=/dev/null \
        --local=/example/ --address=/bench.example/192.0.2.1 \
        >"$WORK/dnsmasq.log" 2>&1 &
    DNSMASQ_PID=$!
    local i
    for i in $(seq 100); do
        if ip netns exec "$PHONE_NS" dnsperf -s "$UPSTREAM" -d <(echo "n0.bench.example A") \
            -n 1 -t 1 2>/dev/null | grep -q 'Queries completed: *1 '; then
            return
        fi
        sleep 0.1
    done
    die "dnsmasq did not answer: $(cat "$WORK/dnsmasq.log")"
}

# Starts `tacet run` on a TUN in the phone namespace, pinned to FW_CPU, with
# extra arguments "$@", and waits for `tacet: ready`. Its upstream is
# $TACET_UPSTREAM if set (an encrypted one, say), else plain $UPSTREAM.
bench_tacet() {
    # Its own store (journal and counters, as on a phone), not the
    # machine's /var/lib/tacet.
    taskset -c "$FW_CPU" ip netns exec "$PHONE_NS" "$TACET" run --tun tacet0 \
        --upstream "${TACET_UPSTREAM:-$UPSTREAM}" --store "$WORK/store" "$@" \
        >"$WORK/tacet.out" 2>"$WORK/tacet.err" &
    TACET_PID=$!
    local i
    for i in $(seq 150); do
        grep -q '^tacet: ready' "$WORK/tacet.out" && return
        kill -0 "$TACET_PID" 2>/dev/null || die "tacet exited: $(cat "$WORK/tacet.err")"
        sleep 0.1
    done
    die "tacet not ready after 15 s: $(cat "$WORK/tacet.err")"
}

# Stops tacet with SIGTERM and prints its final stats line.
bench_tacet_stop() {
    kill -TERM "$TACET_PID"
    wait "$TACET_PID" || true
    TACET_PID=
    grep '^tacet: stats' "$WORK/tacet.out" || echo "(no stats line)"
}

# Total CPU time (utime + stime, clock ticks) of process $1.
cpu_ticks() {
    awk '{ split($0, a, ") "); split(a[2], f, " "); print f[12] + f[13] }' "/proc/$1/stat"
}

# Writes the generated lists into $WORK: blocklist.txt (BLOCKLIST_SIZE rules,
# half plain domains that block subdomains too, half hosts lines, as
# published lists mix them), and the dnsperf query files blocked.txt
# (subdomains of the plain-domain half and the exact hosts names, spread over
# the whole list) and forwarded.txt (nN.bench.example, answered by dnsmasq).
bench_lists() {
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
}

# bench_throughput LABEL SERVER FILE DNSPERF_ARGS...
#   -> "qps lost% avg_ms tacet_cpu% load_cpu%"
# Runs dnsperf from the phone namespace on LOAD_CPU for DURATION seconds.
# tacet_cpu% is tacet's CPU time over dnsperf's run time, so
# qps * 100 / tacet_cpu% is what one core of tacet serves per second;
# load_cpu% is dnsperf's own CPU time over its wall time (near 100:
# dnsperf, not tacet, set the pace). dnsperf's output is kept in
# $WORK/dnsperf-LABEL.txt. With PERF_DATA=FILE and PERF_LABEL=LABEL, perf
# records a profile of tacet during that run.
bench_throughput() {
    local label=$1 server=$2 file=$3 before after secs cpu load TIMEFORMAT='%R %U %S'
    shift 3
    local perf_pid=
    if [ -n "${PERF_DATA:-}" ] && [ "${PERF_LABEL:-}" = "$label" ]; then
        taskset -c "$LOAD_CPU" perf record -q --call-graph dwarf,16384 -F 2000 -p "$TACET_PID" \
            -o "$PERF_DATA" -- sleep "$DURATION" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    before=$(cpu_ticks "$TACET_PID")
    { time taskset -c "$LOAD_CPU" ip netns exec "$PHONE_NS" dnsperf -s "$server" \
        -d "$file" -l "$DURATION" "$@" >"$WORK/dnsperf-$label.txt" 2>&1; } 2>"$WORK/time-$label.txt"
    after=$(cpu_ticks "$TACET_PID")
    [ -z "$perf_pid" ] || wait "$perf_pid" || true
    secs=$(awk '/Run time \(s\):/ { print $4 }' "$WORK/dnsperf-$label.txt")
    cpu=$(percent_of $((after - before)) "$secs")
    load=$(awk '{ if ($1 > 0) printf "%.0f", 100 * ($2 + $3) / $1; else print 0 }' \
        "$WORK/time-$label.txt")
    # Over TCP dnsperf prints a second "Average Latency" (connection set-up)
    # under "Connection Statistics": the first one is the queries'.
    awk -v cpu="$cpu" -v load="$load" '
        /Queries per second:/ { qps = $4 }
        /Queries lost:/ { gsub(/[()%]/, "", $4); lost = $4 }
        /Average Latency \(s\):/ && avg == "" { avg = $4 * 1000 }
        END { printf "%.0f %s %.3f %s %s\n", qps, lost, avg, cpu, load }' "$WORK/dnsperf-$label.txt"
}

# bench_unbound_server INTERFACE ACCESS: the start of an unbound config's
# server: clause for a benchmark (foreground, one thread, no chroot, user,
# pid file or logs, answering on INTERFACE (ADDR@PORT) to ACCESS (a CIDR)).
# The caller appends its own lines (local-zones, module-config).
bench_unbound_server() {
    cat <<EOF
server:
    chroot: ""
    username: ""
    directory: "$WORK"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 0
    do-daemonize: no
    num-threads: 1
    so-reuseport: no
    interface-automatic: no
    interface: $1
    access-control: $2 allow
EOF
}

# percent_of TICKS SECONDS -> TICKS as a percentage of SECONDS of one core
percent_of() {
    awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v s="$2" \
        'BEGIN { if (s > 0) printf "%.0f", 100 * t / hz / s; else print 0 }'
}

# per_core QPS CPU% -> queries per second per core of tacet CPU
per_core() { awk -v q="$1" -v c="$2" 'BEGIN { if (c > 0) printf "%.0f", q * 100 / c; else print "-" }'; }
# ratio A B -> A / B
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
