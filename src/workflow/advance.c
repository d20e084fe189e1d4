/*-------------------------------------------------------------------------
 *
 * advance.c
 *	  The workflow advancer: in the transaction that records that tasks
 *	  succeeded or failed, release what waits for them (the next step of a
 *	  chain, a chord's body when its last header member is done), or fail
 *	  what can no longer run.  See docs/workflows.md.
 *
 *	  The caller is connected to SPI, with an active snapshot.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

#include "shmem/shmem.h"
#include "workflow/workflow.h"

/*
 * Step 1: subtract, from each waiting dependent, how many of its
 * predecessors just succeeded.  Dependents that reach 0 are returned.  Two
 * transactions finishing the last two predecessors at once serialize on the
 * dependent's row lock, so exactly one sees 0.
 */
static const char *decrement_sql =
"WITH done AS (SELECT pg_catalog.unnest($1::pg_catalog.int8[]) AS id),"
" dec AS (SELECT d.task_id, pg_catalog.count(*)::pg_catalog.int4 AS n"
"         FROM taskq.dependencies d JOIN done ON d.depends_on OPERATOR(pg_catalog.=) done.id"
"         WHERE d.mode IN " TASKQ_DEP_ORDERING_SQL " GROUP BY d.task_id)"
" UPDATE taskq.tasks t SET pending = t.pending OPERATOR(pg_catalog.-) dec.n"
" FROM dec WHERE t.id OPERATOR(pg_catalog.=) dec.task_id"
"   AND t.state OPERATOR(pg_catalog.=) 'waiting'"
" RETURNING t.id, t.pending";

/*
 * Step 2, in a statement of its own so that its snapshot sees the results
 * committed by the transactions whose decrements step 1 waited for: build
 * the arguments of the released tasks and queue them.
 */
static const char *release_sql =
"UPDATE taskq.tasks t SET state = 'queued',"
"  run_at = GREATEST(t.run_at, pg_catalog.now()),"
"  args = CASE"
"    WHEN EXISTS (SELECT FROM taskq.dependencies d WHERE d.task_id OPERATOR(pg_catalog.=) t.id"
"                 AND d.mode OPERATOR(pg_catalog.=) 'c')"
"    THEN pg_catalog.jsonb_build_array("
"           (SELECT pg_catalog.jsonb_agg(p.result ORDER BY d.position)"
"            FROM taskq.dependencies d JOIN taskq.tasks p ON p.id OPERATOR(pg_catalog.=) d.depends_on"
"            WHERE d.task_id OPERATOR(pg_catalog.=) t.id AND d.mode OPERATOR(pg_catalog.=) 'c'))"
"         OPERATOR(pg_catalog.||) t.args"
"    WHEN EXISTS (SELECT FROM taskq.dependencies d WHERE d.task_id OPERATOR(pg_catalog.=) t.id"
"                 AND d.mode OPERATOR(pg_catalog.=) 'p')"
"    THEN pg_catalog.jsonb_build_array("
"           (SELECT p.result FROM taskq.dependencies d"
"            JOIN taskq.tasks p ON p.id OPERATOR(pg_catalog.=) d.depends_on"
"            WHERE d.task_id OPERATOR(pg_catalog.=) t.id AND d.mode OPERATOR(pg_catalog.=) 'p'"
"            LIMIT 1))"
"         OPERATOR(pg_catalog.||) t.args"
"    ELSE t.args END"
" WHERE t.id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[])"
"   AND t.state OPERATOR(pg_catalog.=) 'waiting' AND t.pending OPERATOR(pg_catalog.=) 0"
"   AND NOT EXISTS (SELECT FROM taskq.dependencies d WHERE d.task_id OPERATOR(pg_catalog.=) t.id"
"                   AND d.mode OPERATOR(pg_catalog.=) 'r')"
" RETURNING t.queue";

/*
 * A continued task (mode 'r', worker/complete.c) whose continuation
 * succeeded does not run again: it succeeds, with the continuation's
 * result, and what waits for it is advanced in turn.
 */
static const char *succeed_continued_sql =
"UPDATE taskq.tasks t SET state = 'succeeded', result = p.result, finished_at = pg_catalog.now()"
" FROM taskq.dependencies d JOIN taskq.tasks p ON p.id OPERATOR(pg_catalog.=) d.depends_on"
" WHERE t.id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[])"
"   AND d.task_id OPERATOR(pg_catalog.=) t.id AND d.mode OPERATOR(pg_catalog.=) 'r'"
"   AND t.state OPERATOR(pg_catalog.=) 'waiting' AND t.pending OPERATOR(pg_catalog.=) 0"
" RETURNING t.id, t.has_dependents, t.workflow_id OPERATOR(pg_catalog.=) t.id";

/* A workflow that succeeded does not need its error callback. */
static const char *cancel_errbacks_sql =
"WITH RECURSIVE gone(id) AS ("
"  SELECT d.task_id FROM taskq.dependencies d"
"  WHERE d.depends_on OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[]) AND d.mode IN " TASKQ_DEP_ON_ERROR_SQL
"  UNION"
"  SELECT d.task_id FROM taskq.dependencies d JOIN gone ON d.depends_on OPERATOR(pg_catalog.=) gone.id)"
" UPDATE taskq.tasks t SET state = 'cancelled', finished_at = pg_catalog.now(),"
"   error = 'the workflow succeeded'"
" FROM gone WHERE t.id OPERATOR(pg_catalog.=) gone.id AND t.state OPERATOR(pg_catalog.=) 'waiting'"
" RETURNING t.id";

/*
 * Everything that waits, directly or not, for the failed task $1 ends
 * failed, naming it.
 */
static const char *cascade_sql =
"WITH RECURSIVE failed AS ("
"  SELECT f.id, f.fn, f.error, f.sqlstate FROM taskq.tasks f WHERE f.id OPERATOR(pg_catalog.=) $1),"
" doomed(id) AS ("
"  SELECT d.task_id FROM taskq.dependencies d"
"  WHERE d.depends_on OPERATOR(pg_catalog.=) $1 AND d.mode IN " TASKQ_DEP_ORDERING_SQL
"  UNION"
"  SELECT d.task_id FROM taskq.dependencies d JOIN doomed ON d.depends_on OPERATOR(pg_catalog.=) doomed.id"
"  WHERE d.mode IN " TASKQ_DEP_ORDERING_SQL ")"
" UPDATE taskq.tasks t SET state = 'failed', finished_at = pg_catalog.now(),"
"   error = pg_catalog.format('dependency task %s (%s) failed: %s', f.id, f.fn, f.error),"
"   sqlstate = f.sqlstate"
" FROM doomed, failed f WHERE t.id OPERATOR(pg_catalog.=) doomed.id"
"   AND t.state OPERATOR(pg_catalog.=) 'waiting'"
" RETURNING t.id";

/*
 * Everything that waits, directly or not, for the cancelled task $1 ends
 * cancelled, error callbacks included: a cancellation is no failure.
 */
static const char *cancel_cascade_sql =
"WITH RECURSIVE cancelled AS ("
"  SELECT f.id, f.fn FROM taskq.tasks f WHERE f.id OPERATOR(pg_catalog.=) $1),"
" doomed(id) AS ("
"  SELECT d.task_id FROM taskq.dependencies d WHERE d.depends_on OPERATOR(pg_catalog.=) $1"
"  UNION"
"  SELECT d.task_id FROM taskq.dependencies d JOIN doomed ON d.depends_on OPERATOR(pg_catalog.=) doomed.id)"
" UPDATE taskq.tasks t SET state = 'cancelled', finished_at = pg_catalog.now(),"
"   error = pg_catalog.format('dependency task %s (%s) was cancelled', c.id, c.fn)"
" FROM doomed, cancelled c WHERE t.id OPERATOR(pg_catalog.=) doomed.id"
"   AND t.state OPERATOR(pg_catalog.=) 'waiting'"
" RETURNING t.id";

/*
 * The error callbacks of the failed tasks ($1) are queued, receiving the
 * first failure ($2) unless immutable (mode 'f').
 */
static const char *errback_sql =
"UPDATE taskq.tasks t SET state = 'queued', pending = 0,"
"  run_at = GREATEST(t.run_at, pg_catalog.now()),"
"  args = CASE d.mode WHEN 'e' THEN pg_catalog.jsonb_build_array($2::pg_catalog.jsonb)"
"                                   OPERATOR(pg_catalog.||) t.args"
"         ELSE t.args END"
" FROM taskq.dependencies d"
" WHERE d.depends_on OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[]) AND d.mode IN " TASKQ_DEP_ON_ERROR_SQL
"   AND t.id OPERATOR(pg_catalog.=) d.task_id AND t.state OPERATOR(pg_catalog.=) 'waiting'"
" RETURNING t.queue";

static const char *failure_info_sql =
"SELECT pg_catalog.jsonb_build_object('task_id', t.id, 'fn', t.fn::pg_catalog.text,"
"  'error', t.error, 'sqlstate', t.sqlstate)"
" FROM taskq.tasks t WHERE t.id OPERATOR(pg_catalog.=) $1";

static SPIPlanPtr decrement_plan = NULL;
static SPIPlanPtr release_plan = NULL;
static SPIPlanPtr succeed_continued_plan = NULL;
static SPIPlanPtr cancel_errbacks_plan = NULL;
static SPIPlanPtr cascade_plan = NULL;
static SPIPlanPtr cancel_cascade_plan = NULL;
static SPIPlanPtr errback_plan = NULL;
static SPIPlanPtr failure_info_plan = NULL;

/* Wake the queues named in column 1 of the last result, at commit. */
static void
wake_returned_queues(void)
{
	for (uint64 i = 0; i < SPI_processed; i++)
		taskq_wake_queue_at_commit(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
}

/* Wake, at commit, the waiters of the tasks whose ids are in column 1. */
static void
wake_returned_ended(void)
{
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		taskq_wake_waiters_at_commit(DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
																 SPI_tuptable->tupdesc, 1,
																 &isnull)));
	}
}

/* Release what waits for the tasks ids[0..n-1], which just succeeded. */
void
taskq_advance_succeeded(const int64 *ids, int n)
{
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		values[1];
	int64	   *released;
	int			nreleased = 0;

	if (n == 0)
		return;
	values[0] = taskq_int8_array(ids, n);

	taskq_saved_plan(&decrement_plan, decrement_sql, 1, argtypes);
	if (taskq_execute_plan(decrement_plan, values, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "pg_taskq: advancing the workflow failed");
	released = palloc(sizeof(int64) * Max(1, SPI_processed));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		HeapTuple	tup = SPI_tuptable->vals[i];

		if (DatumGetInt32(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull)) == 0)
			released[nreleased++] = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
	}

	if (nreleased > 0)
	{
		/* a snapshot that sees the other predecessors' committed results */
		PopActiveSnapshot();
		PushActiveSnapshot(GetTransactionSnapshot());
		taskq_release_ready(released, nreleased);
	}
}

/*
 * Queue the tasks ids[0..n-1] that wait with nothing left to wait for,
 * their arguments completed with their predecessors' results; the others
 * are left as they are.  Used by the advancer, and by taskq.retry of a step
 * whose predecessors all succeeded while it was cancelled.
 */
void
taskq_release_ready(const int64 *ids, int n)
{
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		values[1] = {taskq_int8_array(ids, n)};


	taskq_saved_plan(&release_plan, release_sql, 1, argtypes);
	if (taskq_execute_plan(release_plan, values, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "pg_taskq: releasing workflow tasks failed");
	wake_returned_queues();

	/* continued tasks whose continuation succeeded: they succeed too */
	taskq_saved_plan(&succeed_continued_plan, succeed_continued_sql, 1, argtypes);
	if (taskq_execute_plan(succeed_continued_plan, values, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "pg_taskq: ending continued tasks failed");
	taskq_ended_without_worker();
}

/*
 * The tasks the last statement returned (id, has_dependents, whether it
 * carries its workflow's result) succeeded without a worker running them
 * (a continued task, a step a signal ended): their waiters wake at commit,
 * what waits for them is advanced, the error callbacks of the workflows
 * they end are cancelled.
 */
void
taskq_ended_without_worker(void)
{
	uint64		n = SPI_processed;
	int64	   *done;
	int64	   *advance;
	int64	   *workflows_done;
	int			nadvance = 0,
				nworkflows_done = 0;

	if (n == 0)
		return;
	done = palloc(sizeof(int64) * n);
	advance = palloc(sizeof(int64) * n);
	workflows_done = palloc(sizeof(int64) * n);
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		isnull;
		Datum		carries;

		done[i] = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		if (DatumGetBool(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull)))
			advance[nadvance++] = done[i];
		carries = SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull);
		if (!isnull && DatumGetBool(carries))
			workflows_done[nworkflows_done++] = done[i];
	}
	for (uint64 i = 0; i < n; i++)
		taskq_wake_waiters_at_commit(done[i]);
	taskq_advance_succeeded(advance, nadvance);
	taskq_cancel_error_callbacks(workflows_done, nworkflows_done);
}

/*
 * The workflows whose result tasks ids[0..n-1] just succeeded do not need
 * their error callbacks: those end cancelled.
 */
void
taskq_cancel_error_callbacks(const int64 *ids, int n)
{
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		values[1];

	if (n == 0)
		return;
	values[0] = taskq_int8_array(ids, n);
	taskq_saved_plan(&cancel_errbacks_plan, cancel_errbacks_sql, 1, argtypes);
	if (taskq_execute_plan(cancel_errbacks_plan, values, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "pg_taskq: cancelling error callbacks failed");
	wake_returned_ended();
}

/*
 * The task id failed for good: fail what depends on it, and queue the error
 * callbacks of it and of what failed with it.  Or it was cancelled: cancel
 * what depends on it.
 */
void
taskq_advance_failed(int64 id, bool cancelled)
{
	Oid			int8type[1] = {INT8OID};
	Oid			argtypes[2] = {INT8ARRAYOID, JSONBOID};
	Datum		value[1] = {Int64GetDatum(id)};
	int64	   *failed;
	int			nfailed = 0;
	Datum		values[2];
	bool		isnull;

	if (cancelled)
	{
		taskq_saved_plan(&cancel_cascade_plan, cancel_cascade_sql, 1, int8type);
		if (taskq_execute_plan(cancel_cascade_plan, value, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
			elog(ERROR, "pg_taskq: cancelling dependent tasks failed");
		wake_returned_ended();
		return;
	}
	taskq_saved_plan(&cascade_plan, cascade_sql, 1, int8type);
	if (taskq_execute_plan(cascade_plan, value, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "pg_taskq: failing dependent tasks failed");
	wake_returned_ended();
	failed = palloc(sizeof(int64) * (SPI_processed + 1));
	failed[nfailed++] = id;
	for (uint64 i = 0; i < SPI_processed; i++)
		failed[nfailed++] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
														SPI_tuptable->tupdesc, 1, &isnull));

	taskq_saved_plan(&failure_info_plan, failure_info_sql, 1, int8type);
	if (taskq_execute_plan(failure_info_plan, value, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "pg_taskq: reading the failed task %lld failed", (long long) id);
	values[0] = taskq_int8_array(failed, nfailed);
	values[1] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

	taskq_saved_plan(&errback_plan, errback_sql, 2, argtypes);
	if (taskq_execute_plan(errback_plan, values, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "pg_taskq: queueing error callbacks failed");
	wake_returned_queues();
}
