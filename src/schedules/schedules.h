/*-------------------------------------------------------------------------
 *
 * schedules.h
 *	  Schedules (docs/schedules.md): when a schedule's next tick falls.
 *
 *	  src/schedules/cron.c  cron expressions: parsed, and their next time
 *	                        in a time zone
 *	  src/schedules/next.c  a schedule's next tick (cron or interval)
 *
 *-------------------------------------------------------------------------
 */
#ifndef TASKQ_SCHEDULES_H
#define TASKQ_SCHEDULES_H

#include "core/core.h"

#include "pgtime.h"

/* a cron expression: the seconds, minutes, ... it fires at, as bit sets */
typedef struct TaskqCron
{
	uint64		seconds;		/* bit s: second s, 0-59 */
	uint64		minutes;		/* bit m: minute m, 0-59 */
	uint32		hours;			/* bit h: hour h, 0-23 */
	uint32		days;			/* bit d: day of the month d, 1-31 */
	uint32		months;			/* bit m: month m, 1-12 */
	uint32		weekdays;		/* bit w: day of the week w, 0 (Sunday) - 6 */
	bool		any_day;		/* day of the month was '*' */
	bool		any_weekday;	/* day of the week was '*' */
} TaskqCron;

extern bool taskq_cron_parse(const char *expr, TaskqCron *cron, char **error);
extern TimestampTz taskq_cron_next(const TaskqCron *cron, pg_tz *tz, TimestampTz after);

/* next.c */
extern pg_tz *taskq_time_zone_named(const char *name);
extern TimestampTz taskq_next_tick(const char *schedule, pg_tz *tz, TimestampTz after);

#endif							/* TASKQ_SCHEDULES_H */
