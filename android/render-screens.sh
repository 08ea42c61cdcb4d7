#!/usr/bin/env bash
# Draws every screen of the Android app to a PNG on the JVM (ScreensTest:
# Robolectric's native graphics, a 360 x 800 dp phone at xhdpi) and copies
# them to docs/screens/, which the README shows.
#
#   android/render-screens.sh
#
# The full android/test-jvm.sh (run by ./test.sh and CI) draws them too,
# into android/jvm-check/target/screens/, and fails if one cannot be drawn.

set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
rm -rf "$here/jvm-check/target/screens"
MAVEN_ARGS="${MAVEN_ARGS:-} -Dtest=ScreensTest -Dsurefire.failIfNoSpecifiedTests=false" "$here/test-jvm.sh"
mkdir -p "$root/docs/screens"
cp "$here/jvm-check/target/screens/"*.png "$root/docs/screens/"
ls -1 "$root/docs/screens/"
