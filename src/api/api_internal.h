/*-------------------------------------------------------------------------
 *
 * api_internal.h
 *	  What the files of src/api share: the options of a task as
 *	  taskq.enqueue and taskq.enqueue_many take them, and the insertion of
 *	  task rows (task_insert.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TASKQ_API_INTERNAL_H
#define TASKQ_API_INTERNAL_H

#include "fmgr.h"
#include "datatype/timestamp.h"
#include "utils/jsonb.h"

/* options of a task, as taskq.enqueue takes them */
typedef struct EnqueueOptions
{
	const char *queue;
	int			priority;
	TimestampTz run_at;
	int			max_attempts;
	Interval   *timeout;		/* NULL = none */
	text	   *unique_key;		/* NULL = none (taskq.enqueue only) */
	char	   *lock_key;		/* NULL = none */
	char		lock_mode;		/* TASKQ_LOCK_SHARED or TASKQ_LOCK_EXCLUSIVE */
} EnqueueOptions;

/*
 * enqueue.c: the options shared by taskq.enqueue and taskq.enqueue_many,
 * arguments 2 (queue) to 7 (timeout) and 9 (lock), read and checked.
 */
extern void taskq_read_enqueue_options(FunctionCallInfo fcinfo, EnqueueOptions *opt);

/* task_insert.c */
extern int64 taskq_insert_task(Oid fn, Jsonb *args, const EnqueueOptions *opt);
extern void taskq_insert_tasks(Oid fn, Datum args, Datum keys, int n,
							   const EnqueueOptions *opt, int64 *ids);

#endif							/* TASKQ_API_INTERNAL_H */
