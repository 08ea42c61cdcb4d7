package dev.tacet.android

import android.app.job.JobInfo
import android.app.job.JobParameters
import android.app.job.JobScheduler
import android.app.job.JobService
import android.content.ComponentName
import android.content.Context
import android.util.Log
import dev.tacet.ffi.FirewallException
import dev.tacet.ffi.UpdateOutcome

/**
 * The daily check of the followed lists, run by `JobScheduler` when the
 * phone is on an unmetered network and its battery is not low: never a
 * timer of tacet's own, so an idle phone is never woken for it. The core
 * says which lists are due and when the next one will be; after a run
 * that changed a list the firewall takes it at once.
 */
class ListUpdateJob : JobService() {
    @Volatile
    private var worker: Thread? = null

    override fun onStartJob(params: JobParameters): Boolean {
        worker = Thread({
            val changed = try {
                host.subscriptions.updateDue().any { it.outcome is UpdateOutcome.Changed }
            } catch (e: FirewallException) {
                Log.w(FirewallHost.TAG, "list check failed: ${FirewallHost.reasonOf(e)}")
                false
            }
            if (changed) host.reloadLists()
            schedule(this)
            jobFinished(params, false)
        }, "tacet-lists").apply { start() }
        return true
    }

    // Stopped by the system (the network went): the core's fetch is bounded
    // and keeps the last good copies; the next run picks up from there.
    override fun onStopJob(params: JobParameters): Boolean = true

    companion object {
        private const val JOB_ID = 1001

        /** At least 15 minutes between runs, as JobScheduler allows for periodic work. */
        private const val MIN_DELAY_MS = 15 * 60_000L

        /**
         * Schedules the next check for when the core says the next list is
         * due (none: cancels it). Off the main thread: it reads the store.
         */
        fun schedule(context: Context) {
            val scheduler = context.getSystemService(JobScheduler::class.java) ?: return
            val next = try {
                context.host.subscriptions.nextCheckUnixMs()?.toLong()
            } catch (e: FirewallException) {
                Log.w(FirewallHost.TAG, "cannot read the lists' schedule: ${FirewallHost.reasonOf(e)}")
                null
            }
            if (next == null) {
                scheduler.cancel(JOB_ID)
                return
            }
            val delay = (next - System.currentTimeMillis()).coerceAtLeast(MIN_DELAY_MS)
            val job = JobInfo.Builder(JOB_ID, ComponentName(context, ListUpdateJob::class.java))
                .setRequiredNetworkType(JobInfo.NETWORK_TYPE_UNMETERED)
                .setRequiresBatteryNotLow(true)
                .setMinimumLatency(delay)
                .setPersisted(true) // survives a reboot (RECEIVE_BOOT_COMPLETED)
                .build()
            scheduler.schedule(job)
        }
    }
}
