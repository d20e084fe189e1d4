/*-------------------------------------------------------------------------
 *
 * loop.c
 *	  The taskq worker loop: one process per (database, queue, index).  It
 *	  runs batches (batch.c) while its queue has due tasks, lets HTTP
 *	  requests in flight progress, prunes and recovers when it is the
 *	  database's janitor, follows reloads, and leaves when taskq.queues no
 *	  longer asks for it or the launcher wants its slot.
 *
 *	  Sleeps on its latch when there is nothing to do; enqueuing
 *	  transactions (api/enqueue.c) set it when they commit.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "commands/dbcommands.h"
#include "commands/trigger.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/regproc.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "runners/runners.h"
#include "shmem/shmem.h"
#include "worker/worker_internal.h"

static int	my_slot = -1;
static char my_queue[NAMEDATALEN];
static int	my_index;
static Oid	my_dboid;
static char *my_dbname = NULL;	/* once known */

int			taskq_batch_size = 100;
int			taskq_batch_time_ms = 100;

/* Leave, telling the launcher why (a report it reads when it reaps the slot). */
pg_noreturn static void leave(TaskqReport report);

static void
leave(TaskqReport report)
{
	taskq_slot_report(my_slot, report);
	proc_exit(0);
}

/* Is this worker still wanted by taskq.queues after a reload? */
static bool
still_wanted(void)
{
	return my_index < taskq_queue_workers(my_queue);
}

/*
 * Is the extension installed, at the version this library was built for?
 * After new binaries are installed the tables may still be those of an
 * older version, until ALTER EXTENSION pg_taskq UPDATE; workers wait for it
 * rather than fail on missing columns.  A worker that finds no extension
 * at all (it was dropped) leaves and tells the launcher.
 */
static bool
extension_ready(void)
{
	static bool warned = false;
	char	   *version = NULL;
	char	   *dbname = NULL;

	taskq_begin_work(true);
	if (taskq_execute_once("SELECT extversion FROM pg_catalog.pg_extension"
						   " WHERE extname OPERATOR(pg_catalog.=) 'pg_taskq'",
						   0, NULL, NULL, NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		version = MemoryContextStrdup(TopMemoryContext, v);
		dbname = MemoryContextStrdup(TopMemoryContext, get_database_name(MyDatabaseId));
		if (my_dbname == NULL)
			my_dbname = MemoryContextStrdup(TopMemoryContext, dbname);
	}
	taskq_end_work(true);

	if (version == NULL)
		leave(TASKQ_REPORT_ABSENT);
	if (strcmp(version, TASKQ_VERSION) != 0)
	{
		if (!warned)
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("pg_taskq %s is installed in database \"%s\", but the library is version %s",
							version, dbname, TASKQ_VERSION),
					 errdetail("Workers run no tasks until the versions match."),
					 errhint("Run ALTER EXTENSION pg_taskq UPDATE in database \"%s\".", dbname)));
		warned = true;
		pfree(version);
		pfree(dbname);
		return false;
	}
	pfree(dbname);
	pfree(version);
	return true;
}

/*
 * The worker that prunes finished tasks (retention.c): the first worker of
 * the first configured queue of each database.
 */
static bool
is_janitor(void)
{
	const TaskqConfig *cfg = taskq_config();

	return my_index == 0 && cfg->nqueues > 0 && strcmp(cfg->queues[0].name, my_queue) == 0;
}

/*
 * Orphaned tasks are recovered when a worker starts (a worker that died is
 * restarted at once).  Rows can also arrive orphaned: a pg_restore of a dump
 * taken while tasks ran writes them as 'running', with tokens of workers of
 * another server.  So the pruning worker also looks for orphans when it
 * goes idle, every RECOVER_EVERY_MS at most; it costs one index scan of the
 * running tasks.
 */
#define RECOVER_EVERY_MS 10000

static void
recover_orphans_if_due(void)
{
	static TimestampTz last = 0;
	TimestampTz now = GetCurrentTimestamp();

	if (last != 0 && !TimestampDifferenceExceeds(last, now, RECOVER_EVERY_MS))
		return;
	last = now;
	taskq_begin_work(true);
	pgstat_report_activity(STATE_RUNNING, "recovering orphaned tasks");
	(void) taskq_recover_orphans();
	taskq_end_work(true);
}

/* How long to sleep: until the next delayed task is due, within limits. */
static long
idle_timeout(void)
{
	long		ms;

	taskq_begin_work(true);
	ms = taskq_ms_until_next_due(my_queue);
	taskq_end_work(true);

	if (ms < 0 || ms > taskq_poll_interval_ms)
		ms = taskq_poll_interval_ms;
	/* the next tick of a schedule */
	ms = Min(ms, taskq_ms_until_next_tick());
	/* the pruning worker wakes for it too */
	if (is_janitor() && taskq_retention_s > 0)
		ms = Min(ms, Min(60000L, (long) taskq_retention_s * 100L));
	return ms;
}

static void
wait_for_wakeup(long timeout_ms, TaskqWorkerState state)
{
	taskq_set_my_state(state, GetCurrentTimestamp());
	pgstat_report_activity(STATE_IDLE, NULL);
	taskq_sleep(timeout_ms);
}

/*
 * A worker allocates and frees the same memory over and over: each batch's
 * context, libcurl's handles and buffers, the responses.  glibc's malloc by
 * default gives freed memory at the top of the heap back to the kernel
 * (above 128 kB, a threshold it moves as it goes) and serves large blocks
 * with mmap: the next batch then faults the same pages in again, zeroed by
 * the kernel.  An HTTP worker took 2.5 to 3 page faults per request, and
 * keeping up to 16 MB of freed memory for the next batch cut its CPU time
 * per request by 8 to 10 % in alternated runs (issue 16).  Blocks of 4 MB
 * and more still come from mmap, and go back to the kernel when freed.
 */
static void
keep_freed_memory(void)
{
#ifdef __GLIBC__
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 16 * 1024 * 1024);
	mallopt(M_TOP_PAD, 1024 * 1024);
#endif
}

static void
process_reload(void)
{
	if (!ConfigReloadPending)
		return;
	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	if (!still_wanted())
	{
		taskq_give_back_claimed();
		ereport(LOG,
				(errmsg("taskq worker %s/%d exiting: taskq.queues no longer asks for it",
						my_queue, my_index)));
		leave(TASKQ_REPORT_LEFT);
	}
}

/* What a worker stopped by SIGTERM logs (core/quiet_stop.c), at LOG. */
static char *
stop_message(void)
{
	if (my_dbname != NULL)
		return psprintf("taskq worker %s/%d of database \"%s\" stopping: asked to (server shutdown, DDL on the database, or pg_terminate_backend)",
						my_queue, my_index, my_dbname);
	return psprintf("taskq worker %s/%d of database %u stopping: asked to (server shutdown, DDL on the database, or pg_terminate_backend)",
					my_queue, my_index, my_dboid);
}

void
taskq_worker_main(Datum arg)
{
	char		appname[NAMEDATALEN + 32];

	my_slot = DatumGetInt32(arg);

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	/* a cancel interrupt is for the task being run, and only honoured then */
	HOLD_CANCEL_INTERRUPTS();

	/* DDL on the database may have paused it since the launcher started us */
	if (!taskq_claim_slot_or_leave(my_slot))
		proc_exit(0);
	taskq_slot_assignment(my_slot, &my_dboid, my_queue, &my_index);
	taskq_quiet_stop(stop_message);

	keep_freed_memory();
	BackgroundWorkerInitializeConnectionByOid(my_dboid, InvalidOid, 0);
	snprintf(appname, sizeof(appname), "taskq worker %s/%d", my_queue, my_index);
	pgstat_report_appname(appname);

	taskq_task_isolation_init();
	taskq_batch_init(my_slot, my_queue, my_index, taskq_slot_take_token(my_slot));

	/* wait for ALTER EXTENSION pg_taskq UPDATE if the versions differ */
	while (!extension_ready())
	{
		wait_for_wakeup(Min(taskq_poll_interval_ms, 5000), TASKQ_WORKER_STARTING);
		CHECK_FOR_INTERRUPTS();
		process_reload();
	}

	taskq_begin_work(true);
	pgstat_report_activity(STATE_RUNNING, "recovering orphaned tasks");
	taskq_recover_orphans();
	taskq_end_work(true);

	for (;;)
	{
		long		rate_wait_ms;

		CHECK_FOR_INTERRUPTS();
		process_reload();
		if (taskq_asked_to_yield(my_slot))
		{
			/* slots are short: another queue, which has none, needs it */
			taskq_give_back_claimed();
			ereport(LOG,
					(errmsg("taskq worker %s/%d leaves its slot to a queue that has no worker",
							my_queue, my_index)));
			leave(TASKQ_REPORT_LEFT);
		}

		if (is_janitor())
			taskq_prune_if_due();
		if (taskq_ticks_due())
			taskq_enqueue_due_ticks();

		if (taskq_run_batch(!ConfigReloadPending) > 0)
			continue;
		if (taskq_http_in_flight() > 0)
		{
			/* let requests progress; look at the queue again when woken */
			taskq_set_my_state(TASKQ_WORKER_HTTP, GetCurrentTimestamp());
			taskq_http_poll(taskq_batch_http_wait_ms());
			if (MyLatch->is_set)
			{
				ResetLatch(MyLatch);
				taskq_batch_woken();
			}
			continue;
		}
		rate_wait_ms = taskq_batch_take_rate_wait();
		if (rate_wait_ms > 0)
		{
			/* rate-limited: sleep until the next start is permitted */
			wait_for_wakeup(rate_wait_ms, TASKQ_WORKER_WAITING_RATE);
			continue;
		}
		/* (recovered tasks wake their queues' workers: this one too) */
		if (is_janitor())
			recover_orphans_if_due();
		wait_for_wakeup(idle_timeout(), TASKQ_WORKER_IDLE);
		taskq_batch_woken();
	}
}
