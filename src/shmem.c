/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  Shared memory of pg_taskq: the worker slots the launcher fills, the
 *	  claim-token counter, and the table of backends blocked in taskq.wait.
 *	  Also the wake-ups built on them: set a queue's workers' latches, the
 *	  launcher's latch, or the latches of the waiters of finished tasks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "access/twophase.h"
#include "postmaster/bgworker_internals.h"
#include "storage/ipc.h"
#include <signal.h>
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "taskq.h"

typedef struct TaskqWaiter
{
	pg_atomic_uint64 task_id;	/* 0 = not waiting */
} TaskqWaiter;

/* the token bucket of a rate-limited queue, shared by its workers */
typedef struct TaskqRateBucket
{
	char		queue[NAMEDATALEN];
	double		tokens;
	TimestampTz refilled_at;
} TaskqRateBucket;

typedef struct TaskqShared
{
	LWLock	   *lock;			/* protects the slots and next_token */
	pid_t		launcher_pid;
	int			launcher_pgprocno;
	int64		next_token;
	int			nslots;
	int			nwaiters;
	pg_atomic_uint32 waiting;	/* how many backends are in taskq.wait */
	TaskqWaiter *waiters;		/* nwaiters entries, indexed by pgprocno */
	slock_t		rate_mutex;
	TaskqRateBucket buckets[TASKQ_MAX_QUEUES];
	TaskqWorkerSlot slots[FLEXIBLE_ARRAY_MEMBER];
} TaskqShared;

static TaskqShared *shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
taskq_shmem_size(void)
{
	Size		size;

	size = add_size(offsetof(TaskqShared, slots),
					mul_size(max_worker_processes, sizeof(TaskqWorkerSlot)));
	size = add_size(size, mul_size(MaxBackends + NUM_AUXILIARY_PROCS + max_prepared_xacts,
								   sizeof(TaskqWaiter)));
	return size;
}

static void
taskq_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(taskq_shmem_size());
	RequestNamedLWLockTranche("pg_taskq", 1);
}

static void
taskq_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("pg_taskq", taskq_shmem_size(), &found);
	if (!found)
	{
		int			nwaiters = MaxBackends + NUM_AUXILIARY_PROCS + max_prepared_xacts;

		memset(shared, 0, taskq_shmem_size());
		shared->lock = &(GetNamedLWLockTranche("pg_taskq"))->lock;
		/* seeded with the clock so tokens never repeat across restarts */
		shared->next_token = GetCurrentTimestamp();
		shared->nslots = max_worker_processes;
		shared->nwaiters = nwaiters;
		shared->waiters = (TaskqWaiter *) ((char *) shared + offsetof(TaskqShared, slots) +
										   sizeof(TaskqWorkerSlot) * shared->nslots);
		pg_atomic_init_u32(&shared->waiting, 0);
		for (int i = 0; i < shared->nslots; i++)
		{
			pg_atomic_init_u64(&shared->slots[i].current_task, 0);
			pg_atomic_init_u32(&shared->slots[i].cancel_pending, 0);
		}
		for (int i = 0; i < nwaiters; i++)
			pg_atomic_init_u64(&shared->waiters[i].task_id, 0);
		shared->launcher_pgprocno = -1;
		SpinLockInit(&shared->rate_mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
taskq_shmem_init_hooks(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = taskq_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = taskq_shmem_startup;
}

int
taskq_max_slots(void)
{
	return shared->nslots;
}

TaskqWorkerSlot *
taskq_slot(int i)
{
	Assert(i >= 0 && i < shared->nslots);
	return &shared->slots[i];
}

void
taskq_slots_lock(bool exclusive)
{
	LWLockAcquire(shared->lock, exclusive ? LW_EXCLUSIVE : LW_SHARED);
}

void
taskq_slots_unlock(void)
{
	LWLockRelease(shared->lock);
}

/* A claim token no worker has had before, in this run or an earlier one. */
int64
taskq_next_token(void)
{
	int64		token;

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	token = ++shared->next_token;
	LWLockRelease(shared->lock);
	return token;
}

void
taskq_set_launcher_pid(pid_t pid)
{
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	shared->launcher_pid = pid;
	shared->launcher_pgprocno = pid ? MyProc->pgprocno : -1;
	LWLockRelease(shared->lock);
}

void
taskq_wake_launcher(void)
{
	int			procno;

	LWLockAcquire(shared->lock, LW_SHARED);
	procno = shared->launcher_pgprocno;
	LWLockRelease(shared->lock);
	if (procno >= 0)
		SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

/* Set the latches of every living worker of the queue. */
void
taskq_wake_queue(const char *queue)
{
	LWLockAcquire(shared->lock, LW_SHARED);
	for (int i = 0; i < shared->nslots; i++)
	{
		TaskqWorkerSlot *slot = &shared->slots[i];

		if (slot->in_use && slot->pid != 0 && strcmp(slot->queue, queue) == 0)
			SetLatch(&ProcGlobal->allProcs[slot->pgprocno].procLatch);
	}
	LWLockRelease(shared->lock);
}

/* The claim tokens of the workers alive now; returns how many. */
int
taskq_live_tokens(int64 *tokens, int max)
{
	int			n = 0;

	LWLockAcquire(shared->lock, LW_SHARED);
	for (int i = 0; i < shared->nslots && n < max; i++)
	{
		if (shared->slots[i].pid != 0 && shared->slots[i].token != 0)
			tokens[n++] = shared->slots[i].token;
	}
	LWLockRelease(shared->lock);
	return n;
}

/*
 * Announce that this backend waits for task_id.  The caller checks the task
 * after registering, so a completion that happens in between is not missed.
 */
void
taskq_waiter_register(int64 task_id)
{
	TaskqWaiter *w = &shared->waiters[MyProc->pgprocno];

	if (pg_atomic_exchange_u64(&w->task_id, (uint64) task_id) == 0)
		pg_atomic_fetch_add_u32(&shared->waiting, 1);
}

void
taskq_waiter_unregister(void)
{
	TaskqWaiter *w;

	if (shared == NULL || MyProc == NULL)
		return;
	w = &shared->waiters[MyProc->pgprocno];
	if (pg_atomic_exchange_u64(&w->task_id, 0) != 0)
		pg_atomic_fetch_sub_u32(&shared->waiting, 1);
}

/* Wake the backends waiting for any of the tasks ids[0..n-1]. */
void
taskq_wake_waiters(const int64 *ids, int n)
{
	if (n == 0 || pg_atomic_read_u32(&shared->waiting) == 0)
		return;
	for (int i = 0; i < shared->nwaiters; i++)
	{
		uint64		waited = pg_atomic_read_u64(&shared->waiters[i].task_id);

		if (waited == 0)
			continue;
		for (int j = 0; j < n; j++)
		{
			if ((uint64) ids[j] == waited)
			{
				SetLatch(&ProcGlobal->allProcs[i].procLatch);
				break;
			}
		}
	}
}

/*
 * taskq.cancel committed a cancellation of a running task: tell the worker
 * that claimed it to look at its tasks, and interrupt the task if the
 * worker is running it right now (SIGINT, which cancels the statement).
 */
void
taskq_signal_cancel(int64 task_id, int worker_pid)
{
	LWLockAcquire(shared->lock, LW_SHARED);
	for (int i = 0; i < shared->nslots; i++)
	{
		TaskqWorkerSlot *slot = &shared->slots[i];

		if (slot->pid == 0 || slot->pid != worker_pid)
			continue;
		pg_atomic_write_u32(&slot->cancel_pending, 1);
		if (pg_atomic_read_u64(&slot->current_task) == (uint64) task_id)
			kill(slot->pid, SIGINT);
		SetLatch(&ProcGlobal->allProcs[slot->pgprocno].procLatch);
	}
	LWLockRelease(shared->lock);
}

/*
 * Take up to want start permits of a rate-limited queue (a token bucket
 * holding a tenth of a second's worth, refilled continuously), so that its
 * workers together start no more than rate tasks a second.  Returns how
 * many were granted; when none, *wait_ms says when one will be.
 */
int
taskq_rate_take(const char *queue, double rate, int want, long *wait_ms)
{
	TimestampTz now = GetCurrentTimestamp();
	TaskqRateBucket *b = NULL;
	int			granted;

	SpinLockAcquire(&shared->rate_mutex);
	for (int i = 0; i < TASKQ_MAX_QUEUES; i++)
	{
		if (shared->buckets[i].queue[0] == '\0')
		{
			/* a queue seen for the first time starts with one permit */
			b = &shared->buckets[i];
			strlcpy(b->queue, queue, NAMEDATALEN);
			b->tokens = 1;
			b->refilled_at = now;
			break;
		}
		if (strcmp(shared->buckets[i].queue, queue) == 0)
		{
			b = &shared->buckets[i];
			break;
		}
	}
	if (b == NULL)
	{
		SpinLockRelease(&shared->rate_mutex);
		return want;			/* no room to track it: not limited */
	}
	/* at most a tenth of a second's worth: a burst stays within the rate */
	b->tokens = Min(Max(rate / 10.0, 1.0), b->tokens + rate * (double) (now - b->refilled_at) / 1000000.0);
	b->refilled_at = now;
	granted = (int) Min((double) want, b->tokens);
	b->tokens -= granted;
	*wait_ms = granted > 0 ? 0 : (long) ((1.0 - b->tokens) / rate * 1000.0) + 1;
	SpinLockRelease(&shared->rate_mutex);
	return granted;
}

/* Give back permits taken but not used (the claim found fewer tasks). */
void
taskq_rate_return(const char *queue, int unused)
{
	if (unused <= 0)
		return;
	SpinLockAcquire(&shared->rate_mutex);
	for (int i = 0; i < TASKQ_MAX_QUEUES; i++)
	{
		if (strcmp(shared->buckets[i].queue, queue) == 0)
		{
			shared->buckets[i].tokens += unused;
			break;
		}
	}
	SpinLockRelease(&shared->rate_mutex);
}
