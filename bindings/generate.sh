#!/usr/bin/env bash
# Builds tacet-ffi for this machine and generates its Kotlin and Swift
# bindings from the built library (uniffi library mode):
#
#   bindings/generate.sh [--release]
#
# Output: bindings/generated/kotlin/dev/tacet/ffi/tacet_ffi.kt
#         bindings/generated/swift/{TacetFFI.swift,TacetFFIC.h,TacetFFIC.modulemap}
# The bindings do not depend on the target the library was built for, so the
# ones generated here serve the Android and iOS builds too.
# Env: CARGO_TARGET_DIR is honoured; OUT_DIR overrides bindings/generated.

set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

profile=debug
cargo_flags=()
if [ "${1:-}" = "--release" ]; then
    profile=release
    cargo_flags+=(--release)
fi

target_dir="${CARGO_TARGET_DIR:-$root/target}"
out_dir="${OUT_DIR:-$root/bindings/generated}"

case "$(uname -s)" in
    Darwin) lib_name=libtacet_ffi.dylib ;;
    *) lib_name=libtacet_ffi.so ;;
esac
lib="$target_dir/$profile/$lib_name"

echo "== building tacet-ffi and uniffi-bindgen ($profile)"
cargo build ${cargo_flags[@]+"${cargo_flags[@]}"} -p tacet-ffi -p uniffi-bindgen

bindgen="$target_dir/$profile/uniffi-bindgen"
for language in kotlin swift; do
    echo "== generating $language bindings into $out_dir/$language"
    rm -rf "${out_dir:?}/$language"
    mkdir -p "$out_dir/$language"
    # Formatting needs ktlint / swiftformat, which are usually absent here.
    "$bindgen" generate "$lib" --language "$language" --out-dir "$out_dir/$language" --no-format
done
echo "== bindings in $out_dir"
