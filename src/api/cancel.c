/*-------------------------------------------------------------------------
 *
 * cancel.c
 *	  taskq.cancel(id) and taskq.retry(id).
 *
 *	  A waiting or queued task is cancelled at once, with everything that
 *	  depends on it.  A running one is marked; when the transaction commits,
 *	  the worker that claimed it is told: it interrupts the task if it runs
 *	  it (SIGINT, the statement is cancelled and its effects rolled back),
 *	  skips it if it has not started it, or stops its HTTP request.  A task
 *	  that finished first keeps its outcome.
 *
 *	  The caller must be able to see the task (row-level security); the
 *	  change is made with the table owner's rights.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "api/api.h"
#include "shmem/shmem.h"
#include "stats/stats.h"
#include "workflow/workflow.h"

PG_FUNCTION_INFO_V1(taskq_cancel);
PG_FUNCTION_INFO_V1(taskq_retry);

static SPIPlanPtr visible_plan = NULL;
static SPIPlanPtr cancel_plan = NULL;
static SPIPlanPtr retry_plan = NULL;

static const char *cancel_sql =
"UPDATE taskq.tasks t SET"
"  state = CASE WHEN t.state IN ('waiting', 'queued') THEN 'cancelled' ELSE t.state END,"
"  cancel_requested = t.state OPERATOR(pg_catalog.=) 'running',"
"  finished_at = CASE WHEN t.state IN ('waiting', 'queued') THEN pg_catalog.now() END,"
"  error = pg_catalog.format('cancelled by %s', $2::pg_catalog.oid::pg_catalog.regrole)"
" WHERE t.id OPERATOR(pg_catalog.=) $1 AND t.state IN " TASKQ_STATES_UNFINISHED_SQL
" RETURNING t.state, t.worker_pid, t.has_dependents, t.owner::pg_catalog.oid, t.queue,"
"   t.fn::pg_catalog.oid";

/*
 * A workflow step that was cancelled while it waited for its predecessors
 * (pending > 0) goes back to waiting for those that have not succeeded
 * since; if none is left, it is released at once (taskq_release_ready
 * completes its arguments with their results).  Any other task is queued.
 */
static const char *retry_sql =
"UPDATE taskq.tasks t SET"
"  state = CASE WHEN t.pending OPERATOR(pg_catalog.>) 0 THEN 'waiting' ELSE 'queued' END,"
"  pending = CASE WHEN t.pending OPERATOR(pg_catalog.>) 0 THEN"
"    (SELECT pg_catalog.count(*)::pg_catalog.int4 FROM taskq.dependencies d"
"     JOIN taskq.tasks p ON p.id OPERATOR(pg_catalog.=) d.depends_on"
"     WHERE d.task_id OPERATOR(pg_catalog.=) t.id AND d.mode IN " TASKQ_DEP_ORDERING_SQL
"       AND p.state OPERATOR(pg_catalog.<>) 'succeeded')"
"    ELSE t.pending END,"
"  attempt = 0, run_at = pg_catalog.now(),"
"  finished_at = NULL, cancel_requested = false, worker_pid = NULL"
" WHERE t.id OPERATOR(pg_catalog.=) $1 AND t.state IN ('failed', 'cancelled')"
" RETURNING t.queue, t.state, t.pending";

/*
 * The task must exist and be visible to the caller; returns its state.  Read
 * with a fresh snapshot (not read-only), so that a task enqueued earlier in
 * the same statement, as in cancel(enqueue(...)), is seen.
 */
static char *
visible_state(int64 id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(id)};

	taskq_saved_plan(&visible_plan,
					 "SELECT state FROM taskq.tasks WHERE id OPERATOR(pg_catalog.=) $1", 1, argtypes);
	if (taskq_execute_plan(visible_plan, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "pg_taskq: reading the task failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("task " INT64_FORMAT " does not exist", id)));
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/*
 * taskq.cancel(id): true if the task was waiting, queued or running (it is
 * cancelled, or its worker is told to stop it), false if it had finished.
 */
Datum
taskq_cancel(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	Oid			argtypes[2] = {INT8OID, OIDOID};
	Datum		values[2];
	TaskqRights rights;
	bool		found = false;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pg_taskq: SPI_connect failed");
	(void) visible_state(id);

	taskq_become_tables_owner(&rights);
	values[0] = Int64GetDatum(id);
	values[1] = ObjectIdGetDatum(rights.userid);
	taskq_saved_plan(&cancel_plan, cancel_sql, 2, argtypes);
	if (taskq_execute_plan(cancel_plan, values, NULL, false, 1) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "pg_taskq: cancelling the task failed");
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *state = SPI_getvalue(tup, desc, 1);
		bool		pid_null;
		bool		isnull;
		Datum		pid = SPI_getbinval(tup, desc, 2, &pid_null);
		bool		has_dependents = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));

		found = true;
		if (strcmp(state, "cancelled") == 0)
		{
			/* counted now (a running task is counted by its worker) */
			taskq_stats_count(DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull)),
							  SPI_getvalue(tup, desc, 5),
							  DatumGetObjectId(SPI_getbinval(tup, desc, 6, &isnull)),
							  TASKQ_STAT_CANCELLED, -1, -1);
			taskq_wake_waiters_at_commit(id);
			if (has_dependents)
				taskq_advance_failed(id, true);
		}
		else if (!pid_null)
			taskq_signal_cancel_at_commit(id, DatumGetInt32(pid));
	}
	taskq_restore_rights(&rights);
	SPI_finish();
	PG_RETURN_BOOL(found);
}

/*
 * taskq.retry(id): put a failed or cancelled task back in its queue, its
 * attempts counted afresh.  True if it was; false if it was not failed or
 * cancelled.  What depended on it stays as it ended.
 */
Datum
taskq_retry(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(id)};
	TaskqRights rights;
	bool		found;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pg_taskq: SPI_connect failed");
	(void) visible_state(id);

	taskq_become_tables_owner(&rights);
	taskq_saved_plan(&retry_plan, retry_sql, 1, argtypes);
	if (taskq_execute_plan(retry_plan, values, NULL, false, 1) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "pg_taskq: retrying the task failed");
	found = SPI_processed == 1;
	if (found)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *state = SPI_getvalue(tup, desc, 2);
		bool		isnull;
		int			pending = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));

		if (strcmp(state, "queued") == 0)
			taskq_wake_queue_at_commit(SPI_getvalue(tup, desc, 1));
		else if (pending == 0)
			taskq_release_ready(&id, 1);
		/* else: it waits, and is released when its predecessors succeed */
	}
	taskq_restore_rights(&rights);
	SPI_finish();
	PG_RETURN_BOOL(found);
}
