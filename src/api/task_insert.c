/*-------------------------------------------------------------------------
 *
 * task_insert.c
 *	  The insertion of task rows, with the tables owner's rights (callers
 *	  have no write privilege on taskq.tasks; the task runs as the caller):
 *	  one task (taskq.enqueue, enqueue_trigger) or many of one function in
 *	  one statement (taskq.enqueue_many).  The caller has checked the
 *	  function, the arguments and the options.  Each inserting transaction
 *	  wakes the queue's workers once, when it commits.
 *
 *	  Unique keys belong to the role that enqueues (guarantee 7): the
 *	  unique index is on (owner, unique_key), so two roles' keys never meet,
 *	  and the lookup of the existing task (made with the owner's rights,
 *	  which row-level security does not restrict) is confined to the
 *	  caller's own tasks.  A task without a key is inserted by a statement
 *	  without ON CONFLICT: a speculative insertion costs a lock and a WAL
 *	  record more per row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "api/api_internal.h"
#include "shmem/shmem.h"

#define INSERT_COLUMNS \
	"INSERT INTO taskq.tasks (queue, fn, args, priority, run_at, max_attempts, timeout," \
	"                         owner, lock_key, lock_mode, unique_key)"

#define ON_KEY_CONFLICT \
	" ON CONFLICT (owner, unique_key) WHERE unique_key IS NOT NULL" \
	"   AND state IN " TASKQ_STATES_UNFINISHED_SQL " DO NOTHING"

/* $1 queue, $2 fn, $3 args, $4 priority, $5 run_at, $6 max_attempts, $7 timeout,
 * $8 owner, $9 lock_key, $10 lock_mode, $11 unique_key (or keys) */
#define INSERT_NARGS 11

static const char *insert_one_sql =
INSERT_COLUMNS " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL) RETURNING id";
static const char *insert_one_keyed_sql =
INSERT_COLUMNS " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)" ON_KEY_CONFLICT " RETURNING id";

/* the rows come out of the insertion, and RETURNING, in the arrays' order */
static const char *insert_many_sql =
INSERT_COLUMNS " SELECT $1, $2, a, $4, $5, $6, $7, $8, $9, $10, NULL"
" FROM pg_catalog.unnest($3) AS a RETURNING id";
static const char *insert_many_keyed_sql =
INSERT_COLUMNS " SELECT $1, $2, u.a, $4, $5, $6, $7, $8, $9, $10, u.k"
" FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($11)) AS u(a, k)" ON_KEY_CONFLICT " RETURNING id, unique_key";

static const char *existing_sql =
"SELECT id FROM taskq.tasks"
" WHERE owner OPERATOR(pg_catalog.=) $2 AND unique_key OPERATOR(pg_catalog.=) $1"
"   AND state IN " TASKQ_STATES_UNFINISHED_SQL;

static SPIPlanPtr insert_one_plan = NULL;
static SPIPlanPtr insert_one_keyed_plan = NULL;
static SPIPlanPtr insert_many_plan = NULL;
static SPIPlanPtr insert_many_keyed_plan = NULL;
static SPIPlanPtr existing_plan = NULL;

/*
 * The parameters every insertion has, $1 .. $10 (args and keys left to the
 * caller); the owner is the current user, so this comes before the switch
 * to the tables' owner.
 */
static void
fill_params(Oid fn, const EnqueueOptions *opt, Datum *values, char *nulls)
{
	memset(nulls, ' ', INSERT_NARGS);
	values[0] = CStringGetTextDatum(opt->queue);
	values[1] = ObjectIdGetDatum(fn);
	values[3] = Int32GetDatum(opt->priority);
	values[4] = TimestampTzGetDatum(opt->run_at);
	values[5] = Int32GetDatum(opt->max_attempts);
	values[6] = opt->timeout ? IntervalPGetDatum(opt->timeout) : (Datum) 0;
	nulls[6] = opt->timeout ? ' ' : 'n';
	values[7] = ObjectIdGetDatum(GetUserId());
	values[8] = opt->lock_key ? CStringGetTextDatum(opt->lock_key) : (Datum) 0;
	nulls[8] = opt->lock_key ? ' ' : 'n';
	values[9] = CharGetDatum(opt->lock_mode);
	nulls[9] = opt->lock_key ? ' ' : 'n';
	values[10] = (Datum) 0;
	nulls[10] = 'n';
}

static int64
first_id(void)
{
	bool		isnull;

	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * The unfinished task of owner (the caller: the current user is the tables'
 * owner by now) with this unique key, or 0 (SPI connected).
 */
static int64
existing_task(Datum key, Datum owner)
{
	Oid			argtypes[2] = {TEXTOID, REGROLEOID};
	Datum		values[2] = {key, owner};

	taskq_saved_plan(&existing_plan, existing_sql, 2, argtypes);
	if (taskq_execute_plan(existing_plan, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "pg_taskq: looking up the unique key failed");
	return SPI_processed == 1 ? first_id() : 0;
}

/*
 * Insert the task (or find the caller's unfinished one with the same
 * unique_key) and return its id.
 */
int64
taskq_insert_task(Oid fn, Jsonb *args, const EnqueueOptions *opt)
{
	Oid			argtypes[INSERT_NARGS] = {TEXTOID, REGPROCEDUREOID, JSONBOID, INT4OID,
		TIMESTAMPTZOID, INT4OID, INTERVALOID, REGROLEOID, TEXTOID, CHAROID, TEXTOID};
	Datum		values[INSERT_NARGS];
	char		nulls[INSERT_NARGS];
	TaskqRights rights;
	int64		id = 0;

	fill_params(fn, opt, values, nulls);
	values[2] = JsonbPGetDatum(args);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pg_taskq: SPI_connect failed");
	taskq_become_tables_owner(&rights);
	if (opt->unique_key == NULL)
	{
		taskq_saved_plan(&insert_one_plan, insert_one_sql, INSERT_NARGS - 1, argtypes);
		if (taskq_execute_plan(insert_one_plan, values, nulls, false, 1) != SPI_OK_INSERT_RETURNING ||
			SPI_processed != 1)
			elog(ERROR, "pg_taskq: inserting the task failed");
		id = first_id();
	}
	else
	{
		values[10] = PointerGetDatum(opt->unique_key);
		nulls[10] = ' ';
		taskq_saved_plan(&insert_one_keyed_plan, insert_one_keyed_sql, INSERT_NARGS, argtypes);
		/* a concurrent task with the same key may finish between the two steps */
		for (int tries = 0; tries < 5 && id == 0; tries++)
		{
			if (taskq_execute_plan(insert_one_keyed_plan, values, nulls, false, 1) != SPI_OK_INSERT_RETURNING)
				elog(ERROR, "pg_taskq: inserting the task failed");
			id = SPI_processed == 1 ? first_id() : existing_task(values[10], values[7]);
		}
	}
	taskq_restore_rights(&rights);
	SPI_finish();

	if (id == 0)
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("could not enqueue a task with unique key \"%s\"", text_to_cstring(opt->unique_key)),
				 errdetail("Tasks with that key kept appearing and finishing concurrently.")));

	taskq_wake_queue_at_commit(opt->queue);
	return id;
}

/*
 * Insert n tasks of fn in one statement: args is a jsonb[] of n non-null
 * elements, keys a text[] of n unique keys (NULL elements for none) or 0.
 * ids[i] is the task of args[i]: a new one, or the caller's unfinished task
 * with keys[i] (an earlier element's, if two have the same key).
 */
void
taskq_insert_tasks(Oid fn, Datum args, Datum keys, int n, const EnqueueOptions *opt, int64 *ids)
{
	Oid			argtypes[INSERT_NARGS] = {TEXTOID, REGPROCEDUREOID, JSONBARRAYOID, INT4OID,
		TIMESTAMPTZOID, INT4OID, INTERVALOID, REGROLEOID, TEXTOID, CHAROID, TEXTARRAYOID};
	Datum		values[INSERT_NARGS];
	char		nulls[INSERT_NARGS];
	TaskqRights rights;
	Datum	   *key_elems = NULL;
	bool	   *key_nulls = NULL;
	int			missing = 0;

	if (n == 0)
		return;
	fill_params(fn, opt, values, nulls);
	values[2] = args;
	if (keys != (Datum) 0)
	{
		int			nkeys;

		/* in the caller's memory: the last loop below reads them after SPI_finish */
		deconstruct_array(DatumGetArrayTypeP(keys), TEXTOID, -1, false, TYPALIGN_INT,
						  &key_elems, &key_nulls, &nkeys);
		Assert(nkeys == n);
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pg_taskq: SPI_connect failed");
	taskq_become_tables_owner(&rights);
	if (keys == (Datum) 0)
	{
		taskq_saved_plan(&insert_many_plan, insert_many_sql, INSERT_NARGS - 1, argtypes);
		if (taskq_execute_plan(insert_many_plan, values, nulls, false, 0) != SPI_OK_INSERT_RETURNING ||
			SPI_processed != (uint64) n)
			elog(ERROR, "pg_taskq: inserting the tasks failed");
		for (int i = 0; i < n; i++)
		{
			bool		isnull;

			ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		}
	}
	else
	{
		uint64		row = 0;

		values[10] = keys;
		nulls[10] = ' ';
		taskq_saved_plan(&insert_many_keyed_plan, insert_many_keyed_sql, INSERT_NARGS, argtypes);
		if (taskq_execute_plan(insert_many_keyed_plan, values, nulls, false, 0) != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "pg_taskq: inserting the tasks failed");

		/*
		 * The rows returned are those inserted, in the arrays' order; the
		 * elements missing from them met an unfinished task with their key.
		 */
		for (int i = 0; i < n; i++)
		{
			ids[i] = 0;
			if (row < SPI_processed)
			{
				bool		idnull;
				bool		keynull;
				Datum		id = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 1, &idnull);
				Datum		key = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 2, &keynull);

				if (key_nulls[i] ? keynull :
					(!keynull && DatumGetBool(DirectFunctionCall2Coll(texteq, C_COLLATION_OID, key, key_elems[i]))))
				{
					ids[i] = DatumGetInt64(id);
					row++;
				}
			}
			if (ids[i] == 0)
				missing++;
		}
		if (row != SPI_processed)
			elog(ERROR, "pg_taskq: the tasks inserted do not match their arguments");
		for (int i = 0; i < n && missing > 0; i++)
		{
			if (ids[i] == 0 && (ids[i] = existing_task(key_elems[i], values[7])) != 0)
				missing--;
		}
	}
	taskq_restore_rights(&rights);
	SPI_finish();

	/* the rare task whose key's holder finished meanwhile: one at a time */
	for (int i = 0; i < n && missing > 0; i++)
	{
		if (ids[i] == 0)
		{
			EnqueueOptions one = *opt;
			bool		isnull;
			ArrayType  *arr = DatumGetArrayTypeP(args);
			Datum		elem = array_ref(arr, 1, &(int) {i + 1}, -1, -1, false, TYPALIGN_INT, &isnull);

			one.unique_key = DatumGetTextPP(key_elems[i]);
			ids[i] = taskq_insert_task(fn, DatumGetJsonbP(elem), &one);
			missing--;
		}
	}
	taskq_wake_queue_at_commit_for(opt->queue, n);
}
