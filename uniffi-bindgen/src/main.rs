//! uniffi-bindgen: generates the Kotlin and Swift bindings of tacet-ffi from
//! the built library (library mode), e.g.
//!
//! ```text
//! cargo run -p uniffi-bindgen -- generate --library target/debug/libtacet_ffi.so \
//!     --language kotlin --out-dir bindings/generated/kotlin
//! ```
//!
//! It is its own crate so that building the library never compiles the
//! generator; `bindings/generate.sh` runs it.

fn main() {
    uniffi::uniffi_bindgen_main()
}
