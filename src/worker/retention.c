/*-------------------------------------------------------------------------
 *
 * retention.c
 *	  Pruning of finished tasks older than taskq.retention, in small
 *	  batches (one transaction each, FOR UPDATE SKIP LOCKED) so that the
 *	  workers are never blocked and the queue table stays small.  One
 *	  worker of the database does it, between its batches.
 *
 *	  A finished task whose result a waiting workflow step still needs
 *	  (a chord member whose body has not run) is kept until that step is
 *	  done.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "worker/worker_internal.h"

int			taskq_retention_s = 7 * 24 * 3600;

#define PRUNE_BATCH 1000
#define PRUNE_BATCHES_PER_TURN 20

static const char *prune_sql =
"WITH doomed AS ("
"  SELECT t.id FROM taskq.tasks t"
"  WHERE t.state IN " TASKQ_STATES_FINISHED_SQL
"    AND t.finished_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-)"
"        pg_catalog.make_interval(secs => $1))"
"    AND NOT EXISTS (SELECT FROM taskq.dependencies d"
"                    JOIN taskq.tasks w ON w.id OPERATOR(pg_catalog.=) d.task_id"
"                    WHERE d.depends_on OPERATOR(pg_catalog.=) t.id"
"                      AND w.state IN " TASKQ_STATES_UNFINISHED_SQL ")"
"  ORDER BY t.id LIMIT $2"
"  FOR UPDATE SKIP LOCKED),"
" edges AS (DELETE FROM taskq.dependencies d USING doomed"
"           WHERE d.task_id OPERATOR(pg_catalog.=) doomed.id),"
" attempts AS (DELETE FROM taskq.attempts a USING doomed"
"           WHERE a.task_id OPERATOR(pg_catalog.=) doomed.id),"
" waits AS (DELETE FROM taskq.signal_waits w USING doomed"
"           WHERE w.task_id OPERATOR(pg_catalog.=) doomed.id)"
" DELETE FROM taskq.tasks t USING doomed WHERE t.id OPERATOR(pg_catalog.=) doomed.id";

static SPIPlanPtr prune_plan = NULL;
static TimestampTz last_prune = 0;

/* Delete one batch of expired tasks; returns how many. */
static uint64
prune_batch(void)
{
	Oid			argtypes[2] = {FLOAT8OID, INT4OID};
	Datum		values[2];
	uint64		n;

	values[0] = Float8GetDatum((double) taskq_retention_s);
	values[1] = Int32GetDatum(PRUNE_BATCH);
	taskq_begin_work(true);
	pgstat_report_activity(STATE_RUNNING, "pruning finished tasks");
	taskq_saved_plan(&prune_plan, prune_sql, 2, argtypes);
	if (taskq_execute_plan(prune_plan, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "pg_taskq: pruning finished tasks failed");
	n = SPI_processed;
	taskq_end_work(true);
	return n;
}

/*
 * If it is time (every taskq.retention / 10, at most once a minute), delete
 * expired finished tasks, a few batches at a time so that the caller's
 * other work is not held up for long.
 */
void
taskq_prune_if_due(void)
{
	TimestampTz now = GetCurrentTimestamp();
	long		every_ms;

	if (taskq_retention_s <= 0)
		return;
	every_ms = Min(60000L, (long) taskq_retention_s * 100L);
	if (last_prune != 0 && !TimestampDifferenceExceeds(last_prune, now, every_ms))
		return;
	last_prune = now;
	for (int i = 0; i < PRUNE_BATCHES_PER_TURN; i++)
	{
		if (prune_batch() < PRUNE_BATCH)
			break;
		/* more to do: come back soon rather than wait a whole period */
		last_prune = 0;
	}
}
