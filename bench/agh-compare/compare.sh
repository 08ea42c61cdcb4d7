#!/bin/sh
# Compares tacet's verdicts with AdGuard Home's (its filtering library,
# github.com/AdguardTeam/urlfilter, in main.go) on a list of names, for
# the lists given as arguments. Prints the agreement and the first
# disagreements. Not run in CI: it needs Go and the module proxy.
#
#   bench/agh-compare/compare.sh NAMES LIST...
#
# NAMES: one name a line, or `rank,name` CSV (the Umbrella top sites).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
names=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's/^[0-9]*,//' "$names" | tr -d '\r' >"$tmp/names"
(cd "$here" && go build -o "$tmp/agh" .)
(cd "$root" && cargo build -q --release -p tacet-rules --example verdicts)
"$tmp/agh" "$@" <"$tmp/names" >"$tmp/agh.out"
"$root/target/release/examples/verdicts" "$@" <"$tmp/names" >"$tmp/tacet.out"
paste "$tmp/agh.out" "$tmp/tacet.out" | awk -F'\t' '
    $4 == "X" { invalid++; next }
    { n++; pair[$2 "->" $4]++ }
    $2 != $4 { diff++; if (shown < 20) { print "differs: " $1 "  AdGuard Home " $2 ", tacet " $4; shown++ } }
    END {
        printf "%d names (%d not names, left out); agree %d (%.4f%%), differ %d\n",
            n, invalid, n - diff, 100 * (n - diff) / n, diff
        for (p in pair) printf "  AdGuard Home->tacet %s: %d\n", p, pair[p]
    }'
