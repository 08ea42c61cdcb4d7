#!/usr/bin/env bash
# Runs the fuzz targets with cargo-fuzz (nightly), from the corpus kept in
# fuzz/corpus/<target>/.
#
#   fuzz/fuzz.sh check [SECONDS]    build every target, then fuzz each for
#                                   SECONDS (default 45), as many at once as
#                                   there are cores; exits 1 if any target
#                                   crashed, printing its reproducer (CI)
#   fuzz/fuzz.sh corpus [SECONDS]   grow the kept corpus: the seeds that
#                                   examples/seeds.rs writes, the corpus and
#                                   SECONDS (default 300) of fuzzing each,
#                                   minimized with `cargo fuzz cmin`
#
# Needs a nightly toolchain and cargo-fuzz: `.ci/install-deps --fuzz`.
# `check` leaves what it finds in a scratch directory, never in
# fuzz/corpus/, so a run does not change the work tree (crashes go to
# fuzz/artifacts/<target>/, which git ignores).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-check}
jobs=${FUZZ_JOBS:-$(nproc)}
targets=(parse_list load_compiled compile_round_trip engine_packets upstream_answer)
# Each input must finish in this many seconds, or it counts as a hang.
unit_timeout=10

scratch=$(mktemp -d "${TMPDIR:-/tmp}/tacet-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# Runs one target from its kept corpus and any further corpus directories
# given, with the libFuzzer flags in $extra_flags; new inputs go to
# $scratch/$target, the output to $scratch/$target.log.
extra_flags=()
fuzz_one() {
    local target=$1 seconds=$2
    shift 2
    local kept=()
    [ -d "fuzz/corpus/$target" ] && kept=("fuzz/corpus/$target")
    mkdir -p "$scratch/$target"
    cargo +nightly fuzz run "$target" "$scratch/$target" "${kept[@]}" "$@" -- \
        -max_total_time="$seconds" -timeout="$unit_timeout" -print_final_stats=1 \
        "${extra_flags[@]}" >"$scratch/$target.log" 2>&1
}

# What a run found: its totals, or the crash with the input that causes it.
report() {
    local target=$1 status=$2 log="$scratch/$1.log"
    if [ "$status" = 0 ]; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
        echo "fuzz: $target: no crash, ${runs:-?} runs, ${cov:-cov: ?}"
        return
    fi
    echo "fuzz: $target FAILED (exit $status):"
    if grep -q 'panicked at' "$log"; then
        grep -m 1 -A 1 'panicked at' "$log" | sed 's/^/    /'
    elif grep -qE 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)' "$log"; then
        grep -m 1 -A 8 -E 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)' "$log" | sed 's/^/    /'
    else
        tail -n 30 "$log" | sed 's/^/    /'
    fi
    grep -o 'Test unit written to [^ ]*' "$log" | sed 's/^Test unit written to //' | sort -u |
        while read -r artifact; do
            echo "fuzz: $target: reproducer: $artifact"
            echo "fuzz:   run it again: cargo +nightly fuzz run $target $artifact"
            if [ -f "$artifact" ] && [ "$(stat -c %s "$artifact")" -le 65536 ]; then
                echo "fuzz:   its bytes (base64): $(base64 -w0 "$artifact")"
            fi
        done
}

case "$mode" in
check)
    seconds=${2:-45}
    start=$(date +%s)
    echo "== fuzz: build ($(cargo +nightly --version), $(cargo fuzz --version))"
    cargo +nightly fuzz build
    echo "== fuzz: ${#targets[@]} targets, ${seconds} s each, $jobs at a time (built in $(($(date +%s) - start)) s)"
    declare -A pid_of=()
    failed=0
    for target in "${targets[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
            wait -n || true
        done
        fuzz_one "$target" "$seconds" &
        pid_of[$target]=$!
    done
    for target in "${targets[@]}"; do
        status=0
        wait "${pid_of[$target]}" || status=$?
        report "$target" "$status"
        [ "$status" = 0 ] || failed=1
    done
    echo "== fuzz: done in $(($(date +%s) - start)) s"
    exit "$failed"
    ;;
corpus)
    seconds=${2:-300}
    seeds="$scratch/seeds"
    cargo run --quiet --manifest-path fuzz/Cargo.toml --example seeds -- "$seeds"
    cargo +nightly fuzz build
    # Fork mode goes on past a crash, so that a target that finds one
    # early still grows its corpus; the crashes are in fuzz/artifacts/.
    extra_flags=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    for target in "${targets[@]}"; do
        echo "== fuzz: growing the corpus of $target (${seconds} s)"
        mkdir -p "fuzz/corpus/$target"
        fuzz_one "$target" "$seconds" "$seeds/$target" || true
        report "$target" 0
        cp -n "$seeds/$target"/* "fuzz/corpus/$target"/ 2>/dev/null || true
        cp -n "$scratch/$target"/* "fuzz/corpus/$target"/ 2>/dev/null || true
        cargo +nightly fuzz cmin "$target" "fuzz/corpus/$target" >"$scratch/$target.cmin.log" 2>&1 ||
            { tail -n 20 "$scratch/$target.cmin.log"; exit 1; }
        # The seeds stay whatever their coverage today: each stands for a
        # misbehaviour that a later engine must still survive.
        cp -n "$seeds/$target"/* "fuzz/corpus/$target"/
        echo "fuzz: $target: $(find "fuzz/corpus/$target" -type f | wc -l) inputs, $(du -sh "fuzz/corpus/$target" | cut -f1)"
    done
    ;;
*)
    sed -n '2,18p' "$0" >&2
    exit 2
    ;;
esac
