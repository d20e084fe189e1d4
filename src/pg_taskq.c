/*-------------------------------------------------------------------------
 *
 * pg_taskq.c
 *	  Module entry point: refuses to load outside shared_preload_libraries,
 *	  defines the taskq.* GUCs, sets up shared memory, installs the DDL
 *	  guard and registers the launcher background worker.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/guc.h"

#include "taskq.h"

PG_MODULE_MAGIC;

char	   *taskq_queues_string = NULL;
int			taskq_batch_size = 100;
int			taskq_batch_time_ms = 100;
int			taskq_poll_interval_ms = 10000;
int			taskq_max_workers_per_queue = 8;
char	   *taskq_http_deny_string = NULL;
char	   *taskq_http_allow_string = NULL;
int			taskq_http_max_redirects = 5;
int			taskq_http_max_body_kb = 10240;
int			taskq_http_max_timeout_ms = 300000;
int			taskq_retention_s = 7 * 24 * 3600;

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

	MarkGUCPrefixReserved("taskq");
}

static void
register_launcher(void)
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

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_taskq must be loaded via shared_preload_libraries"),
				 errhint("Add pg_taskq to shared_preload_libraries in postgresql.conf and restart the server.")));

	define_gucs();
	taskq_shmem_init_hooks();
	taskq_ddl_guard_init();
	register_launcher();
}
