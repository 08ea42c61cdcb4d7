#!/usr/bin/env bash
# Checks the Android app on the JVM, without the Android SDK or Gradle:
# generates the tacet bindings (and builds libtacet_ffi for this machine),
# compiles every Kotlin source of the app's main source set against
# Robolectric's android-all jar (the Android 14 framework) + the bindings +
# JNA, and runs the app's plain JUnit 5 tests (app/src/test/kotlin) and its
# Robolectric tests (app/src/robolectric/kotlin, on Android 15 / API 35),
# through Maven (android/jvm-check/pom.xml).
#
#   android/test-jvm.sh
#
# Needs: cargo, Java 17+, Maven 3.8+ (Maven Central reachable, or a warm
# ~/.m2: android-all ~140 MB and Robolectric's android-all-instrumented
# ~200 MB on first run). Nothing Android-specific.
# Exits non-zero if the bindings, the compile (warnings included) or a test fail.

set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

"$root/bindings/generate.sh"

echo "== Android app: compile against android-all, JVM unit and Robolectric tests"
cd "$here/jvm-check"
mvn -B -q ${MAVEN_ARGS:-} \
    -Dbindings.dir="${OUT_DIR:-$root/bindings/generated}/kotlin" \
    -Dnative.dir="${CARGO_TARGET_DIR:-$root/target}/debug" \
    test
echo "== Android app checks passed"
