/*-------------------------------------------------------------------------
 *
 * sql_task.c
 *	  Running a SQL task: a call of a function with jsonb arguments.
 *
 *	  PostgreSQL converts the arguments itself.  For each function and
 *	  argument shape we build once, and keep as a saved plan,
 *
 *		SELECT to_jsonb(f(r."1", r."2"))
 *		FROM jsonb_to_record(<args as {"1": .., "2": ..}>) AS r("1" int[], "2" t)
 *
 *	  with the column list made of the function's declared parameter types,
 *	  so arrays, composites and table row types arrive typed, and a value
 *	  of the wrong shape gets PostgreSQL's own error.  Named arguments (a
 *	  jsonb object) use the parameter names as columns.
 *
 *	  taskq_check_sql_task validates the function and the argument shape
 *	  at enqueue, so mistakes are caught before a task exists.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "runners/runners_internal.h"

/*
 * While a SQL task runs (the worker sets it around the call): code it calls
 * (taskq.wait) can tell; and code that raises an error no retry could cure
 * sets taskq_fail_for_good first, so the task fails at once instead of
 * after all its attempts.
 */
bool		taskq_in_task = false;
bool		taskq_fail_for_good = false;

#define PLAN_KEY_LEN 512

typedef struct CallPlan
{
	char		key[PLAN_KEY_LEN];	/* the shape key: see get_call_plan */
	SPIPlanPtr	plan;
	bool		returns_value;	/* false for void: the result is NULL */
	bool		continues;		/* it returns taskq.continuation */
} CallPlan;

/* What the catalog says about the function, as far as a call needs it. */
typedef struct FnInfo
{
	Oid			fn;
	char	   *display;		/* for messages: name(argtypes) */
	char	   *qualified;		/* schema.name, quoted */
	char		kind;
	int			nargs;			/* input arguments */
	Oid		   *argtypes;
	char	  **argnames;		/* NULL entries for unnamed ones */
	int			ndefaults;
	bool		variadic;
	Oid			rettype;
	bool		retset;
} FnInfo;

static HTAB *call_plans = NULL;

/*
 * The plans call a function by its name, as of when they were built.  When
 * pg_proc changes (a function renamed, dropped, created, replaced), the plan
 * cache would re-parse a plan's text, and find the function that has the
 * name now: none after a RENAME, another one after DROP and CREATE.  So any
 * change to pg_proc throws our plans away, and the next call builds its SQL
 * from the catalog again, for the function's OID: a task runs the function
 * it was enqueued with, or fails if that function is gone.
 */
static bool call_plans_stale = false;

static void
pg_proc_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	call_plans_stale = true;
}

static void
forget_call_plans(void)
{
	HASH_SEQ_STATUS status;
	CallPlan   *entry;

	hash_seq_init(&status, call_plans);
	while ((entry = hash_seq_search(&status)) != NULL)
		SPI_freeplan(entry->plan);
	hash_destroy(call_plans);
	call_plans = NULL;
}

static void
load_fn_info(Oid fn, FnInfo *info)
{
	HeapTuple	tup;
	Form_pg_proc proc;
	bool		isnull;
	Datum		names;
	Datum		modes;

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	if (!HeapTupleIsValid(tup))
	{
		/* in a task: no retry will bring the function back */
		taskq_fail_for_good = true;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function with OID %u does not exist", fn),
				 errdetail("The function was dropped after the task was enqueued.")));
	}
	proc = (Form_pg_proc) GETSTRUCT(tup);

	info->fn = fn;
	info->display = format_procedure(fn);
	info->qualified = quote_qualified_identifier(get_namespace_name(proc->pronamespace),
												 NameStr(proc->proname));
	info->kind = proc->prokind;
	info->nargs = proc->pronargs;
	info->argtypes = palloc(sizeof(Oid) * Max(1, info->nargs));
	memcpy(info->argtypes, proc->proargtypes.values, sizeof(Oid) * info->nargs);
	info->ndefaults = proc->pronargdefaults;
	info->variadic = OidIsValid(proc->provariadic);
	info->rettype = proc->prorettype;
	info->retset = proc->proretset;

	info->argnames = palloc0(sizeof(char *) * Max(1, info->nargs));
	names = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_proargnames, &isnull);
	if (!isnull)
	{
		char	  **innames;
		int			n;

		modes = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_proargmodes, &isnull);
		n = get_func_input_arg_names(names, isnull ? (Datum) 0 : modes, &innames);
		for (int i = 0; i < n && i < info->nargs; i++)
			info->argnames[i] = (innames[i] && innames[i][0]) ? innames[i] : NULL;
	}
	ReleaseSysCache(tup);
}

static int
arg_index_by_name(const FnInfo *info, const char *name)
{
	for (int i = 0; i < info->nargs; i++)
	{
		if (info->argnames[i] && strcmp(info->argnames[i], name) == 0)
			return i;
	}
	return -1;
}

/*
 * The argument shape of a call: the number of positional arguments, or the
 * sorted list of names.  Fills names[] (sorted by jsonb's key order, which
 * is what an object iterator yields) and returns the count; *named tells
 * which.  Errors on anything that is neither an array nor an object.
 */
static int
args_shape(const FnInfo *info, Jsonb *args, bool *named, char ***names)
{
	if (JB_ROOT_IS_SCALAR(args) || !(JB_ROOT_IS_ARRAY(args) || JB_ROOT_IS_OBJECT(args)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("task arguments must be a jsonb array or object"),
				 errdetail("The arguments of %s were given as a JSON scalar.", info->display),
				 errhint("Pass positional arguments as an array, as in '[42]', or named ones as an object, as in '{\"id\": 42}'.")));

	*named = JB_ROOT_IS_OBJECT(args);
	*names = NULL;
	if (!*named)
		return JB_ROOT_COUNT(args);
	else
	{
		JsonbIterator *it = JsonbIteratorInit(&args->root);
		JsonbValue	v;
		JsonbIteratorToken tok;
		int			n = 0;
		char	  **out = palloc(sizeof(char *) * Max(1, JB_ROOT_COUNT(args)));

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
				out[n++] = pnstrdup(v.val.string.val, v.val.string.len);
		}
		*names = out;
		return n;
	}
}

/*
 * Check that a function can be a task and the arguments fit it.
 * received: the first of args stands for the result of the step before,
 * which the user did not write (the messages say so).
 */
static void
check_call(const FnInfo *info, Jsonb *args, bool may_receive, bool received)
{
	bool		named;
	char	  **names;
	int			n;
	int			required = info->nargs - info->ndefaults;

	if (info->kind != PROKIND_FUNCTION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s is not a plain function", info->display),
				 errdetail("Aggregates, window functions and procedures cannot be run as tasks.")));
	for (int i = 0; i < info->nargs; i++)
	{
		if (IsPolymorphicType(info->argtypes[i]) || info->argtypes[i] == ANYOID)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("function %s has a polymorphic parameter, which a task cannot fill", info->display),
					 errhint("Write a wrapper function with concrete parameter types.")));
	}
	if (get_typtype(info->rettype) == TYPTYPE_PSEUDO &&
		info->rettype != VOIDOID && info->rettype != RECORDOID)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("function %s returns %s, which a task cannot run",
						info->display, format_type_be(info->rettype))));

	n = args_shape(info, args, &named, &names);
	if (!named)
	{
		if (n > info->nargs && received)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("too many arguments for function %s", info->display),
					 errdetail("It takes at most %d, and gets %d: the result of the step before it, then the %d written.",
							   info->nargs, n, n - 1),
					 errhint("If the step does not take the previous result, make it immutable => true.")));
		if (n > info->nargs)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("too many arguments for function %s", info->display),
					 errdetail("It takes at most %d, and %d were given.", info->nargs, n)));
		if (n < required - (may_receive ? 1 : 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("too few arguments for function %s", info->display),
					 errdetail("It takes at least %d, and %d were given.", required, n)));
	}
	else
	{
		for (int i = 0; i < n; i++)
		{
			if (arg_index_by_name(info, names[i]) < 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("function %s has no parameter named \"%s\"", info->display, names[i])));
		}
		for (int i = 0; i < required; i++)
		{
			bool		given = false;

			for (int j = 0; j < n && !given; j++)
				given = info->argnames[i] && strcmp(info->argnames[i], names[j]) == 0;
			if (!given)
			{
				if (info->argnames[i])
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("missing argument \"%s\" for function %s",
									info->argnames[i], info->display)));
				else
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("function %s has unnamed parameters and cannot take named arguments",
									info->display),
							 errhint("Pass the arguments as a jsonb array.")));
			}
		}
	}
}

/*
 * may_receive: the task may get a result prepended (a workflow step), so
 * one positional argument fewer than the function needs is fine.
 */
void
taskq_check_sql_task(Oid fn, Jsonb *args, bool may_receive)
{
	FnInfo		info;

	load_fn_info(fn, &info);
	check_call(&info, args, may_receive, false);
}

/*
 * The same for n argument lists of one function (taskq.enqueue_many): the
 * catalog is read once.  *current tells an error context which list is
 * being checked.
 */
void
taskq_check_sql_task_many(Oid fn, Jsonb **args, int n, int *current)
{
	FnInfo		info;

	load_fn_info(fn, &info);
	for (int i = 0; i < n; i++)
	{
		*current = i;
		check_call(&info, args[i], false, false);
	}
}

/*
 * The same for a workflow step that receives a result: args holds it first
 * (as a placeholder), then the arguments written for the step.
 */
void
taskq_check_receiving_sql_task(Oid fn, Jsonb *args)
{
	FnInfo		info;

	load_fn_info(fn, &info);
	check_call(&info, args, false, true);
}

/* Build the SELECT that calls the function for this argument shape. */
static char *
build_call_sql(const FnInfo *info, bool named, char **names, int n, bool *returns_value,
			   bool conversion_only)
{
	StringInfoData call;
	StringInfoData cols;
	StringInfoData sql;

	initStringInfo(&call);
	initStringInfo(&cols);
	appendStringInfo(&call, "%s(", info->qualified);
	for (int i = 0; i < n; i++)
	{
		int			argno = named ? arg_index_by_name(info, names[i]) : i;
		const char *col;
		char		num[16];

		if (named)
			col = quote_identifier(names[i]);
		else
		{
			snprintf(num, sizeof(num), "\"%d\"", i + 1);
			col = pstrdup(num);
		}
		if (i > 0)
		{
			appendStringInfoString(&call, ", ");
			appendStringInfoString(&cols, ", ");
		}
		if (info->variadic && argno == info->nargs - 1)
			appendStringInfoString(&call, "VARIADIC ");
		if (named)
			appendStringInfo(&call, "%s => ", quote_identifier(names[i]));
		appendStringInfo(&call, "r.%s", col);
		appendStringInfo(&cols, "%s %s", col, format_type_be_qualified(info->argtypes[argno]));
	}
	appendStringInfoChar(&call, ')');

	initStringInfo(&sql);
	*returns_value = true;
	if (conversion_only)
		appendStringInfoString(&sql, "SELECT 1");	/* the FROM converts every column */
	else if (info->retset)
		appendStringInfo(&sql,
						 "SELECT (SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(x)) FROM %s AS x)",
						 call.data);
	else if (info->rettype == VOIDOID)
	{
		appendStringInfo(&sql, "SELECT %s", call.data);
		*returns_value = false;
	}
	else
		appendStringInfo(&sql, "SELECT pg_catalog.to_jsonb(%s)", call.data);

	if (n > 0)
	{
		if (named)
			appendStringInfoString(&sql, " FROM pg_catalog.jsonb_to_record($1)");
		else
			appendStringInfoString(&sql,
								   " FROM pg_catalog.jsonb_to_record(("
								   "SELECT pg_catalog.jsonb_object_agg(e.o::pg_catalog.text, e.v)"
								   " FROM pg_catalog.jsonb_array_elements($1) WITH ORDINALITY AS e(v, o)))");
		appendStringInfo(&sql, " AS r(%s)", cols.data);
	}
	return sql.data;
}

static CallPlan *
get_call_plan(Oid fn, Jsonb *args)
{
	FnInfo		info;
	bool		named;
	char	  **names;
	int			n;
	StringInfoData key;
	CallPlan   *entry;
	bool		found;
	char	   *sql;
	bool		returns_value;
	Oid			argtypes[1] = {JSONBOID};
	SPIPlanPtr	plan;

	if (call_plans_stale && call_plans != NULL)
		forget_call_plans();
	call_plans_stale = false;
	if (call_plans == NULL)
	{
		HASHCTL		ctl;
		static bool callback_registered = false;

		if (!callback_registered)
		{
			CacheRegisterSyscacheCallback(PROCOID, pg_proc_changed, (Datum) 0);
			callback_registered = true;
		}

		ctl.keysize = PLAN_KEY_LEN;
		ctl.entrysize = sizeof(CallPlan);
		call_plans = hash_create("taskq call plans", 64, &ctl, HASH_ELEM | HASH_STRINGS);
	}

	/*
	 * The shape key: the function, then "[" and the number of positional
	 * arguments, or "{" and each name preceded by its length.  The lengths
	 * make it unambiguous whatever a name holds ("a,b" is not "a" and "b").
	 * Cheap to make without the catalog for arrays.
	 */
	initStringInfo(&key);
	if (JB_ROOT_IS_ARRAY(args) && !JB_ROOT_IS_SCALAR(args))
		appendStringInfo(&key, "%u[%d", fn, (int) JB_ROOT_COUNT(args));
	else
	{
		FnInfo		dummy = {0};

		n = args_shape(&dummy, args, &named, &names);
		appendStringInfo(&key, "%u{", fn);
		for (int i = 0; i < n; i++)
			appendStringInfo(&key, "%zu:%s", strlen(names[i]), names[i]);
	}
	if (key.len < PLAN_KEY_LEN)
	{
		entry = hash_search(call_plans, key.data, HASH_FIND, NULL);
		if (entry)
			return entry;
	}

	load_fn_info(fn, &info);
	check_call(&info, args, false, false);
	n = args_shape(&info, args, &named, &names);
	sql = build_call_sql(&info, named, names, n, &returns_value, false);
	plan = SPI_prepare_cursor(sql, 1, argtypes, CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "pg_taskq: could not prepare the call of %s: %s", info.display,
			 SPI_result_code_string(SPI_result));

	if (key.len >= PLAN_KEY_LEN)
	{
		/* a long list of names: use the plan once, unsaved */
		static CallPlan once;

		once.plan = plan;
		once.returns_value = returns_value;
		once.continues = info.rettype == taskq_continuation_type();
		return &once;
	}
	SPI_keepplan(plan);
	entry = hash_search(call_plans, key.data, HASH_ENTER, &found);
	entry->plan = plan;
	entry->returns_value = returns_value;
	entry->continues = info.rettype == taskq_continuation_type();
	return entry;
}

/*
 * Call the function with the arguments; returns its result as jsonb (NULL
 * for void or SQL NULL), in SPI's memory.  The caller is connected to SPI.
 */
Jsonb *
taskq_run_sql_task(Oid fn, Jsonb *args, bool *continues)
{
	CallPlan   *cp = get_call_plan(fn, args);
	Datum		values[1];
	int			ret;
	bool		isnull;
	Datum		d;

	values[0] = JsonbPGetDatum(args);
	ret = SPI_execute_plan(cp->plan, values, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "pg_taskq: calling the task function failed: %s", SPI_result_code_string(ret));
	*continues = false;
	if (!cp->returns_value || SPI_processed != 1)
		return NULL;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	/* a function of taskq.continuation hands its place to the signature it returned */
	*continues = cp->continues && !isnull;
	return isnull ? NULL : DatumGetJsonbP(d);
}

/*
 * Convert the arguments to the function's parameter types, without calling
 * it: an error here is raised as the task's call would raise it.  The worker
 * uses it after a task failed with a data exception, to tell arguments that
 * can never be converted (the task fails for good, guarantee 9) from an error
 * of the function's own.  The caller is connected to SPI.
 */
void
taskq_convert_sql_task_args(Oid fn, Jsonb *args)
{
	FnInfo		info;
	bool		named;
	char	  **names;
	int			n;
	bool		returns_value;
	Oid			argtypes[1] = {JSONBOID};
	Datum		values[1] = {JsonbPGetDatum(args)};

	load_fn_info(fn, &info);
	n = args_shape(&info, args, &named, &names);
	if (n == 0)
		return;
	if (SPI_execute_with_args(build_call_sql(&info, named, names, n, &returns_value, true),
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "pg_taskq: converting the arguments of %s failed", info.display);
}
