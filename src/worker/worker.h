/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The worker and what others use of it: its entry point, its GUCs and
 *	  the shared memory of its rate limits (for src/pg_taskq.c).
 *
 *	  src/worker/loop.c        the worker loop
 *	  src/worker/batch.c       one batch: claim, run, record
 *	  src/worker/claim.c       the claim queries (the task store's reads)
 *	  src/worker/complete.c    the recording of outcomes
 *	  src/worker/report.c      what a batch tells the statistics and the log
 *	  src/worker/recovery.c    tasks orphaned by workers that ended
 *	  src/worker/retention.c   finished tasks pruned after taskq.retention
 *	  src/worker/rate_limit.c  the queues' rate limits
 *	  src/worker/ticks.c       the due ticks of schedules, enqueued
 *
 *	  The worker uses the runners, the advancer (through the task store),
 *	  shared memory and the core; none of them calls it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TASKQ_WORKER_H
#define TASKQ_WORKER_H

#include "core/core.h"

/* the background worker entry point: found by name (launcher/launcher.c) */
extern PGDLLEXPORT void taskq_worker_main(Datum arg);

extern int	taskq_batch_size;
extern int	taskq_batch_time_ms;
extern int	taskq_retention_s;
extern bool taskq_log_failures;
extern int	taskq_log_min_duration_ms;

extern void taskq_rate_limit_shmem_request(void);
extern void taskq_rate_limit_shmem_startup(void);

#endif							/* TASKQ_WORKER_H */
