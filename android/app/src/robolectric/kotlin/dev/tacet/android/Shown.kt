package dev.tacet.android

import android.app.Activity
import android.view.View
import android.view.ViewGroup

/** The views on screen (GONE ones and their children left out), depth first. */
fun Activity.shown(): List<View> {
    val out = mutableListOf<View>()
    fun walk(v: View) {
        if (v.visibility == View.GONE) return
        out += v
        if (v is ViewGroup) (0 until v.childCount).forEach { walk(v.getChildAt(it)) }
    }
    walk(window.decorView)
    return out
}
