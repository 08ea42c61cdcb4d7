#!/usr/bin/env bash
# Builds libtacet_ffi.so for the Android ABIs with cargo-ndk, into a
# jniLibs directory, and generates the Kotlin bindings next to it:
#
#   bindings/build-android.sh [JNILIBS_DIR] [KOTLIN_DIR]
#
# Defaults: bindings/out/android/jniLibs and bindings/out/android/kotlin.
# The app's Gradle build (android/app/build.gradle.kts) runs the same cargo
# commands itself, without bash, so that it also builds on Windows; this
# script is for building the library outside Gradle.
#
# Needs: the Android NDK (ANDROID_NDK_HOME, or found by cargo-ndk through
# ANDROID_HOME), cargo-ndk (cargo install cargo-ndk), and the Rust targets:
#   rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
# Not run in tacet's CI (no NDK there): written to be run by whoever has it.

set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

jnilibs="${1:-$root/bindings/out/android/jniLibs}"
kotlin_out="${2:-$root/bindings/out/android/kotlin}"
profile="${TACET_ANDROID_PROFILE:-release}"
# 24 is the lowest API level where the NDK still ships every ABI below.
platform="${TACET_ANDROID_API:-24}"

command -v cargo-ndk >/dev/null || { echo "build-android.sh: cargo-ndk not found (cargo install cargo-ndk)" >&2; exit 1; }

profile_flag=()
[ "$profile" = release ] && profile_flag=(--release)

echo "== cargo ndk: arm64-v8a armeabi-v7a x86_64 -> $jnilibs"
cargo ndk \
    -t arm64-v8a -t armeabi-v7a -t x86_64 \
    --platform "$platform" \
    -o "$jnilibs" \
    build ${profile_flag[@]+"${profile_flag[@]}"} --lib -p tacet-ffi

echo "== Kotlin bindings -> $kotlin_out"
OUT_DIR="$root/bindings/out/generated" "$root/bindings/generate.sh" ${profile_flag[@]+"${profile_flag[@]}"}
rm -rf "$kotlin_out"
mkdir -p "$kotlin_out"
cp -r "$root/bindings/out/generated/kotlin/." "$kotlin_out/"
echo "== done"
