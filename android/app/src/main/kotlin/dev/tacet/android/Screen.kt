package dev.tacet.android

import android.app.Activity
import android.os.Build
import android.view.View
import android.view.ViewGroup
import android.view.WindowInsets
import android.widget.LinearLayout

// Android 15 draws every app targeting it edge to edge: the window reaches
// under the status bar, the navigation bar and the keyboard, and the app
// keeps its content out from under them. Each screen is one column (its
// title, then its content) padded by those insets. From Android 11 (API 30,
// where WindowInsets.Type starts) every version is drawn the same way;
// before it the window fits itself between the bars and adjustResize makes
// room for the keyboard, as it always did.

/** What a screen keeps clear of: the system bars, a display cutout, and the keyboard. */
fun screenInsets(): Int = WindowInsets.Type.systemBars() or WindowInsets.Type.displayCutout() or WindowInsets.Type.ime()

/**
 * Pads this view by the insets of [types] (API 30+) on top of the padding
 * it had, on every insets change (the keyboard opening, a rotation), and
 * consumes them.
 */
fun View.padForInsets(types: Int = screenInsets()) {
    val left = paddingLeft
    val top = paddingTop
    val right = paddingRight
    val bottom = paddingBottom
    setOnApplyWindowInsetsListener { v, insets ->
        // Several types at once: the largest of them on each side, so the
        // keyboard's inset replaces the navigation bar's, not adds to it.
        val i = insets.getInsets(types)
        v.setPadding(left + i.left, top + i.top, right + i.right, bottom + i.bottom)
        WindowInsets.CONSUMED
    }
    requestApplyInsets()
}

/** Shows [content] under the screen's [title] (a string resource), edge to edge, clear of the bars and keyboard. */
fun Activity.setScreen(title: Int, content: View) {
    setTitle(title)
    if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) window.setDecorFitsSystemWindows(false)
    val root = LinearLayout(this).apply {
        orientation = LinearLayout.VERTICAL
        addWide(heading(getString(title)).apply {
            textSize = 22f
            setPadding(dp(16), dp(16), dp(16), dp(4))
        })
        addView(content, LinearLayout.LayoutParams(ViewGroup.LayoutParams.MATCH_PARENT, 0, 1f))
    }
    if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) root.padForInsets()
    setContentView(root)
}
