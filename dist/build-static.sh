#!/usr/bin/env bash
# Static builds of `tacet` for the boards and routers that run serve mode
# (a Raspberry Pi, an OpenWrt-class router), each run once under qemu-user:
#
#   dist/build-static.sh [OUT_DIR]        (test.sh runs it; default dist/out)
#
# - aarch64: aarch64-unknown-linux-musl (Raspberry Pi 3/4/5 with a 64-bit
#   OS, most current routers), fully static against musl.
# - armv7: armv7-unknown-linux-musleabihf when that Rust target is
#   installed; otherwise armv7-unknown-linux-gnueabihf linked statically
#   against glibc (`+crt-static`). tacet calls nothing in the C library that
#   a static glibc cannot do (no name lookups through NSS, no users), so
#   the binary runs on any ARMv7 Linux kernel, musl-based OpenWrt included.
#
# Each binary is stripped and must answer `--version` and block a curated
# name (`check iotcplatform.com`) under qemu; then it is packed with the
# service files into OUT_DIR/tacet-VERSION-TARGET.tar.gz.
# Needs the rustup targets, gcc-aarch64-linux-gnu, gcc-arm-linux-gnueabihf
# and qemu-user (.ci/install-deps installs them). Exits 2 when missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
out="${1:-$root/dist/out}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"

installed=$(rustup target list --installed 2>/dev/null || true)
armv7=armv7-unknown-linux-gnueabihf
grep -qx armv7-unknown-linux-musleabihf <<<"$installed" && armv7=armv7-unknown-linux-musleabihf
missing=()
for t in aarch64-unknown-linux-musl "$armv7"; do
    grep -qx "$t" <<<"$installed" || missing+=("rustup target $t")
done
for tool in qemu-aarch64 qemu-arm aarch64-linux-gnu-gcc arm-linux-gnueabihf-gcc aarch64-linux-gnu-strip arm-linux-gnueabihf-strip; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "build-static.sh: missing: ${missing[*]}" >&2
    exit 2
fi

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
mkdir -p "$out"
for target in aarch64-unknown-linux-musl "$armv7"; do
    case "$target" in
        aarch64-*) gcc=aarch64-linux-gnu-gcc strip=aarch64-linux-gnu-strip qemu=qemu-aarch64 ;;
        *) gcc=arm-linux-gnueabihf-gcc strip=arm-linux-gnueabihf-strip qemu=qemu-arm ;;
    esac
    var=$(tr 'a-z-' 'A-Z_' <<<"$target")
    echo "== static tacet for $target"
    env "CARGO_TARGET_${var}_LINKER=$gcc" "CC_${target//-/_}=$gcc" \
        "CARGO_TARGET_${var}_RUSTFLAGS=-C target-feature=+crt-static" \
        cargo build --release --locked -p tacet --target "$target"
    bin="$target_dir/$target/release/tacet"
    stage=$(mktemp -d)
    name="tacet-$version-$target"
    mkdir -p "$stage/$name"
    "$strip" -o "$stage/$name/tacet" "$bin"
    if file "$stage/$name/tacet" | grep -q "dynamically linked"; then
        echo "build-static.sh: $target: the binary is not static" >&2
        exit 1
    fi
    # Without -L: a static binary needs no loader or C library of the target.
    "$qemu" "$stage/$name/tacet" --version
    "$qemu" "$stage/$name/tacet" check iotcplatform.com | grep -q "blocked" || {
        echo "build-static.sh: $target: the binary did not block a curated name" >&2
        exit 1
    }
    cp -r dist/package/. "$stage/$name/"
    tar -C "$stage" -czf "$out/$name.tar.gz" "$name"
    echo "   $out/$name.tar.gz: $(du -k "$stage/$name/tacet" | cut -f1) KiB binary"
    rm -rf "$stage"
done
