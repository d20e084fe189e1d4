/*-------------------------------------------------------------------------
 *
 * pauses.c
 *	  The databases paused by DDL (api/ddl_guard.c): while a backend runs a
 *	  command that needs the database to itself, until its transaction
 *	  ends, the launcher starts no worker or probe there, and one that was
 *	  starting leaves (shmem/slots.c looks here when it claims its slot).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <errno.h>
#include <signal.h>

#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "shmem/shmem.h"

typedef struct TaskqPause
{
	Oid			dboid;			/* InvalidOid: a free entry */
	int			pid;			/* the backend whose transaction holds it */
} TaskqPause;

typedef struct TaskqPauses
{
	LWLock	   *lock;
	TaskqPause	pauses[TASKQ_MAX_PAUSES];
} TaskqPauses;

static TaskqPauses *shared = NULL;

void
taskq_pauses_shmem_request(void)
{
	RequestAddinShmemSpace(sizeof(TaskqPauses));
	RequestNamedLWLockTranche("pg_taskq pauses", 1);
}

/* Called with AddinShmemInitLock held. */
void
taskq_pauses_shmem_startup(void)
{
	bool		found;

	shared = ShmemInitStruct("pg_taskq pauses", sizeof(TaskqPauses), &found);
	if (found)
		return;
	memset(shared, 0, sizeof(TaskqPauses));
	shared->lock = &(GetNamedLWLockTranche("pg_taskq pauses"))->lock;
}

/*
 * Pause a database until this backend's transaction ends.  The caller then
 * tells the processes there to leave (taskq_signal_database).  Returns
 * false when the table of pauses is full.
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
	LWLockRelease(shared->lock);
	return done;
}

/*
 * End this backend's pauses; the databases are stored in ended (room for
 * TASKQ_MAX_PAUSES), their number returned, for the launcher to probe
 * them again.
 */
int
taskq_unpause_mine(Oid *ended)
{
	int			n = 0;

	if (shared == NULL)
		return 0;
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
	return n;
}

/*
 * Is dboid paused?  Pauses of backends that ended without ending them are
 * forgotten on the way (they cannot, short of a crash that resets shared
 * memory anyway: this is a safety net).
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
