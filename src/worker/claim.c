/*-------------------------------------------------------------------------
 *
 * claim.c
 *	  The claim queries (FOR UPDATE SKIP LOCKED): due tasks of a queue,
 *	  and tasks with a lock key as far as their keys allow; with the next
 *	  due time of a queue and whether taskq.cancel asked to stop tasks.
 *	  complete.c records outcomes, recovery.c requeues orphans.
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

#include "shmem/shmem.h"
#include "worker/worker_internal.h"

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
 * (guarantee 7: a role never blocks, nor learns of, another role's keys), so
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
	/* held by another worker only for its few statements: shown if it waits */
	if (LockAcquire(&tag, ExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
	{
		taskq_set_my_state(TASKQ_WORKER_WAITING_LOCK, GetCurrentTimestamp());
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
		taskq_set_my_state(TASKQ_WORKER_CLAIMING, GetCurrentTimestamp());
	}
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
