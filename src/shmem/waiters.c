/*-------------------------------------------------------------------------
 *
 * waiters.c
 *	  The backends blocked in taskq.wait (api/wait.c): one entry per
 *	  process, saying which task it waits for, so that whoever records the
 *	  end of that task sets its latch (at commit: shmem/wakeups.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/twophase.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"

#include "shmem/shmem.h"

typedef struct TaskqWaiters
{
	pg_atomic_uint32 waiting;	/* how many backends are in taskq.wait */
	int			nwaiters;
	pg_atomic_uint64 task_id[FLEXIBLE_ARRAY_MEMBER];	/* by pgprocno; 0 = not waiting */
} TaskqWaiters;

static TaskqWaiters *shared = NULL;

static int
nprocs(void)
{
	return MaxBackends + NUM_AUXILIARY_PROCS + max_prepared_xacts;
}

static Size
waiters_size(void)
{
	return add_size(offsetof(TaskqWaiters, task_id), mul_size(nprocs(), sizeof(pg_atomic_uint64)));
}

void
taskq_waiters_shmem_request(void)
{
	RequestAddinShmemSpace(waiters_size());
}

/* Called with AddinShmemInitLock held. */
void
taskq_waiters_shmem_startup(void)
{
	bool		found;

	shared = ShmemInitStruct("pg_taskq waiters", waiters_size(), &found);
	if (found)
		return;
	shared->nwaiters = nprocs();
	pg_atomic_init_u32(&shared->waiting, 0);
	for (int i = 0; i < shared->nwaiters; i++)
		pg_atomic_init_u64(&shared->task_id[i], 0);
}

/*
 * Announce that this backend waits for task_id.  The caller checks the task
 * after registering, so a completion that happens in between is not missed.
 */
void
taskq_waiter_register(int64 task_id)
{
	pg_atomic_uint64 *w = &shared->task_id[GetNumberFromPGProc(MyProc)];

	if (pg_atomic_exchange_u64(w, (uint64) task_id) == 0)
		pg_atomic_fetch_add_u32(&shared->waiting, 1);
}

void
taskq_waiter_unregister(void)
{
	pg_atomic_uint64 *w;

	if (shared == NULL || MyProc == NULL)
		return;
	w = &shared->task_id[GetNumberFromPGProc(MyProc)];
	if (pg_atomic_exchange_u64(w, 0) != 0)
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
		uint64		waited = pg_atomic_read_u64(&shared->task_id[i]);

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
