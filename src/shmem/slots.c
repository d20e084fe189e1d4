/*-------------------------------------------------------------------------
 *
 * slots.c
 *	  The worker slots: one per background worker the launcher may start,
 *	  saying which process serves which (database, queue, index), its claim
 *	  token, the SQL task it runs now and whether taskq.cancel asked it to
 *	  look; with the counter of claim tokens and the launcher's latch.
 *
 *	  The fields change only here.  The launcher reserves and frees slots;
 *	  the process started in a slot claims it (unless its database is
 *	  paused: see taskq_claim_slot_or_leave), publishes its token, reports
 *	  before it leaves; anyone may wake a queue's workers or signal the
 *	  worker of a cancelled task.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "shmem/shmem.h"

typedef struct TaskqWorkerSlot
{
	bool		in_use;			/* reserved by the launcher */
	uint32		generation;		/* bumped at each start; the process checks it */
	Oid			dboid;			/* the database it serves */
	bool		is_probe;		/* a probe (launcher/probe.c), not a worker */
	TaskqReport report;			/* written by the process before it exits */
	char		queue[NAMEDATALEN];
	int			index;			/* 0 .. concurrency-1 within the queue */
	pid_t		pid;			/* set by the process while it lives */
	int			pgprocno;
	int64		token;			/* claim token of the living worker, or 0 */
	pg_atomic_uint64 current_task;	/* the SQL task it runs now, or 0 */
	pg_atomic_uint32 cancel_pending;	/* taskq.cancel asked it to look */
	pg_atomic_uint32 state;		/* a TaskqWorkerState, set by the worker */
	pg_atomic_uint64 state_since;	/* a TimestampTz */
	bool		yield;			/* the launcher wants the slot for another queue */
} TaskqWorkerSlot;

typedef struct TaskqSlots
{
	LWLock	   *lock;			/* protects everything but the atomics */
	pid_t		launcher_pid;
	int			launcher_pgprocno;
	int64		next_token;
	pg_atomic_uint64 schedules_changed;	/* bumped when a schedule is made or changed */
	int			nslots;
	TaskqWorkerSlot slots[FLEXIBLE_ARRAY_MEMBER];
} TaskqSlots;

static TaskqSlots *shared = NULL;

/* the slot this process claimed, if any; and the state it last set there */
static int	my_slotno = -1;
static TaskqWorkerState my_state = TASKQ_WORKER_STARTING;

static Size
slots_size(void)
{
	return add_size(offsetof(TaskqSlots, slots),
					mul_size(max_worker_processes, sizeof(TaskqWorkerSlot)));
}

void
taskq_slots_shmem_request(void)
{
	RequestAddinShmemSpace(slots_size());
	RequestNamedLWLockTranche("pg_taskq slots", 1);
}

/* Called with AddinShmemInitLock held. */
void
taskq_slots_shmem_startup(void)
{
	bool		found;

	shared = ShmemInitStruct("pg_taskq slots", slots_size(), &found);
	if (found)
		return;
	memset(shared, 0, slots_size());
	shared->lock = &(GetNamedLWLockTranche("pg_taskq slots"))->lock;
	/* seeded with the clock so tokens never repeat across restarts */
	shared->next_token = GetCurrentTimestamp();
	shared->nslots = max_worker_processes;
	shared->launcher_pgprocno = -1;
	pg_atomic_init_u64(&shared->schedules_changed, 0);
	for (int i = 0; i < shared->nslots; i++)
	{
		pg_atomic_init_u64(&shared->slots[i].current_task, 0);
		pg_atomic_init_u32(&shared->slots[i].cancel_pending, 0);
		pg_atomic_init_u32(&shared->slots[i].state, TASKQ_WORKER_STARTING);
		pg_atomic_init_u64(&shared->slots[i].state_since, 0);
	}
}

static inline TaskqWorkerSlot *
slot_at(int slotno)
{
	Assert(slotno >= 0 && slotno < shared->nslots);
	return &shared->slots[slotno];
}

static inline void
set_latch_of(const TaskqWorkerSlot *slot)
{
	SetLatch(&ProcGlobal->allProcs[slot->pgprocno].procLatch);
}

int
taskq_max_slots(void)
{
	return shared->nslots;
}

/*
 * Reserve a free slot for a worker of (dboid, queue, index), or a probe of
 * dboid when queue is NULL: a slot not in use and not held[] by the
 * launcher (it still has the handle of a process that has not been
 * reaped).  Returns the slot, and the generation the process must find
 * there, or -1 when none is free.
 */
int
taskq_slot_reserve(Oid dboid, const char *queue, int index, const bool *held,
				   uint32 *generation)
{
	int			slotno = -1;

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < shared->nslots && slotno < 0; i++)
	{
		if (!shared->slots[i].in_use && !held[i])
			slotno = i;
	}
	if (slotno >= 0)
	{
		TaskqWorkerSlot *slot = slot_at(slotno);

		slot->in_use = true;
		*generation = ++slot->generation;
		slot->dboid = dboid;
		slot->is_probe = (queue == NULL);
		slot->report = TASKQ_REPORT_NONE;
		strlcpy(slot->queue, queue ? queue : "", NAMEDATALEN);
		slot->index = index;
		slot->yield = false;
		slot->pid = 0;
		slot->token = 0;
		pg_atomic_write_u32(&slot->state, TASKQ_WORKER_STARTING);
		pg_atomic_write_u64(&slot->state_since, (uint64) GetCurrentTimestamp());
		pg_atomic_write_u64(&slot->current_task, 0);
	}
	LWLockRelease(shared->lock);
	return slotno;
}

/* The launcher could not start the process it reserved slotno for. */
void
taskq_slot_unreserve(int slotno)
{
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	slot_at(slotno)->in_use = false;
	LWLockRelease(shared->lock);
}

/* The slot's process has exited: free the slot, saying what it served and reported. */
void
taskq_slot_free(int slotno, Oid *dboid, bool *is_probe, TaskqReport *report)
{
	TaskqWorkerSlot *slot = slot_at(slotno);

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	*dboid = slot->dboid;
	*is_probe = slot->is_probe;
	*report = slot->report;
	slot->in_use = false;
	slot->pid = 0;
	slot->token = 0;
	LWLockRelease(shared->lock);
}

/* Is slot a worker of (dboid, queue)?  A NULL queue: of any queue. */
static inline bool
serves(const TaskqWorkerSlot *slot, Oid dboid, const char *queue)
{
	return slot->in_use && !slot->is_probe && slot->dboid == dboid &&
		(queue == NULL || strcmp(slot->queue, queue) == 0);
}

/* How many workers of (dboid, queue) have a slot. */
int
taskq_slots_serving(Oid dboid, const char *queue)
{
	int			n = 0;

	LWLockAcquire(shared->lock, LW_SHARED);
	for (int i = 0; i < shared->nslots; i++)
	{
		if (serves(&shared->slots[i], dboid, queue))
			n++;
	}
	LWLockRelease(shared->lock);
	return n;
}

/* Has worker index of (dboid, queue) a slot? */
bool
taskq_slot_serving(Oid dboid, const char *queue, int index)
{
	bool		found = false;

	LWLockAcquire(shared->lock, LW_SHARED);
	for (int i = 0; i < shared->nslots && !found; i++)
		found = serves(&shared->slots[i], dboid, queue) && shared->slots[i].index == index;
	LWLockRelease(shared->lock);
	return found;
}

/* A claim token no worker has had before, in this run or an earlier one. */
static int64
next_token(void)
{
	Assert(LWLockHeldByMeInMode(shared->lock, LW_EXCLUSIVE));
	return ++shared->next_token;
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
 * (launcher/launcher.c, when background worker slots are short): the one of highest
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
			set_latch_of(&shared->slots[victim]);
	}
	LWLockRelease(shared->lock);
}

/* Was the worker of this slot asked to give it up? */
bool
taskq_asked_to_yield(int slotno)
{
	bool		asked;

	LWLockAcquire(shared->lock, LW_SHARED);
	asked = slot_at(slotno)->yield;
	LWLockRelease(shared->lock);
	return asked;
}

/*
 * Set the latches of every living worker of the queue in this database
 * (of every queue when queue is NULL).
 */
void
taskq_wake_queue(const char *queue)
{
	LWLockAcquire(shared->lock, LW_SHARED);
	for (int i = 0; i < shared->nslots; i++)
	{
		TaskqWorkerSlot *slot = &shared->slots[i];

		if (slot->pid != 0 && serves(slot, MyDatabaseId, queue))
			set_latch_of(slot);
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
		set_latch_of(slot);
	}
	LWLockRelease(shared->lock);
}

/*
 * Is the slot's process (a worker or probe other than this backend) alive
 * in dboid?  A pause signals exactly these, and waits until none is left.
 */
static inline bool
in_database(const TaskqWorkerSlot *slot, Oid dboid)
{
	return slot->in_use && slot->dboid == dboid && slot->pid != 0 && slot->pid != MyProcPid;
}

/* Send signo to the workers and probes (other than this backend) in dboid; returns how many. */
int
taskq_signal_database(Oid dboid, int signo)
{
	int			n = 0;

	LWLockAcquire(shared->lock, LW_SHARED);
	for (int i = 0; i < shared->nslots; i++)
	{
		if (in_database(&shared->slots[i], dboid))
		{
			kill(shared->slots[i].pid, signo);
			n++;
		}
	}
	LWLockRelease(shared->lock);
	return n;
}

/* How many workers and probes (other than this backend) are in dboid. */
int
taskq_database_processes(Oid dboid)
{
	int			n = 0;

	LWLockAcquire(shared->lock, LW_SHARED);
	for (int i = 0; i < shared->nslots; i++)
	{
		if (in_database(&shared->slots[i], dboid))
			n++;
	}
	LWLockRelease(shared->lock);
	return n;
}

static void
release_slot(int code, Datum arg)
{
	TaskqWorkerSlot *slot = slot_at(DatumGetInt32(arg));

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	slot->pid = 0;
	slot->token = 0;
	LWLockRelease(shared->lock);
}

/*
 * A worker or probe that the launcher started in slot slotno takes it,
 * unless its database is paused: then it says so and returns false, and
 * the process must leave before it connects to the database.
 *
 * The race with a pause (shmem/pauses.c, called by api/ddl_guard.c): the
 * pausing backend records the pause, then signals the processes whose pid
 * is published here.  This process looks for a pause and publishes its pid
 * while it holds the slots' lock, so the pausing backend's signalling
 * (which takes that lock after the pause is recorded) either sees the pid,
 * or comes after this process saw the pause.
 */
bool
taskq_claim_slot_or_leave(int slotno)
{
	TaskqWorkerSlot *slot = slot_at(slotno);
	uint32		generation;
	bool		ok;

	memcpy(&generation, MyBgworkerEntry->bgw_extra, sizeof(generation));
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (slot->generation != generation)
		ok = false;				/* started by a launcher gone since: not ours */
	else if (taskq_database_paused(slot->dboid))
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
	{
		my_slotno = slotno;
		before_shmem_exit(release_slot, Int32GetDatum(slotno));
	}
	return ok;
}

/* What the slot was reserved for: its database, queue ("" for a probe) and index. */
void
taskq_slot_assignment(int slotno, Oid *dboid, char *queue, int *index)
{
	TaskqWorkerSlot *slot = slot_at(slotno);

	LWLockAcquire(shared->lock, LW_SHARED);
	*dboid = slot->dboid;
	if (queue)
		strlcpy(queue, slot->queue, NAMEDATALEN);
	if (index)
		*index = slot->index;
	LWLockRelease(shared->lock);
}

/* A new claim token for the worker of slotno, published in its slot. */
int64
taskq_slot_take_token(int slotno)
{
	int64		token;

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	token = next_token();
	slot_at(slotno)->token = token;
	LWLockRelease(shared->lock);
	return token;
}

/* What the process of slotno tells the launcher, just before it exits. */
void
taskq_slot_report(int slotno, TaskqReport report)
{
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	slot_at(slotno)->report = report;
	LWLockRelease(shared->lock);
}

/* The SQL task the worker of slotno runs now (0: none); taskq.cancel interrupts only that one. */
void
taskq_slot_set_task(int slotno, int64 task_id)
{
	pg_atomic_write_u64(&slot_at(slotno)->current_task, (uint64) task_id);
}

/* Has taskq.cancel asked the worker of slotno to look at its tasks? */
bool
taskq_slot_cancel_pending(int slotno)
{
	return pg_atomic_read_u32(&slot_at(slotno)->cancel_pending) != 0;
}

/* The same, and the request is taken: it is not pending any more. */
bool
taskq_slot_take_cancel_pending(int slotno)
{
	return pg_atomic_exchange_u32(&slot_at(slotno)->cancel_pending, 0) != 0;
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
			taskq_sleep(10);
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

/*
 * What this worker is doing now, for taskq.workers: set when it changes
 * (and at each task, whose start is the state's "since").  Two atomic
 * stores, no lock: a reader may see the state a moment old, never a torn
 * value.
 */
void
taskq_set_my_state(TaskqWorkerState state, TimestampTz since)
{
	TaskqWorkerSlot *slot;

	if (my_slotno < 0 || (state == my_state && state != TASKQ_WORKER_RUNNING))
		return;
	slot = slot_at(my_slotno);
	my_state = state;
	pg_atomic_write_u64(&slot->state_since, (uint64) since);
	pg_atomic_write_u32(&slot->state, (uint32) state);
}

const char *
taskq_worker_state_name(TaskqWorkerState state)
{
	switch (state)
	{
		case TASKQ_WORKER_STARTING:
			return "starting";
		case TASKQ_WORKER_IDLE:
			return "idle";
		case TASKQ_WORKER_CLAIMING:
			return "claiming";
		case TASKQ_WORKER_RUNNING:
			return "running";
		case TASKQ_WORKER_HTTP:
			return "http requests in flight";
		case TASKQ_WORKER_RECORDING:
			return "recording";
		case TASKQ_WORKER_WAITING_RATE:
			return "waiting for rate limit";
		case TASKQ_WORKER_WAITING_LOCK:
			return "waiting for lock key";
	}
	return "unknown";
}

/* The worker slots in use (probes left out), copied; returns how many. */
int
taskq_slots_read(TaskqSlotRow **rows)
{
	int			n = 0;

	*rows = palloc0(sizeof(TaskqSlotRow) * Max(1, shared->nslots));
	LWLockAcquire(shared->lock, LW_SHARED);
	for (int i = 0; i < shared->nslots; i++)
	{
		TaskqWorkerSlot *slot = &shared->slots[i];
		TaskqSlotRow *row;

		if (!slot->in_use || slot->is_probe)
			continue;
		row = &(*rows)[n++];
		row->dboid = slot->dboid;
		strlcpy(row->queue, slot->queue, NAMEDATALEN);
		row->index = slot->index;
		row->pid = slot->pid;
		row->state = (TaskqWorkerState) pg_atomic_read_u32(&slot->state);
		row->task_id = (int64) pg_atomic_read_u64(&slot->current_task);
		row->since = (TimestampTz) pg_atomic_read_u64(&slot->state_since);
	}
	LWLockRelease(shared->lock);
	return n;
}

/*
 * A schedule was made or changed (in any database): the workers look at
 * the schedules again, and those of this database are woken to do it now.
 */
void
taskq_schedules_changed(void)
{
	pg_atomic_fetch_add_u64(&shared->schedules_changed, 1);
	taskq_wake_queue(NULL);
}

/* How many times schedules were changed: a worker compares with what it saw. */
uint64
taskq_schedules_generation(void)
{
	return pg_atomic_read_u64(&shared->schedules_changed);
}
