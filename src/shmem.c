/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  Shared memory of pg_taskq: the worker slots the launcher fills, the
 *	  claim-token counter, the table of backends blocked in taskq.wait, the
 *	  rate limits' token buckets, and the databases paused by DDL with the
 *	  requests for the launcher to probe databases again.
 *	  Also the wake-ups built on them: set a queue's workers' latches, the
 *	  launcher's latch, or the latches of the waiters of finished tasks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "access/twophase.h"
#include "postmaster/bgworker.h"
#include "postmaster/bgworker_internals.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/ipc.h"
#include <errno.h>
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

/* the token bucket of a rate-limited queue of one database, shared by its workers */
typedef struct TaskqRateBucket
{
	Oid			dboid;
	char		queue[NAMEDATALEN];
	double		rate;
	double		tokens;
	TimestampTz refilled_at;
} TaskqRateBucket;

#define TASKQ_RATE_BUCKETS	(TASKQ_MAX_QUEUES * 4)

/* a database paused by a backend's DDL until its transaction ends (ddl_guard.c) */
typedef struct TaskqPause
{
	Oid			dboid;			/* InvalidOid: a free entry */
	int			pid;
} TaskqPause;

#define TASKQ_MAX_PAUSES	64
#define TASKQ_MAX_PROBE_REQUESTS 64

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
	TaskqRateBucket buckets[TASKQ_RATE_BUCKETS];
	/* under lock: pauses, and databases the launcher is asked to probe */
	TaskqPause	pauses[TASKQ_MAX_PAUSES];
	int			nprobe_requests;
	bool		probe_all;		/* the request list overflowed */
	Oid			probe_requests[TASKQ_MAX_PROBE_REQUESTS];
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
	shared->launcher_pgprocno = pid ? GetNumberFromPGProc(MyProc) : -1;
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

/*
 * Ask a worker to give up its slot, for a queue that has no worker
 * (launcher.c, when background worker slots are short): the one of highest
 * index among the workers of index 1 or more, so that its queue keeps its
 * worker 0.  Nothing if one was asked already and has not left yet.
 */
void
taskq_ask_surplus_worker_to_yield(void)
{
	int			victim = -1;
	bool		pending = false;

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < shared->nslots; i++)
	{
		TaskqWorkerSlot *slot = &shared->slots[i];

		if (!slot->in_use || slot->is_probe || slot->index == 0)
			continue;
		if (slot->yield)
			pending = true;
		else if (victim < 0 || slot->index > shared->slots[victim].index)
			victim = i;
	}
	if (!pending && victim >= 0)
	{
		shared->slots[victim].yield = true;
		if (shared->slots[victim].pid != 0)
			SetLatch(&ProcGlobal->allProcs[shared->slots[victim].pgprocno].procLatch);
	}
	LWLockRelease(shared->lock);
}

/* Was the worker of this slot asked to give it up? */
bool
taskq_asked_to_yield(int slotno)
{
	bool		asked;

	LWLockAcquire(shared->lock, LW_SHARED);
	asked = shared->slots[slotno].yield;
	LWLockRelease(shared->lock);
	return asked;
}

/* Set the latches of every living worker of the queue in this database. */
void
taskq_wake_queue(const char *queue)
{
	LWLockAcquire(shared->lock, LW_SHARED);
	for (int i = 0; i < shared->nslots; i++)
	{
		TaskqWorkerSlot *slot = &shared->slots[i];

		if (slot->in_use && slot->pid != 0 && !slot->is_probe &&
			slot->dboid == MyDatabaseId && strcmp(slot->queue, queue) == 0)
			SetLatch(&ProcGlobal->allProcs[slot->pgprocno].procLatch);
	}
	LWLockRelease(shared->lock);
}

/*
 * The claim tokens of the workers of this database alive now; returns how
 * many.  Only this database's: a row restored from a dump of another
 * database of the cluster carries the token of a worker that may still be
 * alive there, and is an orphan here all the same.
 */
int
taskq_live_tokens(int64 *tokens, int max)
{
	int			n = 0;

	LWLockAcquire(shared->lock, LW_SHARED);
	for (int i = 0; i < shared->nslots && n < max; i++)
	{
		if (shared->slots[i].pid != 0 && shared->slots[i].token != 0 &&
			shared->slots[i].dboid == MyDatabaseId)
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
	TaskqWaiter *w = &shared->waiters[GetNumberFromPGProc(MyProc)];

	if (pg_atomic_exchange_u64(&w->task_id, (uint64) task_id) == 0)
		pg_atomic_fetch_add_u32(&shared->waiting, 1);
}

void
taskq_waiter_unregister(void)
{
	TaskqWaiter *w;

	if (shared == NULL || MyProc == NULL)
		return;
	w = &shared->waiters[GetNumberFromPGProc(MyProc)];
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
 * The token bucket of the queue in this database, or a new one (holding one
 * permit); NULL when every bucket is taken.  A bucket left idle long enough
 * to be full again is as good as a new one, so it may be reused.  Called
 * with rate_mutex held.
 */
static TaskqRateBucket *
rate_bucket(const char *queue, double rate, TimestampTz now)
{
	TaskqRateBucket *spare = NULL;

	for (int i = 0; i < TASKQ_RATE_BUCKETS; i++)
	{
		TaskqRateBucket *b = &shared->buckets[i];

		if (b->queue[0] != '\0' && b->dboid == MyDatabaseId && strcmp(b->queue, queue) == 0)
			return b;
		if (spare == NULL &&
			(b->queue[0] == '\0' ||
			 b->tokens + b->rate * (double) (now - b->refilled_at) / 1000000.0 >= Max(b->rate / 10.0, 1.0)))
			spare = b;
	}
	if (spare != NULL)
	{
		spare->dboid = MyDatabaseId;
		strlcpy(spare->queue, queue, NAMEDATALEN);
		spare->tokens = 1;
		spare->refilled_at = now;
	}
	return spare;
}

/*
 * Take up to want start permits of a rate-limited queue (a token bucket
 * holding a tenth of a second's worth, refilled continuously), so that its
 * workers in this database together start no more than rate tasks a
 * second.  Returns how many were granted; when none, *wait_ms says when
 * one will be.
 */
int
taskq_rate_take(const char *queue, double rate, int want, long *wait_ms)
{
	TimestampTz now = GetCurrentTimestamp();
	TaskqRateBucket *b;
	int			granted;

	SpinLockAcquire(&shared->rate_mutex);
	b = rate_bucket(queue, rate, now);
	if (b == NULL)
	{
		SpinLockRelease(&shared->rate_mutex);
		/* every bucket is busy (over 256 rate-limited queues): wait a little */
		*wait_ms = (long) (1000.0 / rate) + 1;
		return 0;
	}
	b->rate = rate;
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
	for (int i = 0; i < TASKQ_RATE_BUCKETS; i++)
	{
		if (shared->buckets[i].dboid == MyDatabaseId &&
			strcmp(shared->buckets[i].queue, queue) == 0)
		{
			shared->buckets[i].tokens += unused;
			break;
		}
	}
	SpinLockRelease(&shared->rate_mutex);
}

/*
 * Is the slot's process (a worker or probe other than this backend) alive
 * in dboid?  The pause signals exactly these, and waits until none is left.
 */
static inline bool
in_database(const TaskqWorkerSlot *slot, Oid dboid)
{
	return slot->in_use && slot->dboid == dboid && slot->pid != 0 && slot->pid != MyProcPid;
}

/* Is dboid paused?  Called with the lock held. */
static bool
paused_locked(Oid dboid)
{
	for (int i = 0; i < TASKQ_MAX_PAUSES; i++)
	{
		if (shared->pauses[i].dboid == dboid)
			return true;
	}
	return false;
}

/*
 * Pause a database until this backend's transaction ends (ddl_guard.c):
 * the launcher starts no worker or probe there, and those running are told
 * to leave (SIGTERM, as pg_terminate_backend).  Returns false when the table
 * of pauses is full.
 */
bool
taskq_pause_database(Oid dboid)
{
	bool		done = false;

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < TASKQ_MAX_PAUSES && !done; i++)
	{
		if (shared->pauses[i].dboid == InvalidOid)
		{
			shared->pauses[i].dboid = dboid;
			shared->pauses[i].pid = MyProcPid;
			done = true;
		}
	}
	if (done)
	{
		for (int i = 0; i < shared->nslots; i++)
		{
			TaskqWorkerSlot *slot = &shared->slots[i];

			if (in_database(slot, dboid))
				kill(slot->pid, SIGTERM);
		}
	}
	LWLockRelease(shared->lock);
	return done;
}

/* End this backend's pauses; the launcher probes those databases again. */
void
taskq_unpause_mine(void)
{
	Oid			ended[TASKQ_MAX_PAUSES];
	int			n = 0;

	if (shared == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < TASKQ_MAX_PAUSES; i++)
	{
		if (shared->pauses[i].dboid != InvalidOid && shared->pauses[i].pid == MyProcPid)
		{
			ended[n++] = shared->pauses[i].dboid;
			shared->pauses[i].dboid = InvalidOid;
			shared->pauses[i].pid = 0;
		}
	}
	LWLockRelease(shared->lock);
	for (int i = 0; i < n; i++)
		taskq_request_probe(ended[i]);
}

/*
 * Is dboid paused?  For the launcher, which also forgets the pauses of
 * backends that ended without ending them (they cannot, short of a crash
 * that resets shared memory anyway: this is a safety net).
 */
bool
taskq_database_paused(Oid dboid)
{
	bool		paused = false;

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < TASKQ_MAX_PAUSES; i++)
	{
		TaskqPause *p = &shared->pauses[i];

		if (p->dboid != dboid)
			continue;
		if (kill(p->pid, 0) != 0 && errno == ESRCH)
		{
			p->dboid = InvalidOid;
			p->pid = 0;
			continue;
		}
		paused = true;
	}
	LWLockRelease(shared->lock);
	return paused;
}

/* How many workers and probes (other than this backend) are in dboid. */
int
taskq_database_processes(Oid dboid)
{
	int			n = 0;

	LWLockAcquire(shared->lock, LW_SHARED);
	for (int i = 0; i < shared->nslots; i++)
	{
		TaskqWorkerSlot *slot = &shared->slots[i];

		if (in_database(slot, dboid))
			n++;
	}
	LWLockRelease(shared->lock);
	return n;
}

/* Ask the launcher to probe dboid again (whether pg_taskq is there), now. */
void
taskq_request_probe(Oid dboid)
{
	bool		listed = false;

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < shared->nprobe_requests && !listed; i++)
		listed = shared->probe_requests[i] == dboid;
	if (!listed)
	{
		if (shared->nprobe_requests < TASKQ_MAX_PROBE_REQUESTS)
			shared->probe_requests[shared->nprobe_requests++] = dboid;
		else
			shared->probe_all = true;
	}
	LWLockRelease(shared->lock);
	taskq_wake_launcher();
}

/*
 * The launcher takes the probe requests: up to max database OIDs, and
 * *all when the list overflowed (then every database is probed again).
 */
int
taskq_take_probe_requests(Oid *dboids, int max, bool *all)
{
	int			n;

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	n = Min(max, shared->nprobe_requests);
	memcpy(dboids, shared->probe_requests, sizeof(Oid) * n);
	*all = shared->probe_all || n < shared->nprobe_requests;
	shared->nprobe_requests = 0;
	shared->probe_all = false;
	LWLockRelease(shared->lock);
	return n;
}

static void
release_slot(int code, Datum arg)
{
	TaskqWorkerSlot *slot = taskq_slot(DatumGetInt32(arg));

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	slot->pid = 0;
	slot->token = 0;
	LWLockRelease(shared->lock);
}

/*
 * A worker or probe that the launcher started in slot slotno takes it,
 * unless its database is paused: then it says so and returns false, and
 * the process must leave before it connects to the database.  Checking the
 * pause and publishing the pid under one lock means a pausing backend
 * either sees this process (and signals it) or this process sees the pause.
 */
bool
taskq_claim_slot_or_leave(int slotno)
{
	TaskqWorkerSlot *slot = taskq_slot(slotno);
	uint32		generation;
	bool		ok;

	memcpy(&generation, MyBgworkerEntry->bgw_extra, sizeof(generation));
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (slot->generation != generation)
		ok = false;				/* started by a launcher gone since: not ours */
	else if (paused_locked(slot->dboid))
	{
		slot->report = TASKQ_REPORT_LEFT;
		ok = false;
	}
	else
	{
		slot->pgprocno = GetNumberFromPGProc(MyProc);
		slot->pid = MyProcPid;
		ok = true;
	}
	LWLockRelease(shared->lock);
	if (ok)
		before_shmem_exit(release_slot, Int32GetDatum(slotno));
	return ok;
}

/*
 * A launcher starting up (the server's, or one restarted after it was
 * terminated) takes over the slots: the processes an earlier launcher
 * started are told to leave (SIGTERM; a running task is requeued by orphan
 * recovery), those it registered that have not started yet will find the
 * slot's generation changed and leave at once, and every slot is free
 * again.  Without this, slots of processes the new launcher has no handle
 * on would stay taken for ever, and their workers never be restarted.
 */
void
taskq_reset_slots(void)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 30000);
	int			alive;

	do
	{
		alive = 0;
		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		for (int i = 0; i < shared->nslots; i++)
		{
			TaskqWorkerSlot *slot = &shared->slots[i];

			if (!slot->in_use)
				continue;
			slot->generation++;
			if (slot->pid != 0)
			{
				kill(slot->pid, SIGTERM);
				alive++;
			}
		}
		LWLockRelease(shared->lock);
		if (alive > 0)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 10, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
	} while (alive > 0 && GetCurrentTimestamp() < deadline);

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < shared->nslots; i++)
	{
		shared->slots[i].in_use = false;
		shared->slots[i].pid = 0;
		shared->slots[i].token = 0;
	}
	LWLockRelease(shared->lock);
}
