/*-------------------------------------------------------------------------
 *
 * enqueue_many.c
 *	  taskq.enqueue_many(fn, args jsonb[], ...): many tasks of one function
 *	  in one call, for INSERT ... SELECT-like enqueueing from a query
 *	  (array_agg) or from arrays.  The same checks, defaults, unique keys
 *	  and wake-up at commit as taskq.enqueue, but the function is resolved
 *	  and its right checked once, and the rows are inserted by one
 *	  statement (task_insert.c), which is what makes it fast.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "api/api_internal.h"
#include "workflow/workflow.h"

PG_FUNCTION_INFO_V1(taskq_enqueue_many);

/* which element of args an error is about (a context line says) */
static void
element_context(void *arg)
{
	const int  *current = arg;

	if (*current >= 0)
		errcontext("task %d of taskq.enqueue_many (element %d of args)",
				   *current + 1, *current + 1);
}

/* A one-dimensional array's elements (an empty or NULL array: none). */
static void
elements(ArrayType *arr, Oid type, const char *name, Datum **elems, bool **nulls, int *n)
{
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", name)));
	deconstruct_array(arr, type, -1, false, TYPALIGN_INT, elems, nulls, n);
}

Datum
taskq_enqueue_many(PG_FUNCTION_ARGS)
{
	EnqueueOptions opt;
	Oid			fn;
	ArrayType  *args_array = NULL;
	Datum	   *args = NULL;
	bool	   *args_nulls = NULL;
	Jsonb	  **jargs;
	int			n = 0;
	Datum		keys = (Datum) 0;
	int64	   *ids;
	int			current = -1;
	ErrorContextCallback context;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		replaced = false;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the function of a task must not be null")));
	fn = taskq_resolve_function(PG_GETARG_TEXT_PP(0));
	taskq_read_enqueue_options(fcinfo, &opt);

	/* array_agg over no rows is NULL: no tasks */
	if (!PG_ARGISNULL(1))
	{
		args_array = PG_GETARG_ARRAYTYPE_P(1);
		elements(args_array, JSONBOID, "args", &args, &args_nulls, &n);
	}
	if (!PG_ARGISNULL(8))
	{
		ArrayType  *key_array = PG_GETARG_ARRAYTYPE_P(8);
		Datum	   *key_elems;
		bool	   *key_nulls;
		int			nkeys;

		elements(key_array, TEXTOID, "unique_keys", &key_elems, &key_nulls, &nkeys);
		if (nkeys != n)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("unique_keys has %d elements and args %d", nkeys, n),
					 errhint("Give one key per task, NULL for a task without one.")));
		for (int i = 0; i < nkeys; i++)
		{
			if (!key_nulls[i])
				taskq_check_key_length("unique key", VARSIZE_ANY_EXHDR(DatumGetPointer(key_elems[i])));
		}
		keys = PointerGetDatum(key_array);
	}

	if (n == 0)
		return (Datum) 0;

	/*
	 * A NULL element is a task without arguments, as in taskq.enqueue.
	 * (Elements inside an array may have short headers: DatumGetJsonbP
	 * gives each its full one.)
	 */
	jargs = palloc(sizeof(Jsonb *) * n);
	for (int i = 0; i < n; i++)
	{
		if (args_nulls[i])
		{
			args[i] = JsonbPGetDatum(taskq_no_args());
			replaced = true;
		}
		jargs[i] = DatumGetJsonbP(args[i]);
	}

	context.callback = element_context;
	context.arg = &current;
	context.previous = error_context_stack;
	error_context_stack = &context;
	taskq_check_tasks(fn, jargs, n, &current);
	error_context_stack = context.previous;

	ids = palloc(sizeof(int64) * n);
	taskq_insert_tasks(fn,
					   PointerGetDatum(replaced ? construct_array(args, n, JSONBOID, -1, false, TYPALIGN_INT)
									   : args_array),
					   keys, n, &opt, ids);
	for (int i = 0; i < n; i++)
	{
		Datum		value = Int64GetDatum(ids[i]);
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	return (Datum) 0;
}
