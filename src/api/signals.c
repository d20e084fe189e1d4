/*-------------------------------------------------------------------------
 *
 * signals.c
 *	  Signals (docs/schedules.md, "Waiting"): taskq.signal(key, payload,
 *	  to_role) delivers a payload to the workflow steps waiting for that
 *	  key (built with taskq.await), or keeps it for the step that will;
 *	  taskq.await_signal_run(key, timeout), the function of such a step,
 *	  takes a signal already sent or parks the step: it then waits, holding
 *	  no worker, until a signal ends it with the payload as its result, or
 *	  its timeout fails it (worker/ticks.c).
 *
 *	  A key belongs to a role (the step's owner, the signal's to_role): a
 *	  role may signal the keys of the roles whose privileges it has, so a
 *	  webhook handler signals as a member of the role whose steps wait.
 *	  Signal and step meet under a lock of their (role, key), taken by both
 *	  until their transactions end, so a signal sent while the step parks
 *	  is never lost between them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "api/api.h"
#include "runners/runners.h"
#include "shmem/shmem.h"
#include "workflow/workflow.h"

PG_FUNCTION_INFO_V1(taskq_signal);
PG_FUNCTION_INFO_V1(taskq_await_signal_run);

/* the fourth field of the advisory locks of signal keys (see claim.c's 0x7471) */
#define TASKQ_SIGNAL_LOCK_SPACE 0x7472

/* Lock (role, key) until the transaction ends. */
static void
lock_signal_key(Oid role, const char *key)
{
	LOCKTAG		tag;
	uint64		h = hash_bytes_extended((const unsigned char *) key, (int) strlen(key), role);

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (h >> 32), (uint32) h, TASKQ_SIGNAL_LOCK_SPACE);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

static bool
caller_may_act_for(Oid role)
{
	return has_privs_of_role(GetUserId(), role) || taskq_caller_is_admin();
}

static SPIPlanPtr take_waits_plan = NULL;
static SPIPlanPtr keep_plan = NULL;
static SPIPlanPtr take_kept_plan = NULL;

/*
 * taskq.signal(key, payload, to_role): true if steps waited for it (they
 * end with payload as their result, and what waits for them goes on);
 * false if none did (it is kept for the first step that will).
 */
Datum
taskq_signal(PG_FUNCTION_ARGS)
{
	Oid			argtypes[4] = {OIDOID, TEXTOID, JSONBOID, OIDOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	char	   *key;
	Oid			role;
	TaskqRights rights;
	bool		delivered;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the key of a signal must not be null")));
	key = text_to_cstring(PG_GETARG_TEXT_PP(0));
	taskq_check_key_length("signal key", (int) strlen(key));
	role = PG_ARGISNULL(2) ? GetUserId() : PG_GETARG_OID(2);
	if (!caller_may_act_for(role))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to signal the keys of role %s", GetUserNameFromId(role, false)),
				 errdetail("A role signals its own keys and those of the roles whose privileges it has."),
				 errhint("Grant role %s to the signalling role, or signal as it.", GetUserNameFromId(role, false))));

	lock_signal_key(role, key);
	values[0] = ObjectIdGetDatum(role);
	values[1] = CStringGetTextDatum(key);
	values[2] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	nulls[2] = PG_ARGISNULL(1) ? 'n' : ' ';
	values[3] = ObjectIdGetDatum(GetUserId());

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pg_taskq: SPI_connect failed");
	taskq_become_tables_owner(&rights);

	/* the steps waiting for (role, key): they end, with the payload */
	taskq_saved_plan(&take_waits_plan,
					 "WITH w AS (DELETE FROM taskq.signal_waits w WHERE w.owner OPERATOR(pg_catalog.=) $1"
					 "           AND w.key OPERATOR(pg_catalog.=) $2 RETURNING w.task_id)"
					 " UPDATE taskq.tasks t SET state = 'succeeded', result = $3, pending = 0,"
					 "   finished_at = pg_catalog.now()"
					 " FROM w WHERE t.id OPERATOR(pg_catalog.=) w.task_id"
					 "   AND t.state OPERATOR(pg_catalog.=) 'waiting'"
					 " RETURNING t.id, t.has_dependents, t.workflow_id OPERATOR(pg_catalog.=) t.id",
					 3, argtypes);
	if (taskq_execute_plan(take_waits_plan, values, nulls, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "pg_taskq: delivering the signal failed");
	delivered = SPI_processed > 0;
	taskq_ended_without_worker();

	if (!delivered)
	{
		/* nobody waits yet: kept (a later signal of the key replaces it) */
		taskq_saved_plan(&keep_plan,
						 "INSERT INTO taskq.signals AS s (owner, key, payload, sent_by)"
						 " VALUES ($1, $2, $3, $4)"
						 " ON CONFLICT (owner, key) DO UPDATE SET payload = EXCLUDED.payload,"
						 "   sent_at = pg_catalog.now(), sent_by = EXCLUDED.sent_by",
						 4, argtypes);
		if (taskq_execute_plan(keep_plan, values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "pg_taskq: keeping the signal failed");
	}
	taskq_restore_rights(&rights);
	SPI_finish();
	PG_RETURN_BOOL(delivered);
}

/*
 * taskq.await_signal_run(key, timeout): the function of a step made by
 * taskq.await.  A signal already kept for the step's owner and key ends it
 * at once (its payload is the result); otherwise it parks the step (a
 * continuation the worker knows: worker/batch.c).
 */
Datum
taskq_await_signal_run(PG_FUNCTION_ARGS)
{
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		values[2];
	char	   *key;
	Oid			owner = GetUserId();
	TaskqRights rights;
	bool		kept;
	Jsonb	   *payload = NULL;
	bool		payload_null = true;
	StringInfoData buf;

	if (!taskq_in_task)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("taskq.await_signal_run runs only as a task"),
				 errhint("Build the step with taskq.await(key, timeout) and enqueue it.")));
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the key of a signal must not be null")));
	key = text_to_cstring(PG_GETARG_TEXT_PP(0));
	lock_signal_key(owner, key);

	values[0] = ObjectIdGetDatum(owner);
	values[1] = CStringGetTextDatum(key);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pg_taskq: SPI_connect failed");
	taskq_become_tables_owner(&rights);
	taskq_saved_plan(&take_kept_plan,
					 "DELETE FROM taskq.signals WHERE owner OPERATOR(pg_catalog.=) $1"
					 " AND key OPERATOR(pg_catalog.=) $2 RETURNING payload",
					 2, argtypes);
	if (taskq_execute_plan(take_kept_plan, values, NULL, false, 0) != SPI_OK_DELETE_RETURNING)
		elog(ERROR, "pg_taskq: reading the kept signals failed");
	kept = SPI_processed == 1;
	if (kept)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &payload_null);

		if (!payload_null)
			payload = DatumGetJsonbP(SPI_datumTransfer(d, false, -1));
	}
	taskq_restore_rights(&rights);
	SPI_finish();

	initStringInfo(&buf);
	if (kept)
	{
		/* the signal came first: the step ends now, with its payload */
		appendStringInfoString(&buf, "{\"task\": {\"fn\": \"taskq.collect(jsonb)\", \"args\": [");
		if (payload_null)
			appendStringInfoString(&buf, "null");
		else
			(void) JsonbToCString(&buf, &payload->root, VARSIZE(payload));
		appendStringInfoString(&buf, "], \"immutable\": true}}");
	}
	else
	{
		int64		timeout_ms = 0;

		if (!PG_ARGISNULL(1))
		{
			int64		timeout_us;

			if (!taskq_interval_usecs(PG_GETARG_INTERVAL_P(1), &timeout_us))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the timeout of a signal wait is too long")));
			timeout_ms = timeout_us / 1000;
			if (timeout_ms <= 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the timeout of a signal wait must be positive")));
		}
		appendStringInfoString(&buf, "{\"taskq.await\": {\"key\": ");
		escape_json(&buf, key);
		appendStringInfo(&buf, ", \"timeout_ms\": " INT64_FORMAT "}}", timeout_ms);
	}
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
