//! Links the Android library for 16 KB pages.
//!
//! Google Play requires native code in new apps that target Android 15 to
//! load on devices with 16 KB memory pages: every LOAD segment aligned to
//! 16 KB. NDK r28 links that way by default, r27 and older do not. The flag
//! is given here rather than in a `.cargo/config.toml` because a RUSTFLAGS
//! set by a build tool (cargo-ndk, an IDE) replaces the config's rustflags,
//! but not a build script's link arguments.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("android") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,max-page-size=16384");
    }
}
