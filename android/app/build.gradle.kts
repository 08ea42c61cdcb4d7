// The tacet app: a thin VpnService shell over the Rust core (tacet-ffi),
// built for arm64-v8a, armeabi-v7a and x86_64 with cargo-ndk. Needs Rust
// (rustup), `cargo install cargo-ndk`,
// `rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android`
// and the NDK below (Android Studio's SDK Manager installs it). The same
// sources are compiled and unit-tested without the SDK by ../test-jvm.sh
// (Maven, against Robolectric's android-all).

import java.util.Properties

plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

/** The tacet checkout this app lives in. */
val tacetDir: File = rootDir.resolve("..")
val jniLibsDir = layout.buildDirectory.dir("generated/tacet/jniLibs")
val bindingsDir = layout.buildDirectory.dir("generated/tacet/kotlin")
val windows = System.getProperty("os.name").startsWith("Windows")
val exe = if (windows) ".exe" else ""

/**
 * The cargo to run. Android Studio started from a dock or a desktop file
 * has no `~/.cargo/bin` on its PATH, so it is looked for where rustup puts
 * it: `tacet.cargo` in local.properties, then `$CARGO`, `$CARGO_HOME/bin`,
 * `~/.cargo/bin`, and last the PATH.
 */
val cargo: String = run {
    val local = rootDir.resolve("local.properties").takeIf { it.isFile }?.let { file ->
        Properties().apply { file.inputStream().use { load(it) } }.getProperty("tacet.cargo")
    }
    listOfNotNull(
        local,
        System.getenv("CARGO"),
        System.getenv("CARGO_HOME")?.let { "$it/bin/cargo$exe" },
        "${System.getProperty("user.home")}/.cargo/bin/cargo$exe",
    ).firstOrNull { File(it).canExecute() } ?: "cargo$exe"
}

/** What the Rust library is built from: a change to any of it rebuilds it. */
fun Exec.rustInputs() {
    inputs.dir(tacetDir.resolve("core"))
    inputs.dir(tacetDir.resolve("ffi"))
    // The curated lists are compiled into the library.
    inputs.dir(tacetDir.resolve("blocklists"))
    inputs.dir(tacetDir.resolve("uniffi-bindgen"))
    inputs.file(tacetDir.resolve("Cargo.toml"))
    inputs.file(tacetDir.resolve("Cargo.lock"))
    workingDir = tacetDir
    // cargo's own directory first, so that the rustc and cargo-ndk next to
    // it are the ones found.
    File(cargo).parentFile?.let { dir ->
        environment("PATH", dir.path + File.pathSeparator + (System.getenv("PATH") ?: ""))
    }
}

/**
 * libtacet_ffi.so for every ABI (release), with cargo-ndk and the NDK this
 * build names (`ndkVersion`), handed to it as ANDROID_NDK_HOME. Linked for
 * 16 KB pages (../../ffi/build.rs), which Play requires of new apps
 * targeting Android 15.
 */
val buildTacetFfi by tasks.registering(Exec::class) {
    group = "tacet"
    description = "Builds libtacet_ffi.so for every ABI with cargo-ndk"
    rustInputs()
    outputs.dir(jniLibsDir)
    val ndk = androidComponents.sdkComponents.ndkDirectory
    doFirst { environment("ANDROID_NDK_HOME", ndk.get().asFile.path) }
    commandLine(
        cargo, "ndk",
        "-t", "arm64-v8a", "-t", "armeabi-v7a", "-t", "x86_64",
        "--platform", "26",
        "-o", jniLibsDir.get().asFile.path,
        "build", "--release", "--lib", "-p", "tacet-ffi",
    )
}

/** The host's tacet-ffi and uniffi-bindgen, to generate the bindings from. */
val buildHostFfi by tasks.registering(Exec::class) {
    group = "tacet"
    description = "Builds tacet-ffi and uniffi-bindgen for this machine"
    rustInputs()
    outputs.dir(tacetDir.resolve("target/release"))
    commandLine(cargo, "build", "--release", "-p", "tacet-ffi", "-p", "uniffi-bindgen")
}

/**
 * The Kotlin bindings, generated from the host's library (they do not
 * depend on the target it was built for).
 */
val generateTacetBindings by tasks.registering(Exec::class) {
    group = "tacet"
    description = "Generates the Kotlin bindings of tacet-ffi"
    dependsOn(buildHostFfi)
    rustInputs()
    outputs.dir(bindingsDir)
    val release = tacetDir.resolve("target/release")
    val library = when {
        windows -> "tacet_ffi.dll"
        System.getProperty("os.name").startsWith("Mac") -> "libtacet_ffi.dylib"
        else -> "libtacet_ffi.so"
    }
    doFirst { delete(bindingsDir) }
    commandLine(
        release.resolve("uniffi-bindgen$exe").path,
        "generate", release.resolve(library).path,
        "--language", "kotlin",
        "--out-dir", bindingsDir.get().asFile.path,
        "--no-format",
    )
}

android {
    namespace = "dev.tacet.android"
    // 35: Google Play requires targeting it for new apps and updates (2025).
    compileSdk = 35
    // The NDK cargo-ndk links with: AGP 8.7's default (r27), installed by
    // Android Studio on first sync. Its linker gets -z max-page-size=16384
    // from ../../ffi/build.rs.
    ndkVersion = "27.0.12077973"

    defaultConfig {
        applicationId = "dev.tacet.android"
        // 26 (Android 8.0): notification channels (the foreground service's
        // notification), startForegroundService, adaptive launcher icons and
        // registerDefaultNetworkCallback with a Handler, without
        // compatibility branches; ~97% of active devices. Per-app
        // attribution (getConnectionOwnerUid, API 29) and Private DNS
        // detection (API 28) are behind version checks, so older phones
        // still filter, only without those.
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        ndk { abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64") }
    }

    buildTypes {
        release {
            isMinifyEnabled = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    sourceSets["main"].apply {
        java.srcDir("src/main/kotlin")
        java.srcDir(bindingsDir)
        jniLibs.srcDir(jniLibsDir)
    }
    sourceSets["test"].java.srcDir("src/test/kotlin")

    testOptions {
        unitTests.all { it.useJUnitPlatform() }
    }

    packaging {
        // JNA's AAR brings its own libjnidispatch.so per ABI.
        jniLibs.useLegacyPackaging = false
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(org.jetbrains.kotlin.gradle.dsl.JvmTarget.JVM_17)
        allWarningsAsErrors.set(true)
    }
}

tasks.named("preBuild") { dependsOn(buildTacetFfi, generateTacetBindings) }

dependencies {
    // uniffi's Kotlin calls the library through JNA; on Android, the AAR
    // (with libjnidispatch.so for each ABI).
    implementation("net.java.dev.jna:jna:5.17.0@aar")
    // No androidx: the UI uses the framework only (see ../README.md).

    // The unit tests use no Android class and load no native library.
    testImplementation(platform("org.junit:junit-bom:5.11.4"))
    testImplementation("org.junit.jupiter:junit-jupiter")
    testRuntimeOnly("org.junit.platform:junit-platform-launcher")
}
