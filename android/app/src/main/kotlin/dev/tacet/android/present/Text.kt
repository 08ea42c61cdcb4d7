package dev.tacet.android.present

/**
 * A text to show, named by its string resource and its arguments, so that
 * the plain-Kotlin logic (present/, tunnel/) says what to show without
 * Android and a translator only edits res/values-xx/strings.xml. The
 * screen, the service or the tile turns it into words (`Texts.kt`).
 */
sealed interface Text {
    /** `R.string.id` formatted with [args]; an argument that is a [Text] is resolved first. */
    data class Res(val id: Int, val args: List<Any> = emptyList()) : Text

    /** `R.plurals.id`, its form chosen by [count], formatted with [args]. */
    data class Plural(val id: Int, val count: Long, val args: List<Any> = listOf(count)) : Text

    /** Words that are not the app's to translate: a name, an address, the core's own message. */
    data class Raw(val value: String) : Text

    /** [parts] one after the other, between each two the string `R.string.separator`. */
    data class Joined(val parts: List<Text>, val separator: Int) : Text

    companion object {
        /** `R.string.id` with [args]. */
        fun of(id: Int, vararg args: Any): Text = Res(id, args.toList())

        /** `R.plurals.id` for [count], with [count] as its first argument and then [args]. */
        fun plural(id: Int, count: Long, vararg args: Any): Text = Plural(id, count, listOf<Any>(count) + args)
    }
}
