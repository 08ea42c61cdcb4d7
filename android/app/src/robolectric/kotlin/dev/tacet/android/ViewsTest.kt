package dev.tacet.android

import android.app.Application
import android.graphics.Typeface
import android.view.ViewGroup
import android.widget.Button
import android.widget.LinearLayout
import org.junit.Assert.assertEquals
import org.junit.Assert.assertSame
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.annotation.Config

/** The view builders of `Views.kt`, on a 3× (xxhdpi) screen so that dp and sp show. */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35], qualifiers = "xxhdpi")
class ViewsTest {
    private val app: Application = RuntimeEnvironment.getApplication()

    @Test
    fun `dp scales with the screen density`() {
        assertEquals(48, app.dp(16))
        assertEquals(0, app.dp(0))
    }

    @Test
    @Config(qualifiers = "mdpi")
    fun `dp is pixels on a 1x screen`() {
        assertEquals(16, app.dp(16))
    }

    @Test
    fun `a column is vertical with the padding in dp on every side`() {
        val column = app.column()
        assertEquals(LinearLayout.VERTICAL, column.orientation)
        assertEquals(listOf(48, 48, 48, 48), listOf(column.paddingLeft, column.paddingTop, column.paddingRight, column.paddingBottom))
        assertEquals(24, app.column(padDp = 8).paddingTop)
        assertEquals(LinearLayout.HORIZONTAL, app.row().orientation)
    }

    @Test
    fun `text sizes are in sp, bold only when asked`() {
        val plain = app.text("On: blocking")
        assertEquals("On: blocking", plain.text.toString())
        assertEquals(45f, plain.textSize, 0.01f)
        assertEquals(0, (plain.typeface?.style ?: 0) and Typeface.BOLD)
        assertEquals(12, plain.paddingTop)

        val bold = app.text("3 today", size = 22f, bold = true)
        assertEquals(66f, bold.textSize, 0.01f)
        assertEquals(Typeface.BOLD, bold.typeface.style and Typeface.BOLD)
    }

    @Test
    fun `a heading is larger, bold, with space above`() {
        val heading = app.heading("Most blocked")
        assertEquals(54f, heading.textSize, 0.01f)
        assertEquals(Typeface.BOLD, heading.typeface.style and Typeface.BOLD)
        assertEquals(48, heading.paddingTop)
        assertEquals(12, heading.paddingBottom)
    }

    @Test
    fun `a button runs its action on each click`() {
        var clicks = 0
        val button: Button = app.button("Resume now") { clicks++ }
        assertEquals("Resume now", button.text.toString())
        assertTrue(button.performClick())
        button.performClick()
        assertEquals(2, clicks)
    }

    @Test
    fun `wide children fill the width, weighted ones share it`() {
        val row = app.row()
        val a = app.text("a")
        val b = app.text("b")
        assertSame(row, row.addWeighted(a).addWeighted(b))
        for (child in listOf(a, b)) {
            val params = child.layoutParams as LinearLayout.LayoutParams
            assertEquals(0, params.width)
            assertEquals(1f, params.weight, 0f)
        }
        val column = app.column().addWide(row)
        assertEquals(ViewGroup.LayoutParams.MATCH_PARENT, row.layoutParams.width)
        assertEquals(ViewGroup.LayoutParams.WRAP_CONTENT, row.layoutParams.height)
        assertEquals(listOf(row), (0 until column.childCount).map { column.getChildAt(it) })
    }
}
