/*-------------------------------------------------------------------------
 *
 * wakeups.c
 *	  Wake-ups that must wait for the current transaction to commit: the
 *	  workers of queues that received tasks (enqueue, or a workflow step
 *	  released), the backends blocked in taskq.wait on tasks that ended,
 *	  and the workers running tasks that taskq.cancel stopped.  Each queue
 *	  is woken once per transaction, however many tasks it received.
 *	  Nothing is woken when the transaction aborts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/memutils.h"

#include "shmem/shmem.h"

static char pending_queues[TASKQ_MAX_QUEUES][NAMEDATALEN];
static int	npending_queues = 0;

static int64 *pending_ended = NULL;
static int	npending_ended = 0;
static int	max_pending_ended = 0;

typedef struct CancelSignal
{
	int64		task_id;
	int			worker_pid;
} CancelSignal;

static CancelSignal *pending_cancels = NULL;
static int	npending_cancels = 0;
static int	max_pending_cancels = 0;

static bool schedules_changed = false;

/*
 * Tasks this transaction made or released (counted by the wake-up requests):
 * the first wake-up before the commit is only for a few.  A worker woken then
 * claims with a snapshot that cannot see them, and its index scan walks over
 * every one of them: 20,000 tasks enqueued in one transaction delayed their
 * first start by 5 to 10 ms instead of bringing it forward.
 */
#define EARLY_WAKE_MAX_TASKS 64
static int	pending_tasks = 0;

static bool callback_registered = false;

static void
at_commit(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:

			/*
			 * A first wake-up, before the commit record is flushed: an idle
			 * worker takes a few hundred microseconds to be scheduled again
			 * (half of an idle enqueue's latency on the development
			 * machine, issue 16), and this overlaps them with the flush.
			 * What it claims now cannot see these tasks yet; the wake-up at
			 * commit, below, is the one that counts, and finds it awake.
			 */
			if (pending_tasks <= EARLY_WAKE_MAX_TASKS)
			{
				for (int i = 0; i < npending_queues; i++)
					taskq_wake_queue(pending_queues[i]);
			}
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			for (int i = 0; i < npending_queues; i++)
				taskq_wake_queue(pending_queues[i]);
			taskq_wake_waiters(pending_ended, npending_ended);
			for (int i = 0; i < npending_cancels; i++)
				taskq_signal_cancel(pending_cancels[i].task_id, pending_cancels[i].worker_pid);
			if (schedules_changed)
				taskq_schedules_changed();
			npending_queues = 0;
			npending_ended = 0;
			npending_cancels = 0;
			pending_tasks = 0;
			schedules_changed = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			npending_queues = 0;
			npending_ended = 0;
			npending_cancels = 0;
			pending_tasks = 0;
			schedules_changed = false;
			break;
		default:
			break;
	}
}

/* Make room for one more element in a list kept in TopMemoryContext. */
static void *
room_for_one_more(void *list, int n, int *max, Size elem)
{
	if (n < *max)
		return list;
	*max = Max(16, *max * 2);
	return list ? repalloc(list, elem * *max) : MemoryContextAlloc(TopMemoryContext, elem * *max);
}

static void
register_callback(void)
{
	if (!callback_registered)
	{
		RegisterXactCallback(at_commit, NULL);
		callback_registered = true;
	}
}

/* Wake the queue's workers when this transaction commits: it made a task for it. */
void
taskq_wake_queue_at_commit(const char *queue)
{
	taskq_wake_queue_at_commit_for(queue, 1);
}

/* The same for ntasks tasks. */
void
taskq_wake_queue_at_commit_for(const char *queue, int ntasks)
{
	register_callback();
	pending_tasks = pending_tasks > PG_INT32_MAX - ntasks ? PG_INT32_MAX : pending_tasks + ntasks;
	for (int i = 0; i < npending_queues; i++)
	{
		if (strcmp(pending_queues[i], queue) == 0)
			return;
	}
	if (npending_queues < TASKQ_MAX_QUEUES)
		strlcpy(pending_queues[npending_queues++], queue, NAMEDATALEN);
}

/* Wake the backends waiting for this task when this transaction commits. */
void
taskq_wake_waiters_at_commit(int64 task_id)
{
	register_callback();
	pending_ended = room_for_one_more(pending_ended, npending_ended, &max_pending_ended,
									  sizeof(int64));
	pending_ended[npending_ended++] = task_id;
}

/* Tell the worker running task_id to stop it, when this transaction commits. */
void
taskq_signal_cancel_at_commit(int64 task_id, int worker_pid)
{
	register_callback();
	pending_cancels = room_for_one_more(pending_cancels, npending_cancels, &max_pending_cancels,
										sizeof(CancelSignal));
	pending_cancels[npending_cancels].task_id = task_id;
	pending_cancels[npending_cancels].worker_pid = worker_pid;
	npending_cancels++;
}

/* A schedule was made or changed: the workers look at the schedules again. */
void
taskq_schedules_changed_at_commit(void)
{
	register_callback();
	schedules_changed = true;
}
