package dev.tacet.android

import android.app.Activity
import android.content.Intent
import android.net.Uri
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.text.Editable
import android.text.TextWatcher
import android.view.View
import android.view.ViewGroup
import android.widget.BaseAdapter
import android.widget.EditText
import android.widget.ImageView
import android.widget.ListView
import android.widget.Switch
import android.widget.TextView
import android.widget.Toast
import dev.tacet.android.present.ExportFiles
import dev.tacet.android.present.JournalRow
import dev.tacet.ffi.ExportFormat
import dev.tacet.ffi.FirewallException
import dev.tacet.ffi.JournalEntry
import dev.tacet.ffi.JournalFilter
import java.io.File
import java.time.ZoneId

/**
 * The journal: newest first, searchable, paged; each entry with the app
 * that asked (Android 10+, when the core has it) and a one-tap Allow or
 * Block; discovery mode; export to CSV and share.
 */
class JournalActivity : Activity() {
    private val main = Handler(Looper.getMainLooper())
    private val entries = mutableListOf<JournalEntry>()
    private var next: String? = null
    private var search = ""
    private lateinit var adapter: RowAdapter
    private lateinit var more: View
    private val titles by lazy { host.lists.associate { it.id to it.title } }
    private val reload = Runnable { load(reset = true) }
    private lateinit var empty: TextView
    // Package → label, for the rows on screen (labels rarely change while it is open).
    private val apps = HashMap<String, String?>()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val page = column(8)
        val searchBox = EditText(this).apply {
            setHint(R.string.journal_search_hint)
            isSingleLine = true
            addTextChangedListener(object : TextWatcher {
                override fun beforeTextChanged(s: CharSequence?, start: Int, count: Int, after: Int) {}
                override fun onTextChanged(s: CharSequence?, start: Int, before: Int, count: Int) {}
                override fun afterTextChanged(s: Editable?) {
                    search = s?.toString()?.trim().orEmpty()
                    main.removeCallbacks(reload)
                    main.postDelayed(reload, SEARCH_DELAY_MS)
                }
            })
        }
        val discovery = Switch(this).apply {
            setText(R.string.journal_discovery)
            isChecked = host.settings.load().discovery
            setOnCheckedChangeListener { _, on -> setDiscovery(on) }
        }
        adapter = RowAdapter()
        more = button(getString(R.string.journal_older)) { load(reset = false) }
        val list = ListView(this).apply {
            addFooterView(more)
            adapter = this@JournalActivity.adapter
        }
        empty = text(size = 15f).apply {
            visibility = View.GONE
            setPadding(dp(8), dp(24), dp(8), dp(8))
        }
        page.addWide(searchBox).addWide(discovery).addWide(button(getString(R.string.journal_export)) { export() })
            .addWide(empty)
        page.addView(list, android.widget.LinearLayout.LayoutParams(ViewGroup.LayoutParams.MATCH_PARENT, 0, 1f))
        setScreen(R.string.journal_title, page)
    }

    override fun onStart() {
        super.onStart()
        load(reset = true)
    }

    private fun filter() = JournalFilter(nameContains = search.ifEmpty { null })

    private fun load(reset: Boolean) {
        val cursor = if (reset) null else next
        if (!reset && cursor == null) return
        val filter = filter()
        host.io.execute {
            val page = try {
                host.journalPage(filter, cursor, PAGE.toUInt())
            } catch (e: FirewallException) {
                toast(FirewallHost.reasonOf(e))
                null
            }
            runOnUiThread {
                if (reset) entries.clear()
                page?.let { entries += it.entries }
                next = page?.next
                more.visibility = if (next == null) View.GONE else View.VISIBLE
                // An empty list says why, not a blank screen.
                empty.text = filter.nameContains?.let { getString(R.string.journal_empty_search, it) }
                    ?: getString(R.string.journal_empty)
                empty.visibility = if (entries.isEmpty()) View.VISIBLE else View.GONE
                adapter.notifyDataSetChanged()
            }
        }
    }

    private fun setDiscovery(on: Boolean) {
        host.settings.update { it.copy(discovery = on) }
        host.io.execute {
            try {
                host.configure { it.setDiscovery(on) }
            } catch (e: FirewallException) {
                toast(FirewallHost.reasonOf(e))
            }
        }
    }

    /** Allow a blocked name, or block an allowed one, with its subdomains. */
    private fun flip(entry: JournalEntry, block: Boolean) {
        host.io.execute {
            try {
                host.configure { if (block) it.blockName(entry.name) else it.allowName(entry.name) }
                toast(getString(if (block) R.string.journal_blocked_toast else R.string.journal_allowed_toast, entry.name))
            } catch (e: FirewallException) {
                toast(FirewallHost.reasonOf(e))
            }
        }
    }

    private fun export() {
        host.io.execute {
            val now = System.currentTimeMillis()
            val dir = File(cacheDir, ExportFiles.DIR).apply { mkdirs() }
            // One export at a time is kept: older ones are the user's history too.
            dir.listFiles()?.forEach { it.delete() }
            val file = File(dir, ExportFiles.fileName(now, ZoneId.systemDefault(), ExportFormat.CSV))
            try {
                val count = host.openStore()?.use { it.exportJournal(file.path, ExportFormat.CSV, filter()) } ?: 0uL
                if (count == 0uL) {
                    toast(getString(R.string.journal_nothing_to_export))
                    return@execute
                }
                val uri = Uri.parse("content://${ExportProvider.authority(this)}/${file.name}")
                val send = Intent(Intent.ACTION_SEND)
                    .setType(ExportFiles.mimeType(file.name))
                    .putExtra(Intent.EXTRA_STREAM, uri)
                    .putExtra(Intent.EXTRA_SUBJECT, getString(R.string.journal_export_subject))
                    .addFlags(Intent.FLAG_GRANT_READ_URI_PERMISSION)
                runOnUiThread { startActivity(Intent.createChooser(send, resources.getQuantityString(R.plurals.journal_share, count.toInt(), count.toLong()))) }
            } catch (e: FirewallException) {
                toast(FirewallHost.reasonOf(e))
            }
        }
    }

    private fun toast(message: String) = runOnUiThread { Toast.makeText(this, message, Toast.LENGTH_SHORT).show() }

    private inner class RowAdapter : BaseAdapter() {
        override fun getCount() = entries.size
        override fun getItem(position: Int) = entries[position]
        override fun getItemId(position: Int) = entries[position].seq.toLong()

        override fun getView(position: Int, convertView: View?, parent: ViewGroup?): View {
            val entry = entries[position]
            val shown = JournalRow.of(entry, titles, System.currentTimeMillis(), ZoneId.systemDefault(), appLabel = ::labelOf)
            val texts = column(4).addWide(text(shown.name, bold = true)).addWide(text(words(shown.detail), 13f))
            return row().apply {
                gravity = android.view.Gravity.CENTER_VERTICAL
                shown.app?.let(::iconOf)?.let { icon ->
                    addView(ImageView(this@JournalActivity).apply {
                        setImageDrawable(icon)
                        contentDescription = shown.app?.let { labelOf(it) ?: it }
                    }, android.widget.LinearLayout.LayoutParams(dp(32), dp(32)))
                }
                addWeighted(texts)
                shown.actionLabel?.let { label ->
                    addView(button(getString(label)) { flip(entry, block = !shown.blocked) }.apply {
                        // "Allow" alone does not say what TalkBack's user would allow.
                        contentDescription = getString(if (shown.blocked) R.string.journal_allow_name else R.string.journal_block_name, shown.name)
                    })
                }
            }
        }
    }

    /** An installed app's name as the launcher shows it (package visibility: QUERY_ALL_PACKAGES). */
    private fun labelOf(pkg: String): String? = apps.getOrPut(pkg) { appInfo(pkg)?.let { packageManager.getApplicationLabel(it).toString() } }

    private fun iconOf(pkg: String): android.graphics.drawable.Drawable? = appInfo(pkg)?.let { packageManager.getApplicationIcon(it) ?: packageManager.defaultActivityIcon }

    private fun appInfo(pkg: String): android.content.pm.ApplicationInfo? = try {
        packageManager.getApplicationInfo(pkg, 0)
    } catch (_: android.content.pm.PackageManager.NameNotFoundException) {
        null // uninstalled since, or a uid without a package ("uid 10234")
    }

    private companion object {
        const val PAGE = 50
        const val SEARCH_DELAY_MS = 300L
    }
}
