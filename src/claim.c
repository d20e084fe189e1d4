/*-------------------------------------------------------------------------
 *
 * claim.c
 *	  The statements a worker runs against taskq.tasks: the claim query
 *	  (FOR UPDATE SKIP LOCKED), the batched completion update, the recovery
 *	  of tasks orphaned by dead workers, and the next due time of a queue.
 *
 *	  Each runs through a saved SPI plan; the caller has connected to SPI
 *	  inside a transaction with an active snapshot.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "taskq.h"

/*
 * A run_alone task (it shared a batch that crashed) is claimed by itself;
 * otherwise up to $2 tasks that are not run_alone.  The ids are collected
 * into an array first so that the generic plan updates them through the
 * primary key, whatever the batch size.
 */
/*
 * Both claims end alike: the tasks whose ids the CTE c collected become
 * running, their attempt counted, and what the worker needs is returned.
 */
#define CLAIM_UPDATE \
" UPDATE taskq.tasks t SET state = 'running', attempt = t.attempt OPERATOR(pg_catalog.+) 1," \
"   started_at = pg_catalog.now(), worker_pid = $3, worker_token = $4," \
"   batched = pg_catalog.cardinality(c.ids) OPERATOR(pg_catalog.>) 1" \
" FROM c WHERE t.id OPERATOR(pg_catalog.=) ANY (c.ids)" \
" RETURNING t.id, t.fn::pg_catalog.oid, t.args, t.owner::pg_catalog.oid, t.attempt," \
"   t.max_attempts, t.priority, t.run_at," \
"   (pg_catalog.date_part('epoch', t.timeout) OPERATOR(pg_catalog.*) 1000)::pg_catalog.int4," \
"   t.has_dependents, t.workflow_id OPERATOR(pg_catalog.=) t.id, t.lock_key IS NOT NULL"

#define CLAIM_SQL(filter, limit) \
"WITH c AS MATERIALIZED (SELECT ARRAY(" \
"  SELECT id FROM taskq.tasks" \
"  WHERE queue OPERATOR(pg_catalog.=) $1 AND state OPERATOR(pg_catalog.=) 'queued'" \
"    AND run_at OPERATOR(pg_catalog.<=) pg_catalog.now() AND lock_key IS NULL AND " filter \
"  ORDER BY priority DESC, run_at, id" \
"  LIMIT " limit " FOR UPDATE SKIP LOCKED) AS ids)" \
CLAIM_UPDATE

static const char *claim_alone_sql = CLAIM_SQL("run_alone", "1 + 0 * $2");

/*
 * The parameters of the claims: queue, most tasks, pid, token; and, for the
 * claim of a lock key, the key and its owner.
 */
#define CLAIM_NARGS 6
static Oid	claim_argtypes[CLAIM_NARGS] = {TEXTOID, INT4OID, INT4OID, INT8OID, TEXTOID, OIDOID};

/* the fourth field of our advisory locks (lock_key below) */
#define TASKQ_KEY_LOCK_SPACE 0x7471

/*
 * Tasks with a lock key.  A key belongs to the role that owns the task
 * (SPEC 7.7: a role never blocks, nor learns of, another role's keys), so
 * a key is the pair (owner, lock_key).  The keys with due tasks in the
 * queue:
 */
static const char *lock_keys_sql =
"SELECT DISTINCT owner::pg_catalog.oid, lock_key FROM taskq.tasks"
" WHERE queue OPERATOR(pg_catalog.=) $1 AND state OPERATOR(pg_catalog.=) 'queued'"
"   AND lock_key IS NOT NULL AND run_at OPERATOR(pg_catalog.<=) pg_catalog.now()"
" LIMIT 32";

/*
 * Then, with a snapshot taken after the key's lock (see lock_key below),
 * the tasks of the key that may start, first come first served: none while
 * an exclusive holder runs; an exclusive task when it is first in line and
 * nothing runs; shared tasks from the head of the line up to the first
 * exclusive one (which later shared tasks may not overtake).
 */
#define CLAIM_LOCKED_SQL \
"WITH line AS (" \
"  SELECT id, lock_mode, run_at, pg_catalog.row_number() OVER (ORDER BY id) AS rn" \
"  FROM taskq.tasks WHERE queue OPERATOR(pg_catalog.=) $1 AND owner OPERATOR(pg_catalog.=) $6" \
"    AND lock_key OPERATOR(pg_catalog.=) $5 AND state OPERATOR(pg_catalog.=) 'queued')," \
" holders AS (SELECT lock_mode FROM taskq.tasks WHERE owner OPERATOR(pg_catalog.=) $6" \
"    AND lock_key OPERATOR(pg_catalog.=) $5 AND state OPERATOR(pg_catalog.=) 'running')," \
" first_x AS (SELECT pg_catalog.min(rn) AS rn FROM line WHERE lock_mode OPERATOR(pg_catalog.=) 'x')," \
" c AS MATERIALIZED (SELECT ARRAY(" \
"  SELECT l.id FROM line l, first_x f" \
"  WHERE l.run_at OPERATOR(pg_catalog.<=) pg_catalog.now()" \
"    AND NOT EXISTS (SELECT FROM holders h WHERE h.lock_mode OPERATOR(pg_catalog.=) 'x')" \
"    AND CASE WHEN l.lock_mode OPERATOR(pg_catalog.=) 'x'" \
"             THEN l.rn OPERATOR(pg_catalog.=) 1 AND NOT EXISTS (SELECT FROM holders)" \
"             ELSE l.rn OPERATOR(pg_catalog.<) COALESCE(f.rn, 9223372036854775807) END" \
"  ORDER BY l.id LIMIT $2) AS ids)" \
CLAIM_UPDATE

static const char *claim_locked_sql = CLAIM_LOCKED_SQL;
static const char *claim_batch_sql = CLAIM_SQL("NOT run_alone", "$2");

/*
 * One statement records a whole batch.  Unstarted tasks go back to the
 * queue with their attempt refunded.
 */
static const char *complete_sql =
"UPDATE taskq.tasks t SET"
"  state = CASE u.kind WHEN 's' THEN 'succeeded' WHEN 'f' THEN 'failed' WHEN 'x' THEN 'cancelled'"
"          ELSE 'queued' END,"
"  attempt = CASE u.kind WHEN 'u' THEN t.attempt OPERATOR(pg_catalog.-) 1 ELSE t.attempt END,"
"  result = CASE u.kind WHEN 's' THEN u.result ELSE t.result END,"
"  error = CASE u.kind WHEN 's' THEN NULL WHEN 'u' THEN t.error ELSE u.error END,"
"  sqlstate = CASE u.kind WHEN 's' THEN NULL WHEN 'u' THEN t.sqlstate ELSE u.sqlstate END,"
"  started_at = CASE u.kind WHEN 'u' THEN NULL ELSE u.started_at END,"
"  finished_at = CASE WHEN u.kind IN ('s', 'f', 'x') THEN u.finished_at END,"
"  run_at = CASE u.kind WHEN 'r' THEN u.finished_at OPERATOR(pg_catalog.+)"
"              pg_catalog.make_interval(secs => u.backoff) ELSE t.run_at END,"
"  worker_pid = CASE u.kind WHEN 'u' THEN NULL ELSE t.worker_pid END,"
"  worker_token = NULL, run_alone = false"
" FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]),"
"   pg_catalog.unnest($2::pg_catalog.\"char\"[]), pg_catalog.unnest($3::pg_catalog.jsonb[]),"
"   pg_catalog.unnest($4::pg_catalog.text[]), pg_catalog.unnest($5::pg_catalog.text[]),"
"   pg_catalog.unnest($6::pg_catalog.timestamptz[]), pg_catalog.unnest($7::pg_catalog.timestamptz[]),"
"   pg_catalog.unnest($8::pg_catalog.float8[]))"
"   AS u(id, kind, result, error, sqlstate, started_at, finished_at, backoff)"
" WHERE t.id OPERATOR(pg_catalog.=) u.id";

/*
 * Running tasks whose claim token belongs to no living worker.  A task
 * alone in its batch is charged the attempt (and fails when it has none
 * left); one that shared its batch is refunded and will run alone, unless
 * it is an HTTP request ($2), which cannot have crashed the worker.
 */
static const char *recover_sql =
"UPDATE taskq.tasks t SET"
"  state = CASE WHEN t.cancel_requested THEN 'cancelled'"
"          WHEN NOT t.batched AND t.attempt OPERATOR(pg_catalog.>=) t.max_attempts"
"          THEN 'failed' ELSE 'queued' END,"
"  attempt = CASE WHEN t.batched THEN t.attempt OPERATOR(pg_catalog.-) 1 ELSE t.attempt END,"
"  error = CASE WHEN t.batched THEN t.error"
"          ELSE pg_catalog.format('worker (pid %s) ended while running attempt %s of %s',"
"                                 t.worker_pid, t.attempt, t.max_attempts) END,"
"  sqlstate = CASE WHEN t.batched THEN t.sqlstate ELSE '57P01' END,"
"  finished_at = CASE WHEN t.cancel_requested OR (NOT t.batched AND"
"          t.attempt OPERATOR(pg_catalog.>=) t.max_attempts) THEN pg_catalog.now() END,"
"  run_alone = t.batched AND t.fn OPERATOR(pg_catalog.<>) $2, batched = false, worker_token = NULL,"
"  run_at = pg_catalog.now()"
" WHERE t.state OPERATOR(pg_catalog.=) 'running'"
"   AND t.worker_token OPERATOR(pg_catalog.<>) ALL ($1::pg_catalog.int8[])"
" RETURNING t.queue, t.id, t.state IN ('failed', 'cancelled'), t.has_dependents,"
"   t.state OPERATOR(pg_catalog.=) 'cancelled'";

/*
 * Two parts, one per claim index: tasks without a lock key, and keyed tasks
 * not yet due (a due one waiting for its key is woken when the key is
 * freed).  One WHERE clause with an OR could use neither index.
 */
static const char *next_due_sql =
"SELECT (pg_catalog.date_part('epoch', LEAST("
"   (SELECT pg_catalog.min(run_at) FROM taskq.tasks"
"     WHERE queue OPERATOR(pg_catalog.=) $1 AND state OPERATOR(pg_catalog.=) 'queued'"
"       AND lock_key IS NULL),"
"   (SELECT pg_catalog.min(run_at) FROM taskq.tasks"
"     WHERE queue OPERATOR(pg_catalog.=) $1 AND state OPERATOR(pg_catalog.=) 'queued'"
"       AND lock_key IS NOT NULL AND run_at OPERATOR(pg_catalog.>) pg_catalog.now()))"
"   OPERATOR(pg_catalog.-) pg_catalog.clock_timestamp()) OPERATOR(pg_catalog.*) 1000)::pg_catalog.int8";

static SPIPlanPtr claim_alone_plan = NULL;
static SPIPlanPtr lock_keys_plan = NULL;
static SPIPlanPtr claim_locked_plan = NULL;
static SPIPlanPtr claim_batch_plan = NULL;
static SPIPlanPtr complete_plan = NULL;
static SPIPlanPtr recover_plan = NULL;
static SPIPlanPtr next_due_plan = NULL;

/*
 * Run one of the claim statements and fill out[0..] with the claimed tasks,
 * their arguments copied into cxt (SPI's memory goes at SPI_finish).
 */
static int
claim_with(SPIPlanPtr plan, const char *queue, int max, int64 token, TaskqClaimed *out,
		   Oid key_owner, const char *lock_key, MemoryContext cxt)
{
	Datum		values[CLAIM_NARGS];
	int			ret;
	uint64		n;
	MemoryContext oldcontext;

	values[0] = CStringGetTextDatum(queue);
	values[1] = Int32GetDatum(max);
	values[2] = Int32GetDatum(MyProcPid);
	values[3] = Int64GetDatum(token);
	values[4] = lock_key ? CStringGetTextDatum(lock_key) : (Datum) 0;
	values[5] = ObjectIdGetDatum(key_owner);
	ret = taskq_execute_plan(plan, values, lock_key ? NULL : "    nn", false, 0);
	if (ret != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "pg_taskq: claim failed: %s", SPI_result_code_string(ret));

	n = SPI_processed;
	oldcontext = MemoryContextSwitchTo(cxt);
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		TaskqClaimed *t = &out[i];
		Datum		d;

		t->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		t->fn = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
		d = SPI_getbinval(tup, desc, 3, &isnull);
		/* copied out of SPI memory into the caller's (the batch) context */
		t->args = DatumGetJsonbPCopy(d);
		t->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
		t->attempt = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));
		t->max_attempts = DatumGetInt32(SPI_getbinval(tup, desc, 6, &isnull));
		t->priority = DatumGetInt32(SPI_getbinval(tup, desc, 7, &isnull));
		t->run_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 8, &isnull));
		d = SPI_getbinval(tup, desc, 9, &isnull);
		t->timeout_ms = isnull ? 0 : Max(1, DatumGetInt32(d));
		t->has_dependents = DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull));
		d = SPI_getbinval(tup, desc, 11, &isnull);
		t->carries_workflow_result = !isnull && DatumGetBool(d);
		t->holds_lock = DatumGetBool(SPI_getbinval(tup, desc, 12, &isnull));
	}
	MemoryContextSwitchTo(oldcontext);
	return (int) n;
}

/* Order of execution within a batch: priority, then run_at, then id. */
static int
claimed_cmp(const void *a, const void *b)
{
	const TaskqClaimed *x = a;
	const TaskqClaimed *y = b;

	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	if (x->run_at != y->run_at)
		return x->run_at < y->run_at ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return 0;
}

/*
 * Claim up to max due tasks of the queue for the worker with this token.
 * The caller commits; the claimed tasks are then running, attempt counted.
 * Their arguments are allocated in cxt.
 */
int
taskq_claim(const char *queue, int max, int64 token, TaskqClaimed *out, MemoryContext cxt)
{
	int			n;

	taskq_saved_plan(&claim_alone_plan, claim_alone_sql, CLAIM_NARGS, claim_argtypes);
	taskq_saved_plan(&claim_batch_plan, claim_batch_sql, CLAIM_NARGS, claim_argtypes);

	n = claim_with(claim_alone_plan, queue, 1, token, out, InvalidOid, NULL, cxt);
	if (n == 0)
		n = claim_with(claim_batch_plan, queue, max, token, out, InvalidOid, NULL, cxt);
	qsort(out, n, sizeof(TaskqClaimed), claimed_cmp);
	return n;
}

/* a key with due tasks, and the 64-bit hash its lock is named by */
typedef struct DueKey
{
	uint64		hash;
	Oid			owner;
	char	   *key;
} DueKey;

static int
due_key_cmp(const void *a, const void *b)
{
	const DueKey *x = a;
	const DueKey *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return 0;
}

/*
 * Lock a key until the transaction ends, so that two workers never both see
 * it free.  The lock lives in a space of its own: an advisory lock whose
 * fourth field is one no SQL function can name (pg_advisory_lock uses 1 and
 * 2), so no session but a worker can ever hold it and stop a queue.  Workers
 * hold it only for the few statements of a claim.
 */
static void
lock_key(const DueKey *k)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (k->hash >> 32), (uint32) k->hash,
						 TASKQ_KEY_LOCK_SPACE);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/*
 * Claim up to max due tasks of the queue that have a lock key, as far as
 * their keys allow.  The keys are locked in the order of their hashes, the
 * same in every worker, so that two workers claiming several keys can never
 * wait for each other in a circle (two keys with the same hash share a
 * lock, which we then hold twice).  Their arguments are allocated in cxt.
 */
int
taskq_claim_locked(const char *queue, int max, int64 token, TaskqClaimed *out,
				   MemoryContext cxt)
{
	Oid			keytypes[1] = {TEXTOID};
	Datum		values[1];
	SPITupleTable *found;
	DueKey	   *keys;
	int			nkeys;
	int			n = 0;

	taskq_saved_plan(&lock_keys_plan, lock_keys_sql, 1, keytypes);
	values[0] = CStringGetTextDatum(queue);
	if (taskq_execute_plan(lock_keys_plan, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_taskq: looking for lock keys failed");
	found = SPI_tuptable;
	nkeys = (int) SPI_processed;
	keys = palloc(sizeof(DueKey) * Max(1, nkeys));
	for (int k = 0; k < nkeys; k++)
	{
		bool		isnull;

		keys[k].owner = DatumGetObjectId(SPI_getbinval(found->vals[k], found->tupdesc, 1, &isnull));
		keys[k].key = SPI_getvalue(found->vals[k], found->tupdesc, 2);
		keys[k].hash = hash_bytes_extended((const unsigned char *) keys[k].key,
										   (int) strlen(keys[k].key), keys[k].owner);
	}
	qsort(keys, nkeys, sizeof(DueKey), due_key_cmp);

	taskq_saved_plan(&claim_locked_plan, claim_locked_sql, CLAIM_NARGS, claim_argtypes);
	for (int k = 0; k < nkeys && n < max; k++)
	{
		lock_key(&keys[k]);
		n += claim_with(claim_locked_plan, queue, max - n, token, out + n,
						keys[k].owner, keys[k].key, cxt);
	}
	return n;
}

static void complete_rows(const TaskqClaimed *tasks, const TaskqOutcome *outcomes, int n);

/*
 * Record the outcomes of a batch, in the caller's transaction; tasks whose
 * HTTP request is still in flight are left as they are.
 */
void
taskq_complete(const TaskqClaimed *tasks, const TaskqOutcome *outcomes, int n)
{
	TaskqClaimed *t = palloc(sizeof(TaskqClaimed) * Max(1, n));
	TaskqOutcome *o = palloc(sizeof(TaskqOutcome) * Max(1, n));
	int			m = 0;

	for (int i = 0; i < n; i++)
	{
		if (outcomes[i].kind == TASKQ_IN_FLIGHT)
			continue;
		t[m] = tasks[i];
		o[m] = outcomes[i];
		m++;
	}
	if (m > 0)
		complete_rows(t, o, m);
}

/* Record outcomes, none in flight. */
static void
complete_rows(const TaskqClaimed *tasks, const TaskqOutcome *outcomes, int n)
{
	Oid			argtypes[8] = {INT8ARRAYOID, CHARARRAYOID, JSONBARRAYOID, TEXTARRAYOID,
	TEXTARRAYOID, TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID, FLOAT8ARRAYOID};
	Datum	   *ids = palloc(sizeof(Datum) * n);
	Datum	   *kinds = palloc(sizeof(Datum) * n);
	Datum	   *results = palloc(sizeof(Datum) * n);
	bool	   *results_null = palloc(sizeof(bool) * n);
	Datum	   *errors = palloc(sizeof(Datum) * n);
	bool	   *errors_null = palloc(sizeof(bool) * n);
	Datum	   *sqlstates = palloc(sizeof(Datum) * n);
	Datum	   *started = palloc(sizeof(Datum) * n);
	Datum	   *finished = palloc(sizeof(Datum) * n);
	Datum	   *backoff = palloc(sizeof(Datum) * n);
	Datum		values[8];
	bool		nulls_unused[8];
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int			ret;

	taskq_saved_plan(&complete_plan, complete_sql, 8, argtypes);

	for (int i = 0; i < n; i++)
	{
		const TaskqOutcome *o = &outcomes[i];
		char		kind;

		switch (o->kind)
		{
			case TASKQ_SUCCEEDED:
				kind = 's';
				break;
			case TASKQ_FAILED:
				kind = 'f';
				break;
			case TASKQ_RETRY:
				kind = 'r';
				break;
			case TASKQ_CANCELLED:
				kind = 'x';
				break;
			default:
				kind = 'u';
				break;
		}
		ids[i] = Int64GetDatum(tasks[i].id);
		kinds[i] = CharGetDatum(kind);
		results[i] = o->result ? JsonbPGetDatum(o->result) : (Datum) 0;
		results_null[i] = o->result == NULL;
		errors[i] = o->error ? CStringGetTextDatum(o->error) : (Datum) 0;
		errors_null[i] = o->error == NULL;
		sqlstates[i] = CStringGetTextDatum(o->sqlstate);
		started[i] = TimestampTzGetDatum(o->started_at);
		finished[i] = TimestampTzGetDatum(o->finished_at);
		backoff[i] = Float8GetDatum(o->backoff_s);
	}

	values[0] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, true, TYPALIGN_DOUBLE));
	values[1] = PointerGetDatum(construct_array(kinds, n, CHAROID, 1, true, TYPALIGN_CHAR));
	values[2] = PointerGetDatum(construct_md_array(results, results_null, 1, dims, lbs,
												   JSONBOID, -1, false, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_md_array(errors, errors_null, 1, dims, lbs,
												   TEXTOID, -1, false, TYPALIGN_INT));
	values[4] = PointerGetDatum(construct_array(sqlstates, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[5] = PointerGetDatum(construct_array(started, n, TIMESTAMPTZOID, 8, true, TYPALIGN_DOUBLE));
	values[6] = PointerGetDatum(construct_array(finished, n, TIMESTAMPTZOID, 8, true, TYPALIGN_DOUBLE));
	values[7] = PointerGetDatum(construct_array(backoff, n, FLOAT8OID, 8, true, TYPALIGN_DOUBLE));
	(void) nulls_unused;

	ret = taskq_execute_plan(complete_plan, values, NULL, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "pg_taskq: recording task outcomes failed: %s", SPI_result_code_string(ret));

	/* workflow steps: release or fail what waits for them, in this transaction */
	{
		int64	   *succeeded = palloc(sizeof(int64) * n);
		int			nsucceeded = 0;
		int64	   *workflows_done = palloc(sizeof(int64) * n);
		int			nworkflows_done = 0;

		for (int i = 0; i < n; i++)
		{
			if (!tasks[i].has_dependents)
				continue;
			if (outcomes[i].kind == TASKQ_SUCCEEDED)
			{
				succeeded[nsucceeded++] = tasks[i].id;
				if (tasks[i].carries_workflow_result)
					workflows_done[nworkflows_done++] = tasks[i].id;
			}
			else if (outcomes[i].kind == TASKQ_FAILED)
				taskq_advance_failed(tasks[i].id, false);
			else if (outcomes[i].kind == TASKQ_CANCELLED)
				taskq_advance_failed(tasks[i].id, true);
		}
		taskq_advance_succeeded(succeeded, nsucceeded);
		taskq_cancel_error_callbacks(workflows_done, nworkflows_done);
	}
}

/*
 * Requeue (or fail) tasks orphaned by workers that died, and wake the
 * workers of their queues.  Returns how many tasks were recovered.
 */
int
taskq_recover_orphans(void)
{
	Oid			argtypes[2] = {INT8ARRAYOID, OIDOID};
	int			max = taskq_max_slots();
	int64	   *tokens = palloc(sizeof(int64) * (max + 1));
	Datum		values[2];
	int			ret;
	uint64		n;

	taskq_saved_plan(&recover_plan, recover_sql, 2, argtypes);
	values[0] = taskq_int8_array(tokens, taskq_live_tokens(tokens, max));
	/* an HTTP request does not crash a worker: no need to isolate it */
	values[1] = ObjectIdGetDatum(taskq_http_request_fn());
	ret = taskq_execute_plan(recover_plan, values, NULL, false, 0);
	if (ret != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "pg_taskq: orphan recovery failed: %s", SPI_result_code_string(ret));
	n = SPI_processed;
	if (n > 0)
		ereport(LOG,
				(errmsg("pg_taskq recovered " UINT64_FORMAT " task(s) left running by workers that ended", n)));
	{
		SPITupleTable *recovered = SPI_tuptable;

		for (uint64 i = 0; i < n; i++)
		{
			HeapTuple	tup = recovered->vals[i];
			bool		isnull;

			int64		id = DatumGetInt64(SPI_getbinval(tup, recovered->tupdesc, 2, &isnull));

			taskq_wake_queue(SPI_getvalue(tup, recovered->tupdesc, 1));
			if (!DatumGetBool(SPI_getbinval(tup, recovered->tupdesc, 3, &isnull)))
				continue;
			/* it crashed for the last time: it has ended, and so have its dependents */
			taskq_wake_waiters_at_commit(id);
			if (DatumGetBool(SPI_getbinval(tup, recovered->tupdesc, 4, &isnull)))
				taskq_advance_failed(id, DatumGetBool(SPI_getbinval(tup, recovered->tupdesc, 5, &isnull)));
		}
	}
	return (int) n;
}

/* Milliseconds until the queue's next queued task is due; -1 if none. */
long
taskq_ms_until_next_due(const char *queue)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	Datum		d;
	int64		ms;

	taskq_saved_plan(&next_due_plan, next_due_sql, 1, argtypes);
	values[0] = CStringGetTextDatum(queue);
	if (taskq_execute_plan(next_due_plan, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		return -1;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return -1;
	ms = DatumGetInt64(d);
	if (ms < 0)
		return 0;
	return ms > LONG_MAX ? LONG_MAX : (long) ms;
}

static SPIPlanPtr cancel_requested_plan = NULL;

/*
 * Of the tasks ids[0..n-1], those taskq.cancel asked to stop: stored in
 * out, their number returned.
 */
int
taskq_which_cancel_requested(const int64 *ids, int n, int64 *out)
{
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		values[1];
	int			found = 0;

	if (n == 0)
		return 0;
	taskq_saved_plan(&cancel_requested_plan,
					 "SELECT id FROM taskq.tasks WHERE id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[])"
					 " AND cancel_requested", 1, argtypes);
	values[0] = taskq_int8_array(ids, n);
	if (taskq_execute_plan(cancel_requested_plan, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_taskq: looking for cancelled tasks failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		out[found++] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	return found;
}

/* Did taskq.cancel ask to stop this task? */
bool
taskq_cancel_requested(int64 id)
{
	int64		out;

	return taskq_which_cancel_requested(&id, 1, &out) == 1;
}
