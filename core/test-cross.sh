#!/usr/bin/env bash
# The core crates' tests (rules, engine, store) built for the processors of
# phones, 64-bit ARM (Android's arm64-v8a, every iPhone) and 32-bit ARM
# (armeabi-v7a), and run under qemu-user.
#
#   core/test-cross.sh            (test.sh runs it)
#
# Linux targets stand in for Android's: the same instruction sets, pointer
# widths and alignment rules, which is what these crates depend on (the
# rule table's bit arithmetic, its prefetch instruction on AArch64, the
# store's file offsets); the C library they link differs, and none of
# these crates call it beyond what std does.
#
# Needs: rustup targets aarch64-unknown-linux-gnu and
# armv7-unknown-linux-gnueabihf; Debian packages qemu-user,
# gcc-aarch64-linux-gnu, gcc-arm-linux-gnueabihf (.ci/run installs them).
# Exits 2 when they are missing, non-zero when a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf)
missing=()
for t in "${targets[@]}"; do
    rustup target list --installed 2>/dev/null | grep -qx "$t" || missing+=("rustup target $t")
done
for tool in qemu-aarch64 qemu-arm aarch64-linux-gnu-gcc arm-linux-gnueabihf-gcc; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "test-cross.sh: missing: ${missing[*]}" >&2
    exit 2
fi

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUNNER="qemu-arm -L /usr/arm-linux-gnueabihf"

for t in "${targets[@]}"; do
    echo "== core tests on $t (qemu-user)"
    # Two store tests start a copy of the test binary as a child process,
    # which runs natively, not under qemu, unless binfmt_misc is set up:
    # they run on the host's own architecture instead.
    cargo test --release --no-fail-fast --target "$t" \
        -p tacet-rules -p tacet-engine -p tacet-store -- \
        --skip a_crash_loses_nothing_that_was_reported_flushed \
        --skip a_reader_in_another_process_follows_the_writer
done
