/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The taskq launcher: keeps one worker process alive for each
 *	  (queue, n < concurrency) of taskq.queues, in taskq.database.
 *
 *	  It starts workers as dynamic background workers that notify it when
 *	  they exit, restarts the ones that die, and follows pg_reload_conf().
 *	  Workers whose slot is no longer wanted leave by themselves between
 *	  batches (see worker.c), so no task is interrupted by a reload.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "taskq.h"

/* launcher-local state of each slot: the handle and when it last started */
typedef struct LauncherSlot
{
	BackgroundWorkerHandle *handle;
	TimestampTz started_at;
} LauncherSlot;

static LauncherSlot *local_slots = NULL;
static bool warned_no_slots = false;

/* a worker that dies within a second of its start delays all restarts */
static TimestampTz restart_not_before = 0;

static void
launcher_exit(int code, Datum arg)
{
	taskq_set_launcher_pid(0);
}

/*
 * Is taskq.database there yet?  A plain scan of pg_database: a launcher
 * connected to no database cannot use its indexes (as in autovacuum).
 */
static bool
database_exists(void)
{
	bool		exists = false;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (!exists && (tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		exists = strcmp(NameStr(db->datname), taskq_database) == 0 && db->datallowconn;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return exists;
}

/* Forget slots whose worker has exited. */
static void
reap_workers(void)
{
	for (int i = 0; i < taskq_max_slots(); i++)
	{
		TaskqWorkerSlot *slot = taskq_slot(i);
		pid_t		pid;

		if (local_slots[i].handle == NULL)
			continue;
		if (GetBackgroundWorkerPid(local_slots[i].handle, &pid) != BGWH_STOPPED)
			continue;
		pfree(local_slots[i].handle);
		local_slots[i].handle = NULL;
		if (TimestampDifferenceExceeds(local_slots[i].started_at, GetCurrentTimestamp(), 1000) == false)
			restart_not_before = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 1000);
		taskq_slots_lock(true);
		slot->in_use = false;
		slot->pid = 0;
		slot->token = 0;
		taskq_slots_unlock();
	}
}

static bool
slot_running(const char *queue, int index)
{
	bool		found = false;

	taskq_slots_lock(false);
	for (int i = 0; i < taskq_max_slots() && !found; i++)
	{
		TaskqWorkerSlot *slot = taskq_slot(i);

		found = slot->in_use && slot->index == index && strcmp(slot->queue, queue) == 0;
	}
	taskq_slots_unlock();
	return found;
}

/*
 * Start a worker for (queue, index).  Returns false when no background
 * worker slot is free.
 */
static bool
start_worker(const char *queue, int index)
{
	BackgroundWorker worker;
	int			free_slot = -1;
	TaskqWorkerSlot *slot;

	taskq_slots_lock(true);
	for (int i = 0; i < taskq_max_slots(); i++)
	{
		if (!taskq_slot(i)->in_use && local_slots[i].handle == NULL)
		{
			free_slot = i;
			break;
		}
	}
	if (free_slot < 0)
	{
		taskq_slots_unlock();
		return false;
	}
	slot = taskq_slot(free_slot);
	slot->in_use = true;
	strlcpy(slot->queue, queue, NAMEDATALEN);
	slot->index = index;
	slot->pid = 0;
	slot->token = 0;
	taskq_slots_unlock();

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_taskq");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "taskq_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "taskq worker %s/%d", queue, index);
	snprintf(worker.bgw_type, BGW_MAXLEN, "taskq worker");
	worker.bgw_main_arg = Int32GetDatum(free_slot);
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &local_slots[free_slot].handle))
	{
		taskq_slots_lock(true);
		slot->in_use = false;
		taskq_slots_unlock();
		local_slots[free_slot].handle = NULL;
		return false;
	}
	local_slots[free_slot].started_at = GetCurrentTimestamp();
	return true;
}

/*
 * Start every wanted worker that is not running.  Returns how long to wait
 * before trying again when some could not be started, or -1.
 */
static long
start_missing_workers(void)
{
	const TaskqConfig *cfg = taskq_config();
	bool		short_of_slots = false;
	long		retry_ms = -1;
	TimestampTz now = GetCurrentTimestamp();

	if (now < restart_not_before)
		return TimestampDifferenceMilliseconds(now, restart_not_before) + 1;

	for (int q = 0; q < cfg->nqueues; q++)
	{
		for (int n = 0; n < taskq_queue_workers(cfg->queues[q].name); n++)
		{
			if (slot_running(cfg->queues[q].name, n))
				continue;
			if (!start_worker(cfg->queues[q].name, n))
				short_of_slots = true;
		}
	}

	if (short_of_slots)
	{
		if (!warned_no_slots)
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("pg_taskq could not start all the workers taskq.queues asks for"),
					 errdetail("No background worker slot is free."),
					 errhint("Raise max_worker_processes to at least one more than the number of workers taskq.queues asks for (one per unit of concurrency, at most taskq.max_workers_per_queue per queue).")));
		warned_no_slots = true;
		retry_ms = 5000;
	}
	else
		warned_no_slots = false;
	return retry_ms;
}

void
taskq_launcher_main(Datum arg)
{
	bool		have_database = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* shared catalogs only: the launcher needs pg_database, nothing else */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("taskq launcher");

	local_slots = MemoryContextAllocZero(TopMemoryContext,
										 sizeof(LauncherSlot) * taskq_max_slots());
	taskq_set_launcher_pid(MyProcPid);
	before_shmem_exit(launcher_exit, 0);

	ereport(LOG, (errmsg("taskq launcher started for database \"%s\"", taskq_database)));

	for (;;)
	{
		long		timeout_ms = taskq_poll_interval_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (!have_database)
			have_database = database_exists();
		if (have_database)
		{
			long		retry_ms;

			reap_workers();
			retry_ms = start_missing_workers();
			if (retry_ms >= 0 && retry_ms < timeout_ms)
				timeout_ms = retry_ms;
		}
		else if (timeout_ms > 1000)
			timeout_ms = 1000;

		pgstat_report_activity(STATE_IDLE, NULL);
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout_ms,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
