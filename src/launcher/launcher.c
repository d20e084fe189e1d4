/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The taskq launcher: in every database where pg_taskq is installed
 *	  (databases.c finds them, with probe.c), keeps one worker process alive for each
 *	  (queue, n < workers of the queue) of taskq.queues.
 *
 *	  It starts workers and probes as dynamic background workers that
 *	  notify it when they exit, restarts the workers that die, and follows
 *	  pg_reload_conf().  Workers whose slot is no longer wanted leave by
 *	  themselves between batches (see worker/loop.c), so no task is interrupted
 *	  by a reload.  It starts nothing in a database that DDL has paused
 *	  (api/ddl_guard.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "launcher/launcher_internal.h"
#include "shmem/shmem.h"

/* launcher-local state of each slot: the handle and when it last started */
typedef struct LauncherSlot
{
	BackgroundWorkerHandle *handle;
	TimestampTz started_at;
} LauncherSlot;

static LauncherSlot *local_slots = NULL;

/* a worker that dies within a second of its start delays all restarts */
static TimestampTz restart_not_before = 0;

static void
launcher_exit(int code, Datum arg)
{
	taskq_set_launcher_pid(0);
}

/*
 * Forget slots whose process has exited, and pass on what it reported
 * about its database.  A worker that died within a second of its start
 * (not a probe, not one that left on purpose or was paused away) delays
 * all restarts by a second, so a crash loop does not spin.
 */
static void
reap_workers(void)
{
	for (int i = 0; i < taskq_max_slots(); i++)
	{
		pid_t		pid;
		Oid			dboid;
		bool		probe;
		TaskqReport report;

		if (local_slots[i].handle == NULL)
			continue;
		if (GetBackgroundWorkerPid(local_slots[i].handle, &pid) != BGWH_STOPPED)
			continue;
		pfree(local_slots[i].handle);
		local_slots[i].handle = NULL;
		taskq_slot_free(i, &dboid, &probe, &report);

		taskq_database_reported(dboid, probe, report);
		if (!probe && report == TASKQ_REPORT_NONE &&
			!TimestampDifferenceExceeds(local_slots[i].started_at, GetCurrentTimestamp(), 1000) &&
			!taskq_database_paused(dboid))
			restart_not_before = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 1000);
	}
}

/* Has a queue of a database where pg_taskq is installed no worker at all? */
static bool
some_queue_unserved(void)
{
	const TaskqConfig *cfg = taskq_config();

	for (int d = 0; d < taskq_ndatabases(); d++)
	{
		TaskqDatabase *db = taskq_database_at(d);

		if (db->state != TASKQ_DB_PRESENT || taskq_database_paused(db->dboid))
			continue;
		for (int q = 0; q < cfg->nqueues; q++)
		{
			if (taskq_queue_workers(cfg->queues[q].name) > 0 &&
				taskq_slots_serving(db->dboid, cfg->queues[q].name) == 0)
				return true;
		}
	}
	return false;
}

/*
 * Say what the shortage of background worker slots leaves without workers:
 * each queue of each database that has fewer than it asks for; again only
 * when that changes.
 */
static void
warn_short_of_slots(void)
{
	static char *last = NULL;
	const TaskqConfig *cfg = taskq_config();
	StringInfoData missing;

	initStringInfo(&missing);
	for (int d = 0; d < taskq_ndatabases(); d++)
	{
		TaskqDatabase *db = taskq_database_at(d);

		if (db->state != TASKQ_DB_PRESENT)
			continue;
		for (int q = 0; q < cfg->nqueues; q++)
		{
			const char *queue = cfg->queues[q].name;
			int			want = taskq_queue_workers(queue);
			int			have = taskq_slots_serving(db->dboid, queue);

			if (have >= want)
				continue;
			appendStringInfo(&missing, "%s%s/%s has %d of %d", missing.len > 0 ? ", " : "",
							 NameStr(db->name), queue, have, want);
		}
	}
	if (last != NULL && strcmp(last, missing.data) == 0)
		return;
	if (last != NULL)
		pfree(last);
	last = MemoryContextStrdup(TopMemoryContext, missing.data);
	ereport(WARNING,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("pg_taskq could not start all the workers taskq.queues asks for: no background worker slot is free"),
			 missing.len > 0 ? errdetail("Workers in database/queue: %s.", missing.data)
			 : errdetail("A probe, which looks for pg_taskq in a database, could not start."),
			 errhint("Raise max_worker_processes (currently %d): it must hold pg_taskq's launcher, a probe, every worker taskq.queues asks for in each database where pg_taskq is installed, and PostgreSQL's own background workers (parallel query, logical replication).",
					 max_worker_processes)));
}

/*
 * Start a worker for (database, queue, index), or a probe of the database
 * when queue is NULL.  Returns false when no background worker slot is free.
 */
static bool
start_process(Oid dboid, const char *queue, int index)
{
	BackgroundWorker worker;
	bool	   *held = palloc(sizeof(bool) * taskq_max_slots());
	int			free_slot;
	uint32		generation;

	/* a slot whose process the launcher has not reaped yet is not free */
	for (int i = 0; i < taskq_max_slots(); i++)
		held[i] = local_slots[i].handle != NULL;
	free_slot = taskq_slot_reserve(dboid, queue, index, held, &generation);
	pfree(held);
	if (free_slot < 0)
		return false;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_taskq");
	if (queue == NULL)
	{
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "taskq_probe_main");
		snprintf(worker.bgw_name, BGW_MAXLEN, "taskq probe of database %u", dboid);
		snprintf(worker.bgw_type, BGW_MAXLEN, "taskq probe");
	}
	else
	{
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "taskq_worker_main");
		snprintf(worker.bgw_name, BGW_MAXLEN, "taskq worker %s/%d", queue, index);
		snprintf(worker.bgw_type, BGW_MAXLEN, "taskq worker");
	}
	worker.bgw_main_arg = Int32GetDatum(free_slot);
	memcpy(worker.bgw_extra, &generation, sizeof(generation));
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &local_slots[free_slot].handle))
	{
		taskq_slot_unreserve(free_slot);
		local_slots[free_slot].handle = NULL;
		return false;
	}
	local_slots[free_slot].started_at = GetCurrentTimestamp();
	return true;
}

/*
 * Start what each database needs: a probe where it is not known whether
 * pg_taskq is installed, every missing worker where it is.  Nothing in a
 * paused database.  Returns how long to wait before trying again when
 * something could not be started yet, or -1.
 *
 * Workers are started in rounds: worker 0 of every queue of every database
 * first, then worker 1 of each, and so on.  So when background worker
 * slots are short, every queue of every database still gets a worker
 * (guarantee 12), and what is missing is spread over the queues instead of
 * falling on the last ones.
 */
static long
start_missing_processes(void)
{
	const TaskqConfig *cfg = taskq_config();
	bool		short_of_slots = false;
	long		retry_ms = -1;
	TimestampTz now = GetCurrentTimestamp();
	int			most_workers = 0;

	if (now < restart_not_before)
		return TimestampDifferenceMilliseconds(now, restart_not_before) + 1;

	for (int d = 0; d < taskq_ndatabases() && !short_of_slots; d++)
	{
		TaskqDatabase *db = taskq_database_at(d);

		if (db->state != TASKQ_DB_UNKNOWN || taskq_database_paused(db->dboid))
			continue;
		if (now < db->probe_not_before)
		{
			long		wait = TimestampDifferenceMilliseconds(now, db->probe_not_before) + 1;

			retry_ms = retry_ms < 0 ? wait : Min(retry_ms, wait);
		}
		else if (start_process(db->dboid, NULL, 0))
			db->state = TASKQ_DB_PROBING;
		else
			short_of_slots = true;
	}

	for (int q = 0; q < cfg->nqueues; q++)
		most_workers = Max(most_workers, taskq_queue_workers(cfg->queues[q].name));
	for (int n = 0; n < most_workers && !short_of_slots; n++)
	{
		for (int d = 0; d < taskq_ndatabases() && !short_of_slots; d++)
		{
			TaskqDatabase *db = taskq_database_at(d);

			if (db->state != TASKQ_DB_PRESENT || taskq_database_paused(db->dboid))
				continue;
			for (int q = 0; q < cfg->nqueues && !short_of_slots; q++)
			{
				const char *queue = cfg->queues[q].name;

				if (n >= taskq_queue_workers(queue) || taskq_slot_serving(db->dboid, queue, n))
					continue;
				if (!start_process(db->dboid, queue, n))
					short_of_slots = true;
			}
		}
	}

	if (short_of_slots)
	{
		/*
		 * A database that appeared later (or a queue added on a reload)
		 * may find every slot taken by the other queues' extra workers:
		 * one of those leaves, and its slot goes to the first round.
		 */
		if (some_queue_unserved())
			taskq_ask_surplus_worker_to_yield();
		warn_short_of_slots();
		retry_ms = retry_ms < 0 ? 5000 : Min(retry_ms, 5000);
	}
	return retry_ms;
}

static char *
launcher_stop_message(void)
{
	return pstrdup("taskq launcher stopping: asked to (server shutdown or pg_terminate_backend)");
}

void
taskq_launcher_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	taskq_quiet_stop(launcher_stop_message);

	/* shared catalogs only: the launcher needs pg_database, nothing else */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("taskq launcher");

	local_slots = MemoryContextAllocZero(TopMemoryContext,
										 sizeof(LauncherSlot) * taskq_max_slots());
	taskq_set_launcher_pid(MyProcPid);
	before_shmem_exit(launcher_exit, 0);
	taskq_reset_slots();

	ereport(LOG, (errmsg("taskq launcher started")));

	for (;;)
	{
		long		timeout_ms = taskq_poll_interval_ms;
		long		retry_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		reap_workers();
		taskq_refresh_databases();
		retry_ms = start_missing_processes();
		if (retry_ms >= 0 && retry_ms < timeout_ms)
			timeout_ms = retry_ms;

		pgstat_report_activity(STATE_IDLE, NULL);
		taskq_sleep(timeout_ms);
	}
}

/* Registered by _PG_init: the postmaster starts it, and restarts it if it dies. */
void
taskq_register_launcher(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_taskq");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "taskq_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "taskq launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "taskq launcher");
	RegisterBackgroundWorker(&worker);
}
