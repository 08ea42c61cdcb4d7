#!/usr/bin/env bash
# Instructions a rule lookup executes, counted by valgrind: unlike times,
# the same on a busy machine as on a quiet one. Runs the lookup_loop
# example twice with different lookup counts and divides the difference, so
# building the list is not counted.
#
# Usage: bench/lookup_instructions.sh [NAMES] [--popular]   (needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
names=${1:-100000}
shift || true
cargo build --release -q -p tacet-rules --example lookup_loop
bin=${CARGO_TARGET_DIR:-target}/release/examples/lookup_loop
count() {
    local lookups=$1
    shift
    LOOKUPS=$lookups valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
        "$bin" "$names" 64 "$@" 2>&1 | awk '/I *refs/ { gsub(",", "", $4); print $4 }'
}
a=$(count 100000 "$@")
b=$(count 200000 "$@")
# Seven rounds of 100,000 more lookups.
echo "$names names: $(((b - a) / 700000)) instructions a lookup ${*:-blocked}"
