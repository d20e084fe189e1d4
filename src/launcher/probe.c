/*-------------------------------------------------------------------------
 *
 * probe.c
 *	  The probe, a short-lived background worker that connects to one
 *	  database, looks for pg_taskq in pg_extension and reports what it
 *	  found in its slot; and the requests of backends that a database be
 *	  probed again, which the launcher takes in its next round.
 *
 *	  The launcher is connected to no database and cannot read another
 *	  database's pg_extension, hence the probes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"

#include "launcher/launcher_internal.h"
#include "shmem/shmem.h"

#define TASKQ_MAX_PROBE_REQUESTS 64

typedef struct TaskqProbeRequests
{
	LWLock	   *lock;
	int			n;
	bool		all;			/* the list overflowed: probe every database */
	Oid			dboids[TASKQ_MAX_PROBE_REQUESTS];
} TaskqProbeRequests;

static TaskqProbeRequests *requests = NULL;

void
taskq_probe_shmem_request(void)
{
	RequestAddinShmemSpace(sizeof(TaskqProbeRequests));
	RequestNamedLWLockTranche("pg_taskq probe requests", 1);
}

/* Called with AddinShmemInitLock held. */
void
taskq_probe_shmem_startup(void)
{
	bool		found;

	requests = ShmemInitStruct("pg_taskq probe requests", sizeof(TaskqProbeRequests), &found);
	if (found)
		return;
	memset(requests, 0, sizeof(TaskqProbeRequests));
	requests->lock = &(GetNamedLWLockTranche("pg_taskq probe requests"))->lock;
}

/* Ask the launcher to probe dboid again (whether pg_taskq is there), now. */
void
taskq_request_probe(Oid dboid)
{
	bool		listed = false;

	LWLockAcquire(requests->lock, LW_EXCLUSIVE);
	for (int i = 0; i < requests->n && !listed; i++)
		listed = requests->dboids[i] == dboid;
	if (!listed)
	{
		if (requests->n < TASKQ_MAX_PROBE_REQUESTS)
			requests->dboids[requests->n++] = dboid;
		else
			requests->all = true;
	}
	LWLockRelease(requests->lock);
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

	LWLockAcquire(requests->lock, LW_EXCLUSIVE);
	n = Min(max, requests->n);
	memcpy(dboids, requests->dboids, sizeof(Oid) * n);
	*all = requests->all || n < requests->n;
	requests->n = 0;
	requests->all = false;
	LWLockRelease(requests->lock);
	return n;
}

static Oid	probed_dboid = InvalidOid;

static char *
probe_stop_message(void)
{
	return psprintf("taskq probe of database %u stopping: asked to (server shutdown or DDL on the database)",
					probed_dboid);
}

/*
 * The probe: connect to the slot's database, look for pg_taskq in
 * pg_extension, report, exit.
 */
void
taskq_probe_main(Datum arg)
{
	int			slotno = DatumGetInt32(arg);
	Oid			dboid;
	bool		installed;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	if (!taskq_claim_slot_or_leave(slotno))
		proc_exit(0);
	taskq_slot_assignment(slotno, &dboid, NULL, NULL);
	probed_dboid = dboid;
	taskq_quiet_stop(probe_stop_message);
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("taskq probe");

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	installed = OidIsValid(get_extension_oid("pg_taskq", true));
	CommitTransactionCommand();

	taskq_slot_report(slotno, installed ? TASKQ_REPORT_PRESENT : TASKQ_REPORT_ABSENT);
	proc_exit(0);
}
