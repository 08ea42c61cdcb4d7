// The tacet Android app. Build with Android Studio or `gradle` (see
// README.md: no Gradle wrapper jar is checked in; run `gradle wrapper`).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "tacet-android"
include(":app")
