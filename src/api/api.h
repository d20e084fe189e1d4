/*-------------------------------------------------------------------------
 *
 * api.h
 *	  The SQL-facing functions, on top of everything: what users call
 *	  (taskq.enqueue, enqueue_trigger, wait, cancel, retry, queues) and the
 *	  hook that runs in their backends on DDL.
 *
 *	  src/api/enqueue_many.c  taskq.enqueue_many: many tasks in one call
 *	  src/api/task_insert.c   the insertion of task rows (one, or many in
 *	                       one statement), with the tables owner's rights
 *	  src/api/enqueue.c    taskq.enqueue, taskq.enqueue_trigger (and the
 *	                       check of its CREATE TRIGGER), taskq.queues
 *	  src/api/wait.c       taskq.wait
 *	  src/api/cancel.c     taskq.cancel, taskq.retry
 *	  src/api/ddl_guard.c  keeps workers out of the way of DDL
 *
 *	  taskq.enqueue(signature) and the signature builders are the
 *	  workflows' (workflow/compile.c, workflow/signature.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TASKQ_API_H
#define TASKQ_API_H

#include "core/core.h"

/* ddl_guard.c: installed by _PG_init */
extern void taskq_ddl_guard_init(void);

/* enqueue.c, for ddl_guard.c */
struct CreateTrigStmt;
extern void taskq_check_trigger_definition(struct CreateTrigStmt *stmt);

#endif							/* TASKQ_API_H */
