/*-------------------------------------------------------------------------
 *
 * ddl_guard.c
 *	  Keeps the workers out of the way of DDL on their database, and tells
 *	  the launcher when a database gains or loses pg_taskq.
 *
 *	  DROP DATABASE, ALTER DATABASE ... RENAME / SET TABLESPACE and CREATE
 *	  DATABASE ... TEMPLATE refuse to run while other sessions are connected
 *	  to the database, and DROP EXTENSION / ALTER EXTENSION UPDATE need locks
 *	  that a worker's batch may hold for as long as its tasks run.  A
 *	  ProcessUtility hook, run in the backend that issues the command,
 *	  pauses the database first: the workers there are told to leave
 *	  (SIGTERM, like pg_terminate_backend: a running task is interrupted and
 *	  requeued by orphan recovery later), the launcher starts none there,
 *	  and the command waits until they are gone.  The pause ends with the
 *	  transaction, committed or not, and the launcher then probes the
 *	  database again; so it does after CREATE EXTENSION pg_taskq commits.
 *
 *	  Only a role that may run the command pauses anything: the same
 *	  ownership and privilege checks as the command's own come first.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include <signal.h>

#include "api/api.h"
#include "launcher/launcher.h"
#include "shmem/shmem.h"
#include "workflow/workflow.h"

/* how long a command waits for the workers to leave before it goes ahead */
#define PAUSE_WAIT_MS	30000

static ProcessUtility_hook_type prev_process_utility = NULL;

/* databases to probe again when this transaction ends */
static Oid	pending_probes[16];
static int	npending_probes = 0;
static bool callback_registered = false;

static void
at_transaction_end(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			{
				Oid			ended[TASKQ_MAX_PAUSES];
				int			nended = taskq_unpause_mine(ended);

				/* the launcher looks at the databases again */
				for (int i = 0; i < nended; i++)
					taskq_request_probe(ended[i]);
				for (int i = 0; i < npending_probes; i++)
					taskq_request_probe(pending_probes[i]);
				npending_probes = 0;
			}
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
		RegisterXactCallback(at_transaction_end, NULL);
		callback_registered = true;
	}
}

/* Have the launcher probe dboid again when this transaction ends. */
static void
probe_at_end(Oid dboid)
{
	register_callback();
	for (int i = 0; i < npending_probes; i++)
	{
		if (pending_probes[i] == dboid)
			return;
	}
	if (npending_probes < (int) lengthof(pending_probes))
		pending_probes[npending_probes++] = dboid;
}

/*
 * Pause dboid until this transaction ends and wait (interruptibly, at most
 * PAUSE_WAIT_MS) until its workers and probes have left.
 */
static void
pause_database(Oid dboid)
{
	TimestampTz deadline;

	if (!OidIsValid(dboid))
		return;
	register_callback();
	if (!taskq_pause_database(dboid))
	{
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("pg_taskq could not pause its workers in this database"),
				 errdetail("Too many databases are paused by DDL at once.")));
		return;
	}
	/*
	 * Those there now are told to leave (as pg_terminate_backend would);
	 * one starting from now on sees the pause and leaves by itself (the
	 * race is argued at taskq_claim_slot_or_leave, shmem/slots.c).
	 */
	(void) taskq_signal_database(dboid, SIGTERM);
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), PAUSE_WAIT_MS);
	while (taskq_database_processes(dboid) > 0 && GetCurrentTimestamp() < deadline)
	{
		taskq_sleep(10);
		CHECK_FOR_INTERRUPTS();
	}
}

/* Does the current role own the database or extension objid of classid? */
static bool
owns(Oid classid, Oid objid)
{
	return object_ownercheck(classid, objid, GetUserId());
}

/* Is pg_taskq installed in this database, and does the current role own it? */
static bool
owns_taskq_extension(void)
{
	Oid			ext = get_extension_oid("pg_taskq", true);

	return OidIsValid(ext) && owns(ExtensionRelationId, ext);
}

/* May the current role use dboid as the template of CREATE DATABASE? */
static bool
may_copy_database(Oid dboid)
{
	HeapTuple	tup;
	bool		createdb = false;
	bool		istemplate = false;

	if (superuser())
		return true;
	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(GetUserId()));
	if (HeapTupleIsValid(tup))
	{
		createdb = ((Form_pg_authid) GETSTRUCT(tup))->rolcreatedb;
		ReleaseSysCache(tup);
	}
	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dboid));
	if (HeapTupleIsValid(tup))
	{
		istemplate = ((Form_pg_database) GETSTRUCT(tup))->datistemplate;
		ReleaseSysCache(tup);
	}
	return createdb && (istemplate || owns(DatabaseRelationId, dboid));
}

/* A database named by a DDL statement, if it exists and the role owns it. */
static Oid
owned_database(const char *name)
{
	Oid			dboid = get_database_oid(name, true);

	return OidIsValid(dboid) && owns(DatabaseRelationId, dboid) ? dboid : InvalidOid;
}

static bool
has_option(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		if (strcmp(((DefElem *) lfirst(lc))->defname, name) == 0)
			return true;
	}
	return false;
}

/* The template of CREATE DATABASE: its TEMPLATE option, else template1. */
static const char *
template_of(CreatedbStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->options)
	{
		DefElem    *opt = lfirst(lc);

		if (strcmp(opt->defname, "template") == 0 && opt->arg != NULL)
			return defGetString(opt);
	}
	return "template1";
}

static bool
drops_taskq(DropStmt *stmt)
{
	ListCell   *lc;

	if (stmt->removeType != OBJECT_EXTENSION)
		return false;
	foreach(lc, stmt->objects)
	{
		if (strcmp(strVal(lfirst(lc)), "pg_taskq") == 0)
			return true;
	}
	return false;
}

/*
 * Before the command: pause the database it needs to itself, or note the
 * database to probe when the transaction ends.
 */
static void
guard(Node *parsetree, bool is_top_level)
{
	switch (nodeTag(parsetree))
	{
		case T_DropdbStmt:
			/* its own check first: nothing is paused for a command refused */
			PreventInTransactionBlock(is_top_level, "DROP DATABASE");
			pause_database(owned_database(((DropdbStmt *) parsetree)->dbname));
			break;
		case T_CreatedbStmt:
			{
				Oid			template;

				PreventInTransactionBlock(is_top_level, "CREATE DATABASE");
				template = get_database_oid(template_of((CreatedbStmt *) parsetree), true);
				if (OidIsValid(template) && may_copy_database(template))
					pause_database(template);
				/*
				 * Wake the launcher at commit: it finds the new database in
				 * pg_database and probes it (it has pg_taskq if the template
				 * had it).
				 */
				probe_at_end(template);
			}
			break;
		case T_RenameStmt:
			if (((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
				pause_database(owned_database(((RenameStmt *) parsetree)->subname));
			break;
		case T_AlterDatabaseStmt:
			if (has_option(((AlterDatabaseStmt *) parsetree)->options, "tablespace"))
				pause_database(owned_database(((AlterDatabaseStmt *) parsetree)->dbname));
			break;
		case T_DropStmt:
			if (drops_taskq((DropStmt *) parsetree) && owns_taskq_extension())
				pause_database(MyDatabaseId);
			break;
		case T_AlterExtensionStmt:
			if (strcmp(((AlterExtensionStmt *) parsetree)->extname, "pg_taskq") == 0 &&
				owns_taskq_extension())
				pause_database(MyDatabaseId);
			break;
		case T_CreateExtensionStmt:
			if (strcmp(((CreateExtensionStmt *) parsetree)->extname, "pg_taskq") == 0)
				probe_at_end(MyDatabaseId);
			break;
		case T_CreateTrigStmt:
			/* not about workers: the one check of a command pg_taskq takes */
			taskq_check_trigger_definition((CreateTrigStmt *) parsetree);
			break;
		default:
			break;
	}
}

static void
taskq_process_utility(PlannedStmt *pstmt, const char *queryString,
					  bool readOnlyTree, ProcessUtilityContext context,
					  ParamListInfo params, QueryEnvironment *queryEnv,
					  DestReceiver *dest, QueryCompletion *qc)
{
	guard(pstmt->utilityStmt, context == PROCESS_UTILITY_TOPLEVEL);

	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context,
							 params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

void
taskq_ddl_guard_init(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = taskq_process_utility;
}
