// The tacet app: a thin VpnService shell over the Rust core (tacet-ffi),
// built for arm64-v8a, armeabi-v7a and x86_64 with cargo-ndk. Needs the
// Android NDK, `cargo install cargo-ndk` and
// `rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android`.
// The same sources are compiled and unit-tested without the SDK by
// ../test-jvm.sh (Maven, against Robolectric's android-all).

plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

/** The tacet checkout this app lives in. */
val tacetDir: File = rootDir.resolve("..")
val jniLibsDir = layout.buildDirectory.dir("generated/tacet/jniLibs")
val bindingsDir = layout.buildDirectory.dir("generated/tacet/kotlin")

/**
 * libtacet_ffi.so for every ABI (cargo-ndk, release) and the Kotlin
 * bindings generated from the same sources (bindings/build-android.sh).
 */
val buildTacetFfi by tasks.registering(Exec::class) {
    group = "tacet"
    description = "Builds libtacet_ffi.so for every ABI with cargo-ndk and generates its Kotlin bindings"
    workingDir = tacetDir
    commandLine(
        tacetDir.resolve("bindings/build-android.sh").path,
        jniLibsDir.get().asFile.path,
        bindingsDir.get().asFile.path,
    )
    inputs.dir(tacetDir.resolve("core"))
    inputs.dir(tacetDir.resolve("ffi"))
    inputs.file(tacetDir.resolve("Cargo.lock"))
    outputs.dir(jniLibsDir)
    outputs.dir(bindingsDir)
}

android {
    namespace = "dev.tacet.android"
    // 35: Google Play requires targeting it for new apps and updates (2025).
    compileSdk = 35

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

tasks.named("preBuild") { dependsOn(buildTacetFfi) }

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
