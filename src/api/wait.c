/*-------------------------------------------------------------------------
 *
 * wait.c
 *	  taskq.wait(id, timeout): block until a task is finished and return
 *	  its row.  The backend registers in shared memory and sleeps on its
 *	  latch; the worker that records the task's end sets it.  No polling.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "api/api.h"
#include "runners/runners.h"
#include "shmem/shmem.h"

PG_FUNCTION_INFO_V1(taskq_wait);

static SPIPlanPtr wait_plan = NULL;
static bool exit_callback_registered = false;

static const char *wait_sql =
"SELECT t, t.state, t.xmin FROM taskq.tasks t WHERE t.id OPERATOR(pg_catalog.=) $1";

static void
unregister_at_exit(int code, Datum arg)
{
	taskq_waiter_unregister();
}

static bool
is_final(const char *state)
{
	return strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
		strcmp(state, "cancelled") == 0;
}

/* Read the task row as the caller sees it (row-level security applies). */
static Datum
read_task(int64 id, bool *final, TransactionId *xmin)
{
	Datum		values[1] = {Int64GetDatum(id)};
	bool		isnull;
	char	   *state;

	if (taskq_execute_plan(wait_plan, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "pg_taskq: reading the task failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("task " INT64_FORMAT " does not exist", id)));
	state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	*final = is_final(state);
	*xmin = DatumGetTransactionId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
}

Datum
taskq_wait(PG_FUNCTION_ARGS)
{
	int64		id;
	volatile TimestampTz deadline = 0;
	volatile Datum row = (Datum) 0;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("task id must not be null")));
	id = PG_GETARG_INT64(0);
	if (!PG_ARGISNULL(1))
	{
		Interval   *timeout = PG_GETARG_INTERVAL_P(1);
		Interval	zero = {0};

		if (DatumGetBool(DirectFunctionCall2(interval_lt, IntervalPGetDatum(timeout),
											 IntervalPGetDatum(&zero))))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("timeout must not be negative")));
		deadline = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
														   TimestampTzGetDatum(GetCurrentTimestamp()),
														   IntervalPGetDatum(timeout)));
	}
	if (taskq_in_task)
	{
		/*
		 * A task that waits holds its worker, and with it its batch; the
		 * task waited for may be in that batch, or need that very worker
		 * (a queue of concurrency 1): it would wait for ever.
		 */
		taskq_fail_for_good = true;
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("taskq.wait cannot be called by a task"),
				 errdetail("A task that waits holds its worker, which may be the one that must run the task it waits for."),
				 errhint("Make what needs the other task's result a later step: taskq.chain(first, then), or the body of a taskq.chord.")));
	}
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("taskq.wait cannot be used in a REPEATABLE READ or SERIALIZABLE transaction"),
				 errdetail("Its snapshot would never show the task finishing."),
				 errhint("Call taskq.wait in a READ COMMITTED transaction, the default.")));

	if (!exit_callback_registered)
	{
		before_shmem_exit(unregister_at_exit, 0);
		exit_callback_registered = true;
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pg_taskq: SPI_connect failed");
	{
		Oid			argtypes[1] = {INT8OID};

		taskq_saved_plan(&wait_plan, wait_sql, 1, argtypes);
	}

	taskq_waiter_register(id);
	PG_TRY();
	{
		for (;;)
		{
			bool		final;
			TransactionId xmin;
			long		sleep_ms = taskq_poll_interval_ms;

			row = read_task(id, &final, &xmin);
			if (final)
				break;
			if (TransactionIdIsCurrentTransactionId(xmin))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("task " INT64_FORMAT " was enqueued by this transaction", id),
						 errhint("Commit the transaction first: the task cannot start before.")));
			if (deadline != 0)
			{
				TimestampTz now = GetCurrentTimestamp();

				if (now >= deadline)
					break;
				sleep_ms = Min(sleep_ms, TimestampDifferenceMilliseconds(now, deadline) + 1);
			}
			taskq_sleep(sleep_ms);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_FINALLY();
	{
		taskq_waiter_unregister();
	}
	PG_END_TRY();

	row = SPI_datumTransfer(row, false, -1);
	SPI_finish();
	PG_RETURN_DATUM(row);
}
