/*-------------------------------------------------------------------------
 *
 * enqueue.c
 *	  taskq.enqueue(), the taskq.enqueue_trigger() trigger function (and
 *	  the check of its CREATE TRIGGER), and taskq.queues().
 *
 *	  Everything is checked before the task row exists, by the checks every
 *	  way of making a task shares (workflow/task_checks.c): the function,
 *	  the caller's EXECUTE right, the argument shape, the queue, the
 *	  options.  task_insert.c inserts the row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "api/api.h"
#include "api/api_internal.h"
#include "runners/runners.h"
#include "shmem/shmem.h"
#include "workflow/workflow.h"

PG_FUNCTION_INFO_V1(taskq_enqueue);
PG_FUNCTION_INFO_V1(taskq_enqueue_trigger);
PG_FUNCTION_INFO_V1(taskq_queues);

/*
 * Arguments 2 (queue) to 7 (timeout) and 9 (lock) of taskq.enqueue and
 * taskq.enqueue_many, read and checked; the unique key (argument 8) is
 * left to the caller.
 */
void
taskq_read_enqueue_options(FunctionCallInfo fcinfo, EnqueueOptions *opt)
{
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("queue must not be null")));
	opt->queue = text_to_cstring(PG_GETARG_TEXT_PP(2));
	taskq_check_queue(opt->queue);

	if (!PG_ARGISNULL(4) && !PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("run_at and delay cannot both be given")));
	opt->priority = PG_ARGISNULL(3) ? 0 : PG_GETARG_INT32(3);
	opt->max_attempts = PG_ARGISNULL(6) ? TASKQ_DEFAULT_MAX_ATTEMPTS : PG_GETARG_INT32(6);
	opt->timeout = PG_ARGISNULL(7) ? NULL : PG_GETARG_INTERVAL_P(7);
	taskq_check_options(opt->priority, PG_ARGISNULL(5) ? NULL : PG_GETARG_INTERVAL_P(5),
						opt->max_attempts, opt->timeout);
	if (!PG_ARGISNULL(4))
		opt->run_at = PG_GETARG_TIMESTAMPTZ(4);
	else if (!PG_ARGISNULL(5))
		opt->run_at = taskq_after_delay(PG_GETARG_INTERVAL_P(5));
	else
		opt->run_at = GetCurrentTransactionStartTimestamp();
	opt->unique_key = NULL;
	opt->lock_key = NULL;
	opt->lock_mode = 0;
	if (PG_NARGS() > 9 && !PG_ARGISNULL(9))
		taskq_parse_lock(text_to_cstring(PG_GETARG_TEXT_PP(9)), &opt->lock_key, &opt->lock_mode);
}

Datum
taskq_enqueue(PG_FUNCTION_ARGS)
{
	EnqueueOptions opt;
	Oid			fn;
	Jsonb	   *args;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the function of a task must not be null")));
	fn = taskq_resolve_function(PG_GETARG_TEXT_PP(0));
	args = PG_ARGISNULL(1) ? taskq_no_args()
		: PG_GETARG_JSONB_P(1);

	taskq_read_enqueue_options(fcinfo, &opt);
	opt.unique_key = PG_ARGISNULL(8) ? NULL : PG_GETARG_TEXT_PP(8);
	if (opt.unique_key)
		taskq_check_key_length("unique key", VARSIZE_ANY_EXHDR(opt.unique_key));

	taskq_check_task(fn, args, false);
	PG_RETURN_INT64(taskq_insert_task(fn, args, &opt));
}

/*
 * The columns of rel that the current user may not read (no SELECT on the
 * table nor on the column), as a text[] of their names; NULL if none.
 */
static Datum
unreadable_columns(Relation rel, bool *none)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Oid			relid = RelationGetRelid(rel);
	Oid			userid = GetUserId();
	Datum	   *names;
	int			n = 0;

	*none = true;
	if (pg_class_aclcheck(relid, userid, ACL_SELECT) == ACLCHECK_OK)
		return (Datum) 0;
	names = palloc(sizeof(Datum) * Max(1, desc->natts));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		if (pg_attribute_aclcheck(relid, att->attnum, userid, ACL_SELECT) != ACLCHECK_OK)
			names[n++] = CStringGetTextDatum(NameStr(att->attname));
	}
	if (n == 0)
		return (Datum) 0;
	*none = false;
	return PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * The trigger's row as the task's only argument: [row as a jsonb object],
 * without the columns the firing role may not read (guarantee 7).  A role may
 * be allowed to INSERT, UPDATE or DELETE rows without being allowed to read
 * some of their columns (column privileges, values filled in by DEFAULT, the
 * old values of an UPDATE or DELETE); the task, which runs as that role and
 * whose arguments it can read in taskq.tasks, then gets those columns as
 * NULL.
 */
static Jsonb *
row_as_args(HeapTuple tuple, Relation rel)
{
	Oid			argtypes[2] = {rel->rd_rel->reltype, TEXTARRAYOID};
	Datum		values[2];
	Jsonb	   *args;
	bool		isnull;
	bool		all_readable;
	MemoryContext caller = CurrentMemoryContext;

	values[0] = heap_copy_tuple_as_datum(tuple, RelationGetDescr(rel));
	values[1] = unreadable_columns(rel, &all_readable);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pg_taskq: SPI_connect failed");
	if ((all_readable
		 ? taskq_execute_once("SELECT pg_catalog.jsonb_build_array($1)", 1, argtypes,
							  values, NULL, true, 1)
		 : taskq_execute_once("SELECT pg_catalog.jsonb_build_array("
							  "pg_catalog.to_jsonb($1) OPERATOR(pg_catalog.-) $2)", 2, argtypes,
							  values, NULL, true, 1)) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "pg_taskq: could not convert the row to jsonb");
	args = DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	MemoryContextSwitchTo(caller);
	args = DatumGetJsonbPCopy(JsonbPGetDatum(args));
	SPI_finish();
	return args;
}

/* Rows of a transition table read and enqueued at a time. */
#define TRANSITION_CHUNK 10000

/*
 * FOR EACH STATEMENT, with a transition table: one task per row of it (the
 * new rows; the old ones for DELETE), each receiving its row as
 * taskq.enqueue_trigger's row-level form does, enqueued by one INSERT per
 * chunk of rows (task_insert.c) instead of one per row: a row trigger costs
 * a statement per row, which is most of an INSERT's time when the table is
 * small (issue 16).
 */
static void
enqueue_transition_rows(TriggerData *trigdata, Oid fn, const EnqueueOptions *opt)
{
	Trigger    *trigger = trigdata->tg_trigger;
	const char *table = TRIGGER_FIRED_BY_DELETE(trigdata->tg_event)
		? trigger->tgoldtable : trigger->tgnewtable;
	Oid			argtypes[1] = {TEXTARRAYOID};
	Datum		values[1];
	bool		all_readable;
	SPIPlanPtr	plan;
	Portal		portal;
	MemoryContext chunk_context;
	MemoryContext old;

	if (table == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("taskq.enqueue_trigger() fired FOR EACH STATEMENT needs a transition table"),
				 errhint("Write REFERENCING NEW TABLE AS new_rows (OLD TABLE for DELETE).")));
	values[0] = unreadable_columns(trigdata->tg_relation, &all_readable);
	chunk_context = AllocSetContextCreate(CurrentMemoryContext, "taskq transition rows",
										  ALLOCSET_DEFAULT_SIZES);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pg_taskq: SPI_connect failed");
	if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
		elog(ERROR, "pg_taskq: could not read the transition table");
	plan = SPI_prepare(psprintf("SELECT pg_catalog.jsonb_build_array(%s) FROM %s AS r",
								all_readable ? "pg_catalog.to_jsonb(r)"
								: "pg_catalog.to_jsonb(r) OPERATOR(pg_catalog.-) $1",
								quote_identifier(table)),
					   all_readable ? 0 : 1, argtypes);
	if (plan == NULL)
		elog(ERROR, "pg_taskq: could not read the transition table: %s",
			 SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, values, NULL, true);
	for (;;)
	{
		int			n;
		Datum	   *elems;
		Jsonb	  **jargs;
		int64	   *ids;
		int			current = -1;

		SPI_cursor_fetch(portal, true, TRANSITION_CHUNK);
		n = (int) SPI_processed;
		if (n == 0)
			break;
		old = MemoryContextSwitchTo(chunk_context);
		elems = palloc(sizeof(Datum) * n);
		jargs = palloc(sizeof(Jsonb *) * n);
		ids = palloc(sizeof(int64) * n);
		for (int i = 0; i < n; i++)
		{
			bool		isnull;

			elems[i] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
			jargs[i] = DatumGetJsonbP(elems[i]);
		}
		/* the right to run fn, once per chunk; each row's arguments (an HTTP task's request) */
		taskq_check_tasks(fn, jargs, n, &current);
		taskq_insert_tasks(fn, PointerGetDatum(construct_array(elems, n, JSONBOID, -1, false,
															   TYPALIGN_INT)),
						   (Datum) 0, n, opt, ids);
		MemoryContextSwitchTo(old);
		SPI_freetuptable(SPI_tuptable);
		MemoryContextReset(chunk_context);
	}
	SPI_cursor_close(portal);
	SPI_finish();
	MemoryContextDelete(chunk_context);
}

/*
 * Trigger function: FOR EACH ROW EXECUTE FUNCTION
 * taskq.enqueue_trigger('fn' [, 'queue']).  The task receives the new row
 * (the old one for DELETE) as its argument, typed as the table's row type.
 */
Datum
taskq_enqueue_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *trigger;
	HeapTuple	row;
	Oid			fn;
	Jsonb	   *args;
	EnqueueOptions opt = {0};

	opt.lock_key = NULL;
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("taskq.enqueue_trigger() can only be called as a trigger")));
	trigger = trigdata->tg_trigger;
	if (trigger->tgnargs < 1 || trigger->tgnargs > 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("taskq.enqueue_trigger() takes the function and optionally the queue"),
				 errhint("Write EXECUTE FUNCTION taskq.enqueue_trigger('my_function', 'my_queue').")));

	fn = taskq_resolve_function(cstring_to_text(trigger->tgargs[0]));
	opt.queue = trigger->tgnargs > 1 ? trigger->tgargs[1] : TASKQ_DEFAULT_QUEUE;
	taskq_check_queue(opt.queue);
	opt.priority = 0;
	opt.run_at = GetCurrentTransactionStartTimestamp();
	opt.max_attempts = TASKQ_DEFAULT_MAX_ATTEMPTS;

	if (!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
	{
		if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("taskq.enqueue_trigger() cannot be fired by TRUNCATE")));
		enqueue_transition_rows(trigdata, fn, &opt);
		return PointerGetDatum(NULL);
	}

	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		row = trigdata->tg_newtuple;
	else
		row = trigdata->tg_trigtuple;

	args = row_as_args(row, trigdata->tg_relation);
	taskq_check_task(fn, args, false);
	(void) taskq_insert_task(fn, args, &opt);

	if (TRIGGER_FIRED_BEFORE(trigdata->tg_event))
		return PointerGetDatum(row);
	return PointerGetDatum(NULL);
}

/*
 * CREATE TRIGGER ... EXECUTE FUNCTION taskq.enqueue_trigger(...): check the
 * trigger's arguments now, as its first row would (ddl_guard.c calls this
 * before the command), so that a mistake is not found by the first INSERT.
 */
void
taskq_check_trigger_definition(CreateTrigStmt *stmt)
{
	Oid			trigger_fn;
	Oid			fn;
	int			nargs = list_length(stmt->args);
	MemoryContext cxt = CurrentMemoryContext;

	if (!OidIsValid(get_namespace_oid("taskq", true)))
		return;					/* pg_taskq is not installed here */
	trigger_fn = LookupFuncName(list_make2(makeString("taskq"), makeString("enqueue_trigger")),
								0, NULL, true);
	if (!OidIsValid(trigger_fn) || LookupFuncName(stmt->funcname, 0, NULL, true) != trigger_fn)
		return;
	if (!stmt->row)
	{
		bool		new_table = false;
		bool		old_table = false;
		ListCell   *lc;

		foreach(lc, stmt->transitionRels)
		{
			TriggerTransition *tt = lfirst_node(TriggerTransition, lc);

			if (tt->isNew)
				new_table = true;
			else
				old_table = true;
		}
		if ((stmt->events & TRIGGER_TYPE_TRUNCATE) ||
			((stmt->events & (TRIGGER_TYPE_INSERT | TRIGGER_TYPE_UPDATE)) && !new_table) ||
			((stmt->events & TRIGGER_TYPE_DELETE) && !old_table))
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("taskq.enqueue_trigger() must be fired FOR EACH ROW, or FOR EACH STATEMENT with the transition table of its rows"),
					 errhint("Write REFERENCING NEW TABLE AS new_rows for INSERT and UPDATE, OLD TABLE AS old_rows for DELETE; TRUNCATE has no rows.")));
	}
	if (nargs < 1 || nargs > 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("taskq.enqueue_trigger() takes the function and optionally the queue"),
				 errhint("Write EXECUTE FUNCTION taskq.enqueue_trigger('my_function', 'my_queue').")));
	fn = taskq_resolve_function(cstring_to_text(strVal(linitial(stmt->args))));
	taskq_check_queue(nargs > 1 ? strVal(lsecond(stmt->args)) : TASKQ_DEFAULT_QUEUE);
	/* it is called with the row as its only argument */
	if (fn == taskq_http_request_fn())
		return;					/* the row is the request: checked per row */
	PG_TRY();
	{
		taskq_check_sql_task(fn, DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("[null]"))),
							 false);
	}
	PG_CATCH();
	{
		/* the arity error, told in the trigger's terms */
		taskq_rethrow_amended(cxt, ERRCODE_INVALID_PARAMETER_VALUE,
						"taskq.enqueue_trigger() calls it with the row (the new one, the old one for DELETE) as its only argument.",
						NULL);
	}
	PG_END_TRY();
}

/* taskq.queues(): the queues configured in taskq.queues. */
Datum
taskq_queues(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const TaskqConfig *cfg = taskq_config();

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < cfg->nqueues; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = CStringGetTextDatum(cfg->queues[i].name);
		values[1] = Int32GetDatum(cfg->queues[i].concurrency);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
