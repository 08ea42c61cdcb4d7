package dev.tacet.android

import android.content.Context
import android.content.res.Resources
import dev.tacet.android.present.Text

/** The words of [text] in the user's language. */
fun Resources.words(text: Text): String = when (text) {
    is Text.Res ->
        if (text.args.isEmpty()) getString(text.id) else getString(text.id, *args(text.args))
    is Text.Plural ->
        getQuantityString(text.id, text.count.coerceIn(Int.MIN_VALUE.toLong(), Int.MAX_VALUE.toLong()).toInt(), *args(text.args))
    is Text.Raw -> text.value
    is Text.Joined -> text.parts.joinToString(getString(text.separator)) { words(it) }
}

/** The words of [text] in the user's language. */
fun Context.words(text: Text): String = resources.words(text)

private fun Resources.args(args: List<Any>): Array<Any> = args.map { if (it is Text) words(it) else it }.toTypedArray()
