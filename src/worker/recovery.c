/*-------------------------------------------------------------------------
 *
 * recovery.c
 *	  The recovery of tasks orphaned by workers that ended while running
 *	  them (or restored from a dump as running): requeued, or failed when
 *	  it was their last attempt, and their queues woken.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"

#include "shmem/shmem.h"
#include "workflow/workflow.h"
#include "worker/worker_internal.h"

/*
 * Running tasks whose claim token belongs to no living worker.  A task
 * alone in its batch is charged the attempt (and fails when it has none
 * left); one that shared its batch is refunded and will run alone, unless
 * it is an HTTP request ($2), which cannot have crashed the worker.
 */
static const char *recover_sql =
"WITH r AS ("
" UPDATE taskq.tasks t SET"
"  state = CASE WHEN t.cancel_requested THEN 'cancelled'"
"          WHEN NOT t.batched AND t.attempt OPERATOR(pg_catalog.>=) t.max_attempts"
"          THEN 'failed' ELSE 'queued' END,"
"  attempt = CASE WHEN t.batched THEN t.attempt OPERATOR(pg_catalog.-) 1 ELSE t.attempt END,"
"  error = CASE WHEN t.batched THEN t.error"
"          ELSE pg_catalog.format('worker (pid %s) ended while running attempt %s of %s',"
"                                 t.worker_pid, t.attempt, t.max_attempts) END,"
"  sqlstate = CASE WHEN t.batched THEN t.sqlstate ELSE '57P01' END,"
"  finished_at = CASE WHEN t.cancel_requested OR (NOT t.batched AND"
"          t.attempt OPERATOR(pg_catalog.>=) t.max_attempts) THEN pg_catalog.now() END,"
"  run_alone = t.batched AND t.fn OPERATOR(pg_catalog.<>) $2, batched = false, worker_token = NULL,"
"  run_at = pg_catalog.now()"
/* the row as it was: whether the attempt is charged (it ran alone) */
" FROM (SELECT o.id, o.batched, o.started_at FROM taskq.tasks o"
"       WHERE o.state OPERATOR(pg_catalog.=) 'running'"
"         AND o.worker_token OPERATOR(pg_catalog.<>) ALL ($1::pg_catalog.int8[])) o"
" WHERE t.id OPERATOR(pg_catalog.=) o.id AND t.state OPERATOR(pg_catalog.=) 'running'"
"   AND t.worker_token OPERATOR(pg_catalog.<>) ALL ($1::pg_catalog.int8[])"
" RETURNING t.queue, t.id, t.state IN ('failed', 'cancelled') AS ended, t.has_dependents,"
"   t.state OPERATOR(pg_catalog.=) 'cancelled' AS cancelled, t.fn::pg_catalog.oid AS fn,"
"   t.owner::pg_catalog.oid AS owner, t.attempt, t.error, o.batched, o.started_at, t.worker_pid),"
/* a charged attempt is a failed attempt: kept with the others */
" kept AS (INSERT INTO taskq.attempts (task_id, attempt, error, sqlstate, started_at, finished_at,"
"                                     worker_pid)"
"   SELECT r.id, r.attempt, r.error, '57P01', r.started_at, pg_catalog.now(), r.worker_pid"
"   FROM r WHERE NOT r.batched)"
" SELECT r.queue, r.id, r.ended, r.has_dependents, r.cancelled, r.fn, r.owner, r.attempt, r.error"
" FROM r";

static SPIPlanPtr recover_plan = NULL;

/*
 * Requeue (or fail) tasks orphaned by workers that died, and wake the
 * workers of their queues.  Returns how many tasks were recovered.
 */
int
taskq_recover_orphans(void)
{
	Oid			argtypes[2] = {INT8ARRAYOID, OIDOID};
	int			max = taskq_max_slots();
	int64	   *tokens = palloc(sizeof(int64) * (max + 1));
	Datum		values[2];
	int			ret;
	uint64		n;

	taskq_saved_plan(&recover_plan, recover_sql, 2, argtypes);
	values[0] = taskq_int8_array(tokens, taskq_live_tokens(tokens, max));
	/* an HTTP request does not crash a worker: no need to isolate it */
	values[1] = ObjectIdGetDatum(taskq_http_request_fn());
	ret = taskq_execute_plan(recover_plan, values, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "pg_taskq: orphan recovery failed: %s", SPI_result_code_string(ret));
	n = SPI_processed;
	if (n > 0)
		ereport(LOG,
				(errmsg("pg_taskq recovered " UINT64_FORMAT " task(s) left running by workers that ended", n)));
	{
		SPITupleTable *recovered = SPI_tuptable;

		for (uint64 i = 0; i < n; i++)
		{
			HeapTuple	tup = recovered->vals[i];
			bool		isnull;

			int64		id = DatumGetInt64(SPI_getbinval(tup, recovered->tupdesc, 2, &isnull));

			taskq_wake_queue(SPI_getvalue(tup, recovered->tupdesc, 1));
			if (!DatumGetBool(SPI_getbinval(tup, recovered->tupdesc, 3, &isnull)))
				continue;
			/* it crashed for the last time: it has ended, and so have its dependents */
			taskq_wake_waiters_at_commit(id);
			if (!DatumGetBool(SPI_getbinval(tup, recovered->tupdesc, 5, &isnull)))
				taskq_report_failed_orphan(SPI_getvalue(tup, recovered->tupdesc, 1), id,
										   DatumGetObjectId(SPI_getbinval(tup, recovered->tupdesc, 6, &isnull)),
										   DatumGetObjectId(SPI_getbinval(tup, recovered->tupdesc, 7, &isnull)),
										   DatumGetInt32(SPI_getbinval(tup, recovered->tupdesc, 8, &isnull)),
										   SPI_getvalue(tup, recovered->tupdesc, 9));
			if (DatumGetBool(SPI_getbinval(tup, recovered->tupdesc, 4, &isnull)))
				taskq_advance_failed(id, DatumGetBool(SPI_getbinval(tup, recovered->tupdesc, 5, &isnull)));
		}
	}
	return (int) n;
}
