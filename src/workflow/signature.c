/*-------------------------------------------------------------------------
 *
 * signature.c
 *	  The signature builders: taskq.task, taskq.http, taskq.chain,
 *	  taskq.group and taskq.chord.  A signature is jsonb (domain taskq.signature) that
 *	  describes work without enqueuing it; see docs/workflows.md for its
 *	  forms.  taskq.task checks what can be checked at once, so a mistake
 *	  is reported where it is made.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/regproc.h"
#include "utils/timestamp.h"

#include "workflow/workflow.h"

PG_FUNCTION_INFO_V1(taskq_task_signature);
PG_FUNCTION_INFO_V1(taskq_chain_signature);
PG_FUNCTION_INFO_V1(taskq_group_signature);
PG_FUNCTION_INFO_V1(taskq_chord_signature);
PG_FUNCTION_INFO_V1(taskq_http_signature);

static const char *const kinds[] = {"task", "chain", "group", "chord"};

/*
 * The kind of a signature ("task", "chain", "group", "chord"); a malformed
 * one is an error that says what a signature is.
 */
static const char *
signature_kind(Jsonb *sig)
{
	if (JB_ROOT_IS_OBJECT(sig) && JB_ROOT_COUNT(sig) == 1)
	{
		for (int i = 0; i < (int) lengthof(kinds); i++)
		{
			if (taskq_jsonb_member(&sig->root, kinds[i]))
				return kinds[i];
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("malformed signature: %s", JsonbToCString(NULL, &sig->root, VARSIZE(sig))),
			 errdetail("A signature is an object with one key: task, chain, group or chord."),
			 errhint("Build signatures with taskq.task, taskq.chain, taskq.group and taskq.chord.")));
	return NULL;				/* keep compiler quiet */
}

static void
append_jsonb(StringInfo buf, Jsonb *jb)
{
	(void) JsonbToCString(buf, &jb->root, VARSIZE(jb));
}

static Datum
jsonb_from_string(StringInfo buf)
{
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(buf->data));
}

/* Append the array of signatures as a JSON array, checking each. */
static void
append_signature_array(StringInfo buf, ArrayType *arr, const char *what, bool allow_empty)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array of signatures", what)));
	deconstruct_array(arr, ARR_ELEMTYPE(arr), -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0 && !allow_empty)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s needs at least one signature", what)));
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < n; i++)
	{
		Jsonb	   *sig;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain null signatures", what)));
		sig = DatumGetJsonbP(elems[i]);
		(void) signature_kind(sig);
		if (i > 0)
			appendStringInfoString(buf, ", ");
		append_jsonb(buf, sig);
	}
	appendStringInfoChar(buf, ']');
}

static void
append_interval_or_null(StringInfo buf, Interval *iv)
{
	int			save_style = IntervalStyle;
	char	   *iso;

	if (iv == NULL)
	{
		appendStringInfoString(buf, "null");
		return;
	}
	/* ISO 8601, so the signature does not depend on the session's IntervalStyle */
	IntervalStyle = INTSTYLE_ISO_8601;
	PG_TRY();
	{
		iso = DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(iv)));
	}
	PG_FINALLY();
	{
		IntervalStyle = save_style;
	}
	PG_END_TRY();
	escape_json(buf, iso);
}

/*
 * The signature of one task, checked: the function, the caller's right to
 * run it, the arguments (one may be missing if it can receive a result),
 * the queue and the options.
 */
static Datum
build_task_signature(Oid fn, Jsonb *args, const char *queue, int priority,
						   Interval *delay, int max_attempts, Interval *timeout,
						   bool immutable, const char *lock)
{
	StringInfoData buf;
	char	   *lock_key;
	char		lock_mode;

	taskq_check_queue(queue);
	taskq_check_options(priority, delay, max_attempts, timeout);
	taskq_check_task(fn, args, !immutable);
	if (lock)
		taskq_parse_lock(lock, &lock_key, &lock_mode);

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"task\": {\"fn\": ");
	escape_json(&buf, format_procedure_qualified(fn));
	appendStringInfoString(&buf, ", \"args\": ");
	append_jsonb(&buf, args);
	appendStringInfoString(&buf, ", \"queue\": ");
	escape_json(&buf, queue);
	appendStringInfo(&buf, ", \"priority\": %d, \"max_attempts\": %d, \"timeout\": ",
					 priority, max_attempts);
	append_interval_or_null(&buf, timeout);
	appendStringInfoString(&buf, ", \"delay\": ");
	append_interval_or_null(&buf, delay);
	appendStringInfoString(&buf, ", \"lock\": ");
	if (lock)
		escape_json(&buf, lock);
	else
		appendStringInfoString(&buf, "null");
	appendStringInfo(&buf, ", \"immutable\": %s}}", immutable ? "true" : "false");
	return jsonb_from_string(&buf);
}

/*
 * taskq.task(fn, args, queue, priority, delay, max_attempts, timeout,
 * immutable): the signature of one SQL task.
 */
Datum
taskq_task_signature(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the function of a task must not be null")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("queue must not be null")));
	PG_RETURN_DATUM(build_task_signature(taskq_resolve_function(PG_GETARG_TEXT_PP(0)),
											   PG_ARGISNULL(1) ? taskq_no_args() : PG_GETARG_JSONB_P(1),
											   text_to_cstring(PG_GETARG_TEXT_PP(2)),
											   PG_ARGISNULL(3) ? 0 : PG_GETARG_INT32(3),
											   PG_ARGISNULL(4) ? NULL : PG_GETARG_INTERVAL_P(4),
											   PG_ARGISNULL(5) ? TASKQ_DEFAULT_MAX_ATTEMPTS : PG_GETARG_INT32(5),
											   PG_ARGISNULL(6) ? NULL : PG_GETARG_INTERVAL_P(6),
											   PG_ARGISNULL(7) ? false : PG_GETARG_BOOL(7),
											   PG_NARGS() > 8 && !PG_ARGISNULL(8)
											   ? text_to_cstring(PG_GETARG_TEXT_PP(8)) : NULL));
}

/* taskq.chain(VARIADIC steps) */
Datum
taskq_chain_signature(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"chain\": ");
	append_signature_array(&buf, PG_GETARG_ARRAYTYPE_P(0), "a chain", false);
	appendStringInfoChar(&buf, '}');
	PG_RETURN_DATUM(jsonb_from_string(&buf));
}

/* taskq.group(VARIADIC members) */
Datum
taskq_group_signature(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"group\": ");
	append_signature_array(&buf, PG_GETARG_ARRAYTYPE_P(0), "a group", false);
	appendStringInfoChar(&buf, '}');
	PG_RETURN_DATUM(jsonb_from_string(&buf));
}

/* taskq.chord(header[], body); an empty header runs the body at once */
Datum
taskq_chord_signature(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	Jsonb	   *body = PG_GETARG_JSONB_P(1);

	(void) signature_kind(body);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"chord\": {\"header\": ");
	append_signature_array(&buf, PG_GETARG_ARRAYTYPE_P(0), "a chord's header", true);
	appendStringInfoString(&buf, ", \"body\": ");
	append_jsonb(&buf, body);
	appendStringInfoString(&buf, "}}");
	PG_RETURN_DATUM(jsonb_from_string(&buf));
}
/*
 * taskq.http(url, method, headers, body, timeout, queue, priority, delay,
 * max_attempts): the signature of an HTTP task.
 */
Datum
taskq_http_signature(PG_FUNCTION_ARGS)
{
	StringInfoData req;
	Interval   *timeout;
	int64		timeout_ms;
	Jsonb	   *args;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the URL of an HTTP task must not be null")));
	if (PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("queue must not be null")));
	timeout = PG_ARGISNULL(4) ? NULL : PG_GETARG_INTERVAL_P(4);
	timeout_ms = timeout
		? (int64) (DatumGetFloat8(DirectFunctionCall2(interval_part, CStringGetTextDatum("epoch"),
													  IntervalPGetDatum(timeout))) * 1000.0)
		: TASKQ_DEFAULT_HTTP_TIMEOUT_MS;

	initStringInfo(&req);
	appendStringInfoString(&req, "[{\"url\": ");
	escape_json(&req, text_to_cstring(PG_GETARG_TEXT_PP(0)));
	appendStringInfoString(&req, ", \"method\": ");
	escape_json(&req, PG_ARGISNULL(1) ? "GET" : text_to_cstring(PG_GETARG_TEXT_PP(1)));
	appendStringInfoString(&req, ", \"headers\": ");
	if (PG_ARGISNULL(2))
		appendStringInfoString(&req, "{}");
	else
	{
		Jsonb	   *h = PG_GETARG_JSONB_P(2);

		(void) JsonbToCString(&req, &h->root, VARSIZE(h));
	}
	appendStringInfoString(&req, ", \"body\": ");
	if (PG_ARGISNULL(3))
		appendStringInfoString(&req, "null");
	else
		escape_json(&req, text_to_cstring(PG_GETARG_TEXT_PP(3)));
	appendStringInfo(&req, ", \"timeout_ms\": " INT64_FORMAT "}]", timeout_ms);

	args = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(req.data)));
	/* checked, as every HTTP task is, by taskq_check_task */

	PG_RETURN_DATUM(build_task_signature(taskq_http_request_fn(), args,
										 text_to_cstring(PG_GETARG_TEXT_PP(5)),
											   PG_ARGISNULL(6) ? 0 : PG_GETARG_INT32(6),
											   PG_ARGISNULL(7) ? NULL : PG_GETARG_INTERVAL_P(7),
											   PG_ARGISNULL(8) ? TASKQ_DEFAULT_MAX_ATTEMPTS : PG_GETARG_INT32(8),
											   NULL, true, NULL));
}

