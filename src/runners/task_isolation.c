/*-------------------------------------------------------------------------
 *
 * task_isolation.c
 *	  Nothing a task leaves in its worker's session is there for the next
 *	  task (guarantee 7).  A worker runs the tasks of every role, one after
 *	  the other, in one long-lived session; a temporary view left by one
 *	  role's task would catch the next task's unqualified statement and run
 *	  its INSTEAD OF trigger as that task's owner, a superuser included.
 *
 *	  What a task can leave, and what removes it:
 *
 *	  - settings (SET, set_config): undone by the task's GUC nest level
 *	    (worker/batch.c);
 *	  - large objects it opened: closed before its subtransaction ends,
 *	    as if it had aborted (they would otherwise pass to the batch's
 *	    transaction, readable by the next task through their descriptor);
 *	  - temporary objects (tables, views, types, functions, sequences):
 *	    dropped, as DISCARD TEMP does, when the task created any object at
 *	    all (an object access hook notes every creation, so a task that
 *	    creates nothing pays nothing);
 *	  - cursors, WITH HOLD or not: closed, as CLOSE ALL does;
 *	  - prepared statements: deallocated, as DEALLOCATE ALL does;
 *	  - session-level advisory locks: released, as pg_advisory_unlock_all
 *	    does (transaction-level ones are the task's effects and last until
 *	    the batch commits, as they would in a transaction of the task's own);
 *	  - sequence state (currval, lastval): forgotten, as DISCARD SEQUENCES
 *	    does.
 *
 *	  LISTEN needs no clean-up: PostgreSQL refuses it in background
 *	  workers.  Role changes cannot outlive a task: it runs with
 *	  SECURITY_LOCAL_USERID_CHANGE, under which SET ROLE and SET SESSION
 *	  AUTHORIZATION are refused.  What an extension keeps in its own
 *	  memory (a dblink connection by name, say) is out of our reach: see
 *	  docs/security.md.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "commands/prepare.h"
#include "commands/sequence.h"
#include "libpq/be-fsstubs.h"
#include "storage/lock.h"
#include "utils/portal.h"

#include "runners/runners_internal.h"

static object_access_hook_type prev_object_access_hook = NULL;

/* an object was created since the last clean-up */
static bool objects_created = false;

static void
note_creations(ObjectAccessType access, Oid classId, Oid objectId, int subId, void *arg)
{
	if (access == OAT_POST_CREATE)
		objects_created = true;
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
}

/* Called once by a worker, before it runs any task. */
void
taskq_task_isolation_init(void)
{
	prev_object_access_hook = object_access_hook;
	object_access_hook = note_creations;
}

/*
 * In the task's subtransaction, just before it is released: close the
 * large objects the task opened (a commit would hand them to the batch's
 * transaction, where the next task could read them).
 */
void
taskq_task_isolation_before_release(void)
{
	AtEOSubXact_LargeObject(false, GetCurrentSubTransactionId(), InvalidSubTransactionId);
}

/*
 * After the task's subtransaction ended, committed or not, in the batch's
 * transaction and with the worker's own rights: remove what the task left
 * in the session.  Each step costs next to nothing when there is nothing
 * to remove.
 */
void
taskq_task_isolation_clean(void)
{
	Oid			temp_namespace;
	Oid			temp_toast_namespace;

	if (objects_created)
	{
		objects_created = false;
		GetTempNamespaceState(&temp_namespace, &temp_toast_namespace);
		if (OidIsValid(temp_namespace))
			ResetTempTableNamespace();
	}
	PortalHashTableDeleteAll();
	DropAllPreparedStatements();
	LockReleaseSession(USER_LOCKMETHOD);
	ResetSequenceCaches();
}
