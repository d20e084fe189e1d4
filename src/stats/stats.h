/*-------------------------------------------------------------------------
 *
 * stats.h
 *	  Cumulative statistics of tasks, in shared memory, per (database,
 *	  owner, queue, function): what the worker records after each batch,
 *	  and what taskq.stats reads (docs/operations.md).
 *
 *	  src/stats/counters.c  the shared table of counters
 *
 *-------------------------------------------------------------------------
 */
#ifndef TASKQ_STATS_H
#define TASKQ_STATS_H

#include "core/core.h"

extern bool taskq_track_stats;
extern int	taskq_stats_max;

extern void taskq_stats_shmem_request(void);
extern void taskq_stats_shmem_startup(void);

/* how an attempt ended, as the statistics count it */
typedef enum TaskqStatKind
{
	TASKQ_STAT_SUCCEEDED,
	TASKQ_STAT_FAILED,			/* failed for good */
	TASKQ_STAT_RETRIED,			/* failed, and will be tried again */
	TASKQ_STAT_CANCELLED,
	TASKQ_STAT_NKINDS
} TaskqStatKind;

/* run_ms and wait_ms: < 0 when the attempt did not run (or has no wait) */
extern void taskq_stats_count(Oid owner, const char *queue, Oid fn, TaskqStatKind kind,
							  double run_ms, double wait_ms);

/* the counters of one entry */
typedef struct TaskqStatsCounters
{
	int64		count[TASKQ_STAT_NKINDS];
	int64		runs;			/* attempts that ran */
	double		run_total_ms;
	double		run_max_ms;
	int64		waits;			/* attempts that started */
	double		wait_total_ms;
	double		wait_max_ms;
	TimestampTz since;			/* when the entry started counting */
} TaskqStatsCounters;

/* one entry, as read */
typedef struct TaskqStatsRow
{
	bool		overflow;		/* the entry of what did not fit */
	Oid			dboid;
	Oid			owner;
	Oid			fn;
	char		queue[NAMEDATALEN];
	TaskqStatsCounters c;
} TaskqStatsRow;

extern int	taskq_stats_read(TaskqStatsRow **rows);
extern void taskq_stats_reset_database(Oid dboid);

#endif							/* TASKQ_STATS_H */
