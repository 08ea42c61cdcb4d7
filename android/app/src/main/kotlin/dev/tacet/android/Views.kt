package dev.tacet.android

import android.content.Context
import android.graphics.Typeface
import android.os.Build
import android.view.View
import android.view.ViewGroup
import android.widget.Button
import android.widget.LinearLayout
import android.widget.TextView

// The screens are built in code with framework views only (no layouts, no
// androidx): every line is then checked by the compiler against the
// framework, also where no Android SDK is installed (android/test-jvm.sh).

/** A vertical column with padding. */
fun Context.column(padDp: Int = 16): LinearLayout = LinearLayout(this).apply {
    orientation = LinearLayout.VERTICAL
    val pad = dp(padDp)
    setPadding(pad, pad, pad, pad)
}

/** A horizontal row. */
fun Context.row(): LinearLayout = LinearLayout(this).apply {
    orientation = LinearLayout.HORIZONTAL
    // Buttons of one and of two lines sit level, not on a shared baseline.
    isBaselineAligned = false
}

/** A text view; [size] in sp. */
fun Context.text(value: CharSequence = "", size: Float = 15f, bold: Boolean = false): TextView =
    TextView(this).apply {
        text = value
        textSize = size
        // The theme's colours (light or dark), not the framework's grey
        // default: body text in full contrast, the small detail lines softer.
        setTextColor(getColor(if (size < BODY_SP) R.color.text_secondary else R.color.text))
        if (bold) setTypeface(typeface, Typeface.BOLD)
        setPadding(0, dp(4), 0, dp(4))
    }

/** Text smaller than this (sp) is a detail line, in the secondary colour. */
private const val BODY_SP = 15f

/** A section title. */
fun Context.heading(value: CharSequence): TextView = text(value, 18f, bold = true).apply {
    setPadding(0, dp(16), 0, dp(4))
    // TalkBack's "headings" navigation jumps between sections.
    if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) isAccessibilityHeading = true
}

/** A button running [onClick]. */
fun Context.button(label: CharSequence, onClick: () -> Unit): Button = Button(this).apply {
    text = label
    // Sentence case: long labels read better, and fit on one line more often.
    isAllCaps = false
    setOnClickListener { onClick() }
}

/** Adds [child] filling the width. */
fun LinearLayout.addWide(child: View): LinearLayout = apply {
    addView(child, LinearLayout.LayoutParams(ViewGroup.LayoutParams.MATCH_PARENT, ViewGroup.LayoutParams.WRAP_CONTENT))
}

/** Adds [child] sharing the row's width equally. */
fun LinearLayout.addWeighted(child: View): LinearLayout = apply {
    addView(child, LinearLayout.LayoutParams(0, ViewGroup.LayoutParams.WRAP_CONTENT, 1f))
}

/** Density-independent pixels to pixels. */
fun Context.dp(value: Int): Int = (value * resources.displayMetrics.density).toInt()
