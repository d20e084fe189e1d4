/*-------------------------------------------------------------------------
 *
 * row_check.c
 *	  taskq.task_row_valid(): the CHECK constraint of taskq.tasks, as one
 *	  C function.
 *
 *	  Every statement that writes taskq.tasks rebuilds the table's CHECK
 *	  expressions from their stored text (parse, plan, compile) before its
 *	  first row.  Written in SQL, the four checks of a row (a state of the
 *	  six, max_attempts >= 1, a lock mode of the two, a lock key with a mode
 *	  and a mode with a key) cost a third of the time of a one-task
 *	  taskq.enqueue, mostly parsing the arrays of their IN lists; a call of
 *	  this function is read in a fraction of that.  The checks are the same.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "core/core.h"

PG_FUNCTION_INFO_V1(taskq_task_row_valid);

static bool
is_task_state(text *state)
{
	static const char *const states[] = {
		"waiting", "queued", "running", "succeeded", "failed", "cancelled"
	};
	const char *s = VARDATA_ANY(state);
	int			len = VARSIZE_ANY_EXHDR(state);

	for (int i = 0; i < (int) lengthof(states); i++)
	{
		if (len == (int) strlen(states[i]) && memcmp(s, states[i], len) == 0)
			return true;
	}
	return false;
}

/* task_row_valid(state text, max_attempts int, lock_key_is_null bool, lock_mode "char") */
Datum
taskq_task_row_valid(PG_FUNCTION_ARGS)
{
	bool		no_key = PG_ARGISNULL(2) || PG_GETARG_BOOL(2);

	if (PG_ARGISNULL(0) || !is_task_state(PG_GETARG_TEXT_PP(0)))
		PG_RETURN_BOOL(false);
	if (PG_ARGISNULL(1) || PG_GETARG_INT32(1) < 1)
		PG_RETURN_BOOL(false);
	if (PG_ARGISNULL(3))
		PG_RETURN_BOOL(no_key);
	PG_RETURN_BOOL(!no_key &&
				   (PG_GETARG_CHAR(3) == TASKQ_LOCK_SHARED || PG_GETARG_CHAR(3) == TASKQ_LOCK_EXCLUSIVE));
}
