#!/usr/bin/env bash
# Runs every test of tacet: unit, property and end-to-end.
#
#   sudo ./test.sh
#
# As root it first installs what is missing (.ci/install-deps: Debian
# packages, Rust and its ARM targets; nothing when all is there).
# The end-to-end tests (crate tests/, tacet-e2e) build network namespaces,
# veth pairs and TUN devices, so they need root. Without root they are
# skipped with a message, except when CI=true, where a skip is a failure.
# They never send traffic beyond loopback and the namespaces they create.
# The core crates' tests also run built for 64-bit and 32-bit ARM under
# qemu-user (core/test-cross.sh), and static builds of `tacet` for aarch64
# and armv7 Linux are made and run under qemu-user (dist/build-static.sh);
# without their tools they are skipped with a message, except when CI=true.
# Exits non-zero if anything fails.

set -euo pipefail
cd "$(dirname "$0")"

# Under sudo, root's PATH usually lacks the invoking user's rustup toolchain.
find_cargo() {
    command -v cargo >/dev/null 2>&1 && return
    if [ -f "$HOME/.cargo/env" ]; then
        . "$HOME/.cargo/env"
    elif [ -n "${SUDO_USER:-}" ]; then
        user_home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
        [ -x "${CARGO_HOME:-$user_home/.cargo}/bin/cargo" ] || return 0
        export CARGO_HOME="${CARGO_HOME:-$user_home/.cargo}"
        export RUSTUP_HOME="${RUSTUP_HOME:-$user_home/.rustup}"
        export PATH="$CARGO_HOME/bin:$PATH"
    fi
}
find_cargo

# As root, first install what the tests need and is missing (Debian): on a
# fresh machine `sudo ./test.sh` is the only step. TACET_NO_INSTALL=1 skips it.
if [ "$(id -u)" = 0 ] && [ -z "${TACET_NO_INSTALL:-}" ]; then
    echo "== set-up: .ci/install-deps"
    .ci/install-deps
    find_cargo
fi
command -v cargo >/dev/null 2>&1 || { echo "test.sh: cargo not found on PATH (as root, test.sh installs it)" >&2; exit 1; }

if [ "$(id -u)" != 0 ]; then
    echo "test.sh: not root: the end-to-end tests will be skipped (run: sudo ./test.sh)" >&2
fi

# Namespaces left by an earlier run that was killed (te-ROLE-PID-N, PID gone).
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null 2>&1; then
    ip netns list 2>/dev/null | awk '{ print $1 }' | while read -r ns; do
        case "$ns" in
            te-*-*-*)
                pid=$(echo "$ns" | awk -F- '{ print $(NF-1) }')
                if [ ! -d "/proc/$pid" ]; then
                    echo "test.sh: removing stale namespace $ns" >&2
                    ip netns del "$ns" || true
                    rm -rf "/etc/netns/$ns"
                fi
                ;;
        esac
    done
fi

echo "== build (release)"
cargo build --release --workspace

echo "== Rust tests: unit, property, end-to-end"
# The end-to-end tests run the release binary just built.
export TACET_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/tacet"
cargo test --workspace --release --no-fail-fast

echo "== Rust: the core crates on 64-bit and 32-bit ARM, under qemu-user"
cross=0
core/test-cross.sh || cross=$?
if [ "$cross" = 2 ] && [ "${CI:-}" != true ]; then
    echo "test.sh: the ARM tests were skipped: install what core/test-cross.sh lists" >&2
elif [ "$cross" != 0 ]; then
    echo "test.sh: the ARM tests failed (or could not run: CI must run them)" >&2
    exit "$cross"
fi

echo "== static builds for aarch64 and armv7 Linux (serve mode's boards), run under qemu-user"
static=0
dist/build-static.sh "${CARGO_TARGET_DIR:-$PWD/target}/dist" || static=$?
if [ "$static" = 2 ] && [ "${CI:-}" != true ]; then
    echo "test.sh: the static builds were skipped: install what dist/build-static.sh lists" >&2
elif [ "$static" != 0 ]; then
    echo "test.sh: the static builds failed (or could not run: CI must run them)" >&2
    exit "$static"
fi

echo "== Kotlin: the bindings on the JVM against the cdylib (JUnit, JNA)"
bindings/test-kotlin.sh

echo "== Kotlin: the Android app compiled against the framework, its logic tested on the JVM"
android/test-jvm.sh

echo "== all tests passed"
