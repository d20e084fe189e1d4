/*-------------------------------------------------------------------------
 *
 * next.c
 *	  When a schedule ticks next: a cron expression (cron.c) in its time
 *	  zone, or an interval, a fixed period after the last tick.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "schedules/schedules.h"

/* The time zone of that name; an error when there is none. */
pg_tz *
taskq_time_zone_named(const char *name)
{
	pg_tz	   *tz = pg_tzset(name);

	if (tz == NULL || !pg_tz_acceptable(tz))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" is not recognized", name),
				 errhint("Name a time zone of pg_timezone_names, as in 'Europe/Paris' or 'UTC'.")));
	return tz;
}

/*
 * The next tick of schedule after "after", in tz; an error that says what
 * is wrong with the schedule if it is neither a cron expression nor an
 * interval, or never fires.
 */
TimestampTz
taskq_next_tick(const char *schedule, pg_tz *tz, TimestampTz after)
{
	TaskqCron	cron;
	char	   *cron_error;
	TimestampTz next;

	if (taskq_cron_parse(schedule, &cron, &cron_error))
		next = taskq_cron_next(&cron, tz, after);
	else
	{
		Interval   *volatile iv = NULL;
		int64		us;
		bool		fits;

		/* not cron: an interval, or a mistake told in cron's terms */
		if (schedule[0] == '@' || strchr(schedule, '*') != NULL || !isalpha((unsigned char) schedule[strlen(schedule) - 1]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid schedule \"%s\"", schedule),
					 errdetail("%s.", cron_error),
					 errhint("Write a cron expression, as in '*/5 * * * *' (every five minutes) or '0 30 * * * *' (at second 0 of minute 30), a shorthand such as '@daily', or an interval such as '10 seconds'.")));
		PG_TRY();
		{
			iv = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(schedule),
													   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
		}
		PG_CATCH();
		{
			FlushErrorState();
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid schedule \"%s\"", schedule),
					 errdetail("It is neither a cron expression (%s) nor an interval.", cron_error),
					 errhint("Write a cron expression, as in '*/5 * * * *', a shorthand such as '@daily', or an interval such as '10 seconds'.")));
		}
		PG_END_TRY();
		fits = taskq_interval_usecs(iv, &us);
		if (iv->month != 0 || (fits && us < USECS_PER_SEC))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid schedule \"%s\"", schedule),
					 errdetail("An interval schedule is a fixed period of at least one second, without months or years."),
					 errhint("For monthly or yearly ticks, write a cron expression such as '@monthly'.")));
		if (!fits || TIMESTAMP_NOT_FINITE(next = taskq_time_after(after, us)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid schedule \"%s\"", schedule),
					 errdetail("Its period reaches beyond the last timestamp.")));
	}
	if (TIMESTAMP_NOT_FINITE(next))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("schedule \"%s\" never fires", schedule),
				 errdetail("No time within five years matches it.")));
	return next;
}
