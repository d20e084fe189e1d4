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
 * Running tasks whose claim token belongs to no living worker, locked: a
 * worker that starts and the janitor may look at the same time, and the
 * second waits for the first, then finds them no longer running.
 */
static const char *orphans_sql =
"SELECT id, batched, started_at FROM taskq.tasks"
" WHERE state OPERATOR(pg_catalog.=) 'running'"
"   AND worker_token OPERATOR(pg_catalog.<>) ALL ($1::pg_catalog.int8[])"
" FOR UPDATE";

/*
 * Those tasks, as they were ($1 ids, $2 batched, $3 started_at), requeued
 * or failed.  A task alone in its batch is charged the attempt (and fails
 * when it has none left); one that shared its batch is refunded and will
 * run alone, unless it is an HTTP request ($4), which cannot have crashed
 * the worker.
 *
 * The rows come in as arrays, joined through the primary key: the first
 * version joined the table to itself on the running tasks, and the generic
 * plan scanned every running task for each one, so 30,000 orphans (a dump
 * taken while tasks ran, restored) took three minutes to recover, holding
 * their locks (test/t/049_recovery_scale.pl).
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
"  run_alone = t.batched AND t.fn OPERATOR(pg_catalog.<>) $4, batched = false, worker_token = NULL,"
"  run_at = pg_catalog.now()"
/* the row as it was: whether the attempt is charged (it ran alone) */
" FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), pg_catalog.unnest($2::pg_catalog.bool[]),"
"                 pg_catalog.unnest($3::pg_catalog.timestamptz[])) AS o(id, batched, started_at)"
" WHERE t.id OPERATOR(pg_catalog.=) o.id"
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

static SPIPlanPtr orphans_plan = NULL;
static SPIPlanPtr recover_plan = NULL;

/*
 * Requeue (or fail) tasks orphaned by workers that died, and wake the
 * workers of their queues.  Returns how many tasks were recovered.
 */
int
taskq_recover_orphans(void)
{
	Oid			argtypes[4] = {INT8ARRAYOID, BOOLARRAYOID, TIMESTAMPTZARRAYOID, OIDOID};
	int			max = taskq_max_slots();
	int64	   *tokens = palloc(sizeof(int64) * (max + 1));
	Datum		values[4];
	Datum	   *ids;
	Datum	   *batched;
	Datum	   *started;
	bool	   *started_nulls;
	int			ret;
	uint64		n;

	taskq_saved_plan(&orphans_plan, orphans_sql, 1, argtypes);
	values[0] = taskq_int8_array(tokens, taskq_live_tokens(tokens, max));
	if (taskq_execute_plan(orphans_plan, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_taskq: looking for orphaned tasks failed");
	n = SPI_processed;
	if (n == 0)
		return 0;
	ids = palloc(sizeof(Datum) * n);
	batched = palloc(sizeof(Datum) * n);
	started = palloc(sizeof(Datum) * n);
	started_nulls = palloc(sizeof(bool) * n);
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		isnull;

		ids[i] = SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull);
		batched[i] = SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull);
		started[i] = SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &started_nulls[i]);
	}
	values[0] = taskq_param_array(ids, NULL, (int) n, INT8OID);
	values[1] = taskq_param_array(batched, NULL, (int) n, BOOLOID);
	values[2] = taskq_param_array(started, started_nulls, (int) n, TIMESTAMPTZOID);
	/* an HTTP request does not crash a worker: no need to isolate it */
	values[3] = ObjectIdGetDatum(taskq_http_request_fn());
	taskq_saved_plan(&recover_plan, recover_sql, 4, argtypes);
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
