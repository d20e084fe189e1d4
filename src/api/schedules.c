/*-------------------------------------------------------------------------
 *
 * schedules.c
 *	  taskq.schedule(name, schedule, sig, time_zone, missed),
 *	  taskq.unschedule(name) and taskq.schedule_next(schedule, after,
 *	  time_zone): a role's schedules, kept in taskq.schedules, written with
 *	  the tables' owner's rights (callers have no write privilege on it).
 *	  The workers enqueue their ticks (worker/ticks.c).
 *
 *	  A schedule is a cron expression (schedules/cron.c) or an interval
 *	  ('10 seconds', '1 hour': a fixed period, so no months), in a time
 *	  zone (the session's by default), with a policy for ticks missed while
 *	  no worker ran: 'skip' them, or run 'once' for all of them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "api/api.h"
#include "schedules/schedules.h"
#include "shmem/shmem.h"
#include "workflow/workflow.h"

PG_FUNCTION_INFO_V1(taskq_schedule);
PG_FUNCTION_INFO_V1(taskq_unschedule);
PG_FUNCTION_INFO_V1(taskq_schedule_next);

static const char *
zone_name(bool isnull, text *given)
{
	return isnull ? pg_get_timezone_name(session_timezone) : text_to_cstring(given);
}

/* taskq.schedule_next(schedule, after, time_zone): when it would fire next. */
Datum
taskq_schedule_next(PG_FUNCTION_ARGS)
{
	char	   *schedule;
	TimestampTz since;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	schedule = text_to_cstring(PG_GETARG_TEXT_PP(0));
	since = PG_ARGISNULL(1) ? GetCurrentTransactionStartTimestamp() : PG_GETARG_TIMESTAMPTZ(1);
	PG_RETURN_TIMESTAMPTZ(taskq_next_tick(schedule,
												   taskq_time_zone_named(zone_name(PG_ARGISNULL(2), PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2))),
												   since));
}

static SPIPlanPtr upsert_plan = NULL;
static SPIPlanPtr delete_plan = NULL;

/* a schedule belongs to its owner: two roles' schedules may share a name */
static const char *upsert_sql =
"INSERT INTO taskq.schedules AS s (name, owner, schedule, time_zone, signature, missed, next_run)"
" VALUES ($1, $2, $3, $4, $5, $6, $7)"
" ON CONFLICT (owner, name) DO UPDATE SET schedule = EXCLUDED.schedule,"
"   time_zone = EXCLUDED.time_zone, signature = EXCLUDED.signature, missed = EXCLUDED.missed,"
"   next_run = EXCLUDED.next_run, last_error = NULL"
" RETURNING s.next_run";

/*
 * taskq.schedule(name, schedule, sig, time_zone, missed): create or
 * replace the caller's schedule of that name; returns its first tick.
 */
Datum
taskq_schedule(PG_FUNCTION_ARGS)
{
	Oid			argtypes[7] = {TEXTOID, OIDOID, TEXTOID, TEXTOID, JSONBOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[7];
	char	   *name;
	char	   *schedule;
	const char *zone;
	char	   *missed;
	TimestampTz first;
	TaskqRights rights;
	bool		isnull;

	for (int i = 0; i < 3; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the %s of a schedule must not be null",
							i == 0 ? "name" : i == 1 ? "schedule" : "signature")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (name[0] == '\0' || strlen(name) > NAMEDATALEN * 4)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a schedule's name must have 1 to %d bytes", NAMEDATALEN * 4)));
	schedule = text_to_cstring(PG_GETARG_TEXT_PP(1));
	zone = zone_name(PG_ARGISNULL(3), PG_ARGISNULL(3) ? NULL : PG_GETARG_TEXT_PP(3));
	missed = PG_ARGISNULL(4) ? "skip" : text_to_cstring(PG_GETARG_TEXT_PP(4));
	if (strcmp(missed, "skip") != 0 && strcmp(missed, "once") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("missed must be 'skip' or 'once', not \"%s\"", missed),
				 errdetail("It says what a schedule does with the ticks missed while no worker ran: skip them, or run once for all of them.")));
	first = taskq_next_tick(schedule, taskq_time_zone_named(zone), GetCurrentTransactionStartTimestamp());

	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(GetUserId());
	values[2] = CStringGetTextDatum(schedule);
	values[3] = CStringGetTextDatum(zone);
	values[4] = PG_GETARG_DATUM(2);
	values[5] = CStringGetTextDatum(missed);
	values[6] = TimestampTzGetDatum(first);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pg_taskq: SPI_connect failed");
	taskq_become_tables_owner(&rights);
	taskq_saved_plan(&upsert_plan, upsert_sql, 7, argtypes);
	if (taskq_execute_plan(upsert_plan, values, NULL, false, 1) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "pg_taskq: saving the schedule failed");
	first = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	taskq_restore_rights(&rights);
	SPI_finish();
	/* the workers look at the schedules again when this commits */
	taskq_schedules_changed_at_commit();
	PG_RETURN_TIMESTAMPTZ(first);
}

/* taskq.unschedule(name): remove the caller's schedule; false if it had none. */
Datum
taskq_unschedule(PG_FUNCTION_ARGS)
{
	Oid			argtypes[2] = {TEXTOID, OIDOID};
	Datum		values[2];
	TaskqRights rights;
	bool		found;

	values[0] = PG_GETARG_DATUM(0);
	values[1] = ObjectIdGetDatum(GetUserId());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pg_taskq: SPI_connect failed");
	taskq_become_tables_owner(&rights);
	taskq_saved_plan(&delete_plan,
					 "DELETE FROM taskq.schedules WHERE name OPERATOR(pg_catalog.=) $1"
					 " AND owner OPERATOR(pg_catalog.=) $2",
					 2, argtypes);
	if (taskq_execute_plan(delete_plan, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "pg_taskq: removing the schedule failed");
	found = SPI_processed > 0;
	taskq_restore_rights(&rights);
	SPI_finish();
	PG_RETURN_BOOL(found);
}
