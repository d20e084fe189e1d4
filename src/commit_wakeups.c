/*-------------------------------------------------------------------------
 *
 * commit_wakeups.c
 *	  Wake-ups that must wait for the current transaction to commit: the
 *	  workers of queues that received tasks (enqueue, or a workflow step
 *	  released), and the backends blocked in taskq.wait on tasks that
 *	  ended.  Each queue is woken once per transaction, however many tasks
 *	  it received.  Nothing is woken when the transaction aborts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/memutils.h"

#include "taskq.h"

static char pending_queues[TASKQ_MAX_QUEUES][NAMEDATALEN];
static int	npending_queues = 0;

static int64 *pending_ended = NULL;
static int	npending_ended = 0;
static int	max_pending_ended = 0;

static bool callback_registered = false;

static void
at_commit(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			for (int i = 0; i < npending_queues; i++)
				taskq_wake_queue(pending_queues[i]);
			taskq_wake_waiters(pending_ended, npending_ended);
			npending_queues = 0;
			npending_ended = 0;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			npending_queues = 0;
			npending_ended = 0;
			break;
		default:
			break;
	}
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

/* Wake the queue's workers when this transaction commits. */
void
taskq_wake_queue_at_commit(const char *queue)
{
	register_callback();
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
	if (npending_ended == max_pending_ended)
	{
		max_pending_ended = Max(64, max_pending_ended * 2);
		pending_ended = pending_ended
			? repalloc(pending_ended, sizeof(int64) * max_pending_ended)
			: MemoryContextAlloc(TopMemoryContext, sizeof(int64) * max_pending_ended);
	}
	pending_ended[npending_ended++] = task_id;
}
