#!/usr/bin/env bash
# Checks the Android app on the JVM, without the Android SDK or Gradle:
# generates the tacet bindings (and builds libtacet_ffi for this machine),
# compiles the app's resources (aapt2: R.java, and the linked manifest and
# resource table that Robolectric loads), compiles every Kotlin source of the app's main source set against
# Robolectric's android-all jar (the Android 14 framework) + the bindings +
# JNA, and runs the app's plain JUnit 5 tests (app/src/test/kotlin) and its
# Robolectric tests (app/src/robolectric/kotlin, on Android 15 / API 35),
# through Maven (android/jvm-check/pom.xml).
#
#   android/test-jvm.sh
#
# Needs: cargo, aapt2 (Debian's aapt package; .ci/install-deps has it),
# Java 17+, Maven 3.8+ (Maven Central reachable, or a warm
# ~/.m2: android-all ~140 MB and Robolectric's android-all-instrumented
# ~200 MB on first run). Nothing Android-specific.
# Exits non-zero if the bindings, the compile (warnings included) or a test fail.

set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

"$root/bindings/generate.sh"

# The app's resources, compiled as the Android build compiles them (aapt2,
# from Debian's aapt package): R.java for the Kotlin compile, and the linked
# resource table for Robolectric's binary resources mode (configured by
# test_config.properties, as the Android Gradle plugin does), linked against
# the framework's own resources in android-all.
echo "== Android app: resources (aapt2)"
res="$here/jvm-check/target/aapt"
rm -rf "$res" && mkdir -p "$res/gen" "$res/config/com/android/tools"
(cd "$here/jvm-check" && mvn -B -q ${MAVEN_ARGS:-} dependency:copy \
    -Dartifact=org.robolectric:android-all:14-robolectric-10818077 -DoutputDirectory="$res")
# Gradle writes the package (namespace) and the applicationId in; so does this.
sed -e 's|<manifest |<manifest package="dev.tacet.android" |' -e 's|\${applicationId}|dev.tacet.android|g' \
    "$here/app/src/main/AndroidManifest.xml" >"$res/AndroidManifest.xml"
aapt2 compile --dir "$here/app/src/main/res" -o "$res/compiled.zip"
# android-all's table has chunk types newer than Debian's aapt2: it says so, harmlessly.
aapt2 link -I "$res/android-all-14-robolectric-10818077.jar" --manifest "$res/AndroidManifest.xml" \
    --java "$res/gen" --min-sdk-version 26 --target-sdk-version 35 \
    -o "$res/resources.ap_" "$res/compiled.zip" 2>&1 | { grep -v "Unknown chunk type" || true; } >&2
test -f "$res/gen/dev/tacet/android/R.java"
printf '%s\n' "android_resource_apk=$res/resources.ap_" "android_merged_manifest=$res/AndroidManifest.xml" \
    "android_custom_package=dev.tacet.android" >"$res/config/com/android/tools/test_config.properties"

echo "== Android app: compile against android-all, JVM unit and Robolectric tests"
cd "$here/jvm-check"
mvn -B -q ${MAVEN_ARGS:-} \
    -Dbindings.dir="${OUT_DIR:-$root/bindings/generated}/kotlin" \
    -Dnative.dir="${CARGO_TARGET_DIR:-$root/target}/debug" \
    test
echo "== Android app checks passed"
