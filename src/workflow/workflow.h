/*-------------------------------------------------------------------------
 *
 * workflow.h
 *	  Tasks and workflows as they are defined, compiled and advanced:
 *
 *	  src/workflow/task_checks.c  the checks of one task's definition,
 *	                              shared by every way of making a task
 *	  src/workflow/signature.c    the signature builders (taskq.task,
 *	                              taskq.http, taskq.chain, group, chord)
 *	  src/workflow/compile.c      a signature compiled into task and
 *	                              dependency rows (taskq.enqueue(sig))
 *	  src/workflow/advance.c      the advancer: what the end of a step
 *	                              releases, fails or cancels
 *
 *	  The advancer runs in the transaction that records outcomes (the
 *	  worker's task store) or that cancels (api/cancel.c); it never calls
 *	  either.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TASKQ_WORKFLOW_H
#define TASKQ_WORKFLOW_H

#include "core/core.h"

/* task_checks.c */

/*
 * Keys go into btree indexes, whose entries hold at most about 2.7 kB: a
 * longer key would fail with "index row requires N bytes".  A limit well
 * below, with its own message.
 */
#define TASKQ_MAX_KEY_BYTES 1024

extern Oid	taskq_resolve_function(text *fn);
extern void taskq_check_queue(const char *queue);
extern void taskq_check_task(Oid fn, Jsonb *args, bool may_receive);
extern void taskq_check_tasks(Oid fn, Jsonb **args, int n, int *current);
extern void taskq_check_options(int priority, Interval *delay, int max_attempts,
								Interval *timeout);
extern void taskq_check_key_length(const char *what, int len);
extern void taskq_parse_lock(const char *lock, char **key, char *mode);
extern TimestampTz taskq_after_delay(Interval *delay);
pg_noreturn extern void taskq_rethrow_amended(MemoryContext cxt, int sqlerrcode,
											  const char *detail, const char *hint);

/* advance.c */
extern void taskq_advance_succeeded(const int64 *ids, int n);
extern void taskq_cancel_error_callbacks(const int64 *ids, int n);
extern void taskq_advance_failed(int64 id, bool cancelled);
extern void taskq_release_ready(const int64 *ids, int n);
extern void taskq_ended_without_worker(void);

#endif							/* TASKQ_WORKFLOW_H */
