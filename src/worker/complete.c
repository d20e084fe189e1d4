/*-------------------------------------------------------------------------
 *
 * complete.c
 *	  The completion of a batch: one UPDATE records every outcome, then the
 *	  advancer (workflow/advance.c) releases or fails what waits for the
 *	  tasks, in the same transaction.
 *
 *	  Each runs through a saved SPI plan; the caller has connected to SPI
 *	  inside a transaction with an active snapshot.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "miscadmin.h"
#include "utils/jsonb.h"

#include "shmem/shmem.h"
#include "workflow/workflow.h"
#include "worker/worker_internal.h"

/* the outcome of a task, as complete_sql reads it */
#define OUTCOME_SUCCEEDED	's'
#define OUTCOME_FAILED		'f'
#define OUTCOME_RETRY		'r'
#define OUTCOME_CANCELLED	'x'
#define OUTCOME_UNSTARTED	'u'
#define OUTCOME_CONTINUED	'w'

/*
 * One statement records a whole batch.  Unstarted tasks go back to the
 * queue with their attempt refunded.  Each outcome is passed as a "char":
 * OUTCOME_* below.  The ids are also given as the condition on the primary
 * key (t.id = ANY ($1)), so that no plan reaches the rows but through it:
 * joined only to the unnest, a generic plan made while the table looked
 * empty read all of it for every batch (test/t/050).
 */
static const char *complete_sql =
"UPDATE taskq.tasks t SET"
"  state = CASE u.kind WHEN 's' THEN 'succeeded' WHEN 'f' THEN 'failed' WHEN 'x' THEN 'cancelled'"
"          WHEN 'w' THEN 'waiting' ELSE 'queued' END,"
"  pending = CASE u.kind WHEN 'w' THEN 1 ELSE t.pending END,"
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
" WHERE t.id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[]) AND t.id OPERATOR(pg_catalog.=) u.id";

static SPIPlanPtr complete_plan = NULL;

/*
 * A continued task waits for its continuation's result-carrying task: an
 * edge of mode 'r' (workflow/advance.c ends the task when it succeeds, and
 * fails it when it fails), whose far end now has a dependent.
 */
static const char *continuations_sql =
"WITH c AS (SELECT * FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]),"
"                                   pg_catalog.unnest($2::pg_catalog.int8[])) AS c(task_id, exit_id)),"
" e AS (INSERT INTO taskq.dependencies (task_id, depends_on, position, mode)"
"       SELECT c.task_id, c.exit_id, 0, 'r' FROM c)"
" UPDATE taskq.tasks t SET has_dependents = true FROM c WHERE t.id OPERATOR(pg_catalog.=) c.exit_id";

static SPIPlanPtr continuations_plan = NULL;

static void
record_continuations(const TaskqClaimed *tasks, const TaskqOutcome *outcomes, int n)
{
	Oid			argtypes[2] = {INT8ARRAYOID, INT8ARRAYOID};
	int64	   *from = palloc(sizeof(int64) * Max(1, n));
	int64	   *to = palloc(sizeof(int64) * Max(1, n));
	Datum		values[2];
	int			m = 0;

	for (int i = 0; i < n; i++)
	{
		if (outcomes[i].kind != TASKQ_CONTINUED)
			continue;
		from[m] = tasks[i].id;
		to[m] = outcomes[i].continued_in;
		m++;
	}
	if (m == 0)
		return;
	taskq_saved_plan(&continuations_plan, continuations_sql, 2, argtypes);
	values[0] = taskq_int8_array(from, m);
	values[1] = taskq_int8_array(to, m);
	if (taskq_execute_plan(continuations_plan, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "pg_taskq: recording continuations failed");
}

/* A parked task waits for a signal of its owner's key, until its deadline. */
static const char *signal_waits_sql =
"INSERT INTO taskq.signal_waits (task_id, owner, key, deadline)"
" SELECT w.task_id, t.owner, w.key, w.deadline"
" FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), pg_catalog.unnest($2::pg_catalog.text[]),"
"                 pg_catalog.unnest($3::pg_catalog.timestamptz[])) AS w(task_id, key, deadline)"
" JOIN taskq.tasks t ON t.id OPERATOR(pg_catalog.=) w.task_id";

static SPIPlanPtr signal_waits_plan = NULL;

static void
record_signal_waits(const TaskqClaimed *tasks, const TaskqOutcome *outcomes, int n)
{
	Oid			argtypes[3] = {INT8ARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID};
	Datum	   *ids = palloc(sizeof(Datum) * Max(1, n));
	Datum	   *keys = palloc(sizeof(Datum) * Max(1, n));
	Datum	   *deadlines = palloc(sizeof(Datum) * Max(1, n));
	bool	   *no_deadline = palloc(sizeof(bool) * Max(1, n));
	Datum		values[3];
	int			m = 0;

	for (int i = 0; i < n; i++)
	{
		if (outcomes[i].kind != TASKQ_PARKED)
			continue;
		ids[m] = Int64GetDatum(tasks[i].id);
		keys[m] = CStringGetTextDatum(outcomes[i].await_key);
		deadlines[m] = TimestampTzGetDatum(outcomes[i].await_deadline);
		no_deadline[m] = outcomes[i].await_deadline == 0;
		m++;
	}
	if (m == 0)
		return;
	taskq_saved_plan(&signal_waits_plan, signal_waits_sql, 3, argtypes);
	values[0] = taskq_param_array(ids, NULL, m, INT8OID);
	values[1] = taskq_param_array(keys, NULL, m, TEXTOID);
	values[2] = taskq_param_array(deadlines, no_deadline, m, TIMESTAMPTZOID);
	if (taskq_execute_plan(signal_waits_plan, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "pg_taskq: recording signal waits failed");
	/* the workers learn of the new deadlines (worker/ticks.c) */
	taskq_schedules_changed_at_commit();
}

/* The failed attempts of a batch (retried or not), kept in taskq.attempts. */
static const char *attempts_sql =
"INSERT INTO taskq.attempts (task_id, attempt, error, sqlstate, started_at, finished_at, worker_pid)"
" SELECT u.id, u.attempt, u.error, u.sqlstate, u.started_at, u.finished_at, $7"
" FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), pg_catalog.unnest($2::pg_catalog.int4[]),"
"   pg_catalog.unnest($3::pg_catalog.text[]), pg_catalog.unnest($4::pg_catalog.text[]),"
"   pg_catalog.unnest($5::pg_catalog.timestamptz[]), pg_catalog.unnest($6::pg_catalog.timestamptz[]))"
"   AS u(id, attempt, error, sqlstate, started_at, finished_at)";

static SPIPlanPtr attempts_plan = NULL;

static void
record_failed_attempts(const TaskqClaimed *tasks, const TaskqOutcome *outcomes, int n)
{
	Oid			argtypes[7] = {INT8ARRAYOID, INT4ARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
	TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID, INT4OID};
	Datum	   *ids = NULL,
			   *attempts = NULL,
			   *errors = NULL,
			   *sqlstates = NULL,
			   *started = NULL,
			   *finished = NULL;
	Datum		values[7];
	int			m = 0;

	for (int i = 0; i < n; i++)
	{
		const TaskqOutcome *o = &outcomes[i];

		if (o->kind != TASKQ_FAILED && o->kind != TASKQ_RETRY)
			continue;
		if (ids == NULL)
		{
			ids = palloc(sizeof(Datum) * n);
			attempts = palloc(sizeof(Datum) * n);
			errors = palloc(sizeof(Datum) * n);
			sqlstates = palloc(sizeof(Datum) * n);
			started = palloc(sizeof(Datum) * n);
			finished = palloc(sizeof(Datum) * n);
		}
		ids[m] = Int64GetDatum(tasks[i].id);
		attempts[m] = Int32GetDatum(tasks[i].attempt);
		errors[m] = CStringGetTextDatum(o->error ? o->error : "");
		sqlstates[m] = CStringGetTextDatum(o->sqlstate);
		started[m] = TimestampTzGetDatum(o->started_at);
		finished[m] = TimestampTzGetDatum(o->finished_at);
		m++;
	}
	if (m == 0)
		return;					/* the common case: no statement at all */
	taskq_saved_plan(&attempts_plan, attempts_sql, 7, argtypes);
	values[0] = taskq_param_array(ids, NULL, m, INT8OID);
	values[1] = taskq_param_array(attempts, NULL, m, INT4OID);
	values[2] = taskq_param_array(errors, NULL, m, TEXTOID);
	values[3] = taskq_param_array(sqlstates, NULL, m, TEXTOID);
	values[4] = taskq_param_array(started, NULL, m, TIMESTAMPTZOID);
	values[5] = taskq_param_array(finished, NULL, m, TIMESTAMPTZOID);
	values[6] = Int32GetDatum(MyProcPid);
	if (taskq_execute_plan(attempts_plan, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "pg_taskq: recording failed attempts failed");
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
	int			ret;

	taskq_saved_plan(&complete_plan, complete_sql, 8, argtypes);

	for (int i = 0; i < n; i++)
	{
		const TaskqOutcome *o = &outcomes[i];
		char		kind;

		switch (o->kind)
		{
			case TASKQ_SUCCEEDED:
				kind = OUTCOME_SUCCEEDED;
				break;
			case TASKQ_FAILED:
				kind = OUTCOME_FAILED;
				break;
			case TASKQ_RETRY:
				kind = OUTCOME_RETRY;
				break;
			case TASKQ_CANCELLED:
				kind = OUTCOME_CANCELLED;
				break;
			case TASKQ_CONTINUED:
			case TASKQ_PARKED:
				kind = OUTCOME_CONTINUED;	/* both wait, holding no worker */
				break;
			default:
				kind = OUTCOME_UNSTARTED;
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

	values[0] = taskq_param_array(ids, NULL, n, INT8OID);
	values[1] = taskq_param_array(kinds, NULL, n, CHAROID);
	values[2] = taskq_param_array(results, results_null, n, JSONBOID);
	values[3] = taskq_param_array(errors, errors_null, n, TEXTOID);
	values[4] = taskq_param_array(sqlstates, NULL, n, TEXTOID);
	values[5] = taskq_param_array(started, NULL, n, TIMESTAMPTZOID);
	values[6] = taskq_param_array(finished, NULL, n, TIMESTAMPTZOID);
	values[7] = taskq_param_array(backoff, NULL, n, FLOAT8OID);

	ret = taskq_execute_plan(complete_plan, values, NULL, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "pg_taskq: recording task outcomes failed: %s", SPI_result_code_string(ret));
	record_failed_attempts(tasks, outcomes, n);
	record_continuations(tasks, outcomes, n);
	record_signal_waits(tasks, outcomes, n);

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
