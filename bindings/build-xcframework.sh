#!/usr/bin/env bash
# Builds TacetFFI.xcframework (the static library for iOS devices and
# simulators, with the C header and module map of the uniffi scaffolding)
# and the Swift bindings that go with it:
#
#   bindings/build-xcframework.sh            # release
#
# Output, in bindings/out/ios/:
#   TacetFFI.xcframework/   add to the app and to the packet tunnel extension
#   TacetFFI.swift          compile into the same targets (or a Swift package)
#
# Needs macOS with Xcode (xcodebuild, lipo) and the Rust targets:
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
# Not run in tacet's CI (Linux): written to be run by whoever has the toolchain.

set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

[ "$(uname -s)" = Darwin ] || { echo "build-xcframework.sh: needs macOS with Xcode" >&2; exit 1; }
command -v xcodebuild >/dev/null || { echo "build-xcframework.sh: xcodebuild not found" >&2; exit 1; }

target_dir="${CARGO_TARGET_DIR:-$root/target}"
out="$root/bindings/out/ios"
device=aarch64-apple-ios
simulators=(aarch64-apple-ios-sim x86_64-apple-ios)
# The extension's memory limit is tight (about 50 MB): keep the library small.
export IPHONEOS_DEPLOYMENT_TARGET="${IPHONEOS_DEPLOYMENT_TARGET:-15.0}"

for target in "$device" "${simulators[@]}"; do
    echo "== cargo build --release --target $target"
    cargo build --release --lib -p tacet-ffi --target "$target"
done

echo "== Swift bindings"
# Bindings come from a host build of the same sources (library mode reads
# the metadata uniffi's macros put into the library).
OUT_DIR="$root/bindings/out/generated" "$root/bindings/generate.sh" --release
generated="$root/bindings/out/generated/swift"

rm -rf "$out"
mkdir -p "$out/headers" "$out/simulator"
cp "$generated/TacetFFIC.h" "$out/headers/"
# Inside an XCFramework the module map must be called module.modulemap.
cp "$generated/TacetFFIC.modulemap" "$out/headers/module.modulemap"
cp "$generated/TacetFFI.swift" "$out/"

echo "== one simulator library for arm64 and x86_64"
lipo -create \
    "$target_dir/aarch64-apple-ios-sim/release/libtacet_ffi.a" \
    "$target_dir/x86_64-apple-ios/release/libtacet_ffi.a" \
    -output "$out/simulator/libtacet_ffi.a"

echo "== TacetFFI.xcframework"
xcodebuild -create-xcframework \
    -library "$target_dir/$device/release/libtacet_ffi.a" -headers "$out/headers" \
    -library "$out/simulator/libtacet_ffi.a" -headers "$out/headers" \
    -output "$out/TacetFFI.xcframework"
rm -rf "$out/headers" "$out/simulator"
echo "== done: $out/TacetFFI.xcframework and $out/TacetFFI.swift"
