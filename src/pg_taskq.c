/*-------------------------------------------------------------------------
 *
 * pg_taskq.c
 *	  Module entry point: refuses to load outside shared_preload_libraries,
 *	  defines the taskq.* GUCs (each variable lives in the subsystem that
 *	  reads it), installs the shared-memory hooks that let each part of
 *	  shmem set itself up, installs the DDL guard and registers the
 *	  launcher.  It sits above every subsystem; none calls it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/guc.h"

#include "storage/ipc.h"
#include "storage/lwlock.h"

#include "api/api.h"
#include "core/core.h"
#include "launcher/launcher.h"
#include "runners/runners.h"
#include "shmem/shmem.h"
#include "stats/stats.h"
#include "worker/worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static void
define_gucs(void)
{
	DefineCustomStringVariable("taskq.queues",
							   "Queues and how many tasks of each may run at once.",
							   "A comma-separated list of name:concurrency, "
							   "for example 'default:4, serial_queue:1'.",
							   &taskq_queues_string,
							   "default:2",
							   PGC_SIGHUP,
							   0,
							   taskq_queues_check_hook,
							   taskq_queues_assign_hook,
							   NULL);

	DefineCustomIntVariable("taskq.batch_size",
							"Most tasks a worker claims and runs in one transaction.",
							NULL,
							&taskq_batch_size,
							100, 1, 10000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("taskq.batch_time",
							"Time after which a worker commits its batch and gives "
							"back the claimed tasks it has not started.",
							NULL,
							&taskq_batch_time_ms,
							100, 1, 60000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("taskq.poll_interval",
							"Longest time an idle worker sleeps before it looks "
							"for work without being woken.",
							NULL,
							&taskq_poll_interval_ms,
							10000, 100, 3600000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("taskq.max_workers_per_queue",
							"Most worker processes a queue gets.",
							"A queue gets one process per unit of concurrency up to this; "
							"HTTP tasks share the processes, SQL tasks take one each.",
							&taskq_max_workers_per_queue,
							8, 1, 1000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("taskq.http_deny",
							   "Address ranges HTTP tasks of non-superusers may not reach.",
							   "A comma-separated list of CIDR ranges; checked on the "
							   "address connected to, on every redirect.",
							   &taskq_http_deny_string,
							   TASKQ_HTTP_DENY_DEFAULT,
							   PGC_SIGHUP,
							   0,
							   taskq_cidr_list_check_hook, taskq_http_deny_assign_hook, NULL);

	DefineCustomStringVariable("taskq.http_allow",
							   "Address ranges HTTP tasks may reach even when taskq.http_deny lists them.",
							   NULL,
							   &taskq_http_allow_string,
							   "",
							   PGC_SIGHUP,
							   0,
							   taskq_cidr_list_check_hook, taskq_http_allow_assign_hook, NULL);

	DefineCustomIntVariable("taskq.http_max_redirects",
							"Most redirects an HTTP task follows.",
							NULL,
							&taskq_http_max_redirects,
							5, 0, 50,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("taskq.http_max_body",
							"Largest response body an HTTP task accepts.",
							NULL,
							&taskq_http_max_body_kb,
							10240, 1, 1048576,
							PGC_SIGHUP,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("taskq.http_max_timeout",
							"Longest timeout an HTTP task may ask for.",
							NULL,
							&taskq_http_max_timeout_ms,
							300000, 1000, 86400000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("taskq.retention",
							"How long finished tasks are kept before they are deleted.",
							"0 keeps them for ever.",
							&taskq_retention_s,
							7 * 24 * 3600, 0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("taskq.log_failures",
							 "Logs a line for each task that fails for good.",
							 "The line names the task, its function, queue and database, its attempts and its error.",
							 &taskq_log_failures,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("taskq.log_min_duration",
							"Logs a line for each task that runs at least this long.",
							"-1 (the default) logs none; 0 logs every task.",
							&taskq_log_min_duration_ms,
							-1, -1, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("taskq.track_stats",
							 "Counts tasks in taskq.stats.",
							 NULL,
							 &taskq_track_stats,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("taskq.stats_max",
							"Most entries of taskq.stats (database, role, queue, function).",
							"What does not fit is counted in one overflow entry.",
							&taskq_stats_max,
							1000, 100, 1000000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("taskq");
}

/*
 * Shared memory: each part owned by one file asks for its memory and locks,
 * then sets them up (shmem/shmem.h says which part is where).
 */
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	taskq_slots_shmem_request();
	taskq_pauses_shmem_request();
	taskq_waiters_shmem_request();
	taskq_probe_shmem_request();
	taskq_rate_limit_shmem_request();
	taskq_stats_shmem_request();
}

static void
shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	taskq_slots_shmem_startup();
	taskq_pauses_shmem_startup();
	taskq_waiters_shmem_startup();
	taskq_probe_shmem_startup();
	taskq_rate_limit_shmem_startup();
	taskq_stats_shmem_startup();
	LWLockRelease(AddinShmemInitLock);
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_taskq must be loaded via shared_preload_libraries"),
				 errhint("Add pg_taskq to shared_preload_libraries in postgresql.conf and restart the server.")));

	define_gucs();
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shmem_startup;
	taskq_ddl_guard_init();
	taskq_estimates_init();
	taskq_register_launcher();
}
