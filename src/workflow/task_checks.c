/*-------------------------------------------------------------------------
 *
 * task_checks.c
 *	  The checks of one task's definition, shared by every way of making a
 *	  task (taskq.enqueue, enqueue_trigger and its CREATE TRIGGER, the
 *	  signature builders, the compiling of a workflow): its function, the
 *	  caller's right to run it and the shape of its arguments (asked of
 *	  the runner that will run it), its queue, its options, its lock.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "runners/runners.h"
#include "workflow/workflow.h"

#define PRIORITY_MIN	(-32768)
#define PRIORITY_MAX	32767

/*
 * In a PG_CATCH block: re-raise the error being handled, with its detail
 * replaced and a hint added (where it has none) when it is of sqlerrcode;
 * unchanged otherwise.  cxt is the memory context of the PG_TRY.
 */
void
taskq_rethrow_amended(MemoryContext cxt, int sqlerrcode, const char *detail, const char *hint)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	if (edata->sqlerrcode != sqlerrcode)
		PG_RE_THROW();
	FlushErrorState();
	if (detail)
		edata->detail = pstrdup(detail);
	if (hint && edata->hint == NULL)
		edata->hint = pstrdup(hint);
	ReThrowError(edata);
}

/*
 * Resolve 'name' like regproc (one function of that name) or
 * 'name(argtypes)' like regprocedure.  Unknown and ambiguous names get
 * PostgreSQL's own errors.
 */
Oid
taskq_resolve_function(text *fn)
{
	char	   *name = text_to_cstring(fn);
	MemoryContext cxt = CurrentMemoryContext;
	Oid			oid = InvalidOid;

	/*
	 * regproc reads a number as an OID, unchecked: '999999' would become a
	 * task of a function that does not exist, reported at run time as one
	 * "dropped after the task was enqueued".
	 */
	if (name[0] != '\0' && strspn(name, "0123456789") == strlen(name))
	{
		oid = (Oid) strtoul(name, NULL, 10);
		if (!SearchSysCacheExists1(PROCOID, ObjectIdGetDatum(oid)))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("function with OID %s does not exist", name),
					 errhint("Name the function, as in 'my_function' or 'my_function(integer)'.")));
		return oid;
	}
	PG_TRY();
	{
		if (strchr(name, '(') != NULL)
			oid = DatumGetObjectId(DirectFunctionCall1(regprocedurein, CStringGetDatum(name)));
		else
			oid = DatumGetObjectId(DirectFunctionCall1(regprocin, CStringGetDatum(name)));
	}
	PG_CATCH();
	{
		/* PostgreSQL's own error, with the way out when a name is ambiguous */
		taskq_rethrow_amended(cxt, ERRCODE_AMBIGUOUS_FUNCTION, NULL,
						psprintf("Name it with its argument types, as in '%s(integer)'.", name));
	}
	PG_END_TRY();
	return oid;
}

void
taskq_check_queue(const char *queue)
{
	if (taskq_queue_concurrency(queue) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" does not exist", queue),
				 errdetail("taskq.queues is \"%s\".", taskq_queues_string ? taskq_queues_string : ""),
				 errhint("Add the queue to taskq.queues in postgresql.conf, as in '%s, %s:1', and reload the configuration.",
						 taskq_queues_string ? taskq_queues_string : TASKQ_DEFAULT_QUEUE ":2", queue)));
}

/*
 * Check the options every task has; a NULL delay or timeout is none.
 */
void
taskq_check_options(int priority, Interval *delay, int max_attempts, Interval *timeout)
{
	Interval	zero = {0};

	if (priority < PRIORITY_MIN || priority > PRIORITY_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("priority %d is out of range", priority),
				 errdetail("Priorities go from %d to %d; higher runs first, and the default is 0.",
						   PRIORITY_MIN, PRIORITY_MAX)));
	if (delay && DatumGetBool(DirectFunctionCall2(interval_lt, IntervalPGetDatum(delay),
												  IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("delay must not be negative")));
	if (max_attempts < 1 || max_attempts > 1000)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("max_attempts must be between 1 and 1000")));
	if (timeout && DatumGetBool(DirectFunctionCall2(interval_le, IntervalPGetDatum(timeout),
													IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout must be positive")));
}

/* The clock now plus delay. */
TimestampTz
taskq_after_delay(Interval *delay)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												   TimestampTzGetDatum(GetCurrentTimestamp()),
												   IntervalPGetDatum(delay)));
}

/*
 * Keys go into btree indexes, whose entries hold at most about 2.7 kB: a
 * longer key would fail with "index row requires N bytes".  A limit well
 * below, with its own message.
 */
void
taskq_check_key_length(const char *what, int len)
{
	if (len > TASKQ_MAX_KEY_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s is too long", what),
				 errdetail("It has %d bytes; at most %d are allowed.", len, TASKQ_MAX_KEY_BYTES),
				 errhint("Use a digest of it, as in md5(...).")));
}

/* lock => 'shared:KEY' or 'exclusive:KEY': the key, and its mode */
void
taskq_parse_lock(const char *lock, char **key, char *mode)
{
	const char *colon = strchr(lock, ':');

	if (colon && colon[1] != '\0' && colon - lock == 6 && strncmp(lock, "shared", 6) == 0)
		*mode = TASKQ_LOCK_SHARED;
	else if (colon && colon[1] != '\0' && colon - lock == 9 && strncmp(lock, "exclusive", 9) == 0)
		*mode = TASKQ_LOCK_EXCLUSIVE;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid lock \"%s\"", lock),
				 errhint("Write lock => 'shared:KEY' or lock => 'exclusive:KEY'.")));
	taskq_check_key_length("lock key", (int) strlen(colon + 1));
	*key = pstrdup(colon + 1);
}

/* The caller's right to run fn, with PostgreSQL's own error. */
static void
check_execute_right(Oid fn)
{
	AclResult	aclresult;

	aclresult = pg_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FUNCTION, get_func_name(fn));
}

/* Check the function, the caller's right to run it, and the arguments. */
void
taskq_check_task(Oid fn, Jsonb *args, bool may_receive)
{
	check_execute_right(fn);
	if (fn == taskq_http_request_fn())
	{
		/* an HTTP task: the same checks as taskq.http's, however it is made */
		if (may_receive)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("an HTTP task cannot receive the result of another task"),
					 errdetail("Its only argument is the request."),
					 errhint("Build HTTP tasks with taskq.http(url, ...), which makes them immutable.")));
		taskq_check_http_args(args);
		return;
	}
	taskq_check_sql_task(fn, args, may_receive);
}

/*
 * The same for n tasks of one function (taskq.enqueue_many): the right to
 * run it is checked once, each argument list against it.  *current tells an
 * error context which task is being checked.
 */
void
taskq_check_tasks(Oid fn, Jsonb **args, int n, int *current)
{
	check_execute_right(fn);
	if (fn == taskq_http_request_fn())
	{
		for (int i = 0; i < n; i++)
		{
			*current = i;
			taskq_check_http_args(args[i]);
		}
		return;
	}
	taskq_check_sql_task_many(fn, args, n, current);
}
