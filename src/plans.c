/*-------------------------------------------------------------------------
 *
 * plans.c
 *	  Saved SPI plans for the fixed statements of pg_taskq.
 *
 *	  They are prepared once per process, and always use a generic plan:
 *	  a worker runs them thousands of times a second, and a custom plan
 *	  per execution would spend more time planning than running.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "nodes/parsenodes.h"

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
