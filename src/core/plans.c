/*-------------------------------------------------------------------------
 *
 * plans.c
 *	  The statements of pg_taskq: their saved SPI plans, the settings they
 *	  run under, the rights they run with (the tables' owner's, on a
 *	  caller's behalf), and the transaction a background process runs its
 *	  own work in.
 *
 *	  They are prepared once per process, and always use a generic plan:
 *	  a worker runs them thousands of times a second, and a custom plan
 *	  per execution would spend more time planning than running.
 *
 *	  Every one of them runs with rights other than its caller's (the
 *	  tables' owner, or the workers' superuser), so each is prepared and
 *	  executed with search_path fixed to "pg_catalog, pg_temp": whatever
 *	  the caller, its role or its database set, and whatever anyone planted
 *	  in a schema of theirs or in pg_temp, an unqualified operator, function
 *	  or type in our SQL can only mean the built-in one (pg_temp, listed
 *	  last, is never searched for functions and operators, and every table
 *	  of ours is written schema-qualified).  docs/security.md has the rest.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"

#include "core/core.h"

/* the search_path of every statement of ours: see the file's header */
#define TASKQ_SAFE_SEARCH_PATH "pg_catalog, pg_temp"

/*
 * Open a GUC nest level with the settings our statements need, whatever
 * the session, role or database set; AtEOXact_GUC(true, level) closes it.
 * lock_timeout is 0 because a worker's statements must wait for the rows
 * other workers lock, never fail half way through a batch.
 */
static int
enter_safe_settings(void)
{
	int			nest = NewGUCNestLevel();

	(void) set_config_option("search_path", TASKQ_SAFE_SEARCH_PATH, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("lock_timeout", "0", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nest;
}

/*
 * Prepare sql into *plan unless that was done already; the caller is
 * connected to SPI.  Returns the plan.  Parse analysis (where operators
 * and functions are resolved) happens here, under the safe search_path;
 * the plan cache re-analyses under the search_path in force at execution,
 * which taskq_execute_plan fixes the same way.
 */
SPIPlanPtr
taskq_saved_plan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes)
{
	if (*plan == NULL)
	{
		int			nest = enter_safe_settings();
		SPIPlanPtr	p = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);

		AtEOXact_GUC(true, nest);
		if (p == NULL)
			elog(ERROR, "pg_taskq: could not prepare \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*plan = p;
	}
	return *plan;
}

/*
 * Run a statement of ours that is not a saved plan (a one-off, with
 * parameters), under the same settings as taskq_execute_plan.
 */
int
taskq_execute_once(const char *sql, int nargs, Oid *argtypes, Datum *values,
				   const char *nulls, bool read_only, long count)
{
	int			nest = enter_safe_settings();
	int			ret;

	ret = SPI_execute_with_args(sql, nargs, argtypes, values, nulls, read_only, count);
	AtEOXact_GUC(true, nest);
	return ret;
}

/*
 * Switch to the owner of the extension's tables, to write them on behalf
 * of a caller who has no write privilege on them.  The restricted-operation
 * flag makes the owner's session state out of reach too (no temporary
 * objects, no SET ROLE), should anything but our statements ever run here.
 * taskq_restore_rights switches back.
 */
void
taskq_become_tables_owner(TaskqRights *saved)
{
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(taskq_tasks_owner(),
						   saved->sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
}

void
taskq_restore_rights(const TaskqRights *saved)
{
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}

/*
 * Execute one of our saved plans with the planner pinned to index access.
 *
 * The queue table swings from empty to millions of rows, and a generic plan
 * made while it was small (a worker prepares its plans at start-up, often
 * on an empty table) would keep a sequential scan or a hash join for ever.
 * Every statement of ours reaches rows by an index, so planning (which
 * happens inside the first execution, or after an invalidation) is done
 * with sequential scans and hash/merge joins disabled.  JIT is off too: it
 * would compile statements that take a fraction of a millisecond (and any
 * plan left with a disabled node's huge cost), at some 100 ms each.  The
 * search_path is the safe one (see the file's header).  The settings are
 * undone at once; a task's own queries never see them.
 */
int
taskq_execute_plan(SPIPlanPtr plan, Datum *values, const char *nulls, bool read_only, long count)
{
	int			nest = enter_safe_settings();
	int			ret;

	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_hashjoin", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_mergejoin", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	ret = SPI_execute_plan(plan, values, nulls, read_only, count);
	AtEOXact_GUC(true, nest);
	return ret;
}

/*
 * The transaction bracket of a background process's own work: a
 * transaction (with its statement start time set, for now()), connected to
 * SPI, with a snapshot pushed when asked.  taskq_end_work undoes it in the
 * reverse order and commits.
 */
void
taskq_begin_work(bool with_snapshot)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	if (with_snapshot)
		PushActiveSnapshot(GetTransactionSnapshot());
}

void
taskq_end_work(bool with_snapshot)
{
	if (with_snapshot)
		PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
}
