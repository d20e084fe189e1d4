/*-------------------------------------------------------------------------
 *
 * ticks.c
 *	  The workers enqueue the due ticks of their database's schedules
 *	  (taskq.schedules, docs/schedules.md), and fail the steps that waited
 *	  for a signal past their timeout.
 *
 *	  Every worker looks, between batches, when the earliest next_run it
 *	  knows of has come or a schedule was changed; the rows are locked
 *	  FOR UPDATE SKIP LOCKED, so one worker takes each schedule, and the
 *	  tick's task is enqueued (as the schedule's owner) in the transaction
 *	  that advances next_run: a tick is enqueued exactly once, however
 *	  workers die or the server stops, and never when that transaction did
 *	  not commit.
 *
 *	  A tick later than TICK_GRACE after its time (no worker ran: the
 *	  server was down, every worker busy) is missed: 'skip' drops the
 *	  missed ticks, 'once' enqueues one task for all of them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "schedules/schedules.h"
#include "shmem/shmem.h"
#include "workflow/workflow.h"
#include "worker/worker_internal.h"

#define TICK_GRACE_US		(10 * USECS_PER_SEC)
#define MAX_TICKS_PER_ROUND 1000	/* ticks of one schedule enqueued at once */

static TimestampTz next_check = 0;	/* when the earliest schedule is due */
static uint64 seen_generation = 0;

static const char *due_sql =
"SELECT s.owner::pg_catalog.oid, s.name, s.schedule, s.time_zone, s.signature, s.missed,"
"  s.next_run"
" FROM taskq.schedules s WHERE s.next_run OPERATOR(pg_catalog.<=) pg_catalog.now()"
" ORDER BY s.next_run LIMIT 20 FOR UPDATE SKIP LOCKED";

static const char *advance_sql =
"UPDATE taskq.schedules SET next_run = $3, last_run = COALESCE($4, last_run),"
"  runs = runs OPERATOR(pg_catalog.+) $5, last_task = COALESCE($6, last_task), last_error = $7"
" WHERE owner OPERATOR(pg_catalog.=) $1 AND name OPERATOR(pg_catalog.=) $2";

/*
 * Steps that waited for a signal longer than their timeout fail
 * (api/signals.c parks them); the rows locked as the schedules are, so one
 * worker fails each.
 */
static const char *expire_sql =
"WITH gone AS (DELETE FROM taskq.signal_waits w WHERE w.task_id IN ("
"    SELECT x.task_id FROM taskq.signal_waits x"
"    WHERE x.deadline OPERATOR(pg_catalog.<=) pg_catalog.now() FOR UPDATE SKIP LOCKED)"
"  RETURNING w.task_id, w.key)"
" UPDATE taskq.tasks t SET state = 'failed', finished_at = pg_catalog.now(), pending = 0,"
"   error = pg_catalog.format('no signal %s came before the timeout', pg_catalog.quote_literal(gone.key)),"
"   sqlstate = '57014'"
" FROM gone WHERE t.id OPERATOR(pg_catalog.=) gone.task_id AND t.state OPERATOR(pg_catalog.=) 'waiting'"
" RETURNING t.id, t.has_dependents";

static SPIPlanPtr due_plan = NULL;
static SPIPlanPtr expire_plan = NULL;
static SPIPlanPtr advance_plan = NULL;
static SPIPlanPtr earliest_plan = NULL;

typedef struct DueSchedule
{
	Oid			owner;
	char	   *name;
	char	   *schedule;
	char	   *time_zone;
	Datum		signature;
	bool		once;
	TimestampTz next_run;
} DueSchedule;

/* Has a schedule come due, or changed, since this worker last looked? */
bool
taskq_ticks_due(void)
{
	return GetCurrentTimestamp() >= next_check || taskq_schedules_generation() != seen_generation;
}

/* Milliseconds until the earliest known tick (for the worker's sleep). */
long
taskq_ms_until_next_tick(void)
{
	long		ms = (long) ((next_check - GetCurrentTimestamp()) / 1000);

	return Max(0, ms);
}

/*
 * Enqueue sig as owner, in a subtransaction: the id, or 0 and *error when
 * the enqueue failed (the owner or the function is gone, say).
 */
static int64
enqueue_as(Oid owner, Datum sig, char **error)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Oid			save_userid;
	int			save_sec_context;
	volatile int64 id = 0;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
		id = taskq_enqueue_made(sig, "the tick");
		SetUserIdAndSecContext(save_userid, save_sec_context);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		SetUserIdAndSecContext(save_userid, save_sec_context);
		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		*error = edata->message;
		id = 0;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcontext);
	CurrentResourceOwner = oldowner;
	return id;
}

/* Enqueue the due ticks of one schedule and advance it. */
static void
tick(const DueSchedule *s)
{
	Oid			argtypes[7] = {OIDOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID, INT8OID, TEXTOID};
	Datum		values[7];
	char		nulls[7];
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz t = s->next_run;
	TimestampTz last_tick = 0;
	int			recent = 0;
	int			missed = 0;
	int			enqueued = 0;
	int64		last_task = 0;
	char	   *error = NULL;
	pg_tz	   *tz = pg_tzset(s->time_zone);

	memset(nulls, ' ', sizeof(nulls));

	while (t <= now && recent + missed < MAX_TICKS_PER_ROUND && tz != NULL)
	{
		if (now - t <= TICK_GRACE_US)
			recent++;
		else
			missed++;
		last_tick = t;
		t = taskq_next_tick(s->schedule, tz, t);
	}
	if (tz == NULL)
	{
		error = psprintf("time zone \"%s\" is not recognized", s->time_zone);
		t = now + USECS_PER_SEC * 60;
	}
	/* after ticks missed long ago (or too many at once), the next comes after now */
	if (tz != NULL && (missed > 0 || t <= now))
		t = taskq_next_tick(s->schedule, tz, now);
	for (int i = 0; i < recent + (missed > 0 && s->once ? 1 : 0) && error == NULL; i++)
	{
		int64		id = enqueue_as(s->owner, s->signature, &error);

		if (id == 0)
			break;
		last_task = id;
		enqueued++;
	}
	if (error != NULL)
		ereport(LOG,
				(errmsg("taskq schedule \"%s\" of role %u could not enqueue its tick: %s",
						s->name, s->owner, error)));
	if (missed > 0)
		ereport(LOG,
				(errmsg("taskq schedule \"%s\" missed %d tick%s while no worker ran (missed => '%s')",
						s->name, missed, missed == 1 ? "" : "s", s->once ? "once" : "skip")));

	values[0] = ObjectIdGetDatum(s->owner);
	values[1] = CStringGetTextDatum(s->name);
	values[2] = TimestampTzGetDatum(t);
	values[3] = TimestampTzGetDatum(last_tick);
	nulls[3] = enqueued > 0 ? ' ' : 'n';
	values[4] = Int64GetDatum(enqueued);
	values[5] = Int64GetDatum(last_task);
	nulls[5] = enqueued > 0 ? ' ' : 'n';
	values[6] = error ? CStringGetTextDatum(error) : (Datum) 0;
	nulls[6] = error ? ' ' : 'n';
	taskq_saved_plan(&advance_plan, advance_sql, 7, argtypes);
	if (taskq_execute_plan(advance_plan, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "pg_taskq: advancing a schedule failed");
}

/* Enqueue the due ticks of this database's schedules (called between batches). */
void
taskq_enqueue_due_ticks(void)
{
	DueSchedule *due;
	int			n;
	bool		isnull;
	Datum		earliest;

	seen_generation = taskq_schedules_generation();
	taskq_begin_work(true);
	taskq_saved_plan(&due_plan, due_sql, 0, NULL);
	if (taskq_execute_plan(due_plan, NULL, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_taskq: reading the due schedules failed");
	n = (int) SPI_processed;
	due = palloc(sizeof(DueSchedule) * Max(1, n));
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		due[i].owner = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		due[i].name = SPI_getvalue(tup, desc, 2);
		due[i].schedule = SPI_getvalue(tup, desc, 3);
		due[i].time_zone = SPI_getvalue(tup, desc, 4);
		due[i].signature = SPI_datumTransfer(SPI_getbinval(tup, desc, 5, &isnull), false, -1);
		due[i].once = strcmp(SPI_getvalue(tup, desc, 6), "once") == 0;
		due[i].next_run = DatumGetTimestampTz(SPI_getbinval(tup, desc, 7, &isnull));
	}
	for (int i = 0; i < n; i++)
		tick(&due[i]);

	/* signal waits past their timeout */
	taskq_saved_plan(&expire_plan, expire_sql, 0, NULL);
	if (taskq_execute_plan(expire_plan, NULL, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "pg_taskq: expiring signal waits failed");
	{
		uint64		nexpired = SPI_processed;
		int64	   *expired = palloc(sizeof(int64) * Max(1, nexpired));
		bool	   *dependents = palloc(sizeof(bool) * Max(1, nexpired));

		for (uint64 i = 0; i < nexpired; i++)
		{
			expired[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
			dependents[i] = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		}
		for (uint64 i = 0; i < nexpired; i++)
		{
			taskq_wake_waiters_at_commit(expired[i]);
			if (dependents[i])
				taskq_advance_failed(expired[i], false);
		}
	}

	/* when to look again: the earliest next_run (of schedules others hold too) */
	taskq_saved_plan(&earliest_plan,
					 "SELECT LEAST((SELECT pg_catalog.min(next_run) FROM taskq.schedules),"
					 "             (SELECT pg_catalog.min(deadline) FROM taskq.signal_waits))", 0, NULL);
	if (taskq_execute_plan(earliest_plan, NULL, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "pg_taskq: reading the schedules failed");
	earliest = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	next_check = isnull ? GetCurrentTimestamp() + (TimestampTz) taskq_poll_interval_ms * 1000
		: DatumGetTimestampTz(earliest);
	/* a schedule another worker held is due still: look again soon */
	if (n == 20 || (!isnull && next_check <= GetCurrentTimestamp()))
		next_check = GetCurrentTimestamp() + 100 * 1000;
	taskq_end_work(true);
}
