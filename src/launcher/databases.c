/*-------------------------------------------------------------------------
 *
 * databases.c
 *	  Which databases of the cluster have pg_taskq: the launcher's list of
 *	  databases with the state of each, kept in line with pg_database and
 *	  with what probes (probe.c) report.
 *
 *	  A database is probed when it first appears in pg_database and again
 *	  when a backend asks for it (api/ddl_guard.c: CREATE/ALTER/DROP
 *	  EXTENSION pg_taskq, a pause ended).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "launcher/launcher_internal.h"

/* the launcher's list; TopMemoryContext */
static TaskqDatabase *databases = NULL;
static int	ndatabases = 0;
static int	max_databases = 0;

int
taskq_ndatabases(void)
{
	return ndatabases;
}

TaskqDatabase *
taskq_database_at(int i)
{
	Assert(i >= 0 && i < ndatabases);
	return &databases[i];
}

static TaskqDatabase *
find_database(Oid dboid)
{
	for (int i = 0; i < ndatabases; i++)
	{
		if (databases[i].dboid == dboid)
			return &databases[i];
	}
	return NULL;
}

/* Can workers connect there?  Not template0, not a half-dropped database. */
static bool
database_usable(Form_pg_database db)
{
	if (!db->datallowconn)
		return false;
#ifdef DATCONNLIMIT_INVALID_DB
	if (db->datconnlimit == DATCONNLIMIT_INVALID_DB)
		return false;
#endif
	return true;
}

/*
 * The OIDs of the usable databases, by a plain scan of pg_database (a
 * process connected to no database cannot use its indexes, as in
 * autovacuum).  Allocated in the caller's context.
 */
static Oid *
list_databases(int *n, NameData **names)
{
	int			max = 16;
	Oid		   *oids;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext caller = CurrentMemoryContext;

	*n = 0;
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	oids = MemoryContextAlloc(caller, sizeof(Oid) * max);
	*names = MemoryContextAlloc(caller, sizeof(NameData) * max);
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (!database_usable(db))
			continue;
		if (*n == max)
		{
			max *= 2;
			oids = repalloc(oids, sizeof(Oid) * max);
			*names = repalloc(*names, sizeof(NameData) * max);
		}
		(*names)[*n] = db->datname;
		oids[(*n)++] = db->oid;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	MemoryContextSwitchTo(caller);
	return oids;
}

/*
 * Probe dboid again: at once, or when the probe under way ends (its answer
 * may be stale).
 */
static void
mark_for_probe(TaskqDatabase *db)
{
	if (db->state == TASKQ_DB_PROBING)
		db->probe_again = true;
	else
		db->state = TASKQ_DB_UNKNOWN;
	db->probe_not_before = 0;
}

/*
 * Bring the list in line with pg_database (new databases start unknown,
 * dropped ones are forgotten) and with the backends' probe requests.
 */
void
taskq_refresh_databases(void)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	Oid			requested[64];
	bool		all;
	int			nrequested = taskq_take_probe_requests(requested, lengthof(requested), &all);
	int			nfound;
	NameData   *names;
	Oid		   *found = list_databases(&nfound, &names);
	int			kept = 0;

	if (databases == NULL)
	{
		max_databases = 16;
		databases = palloc0(sizeof(TaskqDatabase) * max_databases);
	}

	/* forget the databases that are gone (their workers were paused away) */
	for (int i = 0; i < ndatabases; i++)
	{
		bool		exists = false;

		for (int j = 0; j < nfound && !exists; j++)
		{
			exists = found[j] == databases[i].dboid;
			if (exists)
				databases[i].name = names[j];	/* it may have been renamed */
		}
		if (exists)
			databases[kept++] = databases[i];
	}
	ndatabases = kept;

	for (int j = 0; j < nfound; j++)
	{
		if (find_database(found[j]) != NULL)
			continue;
		if (ndatabases == max_databases)
		{
			max_databases *= 2;
			databases = repalloc(databases, sizeof(TaskqDatabase) * max_databases);
		}
		databases[ndatabases].dboid = found[j];
		databases[ndatabases].name = names[j];
		databases[ndatabases].state = TASKQ_DB_UNKNOWN;
		databases[ndatabases].probe_not_before = 0;
		databases[ndatabases].probe_again = false;
		ndatabases++;
	}

	for (int i = 0; i < ndatabases; i++)
	{
		bool		asked = all;

		for (int r = 0; r < nrequested && !asked; r++)
			asked = requested[r] == databases[i].dboid;
		if (asked)
			mark_for_probe(&databases[i]);
	}
	pfree(found);
	pfree(names);
	MemoryContextSwitchTo(old);
}

/*
 * A probe or a worker of dboid has exited with report.  A probe's answer
 * sets the state (a probe that died is retried after taskq.poll_interval);
 * a worker that found the extension gone marks the database absent.
 */
void
taskq_database_reported(Oid dboid, bool probe, TaskqReport report)
{
	TaskqDatabase *db = find_database(dboid);

	if (db == NULL)
		return;
	if (!probe)
	{
		if (report == TASKQ_REPORT_ABSENT && db->state == TASKQ_DB_PRESENT)
			db->state = TASKQ_DB_ABSENT;
		return;
	}
	if (db->state != TASKQ_DB_PROBING)
		return;
	if (db->probe_again)
	{
		db->probe_again = false;
		db->state = TASKQ_DB_UNKNOWN;
		return;
	}
	switch (report)
	{
		case TASKQ_REPORT_PRESENT:
			db->state = TASKQ_DB_PRESENT;
			break;
		case TASKQ_REPORT_ABSENT:
			db->state = TASKQ_DB_ABSENT;
			break;
		case TASKQ_REPORT_LEFT:
			/* paused: the end of the pause asks for a probe */
			db->state = TASKQ_DB_UNKNOWN;
			break;
		case TASKQ_REPORT_NONE:
			db->state = TASKQ_DB_UNKNOWN;
			db->probe_not_before = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
															   taskq_poll_interval_ms);
			break;
	}
}
