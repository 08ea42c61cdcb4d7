#!/usr/bin/env bash
# bench/startup.sh: time from start to the first answer with a big list,
# tacet beside dnsmasq and unbound given the same list in the same run.
#
#   sudo bench/startup.sh            # NAMES=1000000 names, RUNS=3 starts each
#
# The list: NAMES generated plain domains (each blocks the name and its
# subdomains), one a line. The same names are given to dnsmasq as
# `local=/NAME/` lines and to unbound as `local-zone: "NAME." always_nxdomain`,
# the forms blocklists publish for them, which block subdomains too.
#
# Each server is started by bench/first_answer.py in the phone namespace,
# pinned to core 0 (the prober on the last core), which asks it for the
# list's last name every millisecond from the moment it is started and
# prints the time to the first answer and the server's memory then:
#
#   tacet, from text     `tacet run --tun … --blocklist LIST --store DIR`
#                        with no compiled file in the store: compiles
#   tacet, from store    the same command again: the lists have not changed,
#                        so it maps the store's compiled rules.bin
#   tacet serve          the same twice as serve mode (`tacet serve --listen
#                        127.0.0.1:5302 …`): from text, then from its store
#   dnsmasq, unbound     their own config files holding the list
#
# tacet's time includes creating and configuring its TUN (`ip` commands).
# The compiled file is in the page cache on the second start, as it is
# after any recent start or compile. Namespaces are removed on exit; no
# packet leaves them (nothing here has an upstream that answers: every
# query asked is for a listed name).

. "$(dirname "$0")/lib.sh"

NAMES=${NAMES:-1000000}
RUNS=${RUNS:-3}
PROBER=$BENCH_ROOT/bench/first_answer.py

bench_preflight
for tool in unbound python3; do
    command -v "$tool" >/dev/null || die "missing $tool (.ci/install-deps installs it)"
done
bench_network

echo "generating $NAMES names…" >&2
awk -v n="$NAMES" 'BEGIN {
    srand(1);
    split("com net org io cn de ru info xyz top", tld, " ");
    for (i = 0; i < n; i++)
        printf "a%x%d.t%d.%s\n", int(rand() * 2147483647), i, i % 4099, tld[1 + i % 10];
}' >"$WORK/list.txt"
LAST=$(tail -n 1 "$WORK/list.txt")
awk '{ print "local=/" $0 "/" }' "$WORK/list.txt" >"$WORK/dnsmasq.conf"
{
    bench_unbound_server "127.0.0.1@5301" 127.0.0.0/8
    cat <<EOF
    module-config: "iterator"
    local-zone: "." refuse
EOF
    awk '{ print "    local-zone: \"" $0 ".\" always_nxdomain" }' "$WORK/list.txt"
    printf 'remote-control:\n    control-enable: no\n'
} >"$WORK/unbound.conf"
unbound-checkconf "$WORK/unbound.conf" >/dev/null || die "unbound config refused"

# first SERVER PORT CMD... -> "ms rss_kib anon_kib rcode answers"
first() {
    local server=$1 port=$2
    shift 2
    ip netns exec "$PHONE_NS" taskset -c "$LOAD_CPU" python3 "$PROBER" "$server" "$port" "$LAST" \
        taskset -c "$FW_CPU" "$@"
}

TACET_CMD=("$TACET" -v run --tun tacet0 --upstream "$UPSTREAM" --store "$WORK/store"
    --blocklist "$WORK/list.txt")

SERVE_CMD=("$TACET" serve --listen 127.0.0.1:5302 --upstream "$UPSTREAM" --store "$WORK/serve-store"
    --blocklist "$WORK/list.txt")

declare -A RESULTS
run() {
    local label=$1 line
    shift
    line=$("$@") || die "$label: no first answer"
    echo "  $label: $line" >&2
    RESULTS[$label]+="$line"$'\n'
}

for r in $(seq "$RUNS"); do
    echo "round $r of $RUNS…" >&2
    rm -rf "$WORK/store"
    run "tacet, from text" first "$RESOLVER" 53 "${TACET_CMD[@]}"
    [ -s "$WORK/store/rules.bin" ] || die "tacet left no compiled rules in its store"
    SERVER_LOG=$WORK/tacet-store-$r.log run "tacet, from store" first "$RESOLVER" 53 "${TACET_CMD[@]}"
    # The second start must have mapped the compiled file, not compiled.
    grep -q "rules mapped from the store's compiled file" "$WORK/tacet-store-$r.log" ||
        die "the second start compiled the lists again: $(cat "$WORK/tacet-store-$r.log")"
    # Serve mode (the home network's resolver): the same lists and store,
    # answering on a socket instead of a TUN; its own store, so its first
    # start compiles too.
    rm -rf "$WORK/serve-store"
    run "tacet serve, text" first 127.0.0.1 5302 "${SERVE_CMD[@]}"
    run "tacet serve, store" first 127.0.0.1 5302 "${SERVE_CMD[@]}"
    run "dnsmasq" first 127.0.0.1 5300 dnsmasq --keep-in-foreground --no-resolv --no-hosts \
        --conf-file="$WORK/dnsmasq.conf" --bind-interfaces --listen-address=127.0.0.1 \
        --port=5300 --user=root --log-facility=/dev/null
    run "unbound" first 127.0.0.1 5301 unbound -d -c "$WORK/unbound.conf"
done

# median of the first field, and the RSS and anonymous RSS (MiB) of the
# run with that time
summary() {
    sort -n | awk '{ t[NR] = $1; rss[NR] = $2; anon[NR] = $3; rc[NR] = $4; an[NR] = $5 }
        END { m = int((NR + 1) / 2);
              printf "%d %d %d %.1f %.1f rcode=%d,answers=%d\n", t[m], t[1], t[NR], rss[m] / 1024, anon[m] / 1024, rc[m], an[m] }'
}

echo
echo "tacet: $TACET"
echo "$NAMES names; $RUNS starts each; server on core $FW_CPU, prober on core $LOAD_CPU; the query: $LAST"
printf "%-20s %12s %10s %10s %10s %10s  %s\n" "" "first answer" "fastest" "slowest" "RSS MiB" "anon MiB" "answer"
for label in "tacet, from text" "tacet, from store" "tacet serve, text" "tacet serve, store" "dnsmasq" "unbound"; do
    read -r med lo hi rss anon ans < <(printf "%s" "${RESULTS[$label]}" | summary)
    printf "%-20s %9s ms %7s ms %7s ms %10s %10s  %s\n" "$label" "$med" "$lo" "$hi" "$rss" "$anon" "$ans"
done
store_ms=$(printf "%s" "${RESULTS["tacet, from store"]}" | summary | cut -d' ' -f1)
echo
echo "compiled file: $(stat -c %s "$WORK/store/rules.bin") bytes, $(awk -v b="$(stat -c %s "$WORK/store/rules.bin")" -v n="$NAMES" 'BEGIN { printf "%.1f", b / n }') bytes a name; list text $(stat -c %s "$WORK/list.txt") bytes"
verdict=ok
[ "$store_ms" -le 100 ] || verdict=MISSED
echo "target: first answer from the store's compiled file within 100 ms: $verdict (${store_ms} ms)"
