/*-------------------------------------------------------------------------
 *
 * worker_internal.h
 *	  What the files of src/worker/ share among themselves only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TASKQ_WORKER_INTERNAL_H
#define TASKQ_WORKER_INTERNAL_H

#include "worker/worker.h"

/* batch.c */
extern void taskq_batch_init(int slotno, const char *queue, int index, int64 token);
extern int	taskq_run_batch(bool claim_next);
extern void taskq_give_back_claimed(void);
extern void taskq_batch_woken(void);
extern long taskq_batch_take_rate_wait(void);
extern long taskq_batch_http_wait_ms(void);
extern int64 taskq_enqueue_made(Datum sig, const char *what);

/* claim.c: the task store's reads */
extern int	taskq_claim(const char *queue, int max, int64 token, TaskqClaimed *out,
						MemoryContext cxt);
extern int	taskq_claim_locked(const char *queue, int max, int64 token, TaskqClaimed *out,
							   MemoryContext cxt);
extern long taskq_ms_until_next_due(const char *queue);
extern int	taskq_which_cancel_requested(const int64 *ids, int n, int64 *out);
extern bool taskq_cancel_requested(int64 id);

/* complete.c */
extern void taskq_complete(const TaskqClaimed *tasks, const TaskqOutcome *outcomes, int n);

/* recovery.c */
extern int	taskq_recover_orphans(void);

/* retention.c */
extern void taskq_prune_if_due(void);

/* report.c */
typedef struct TaskqLogLine
{
	char	   *fn;				/* NULL: no line for this task */
	char	   *error;
} TaskqLogLine;
extern TaskqLogLine *taskq_report_prepare(const TaskqClaimed *tasks, const TaskqOutcome *outcomes,
										  int n, MemoryContext cxt);
extern void taskq_report_batch(const char *queue, const TaskqClaimed *tasks,
							   const TaskqOutcome *outcomes, int n, const TaskqLogLine *lines);
extern void taskq_report_failed_orphan(const char *queue, int64 id, Oid fn, Oid owner,
									   int attempts, const char *error);

/* ticks.c */
extern bool taskq_ticks_due(void);
extern long taskq_ms_until_next_tick(void);
extern void taskq_enqueue_due_ticks(void);

/* rate_limit.c */
extern int	taskq_rate_take(const char *queue, double rate, int want, long *wait_ms);
extern void taskq_rate_return(const char *queue, int unused);

#endif							/* TASKQ_WORKER_INTERNAL_H */
