package dev.tacet.android

import android.app.Activity
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.text.Editable
import android.text.InputType
import android.text.TextWatcher
import android.view.Gravity
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.Switch
import android.widget.Toast
import dev.tacet.android.present.ListReportText
import dev.tacet.android.present.SubscriptionText
import dev.tacet.ffi.CustomRuleKind
import dev.tacet.ffi.FirewallException
import dev.tacet.ffi.ListInfo
import dev.tacet.ffi.UpdateOutcome
import dev.tacet.ffi.parseList

/**
 * The lists: every curated list with its description and a switch; the
 * "keep working" allowlists and the user's own block/allow names, editable;
 * and the paste box, with a live report of which lines are used and which
 * are not, and why.
 */
class ListsActivity : Activity() {
    private val main = Handler(Looper.getMainLooper())
    private lateinit var userNames: LinearLayout
    private lateinit var report: LinearLayout
    private lateinit var paste: EditText
    private lateinit var followed: LinearLayout
    private lateinit var pasteOffer: LinearLayout
    private val preview = Runnable { showReport(paste.text.toString(), use = false) }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val page = column()
        val enabled = host.configure { it.config().enabledLists }.toSet()
        val (allow, block) = host.lists.partition { it.isAllowlist }

        page.addWide(heading(getString(R.string.lists_follow_heading)))
        page.addWide(text(words(SubscriptionText.INTRO), 13f))
        followed = column(0)
        page.addWide(followed)
        val urlBox = EditText(this).apply {
            setHint(R.string.lists_url_hint)
            isSingleLine = true
            inputType = InputType.TYPE_TEXT_VARIATION_URI
            contentDescription = getString(R.string.lists_url_description)
        }
        page.addWide(urlBox)
        page.addWide(row().apply {
            addWeighted(button(getString(R.string.lists_follow)) { follow(urlBox.text.toString().trim(), null) })
            addWeighted(button(getString(R.string.lists_check_all)) { updateNow() })
        })

        page.addWide(heading(getString(R.string.lists_builtin_heading)))
        block.forEach { page.addWide(listSwitch(it, it.id in enabled)) }

        page.addWide(heading(getString(R.string.lists_keep_heading)))
        page.addWide(text(getString(R.string.lists_keep_intro), 13f))
        allow.forEach { page.addWide(listSwitch(it, it.id in enabled)) }
        val nameBox = EditText(this).apply {
            setHint(R.string.lists_name_hint)
            contentDescription = getString(R.string.lists_name_description)
            isSingleLine = true
            inputType = InputType.TYPE_TEXT_VARIATION_URI
        }
        page.addWide(nameBox)
        page.addWide(row().apply {
            addWeighted(button(getString(R.string.lists_keep_name)) { setName(nameBox.text.toString(), CustomRuleKind.ALLOW) })
            addWeighted(button(getString(R.string.lists_block_name)) { setName(nameBox.text.toString(), CustomRuleKind.BLOCK) })
        })
        userNames = column(0)
        page.addWide(userNames)

        page.addWide(heading(getString(R.string.lists_yours_heading)))
        page.addWide(text(getString(R.string.lists_paste_intro), 13f))
        paste = EditText(this).apply {
            setText(host.settings.load().customList)
            minLines = 6
            contentDescription = getString(R.string.lists_paste_description)
            gravity = Gravity.TOP
            inputType = InputType.TYPE_CLASS_TEXT or InputType.TYPE_TEXT_FLAG_MULTI_LINE or InputType.TYPE_TEXT_FLAG_NO_SUGGESTIONS
            addTextChangedListener(object : TextWatcher {
                override fun beforeTextChanged(s: CharSequence?, start: Int, count: Int, after: Int) {}
                override fun onTextChanged(s: CharSequence?, start: Int, before: Int, count: Int) {}
                override fun afterTextChanged(s: Editable?) {
                    main.removeCallbacks(preview)
                    main.postDelayed(preview, PREVIEW_DELAY_MS)
                    offerToFollow(s?.toString().orEmpty())
                }
            })
        }
        page.addWide(paste)
        pasteOffer = column(0)
        page.addWide(pasteOffer)
        page.addWide(button(getString(R.string.lists_use)) { showReport(paste.text.toString(), use = true) })
        report = column(0)
        page.addWide(report)
        setScreen(R.string.lists_title, ScrollView(this).apply { addView(page) })
        showReport(paste.text.toString(), use = false)
    }

    override fun onStart() {
        super.onStart()
        loadUserNames()
        loadFollowed()
    }

    /** A paste that is one web address: offer to follow it instead. */
    private fun offerToFollow(pasted: String) {
        pasteOffer.removeAllViews()
        val url = SubscriptionText.urlIn(pasted) ?: return
        pasteOffer.addWide(text(getString(R.string.lists_paste_is_url), 13f))
        pasteOffer.addWide(button(getString(R.string.lists_follow_url, url)) {
            paste.setText("")
            follow(url, null)
        })
    }

    /** The catalogue with a switch each, and the other followed lists, with their status. */
    private fun loadFollowed(): Unit = host.io.execute {
        val subs = try {
            host.subscriptions.list()
        } catch (e: FirewallException) {
            toast(FirewallHost.reasonOf(e))
            emptyList()
        }
        val now = System.currentTimeMillis()
        runOnUiThread {
            followed.removeAllViews()
            for (list in host.catalog) {
                val sub = subs.firstOrNull { it.url == list.url }
                followed.addWide(column(0).apply {
                    addWide(Switch(this@ListsActivity).apply {
                        text = list.title
                        textSize = 16f
                        isChecked = sub != null
                        setOnCheckedChangeListener { _, on -> if (on) follow(list.url, list.title) else sub?.let { unfollow(it.id) } }
                    })
                    addWide(text("${list.blocks}\n${words(SubscriptionText.catalogLine(list.approxRules, list.licence))}", 13f))
                    if (sub != null) addWide(text(words(SubscriptionText.status(sub, now)), 13f, bold = true))
                })
            }
            subs.filter { s -> host.catalog.none { it.url == s.url } }.forEach { sub ->
                followed.addWide(row().apply {
                    addWeighted(column(0).apply {
                        addWide(text(sub.title, 16f))
                        addWide(text("${sub.url}\n${words(SubscriptionText.status(sub, now))}", 13f))
                    })
                    addView(button(getString(R.string.lists_remove)) { unfollow(sub.id) }.apply {
                        contentDescription = getString(R.string.lists_remove_name, sub.title)
                    })
                })
            }
        }
    }

    /** Follows [url], fetches it now, and the firewall takes it. */
    private fun follow(url: String, title: String?) {
        if (url.isEmpty()) return
        toast(getString(R.string.lists_fetching))
        host.fetches.execute {
            try {
                val sub = host.subscriptions.add(url, title)
                val updates = host.subscriptions.update(listOf(sub.id), false)
                host.reloadLists()
                toast(words(SubscriptionText.summary(updates)))
            } catch (e: FirewallException) {
                toast(FirewallHost.reasonOf(e))
            }
            ListUpdateJob.schedule(this)
            loadFollowed()
        }
    }

    private fun unfollow(id: String): Unit = host.io.execute {
        try {
            host.subscriptions.remove(id)
            host.reloadLists()
        } catch (e: FirewallException) {
            toast(FirewallHost.reasonOf(e))
        }
        ListUpdateJob.schedule(this)
        loadFollowed()
    }

    private fun updateNow() {
        toast(getString(R.string.lists_checking))
        host.fetches.execute {
            try {
                val updates = host.subscriptions.update(emptyList(), false)
                if (updates.any { it.outcome is UpdateOutcome.Changed }) host.reloadLists()
                toast(words(SubscriptionText.summary(updates)))
            } catch (e: FirewallException) {
                toast(FirewallHost.reasonOf(e))
            }
            ListUpdateJob.schedule(this)
            loadFollowed()
        }
    }

    private fun listSwitch(list: ListInfo, on: Boolean) = column(0).apply {
        addWide(Switch(this@ListsActivity).apply {
            text = list.title
            textSize = 16f
            isChecked = on
            setOnCheckedChangeListener { _, checked -> setList(list.id, checked) }
        })
        addWide(text(list.description, 13f))
    }

    private fun setList(id: String, on: Boolean) = host.io.execute {
        try {
            val lists = host.configure { fw ->
                fw.setListEnabled(id, on)
                fw.config().enabledLists
            }
            host.settings.update { it.copy(enabledLists = lists) }
        } catch (e: FirewallException) {
            toast(FirewallHost.reasonOf(e))
        }
    }

    private fun setName(name: String, kind: CustomRuleKind?) {
        val trimmed = name.trim()
        if (trimmed.isEmpty()) return
        host.io.execute {
            try {
                host.configure {
                    when (kind) {
                        CustomRuleKind.ALLOW -> it.allowName(trimmed)
                        CustomRuleKind.BLOCK -> it.blockName(trimmed)
                        null -> it.forgetName(trimmed)
                    }
                }
                loadUserNames()
            } catch (e: FirewallException) {
                toast(FirewallHost.reasonOf(e))
            }
        }
    }

    /** The user's own names, each with a button to remove it. */
    private fun loadUserNames() = host.io.execute {
        val rules = try {
            host.openStore()?.use { it.customRules() }.orEmpty()
        } catch (e: FirewallException) {
            toast(FirewallHost.reasonOf(e))
            emptyList()
        }
        runOnUiThread {
            userNames.removeAllViews()
            if (rules.isEmpty()) userNames.addWide(text(getString(R.string.lists_no_names), 13f))
            rules.forEach { rule ->
                val what = if (rule.kind == CustomRuleKind.ALLOW) R.string.lists_name_kept else R.string.lists_name_blocked
                userNames.addWide(row().apply {
                    addWeighted(text(getString(what, rule.name)))
                    addView(button(getString(R.string.lists_remove)) { setName(rule.name, null) }.apply {
                        contentDescription = getString(R.string.lists_remove_name, rule.name)
                    })
                })
            }
        }
    }

    /** Reads the paste off the main thread (a long list takes a moment); [use] makes it the list. */
    private fun showReport(pasted: String, use: Boolean) = host.io.execute {
        val result = try {
            if (use) {
                host.configure { it.setCustomList(pasted) }.also {
                    host.settings.update { s -> s.copy(customList = pasted) }
                }
            } else {
                parseList(pasted)
            }
        } catch (e: FirewallException) {
            toast(FirewallHost.reasonOf(e))
            return@execute
        }
        val shown = ListReportText.of(result)
        runOnUiThread {
            if (use) toast(getString(R.string.lists_in_use))
            report.removeAllViews()
            report.addWide(text(words(shown.summary), bold = true))
            shown.used.forEach { report.addWide(text(getString(R.string.lists_used, words(it)), 13f)) }
            shown.unused.forEach { group ->
                report.addWide(text(resources.getQuantityString(R.plurals.lists_unused, group.count.toInt(), group.count.toInt(), words(group.kind)), 14f, bold = true))
                group.examples.forEach { report.addWide(text("   " + words(it), 13f)) }
                if (group.more > 0) report.addWide(text("   " + resources.getQuantityString(R.plurals.lists_more, group.more.toInt(), group.more.toInt()), 13f))
            }
        }
    }

    private fun toast(message: String) = runOnUiThread { Toast.makeText(this, message, Toast.LENGTH_SHORT).show() }

    private companion object {
        const val PREVIEW_DELAY_MS = 400L
    }
}
