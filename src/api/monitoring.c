/*-------------------------------------------------------------------------
 *
 * monitoring.c
 *	  The functions under the operator's views (docs/operations.md):
 *	  taskq.stats_rows() under taskq.stats, taskq.stats_reset(), and
 *	  taskq.worker_rows() under taskq.workers.
 *
 *	  Each shows only what its caller may see, whether it is called
 *	  through its view or directly: statistics of the roles whose
 *	  privileges the caller has, a worker's current task when the caller
 *	  can see that task; everything to members of taskq_admin.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "api/api.h"
#include "shmem/shmem.h"
#include "stats/stats.h"

PG_FUNCTION_INFO_V1(taskq_stats_rows);
PG_FUNCTION_INFO_V1(taskq_stats_reset);
PG_FUNCTION_INFO_V1(taskq_worker_rows);

static double
mean(double total, int64 n)
{
	return n > 0 ? total / (double) n : 0;
}

/*
 * taskq.stats_rows(): the statistics entries the caller may see: database,
 * owner, queue, function, succeeded, failed, retried, cancelled, runs, run
 * time total/mean/max, waits, wait total/mean/max (milliseconds), since.
 */
Datum
taskq_stats_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TaskqStatsRow *rows;
	int			n;
	bool		admin = taskq_caller_is_admin();

	InitMaterializedSRF(fcinfo, 0);
	n = taskq_stats_read(&rows);
	for (int i = 0; i < n; i++)
	{
		TaskqStatsRow *r = &rows[i];
		Datum		values[17];
		bool		nulls[17] = {0};

		if (r->overflow ? !admin : !(admin || has_privs_of_role(GetUserId(), r->owner)))
			continue;
		values[0] = ObjectIdGetDatum(r->dboid);
		values[1] = ObjectIdGetDatum(r->owner);
		values[2] = CStringGetTextDatum(r->queue);
		values[3] = ObjectIdGetDatum(r->fn);
		nulls[0] = nulls[1] = nulls[2] = nulls[3] = r->overflow;
		values[4] = Int64GetDatum(r->c.count[TASKQ_STAT_SUCCEEDED]);
		values[5] = Int64GetDatum(r->c.count[TASKQ_STAT_FAILED]);
		values[6] = Int64GetDatum(r->c.count[TASKQ_STAT_RETRIED]);
		values[7] = Int64GetDatum(r->c.count[TASKQ_STAT_CANCELLED]);
		values[8] = Int64GetDatum(r->c.runs);
		values[9] = Float8GetDatum(r->c.run_total_ms);
		values[10] = Float8GetDatum(mean(r->c.run_total_ms, r->c.runs));
		values[11] = Float8GetDatum(r->c.run_max_ms);
		values[12] = Int64GetDatum(r->c.waits);
		values[13] = Float8GetDatum(r->c.wait_total_ms);
		values[14] = Float8GetDatum(mean(r->c.wait_total_ms, r->c.waits));
		values[15] = Float8GetDatum(r->c.wait_max_ms);
		values[16] = TimestampTzGetDatum(r->c.since);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* taskq.stats_reset(): forget the statistics of this database (taskq_admin). */
Datum
taskq_stats_reset(PG_FUNCTION_ARGS)
{
	if (!taskq_caller_is_admin())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to reset the statistics of pg_taskq"),
				 errdetail("The statistics count every role's tasks."),
				 errhint("Only members of taskq_admin may reset them.")));
	taskq_stats_reset_database(MyDatabaseId);
	PG_RETURN_VOID();
}

/* May the caller see task id of this database?  Asked as the caller: row-level security applies. */
static bool
task_visible(int64 id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(id)};
	bool		visible;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pg_taskq: SPI_connect failed");
	visible = taskq_execute_once("SELECT FROM taskq.tasks WHERE id OPERATOR(pg_catalog.=) $1",
								 1, argtypes, values, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1;
	SPI_finish();
	return visible;
}

static int
workers_running(const TaskqSlotRow *rows, int n, Oid dboid, const char *queue)
{
	int			running = 0;

	for (int i = 0; i < n; i++)
	{
		if (rows[i].pid != 0 && rows[i].dboid == dboid && strcmp(rows[i].queue, queue) == 0)
			running++;
	}
	return running;
}

static void
put_worker(ReturnSetInfo *rsinfo, Oid dboid, const char *queue, int index,
		   const TaskqSlotRow *slot, const TaskqSlotRow *rows, int n, bool admin)
{
	Datum		values[9];
	bool		nulls[9] = {0};

	values[0] = ObjectIdGetDatum(dboid);
	values[1] = CStringGetTextDatum(queue);
	values[2] = Int32GetDatum(index);
	values[3] = Int32GetDatum(taskq_queue_workers(queue));
	values[4] = Int32GetDatum(workers_running(rows, n, dboid, queue));
	if (slot == NULL || slot->pid == 0)
	{
		/* wanted but not running, or started and not yet in its slot */
		nulls[5] = true;
		values[6] = CStringGetTextDatum(slot == NULL ? "not running" : "starting");
		nulls[7] = true;
		nulls[8] = slot == NULL;
		if (slot != NULL)
			values[8] = TimestampTzGetDatum(slot->since);
	}
	else
	{
		/* its task only to whoever may see it */
		bool		show_task = slot->task_id != 0 &&
			(admin || (slot->dboid == MyDatabaseId && task_visible(slot->task_id)));

		values[5] = Int32GetDatum(slot->pid);
		values[6] = CStringGetTextDatum(taskq_worker_state_name(slot->state));
		values[7] = Int64GetDatum(slot->task_id);
		nulls[7] = !show_task;
		values[8] = TimestampTzGetDatum(slot->since);
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * taskq.worker_rows(): one row per worker taskq.queues wants in this
 * database (running or not) and per worker running in another database:
 * database, queue, worker number, workers wanted and running for its
 * queue, pid, state, current task, since.
 */
Datum
taskq_worker_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const TaskqConfig *cfg = taskq_config();
	TaskqSlotRow *rows;
	int			n;
	bool	   *shown;
	bool		admin = taskq_caller_is_admin();

	InitMaterializedSRF(fcinfo, 0);
	n = taskq_slots_read(&rows);
	shown = palloc0(sizeof(bool) * Max(1, n));
	for (int q = 0; q < cfg->nqueues; q++)
	{
		const char *queue = cfg->queues[q].name;

		for (int w = 0; w < taskq_queue_workers(queue); w++)
		{
			const TaskqSlotRow *slot = NULL;

			for (int i = 0; i < n && slot == NULL; i++)
			{
				if (rows[i].dboid == MyDatabaseId && rows[i].index == w &&
					strcmp(rows[i].queue, queue) == 0)
				{
					slot = &rows[i];
					shown[i] = true;
				}
			}
			put_worker(rsinfo, MyDatabaseId, queue, w, slot, rows, n, admin);
		}
	}
	/* the others: other databases', and workers about to leave */
	for (int i = 0; i < n; i++)
	{
		if (!shown[i])
			put_worker(rsinfo, rows[i].dboid, rows[i].queue, rows[i].index, &rows[i], rows, n, admin);
	}
	return (Datum) 0;
}
