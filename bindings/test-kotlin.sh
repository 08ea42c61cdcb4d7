#!/usr/bin/env bash
# Runs the Kotlin tests of the bindings on the JVM against the Linux cdylib:
# builds tacet-ffi, generates the Kotlin bindings, and runs JUnit through
# Maven (bindings/kotlin-tests/pom.xml) with -Djna.library.path set.
#
#   sudo bindings/test-kotlin.sh     # everything
#   bindings/test-kotlin.sh          # without root: the TUN tests are skipped
#
# As root it creates a persistent TUN device (tacetkt0, or $TACET_TEST_TUN)
# that the tests attach to, and deletes it on exit. The tests give it
# 10.111.222.1/24 and send DNS only to the firewall's virtual resolver in
# that prefix and to a fake upstream on 127.0.0.1: nothing leaves the machine.
# With CI=true a skipped privileged test is a failure.
# Needs: cargo, Java 17+, Maven 3.8+ (Maven Central reachable, or a warm
# ~/.m2), iproute2.

set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

target_dir="${CARGO_TARGET_DIR:-$root/target}"
"$root/bindings/generate.sh"

export TACET_TEST_TUN="${TACET_TEST_TUN:-tacetkt0}"
if [ "$(id -u)" = 0 ]; then
    ip link del "$TACET_TEST_TUN" 2>/dev/null || true
    ip tuntap add mode tun name "$TACET_TEST_TUN"
    trap 'ip link del "$TACET_TEST_TUN" 2>/dev/null || true' EXIT
else
    echo "test-kotlin.sh: not root: the TUN tests will be skipped (run: sudo $0)" >&2
fi

echo "== Kotlin tests (JUnit on the JVM)"
cd "$root/bindings/kotlin-tests"
mvn -B -q ${MAVEN_ARGS:-} \
    -Dbindings.dir="$root/bindings/generated/kotlin" \
    -Dtacet.lib.dir="$target_dir/debug" \
    test
echo "== Kotlin tests passed"
