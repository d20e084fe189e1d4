/*-------------------------------------------------------------------------
 *
 * report.c
 *	  What a batch tells once it has committed: each attempt to the
 *	  statistics (stats/counters.c), and to the server log a line for each
 *	  task that failed for good (taskq.log_failures) and for each task that
 *	  ran longer than taskq.log_min_duration.
 *
 *	  Told only after the commit, so that a batch whose transaction aborts
 *	  (its tasks go back to the queue) is not counted.  The functions'
 *	  names need the catalog, hence a transaction: they are looked up just
 *	  before the commit, for the few tasks a line is written for.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/regproc.h"

#include "stats/stats.h"
#include "worker/worker_internal.h"

bool		taskq_log_failures = true;
int			taskq_log_min_duration_ms = -1;

/* this database's name, for the log lines (looked up once) */
static char *dbname = NULL;

static double
ms_between(TimestampTz from, TimestampTz to)
{
	return (double) (to - from) / 1000.0;
}

static bool
logs_failure(const TaskqOutcome *o)
{
	return taskq_log_failures && o->kind == TASKQ_FAILED;
}

static bool
logs_duration(const TaskqOutcome *o)
{
	return taskq_log_min_duration_ms >= 0 && o->ran &&
		ms_between(o->started_at, o->finished_at) >= taskq_log_min_duration_ms;
}

static void
look_up_dbname(void)
{
	if (dbname == NULL)
		dbname = MemoryContextStrdup(TopMemoryContext, get_database_name(MyDatabaseId));
}

/*
 * In the batch's transaction: what the log lines of the batch need and only
 * the transaction has, copied into cxt (the batch's context, which outlives
 * the commit: the transaction's and SPI's memory do not): the name of the
 * function of each task a line will be written for, and its error.  NULL
 * when no line will be written.
 */
TaskqLogLine *
taskq_report_prepare(const TaskqClaimed *tasks, const TaskqOutcome *outcomes, int n,
					 MemoryContext cxt)
{
	TaskqLogLine *lines = NULL;
	MemoryContext old;

	for (int i = 0; i < n; i++)
	{
		const TaskqOutcome *o = &outcomes[i];

		if (!logs_failure(o) && !logs_duration(o))
			continue;
		if (lines == NULL)
		{
			look_up_dbname();
			lines = MemoryContextAllocZero(cxt, sizeof(TaskqLogLine) * n);
		}
		old = MemoryContextSwitchTo(cxt);
		lines[i].fn = format_procedure_qualified(tasks[i].fn);
		lines[i].error = pstrdup(o->error ? o->error : "(no message)");
		MemoryContextSwitchTo(old);
	}
	return lines;
}

static TaskqStatKind
stat_kind(TaskqOutcomeKind kind, bool *counted)
{
	*counted = true;
	switch (kind)
	{
		case TASKQ_SUCCEEDED:
		case TASKQ_CONTINUED:	/* the attempt succeeded; its continuation counts for itself */
		case TASKQ_PARKED:
			return TASKQ_STAT_SUCCEEDED;
		case TASKQ_FAILED:
			return TASKQ_STAT_FAILED;
		case TASKQ_RETRY:
			return TASKQ_STAT_RETRIED;
		case TASKQ_CANCELLED:
			return TASKQ_STAT_CANCELLED;
		default:
			*counted = false;	/* given back, or still in flight */
			return TASKQ_STAT_SUCCEEDED;
	}
}

/* After the batch committed: its statistics and log lines. */
void
taskq_report_batch(const char *queue, const TaskqClaimed *tasks,
				   const TaskqOutcome *outcomes, int n, const TaskqLogLine *lines)
{
	for (int i = 0; i < n; i++)
	{
		const TaskqOutcome *o = &outcomes[i];
		const TaskqClaimed *t = &tasks[i];
		bool		counted;
		TaskqStatKind kind = stat_kind(o->kind, &counted);
		double		run_ms = o->ran ? ms_between(o->started_at, o->finished_at) : -1;

		if (!counted)
			continue;
		taskq_stats_count(t->owner, queue, t->fn, kind, run_ms,
						  o->ran ? Max(0.0, ms_between(t->run_at, o->started_at)) : -1);
		if (lines == NULL || lines[i].fn == NULL)
			continue;
		if (logs_failure(o))
			ereport(LOG,
					(errmsg("taskq task " INT64_FORMAT " (%s) in queue \"%s\" of database \"%s\" failed after %d attempt%s: %s",
							t->id, lines[i].fn, queue, dbname, t->attempt,
							t->attempt == 1 ? "" : "s", lines[i].error),
					 errdetail("SQLSTATE %s.", o->sqlstate[0] ? o->sqlstate : "XX000")));
		if (logs_duration(o))
			ereport(LOG,
					(errmsg("taskq task " INT64_FORMAT " (%s) in queue \"%s\" of database \"%s\" ran for %.3f ms",
							t->id, lines[i].fn, queue, dbname, run_ms)));
	}
}

/*
 * Orphan recovery failed a task for good: its worker ended while running
 * its last attempt.  Called in the recovery's transaction (the catalog is
 * at hand; the line is written before the commit).
 */
void
taskq_report_failed_orphan(const char *queue, int64 id, Oid fn, Oid owner,
						   int attempts, const char *error)
{
	taskq_stats_count(owner, queue, fn, TASKQ_STAT_FAILED, -1, -1);
	if (!taskq_log_failures)
		return;
	look_up_dbname();
	ereport(LOG,
			(errmsg("taskq task " INT64_FORMAT " (%s) in queue \"%s\" of database \"%s\" failed after %d attempt%s: %s",
					id, format_procedure_qualified(fn), queue, dbname, attempts,
					attempts == 1 ? "" : "s", error),
			 errdetail("SQLSTATE 57P01.")));
}
