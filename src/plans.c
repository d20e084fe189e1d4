/*-------------------------------------------------------------------------
 *
 * plans.c
 *	  Saved SPI plans for the fixed statements of pg_taskq, and the small
 *	  helpers that build their parameters.
 *
 *	  They are prepared once per process, and always use a generic plan:
 *	  a worker runs them thousands of times a second, and a custom plan
 *	  per execution would spend more time planning than running.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "catalog/pg_type.h"
#include "nodes/parsenodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/guc.h"

#include "taskq.h"

/*
 * Prepare sql into *plan unless that was done already; the caller is
 * connected to SPI.  Returns the plan.
 */
SPIPlanPtr
taskq_saved_plan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);

		if (p == NULL)
			elog(ERROR, "pg_taskq: could not prepare \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*plan = p;
	}
	return *plan;
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
 * settings are undone at once; a task's own queries never see them.
 */
int
taskq_execute_plan(SPIPlanPtr plan, Datum *values, const char *nulls, bool read_only, long count)
{
	int			nest = NewGUCNestLevel();
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

/* An int8[] of ids, as a statement parameter. */
Datum
taskq_int8_array(const int64 *ids, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(1, n));

	for (int i = 0; i < n; i++)
		d[i] = Int64GetDatum(ids[i]);
	return PointerGetDatum(construct_array(d, n, INT8OID, 8, true, TYPALIGN_DOUBLE));
}

/* The empty jsonb array: the arguments of a task that takes none. */
Jsonb *
taskq_no_args(void)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("[]")));
}
