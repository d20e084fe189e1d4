/*-------------------------------------------------------------------------
 *
 * batch.c
 *	  One batch of a worker: claim due tasks of its queue, run them one
 *	  after the other (a SQL task in a subtransaction as its owner; an HTTP
 *	  task is started and recorded when it ends), and record every outcome
 *	  in the transaction that holds their effects, where the next batch is
 *	  claimed too.  run_batch below says how.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "commands/dbcommands.h"
#include "commands/trigger.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/datum.h"
#include "utils/regproc.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "runners/runners.h"
#include "shmem/shmem.h"
#include "worker/worker_internal.h"

/* who this worker is (loop.c says, at start) */
static int	my_slot = -1;
static char my_queue[NAMEDATALEN];
static int	my_index;
static int64 my_token;

/* the context of the batch being run: its tasks, their outcomes */
static MemoryContext batch_context = NULL;

/* moving average of how long this worker's tasks take, or -1 before any */
static double task_us_estimate = -1;

/*
 * Does the task's owner still exist?  DROP ROLE does not know of tasks (they
 * may be in any database of the cluster): a dropped owner's tasks fail at
 * once, for good, when a worker reaches them.
 */
static bool
owner_exists(Oid owner)
{
	if (SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(owner)))
		return true;
	taskq_fail_for_good = true;
	return false;
}

/*
 * After an attempt failed with a data exception (class 22: a value of the
 * wrong shape, out of range...): is it its arguments, which can never be
 * converted to the function's parameter types?  Then no retry can help.
 * Tried in a subtransaction of its own, as the task's owner.
 */
static bool
arguments_never_convert(const TaskqClaimed *task, Oid save_userid, int save_sec_context)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool bad = false;

	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		SetUserIdAndSecContext(task->owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
		taskq_convert_sql_task_args(task->fn, task->args);
		SetUserIdAndSecContext(save_userid, save_sec_context);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcontext);
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		SetUserIdAndSecContext(save_userid, save_sec_context);
		bad = true;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcontext);
	CurrentResourceOwner = oldowner;
	return bad;
}

/*
 * Is the continuation a task returned the marker of a signal wait
 * (api/signals.c: {"taskq.await": {"key": ..., "timeout_ms": ...}})?  Then
 * the task parks: its key and deadline are noted in its outcome, in the
 * batch's memory.
 */
static bool
parks(Jsonb *result, TaskqOutcome *out)
{
	JsonbValue *await = taskq_jsonb_member(&result->root, "taskq.await");
	JsonbValue *timeout;
	char	   *key;
	MemoryContext old;

	if (await == NULL || await->type != jbvBinary ||
		!taskq_jsonb_string(await->val.binary.data, "key", &key) || key == NULL)
		return false;
	old = MemoryContextSwitchTo(batch_context);
	out->await_key = pstrdup(key);
	MemoryContextSwitchTo(old);
	timeout = taskq_jsonb_member(await->val.binary.data, "timeout_ms");
	out->await_deadline = 0;
	if (timeout && timeout->type == jbvNumeric)
	{
		int64		ms = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(timeout->val.numeric)));

		/* a task's own result may carry any number: past the end is never */
		if (ms > 0)
			out->await_deadline = ms > PG_INT64_MAX / 1000 ? DT_NOEND :
				taskq_time_after(GetCurrentTimestamp(), ms * 1000);
	}
	return true;
}

/*
 * Enqueue a signature made by a task (its continuation, or a schedule's
 * tick) as the current user: the caller has switched to the task's owner.
 * Returns the id of the task that will carry its result; "what" names it in
 * the error of a failure that should not happen.
 */
int64
taskq_enqueue_made(Datum sig, const char *what)
{
	Oid			argtypes[1] = {JSONBOID};
	Datum		values[1] = {sig};
	bool		isnull;

	if (taskq_execute_once("SELECT taskq.enqueue($1::taskq.signature)", 1, argtypes, values,
						   NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "pg_taskq: enqueueing %s failed", what);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Run one task in a subtransaction, as its owner, with its timeout armed,
 * and fill in its outcome.  Errors are caught and recorded; the
 * subtransaction's rollback removes the task's effects.
 */
static void
run_one(const TaskqClaimed *task, TaskqOutcome *out)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Oid			save_userid;
	int			save_sec_context;
	char		activity[NAMEDATALEN * 2 + 64];

	snprintf(activity, sizeof(activity), "task " INT64_FORMAT ": %s",
			 task->id, format_procedure(task->fn));
	pgstat_report_activity(STATE_RUNNING, activity);
	memset(out, 0, sizeof(*out));
	out->ran = true;
	out->started_at = GetCurrentTimestamp();
	taskq_set_my_state(TASKQ_WORKER_RUNNING, out->started_at);

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);

	/* taskq.cancel may interrupt this task (SIGINT), and only this task */
	taskq_slot_set_task(my_slot, task->id);
	RESUME_CANCEL_INTERRUPTS();

	PG_TRY();
	{
		int			guc_level;
		Jsonb	   *result;
		bool		continues;
		int64		continued_in = 0;

		taskq_fail_for_good = false;
		if (!owner_exists(task->owner))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("the role that enqueued the task no longer exists"),
					 errdetail("Role %u was dropped after the task was enqueued; its tasks cannot run.",
							   task->owner)));

		/* as the owner; SET ROLE back to the worker's superuser is refused */
		SetUserIdAndSecContext(task->owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
		guc_level = NewGUCNestLevel();
		if (task->timeout_ms > 0)
			enable_timeout_after(STATEMENT_TIMEOUT, task->timeout_ms);

		taskq_in_task = true;
		result = taskq_run_sql_task(task->fn, task->args, &continues);

		/*
		 * The task's deferred constraints and triggers are checked now, as
		 * they would be at the commit of a transaction of its own: left to
		 * the batch's commit, a violation would fail every task of the
		 * batch, and end the worker, instead of this task alone.  (Its
		 * triggers are still the task's: taskq_in_task stays set.)
		 */
		AfterTriggerFireDeferred();
		taskq_in_task = false;

		/*
		 * A continuation: the signature the task returned is enqueued now,
		 * as the task's owner, in the task's subtransaction (a signature
		 * that cannot be enqueued is the task's error); the task then
		 * waits for it, holding no worker (worker/complete.c).
		 */
		if (continues && !parks(result, out))
			continued_in = taskq_enqueue_made(JsonbPGetDatum(result), "the continuation");

		HOLD_CANCEL_INTERRUPTS();
		if (task->timeout_ms > 0)
			disable_timeout(STATEMENT_TIMEOUT, false);
		/* settings the task changed do not leak into the next task */
		AtEOXact_GUC(false, guc_level);
		SetUserIdAndSecContext(save_userid, save_sec_context);

		MemoryContextSwitchTo(batch_context);
		out->result = result ? (Jsonb *) datumCopy(JsonbPGetDatum(result), false, -1) : NULL;
		MemoryContextSwitchTo(oldcontext);

		taskq_task_isolation_before_release();
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		out->kind = out->await_key ? TASKQ_PARKED :
			continued_in != 0 ? TASKQ_CONTINUED : TASKQ_SUCCEEDED;
		out->continued_in = continued_in;
		if (continued_in != 0 || out->await_key)
			out->result = NULL;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		HOLD_CANCEL_INTERRUPTS();
		taskq_in_task = false;
		if (task->timeout_ms > 0)
			disable_timeout(STATEMENT_TIMEOUT, false);

		MemoryContextSwitchTo(batch_context);
		edata = CopyErrorData();
		FlushErrorState();

		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		SetUserIdAndSecContext(save_userid, save_sec_context);

		out->error = edata->message ? edata->message : pstrdup("unknown error");
		strlcpy(out->sqlstate, unpack_sql_state(edata->sqlerrcode), sizeof(out->sqlstate));
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED &&
			taskq_cancel_requested(task->id))
		{
			out->kind = TASKQ_CANCELLED;
			out->error = "cancelled by taskq.cancel while it ran";
		}
		else if (task->attempt >= task->max_attempts || taskq_fail_for_good)
			out->kind = TASKQ_FAILED;
		else if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_DATA_EXCEPTION &&
				 arguments_never_convert(task, save_userid, save_sec_context))
			out->kind = TASKQ_FAILED;	/* its arguments will never fit */
		else
		{
			out->kind = TASKQ_RETRY;
			out->backoff_s = taskq_retry_backoff(task->attempt);
		}
	}
	PG_END_TRY();

	/* nothing the task left in the session is there for the next one */
	taskq_task_isolation_clean();

	/*
	 * A cancel (taskq.cancel's SIGINT, or the statement timeout) that came
	 * just as the task ended was for this task: it must not linger.
	 */
	taskq_slot_set_task(my_slot, 0);
	(void) get_timeout_indicator(STATEMENT_TIMEOUT, true);
	QueryCancelPending = false;

	out->finished_at = GetCurrentTimestamp();
}

/*
 * How many tasks to claim: as many as this worker expects to finish within
 * taskq.batch_time, at most taskq.batch_size, one while it knows nothing.
 * Slow tasks are thus claimed a few at a time and spread over the queue's
 * workers, while tiny ones are claimed a full batch at a time.
 */
static int
claim_size(void)
{
	double		fit;

	if (task_us_estimate < 0)
		return 1;
	fit = (taskq_batch_time_ms * 1000.0) / Max(task_us_estimate, 1.0);
	return (int) Max(1.0, Min((double) taskq_batch_size, fit));
}

static void
note_task_duration(TimestampTz start, TimestampTz end)
{
	double		us = (double) (end - start);

	task_us_estimate = task_us_estimate < 0 ? us : 0.8 * task_us_estimate + 0.2 * us;
}

/*
 * Tasks claimed (committed as running) and not yet run.  They live in one
 * of two memory contexts, used in turn: the batch being run is in one while
 * the next batch is claimed into the other.
 */
static MemoryContext claim_contexts[2];
static int	current_context = 0;
static TaskqClaimed *claimed = NULL;
static int	nclaimed = 0;

/* taskq.http_request(jsonb): tasks naming it run as HTTP requests */
static Oid	http_fn = InvalidOid;

/* the last claim found fewer tasks than it asked for; until a wake-up */
static bool queue_drained = false;

/* the last batch had HTTP tasks: claim no more than the free share */
static bool recent_http = false;

/* the queue's rate limit stopped the last claim: when to try again */
static long rate_wait_ms = 0;

/*
 * How many more HTTP requests this worker may have in flight: its share of
 * the queue's concurrency, less those in flight.  SQL tasks need no such
 * count: the worker runs them one at a time, however many it claimed.
 */
static int
free_share(void)
{
	return taskq_worker_share(my_queue, my_index) - taskq_http_in_flight();
}

/*
 * Claim a batch into context which; the caller's transaction commits it.
 * in_batch: the claim ends a batch's transaction, where it costs one
 * statement and may find the next step of a chain just released; a claim
 * of its own is skipped while the queue is known to be drained.
 */
static void
claim_into(int which, bool in_batch)
{
	MemoryContext old;
	int			want;

	MemoryContextReset(claim_contexts[which]);
	old = MemoryContextSwitchTo(claim_contexts[which]);
	claimed = palloc(sizeof(TaskqClaimed) * taskq_batch_size);
	nclaimed = 0;
	want = claim_size();
	if (recent_http || taskq_http_in_flight() > 0)
		want = Min(want, free_share());
	if (want > 0 && (in_batch || !queue_drained))
	{
		double		rate = taskq_queue_rate(my_queue);
		int			permitted = want;

		if (rate > 0)
			permitted = taskq_rate_take(my_queue, rate, want, &rate_wait_ms);
		if (permitted > 0)
		{
			pgstat_report_activity(STATE_RUNNING, "claiming tasks");
			taskq_set_my_state(TASKQ_WORKER_CLAIMING, GetCurrentTimestamp());
			PushActiveSnapshot(GetTransactionSnapshot());
			nclaimed = taskq_claim(my_queue, permitted, my_token, claimed,
								   claim_contexts[which]);
			/*
			 * One task with a lock key per batch: tasks sharing a key are
			 * meant to run side by side, in several workers, not one after
			 * the other in one worker's batch.
			 */
			if (nclaimed < permitted)
				nclaimed += taskq_claim_locked(my_queue, 1, my_token, claimed + nclaimed,
												claim_contexts[which]);
			PopActiveSnapshot();
			queue_drained = nclaimed < permitted;
			if (rate > 0)
				taskq_rate_return(my_queue, permitted - nclaimed);
		}
	}
	MemoryContextSwitchTo(old);
}

/*
 * Give back the claimed tasks that were not run (when the worker leaves
 * after a reload), refunding their attempts.
 */
void
taskq_give_back_claimed(void)
{
	TaskqOutcome *outcomes;
	TaskqClaimed *tasks;
	int			n = nclaimed;

	if (nclaimed == 0 && taskq_http_in_flight() == 0 && taskq_http_finished() == 0)
		return;
	taskq_begin_work(true);
	tasks = palloc(sizeof(TaskqClaimed) * (nclaimed + taskq_http_in_flight() + taskq_http_finished()));
	memcpy(tasks, claimed, sizeof(TaskqClaimed) * nclaimed);
	/* requests in flight are stopped; they will be made again (at-least-once) */
	taskq_http_abort_all(tasks, &n);
	outcomes = palloc0(sizeof(TaskqOutcome) * n);
	for (int i = 0; i < n; i++)
		outcomes[i].kind = TASKQ_UNSTARTED;
	taskq_complete(tasks, outcomes, n);
	taskq_wake_queue_at_commit(my_queue);
	taskq_end_work(true);
	nclaimed = 0;
}

/*
 * taskq.cancel has asked this worker to look: the claimed tasks not yet run
 * (tasks[0..n-1]) and the HTTP requests in flight that are to be cancelled
 * are, the former by their outcome, the latter by stopping the transfer.
 */
static void
apply_cancellations(TaskqClaimed *tasks, TaskqOutcome *outcomes, int n)
{
	int			max = n + taskq_http_in_flight() + taskq_http_finished();
	int64	   *ids = palloc(sizeof(int64) * Max(1, max));
	int64	   *cancelled = palloc(sizeof(int64) * Max(1, max));
	int			nids = 0;
	int			ncancelled;

	for (int i = 0; i < n; i++)
		ids[nids++] = tasks[i].id;
	taskq_http_ids(ids, &nids);
	ncancelled = taskq_which_cancel_requested(ids, nids, cancelled);
	for (int c = 0; c < ncancelled; c++)
	{
		bool		found = false;

		for (int i = 0; i < n && !found; i++)
		{
			if (tasks[i].id == cancelled[c])
			{
				memset(&outcomes[i], 0, sizeof(TaskqOutcome));
				outcomes[i].kind = TASKQ_CANCELLED;
				outcomes[i].error = "cancelled by taskq.cancel";
				outcomes[i].started_at = outcomes[i].finished_at = GetCurrentTimestamp();
				found = true;
			}
		}
		if (!found)
			(void) taskq_http_cancel(cancelled[c]);
	}
}

/*
 * Are the HTTP requests that ended due to be recorded?  Each recording is a
 * transaction (the outcomes, the claim of as many new tasks, a commit), so
 * they are recorded in groups: when a quarter of the worker's share of the
 * queue has ended, when nothing is in flight any more, or when the first
 * of them has waited HTTP_RECORD_WAIT_MS.  One transaction per request or
 * two made the transaction, not the request, what a worker spent its time
 * on (issue 16).
 */
#define HTTP_RECORD_WAIT_MS 2

static bool
http_results_due(void)
{
	int			finished = taskq_http_finished();

	if (finished == 0)
		return false;
	if (taskq_http_in_flight() == 0 ||
		finished >= Max(1, taskq_worker_share(my_queue, my_index) / 4))
		return true;
	return taskq_http_finished_wait_ms() >= HTTP_RECORD_WAIT_MS;
}

/* How long the worker may wait for its requests to progress, in ms. */
long
taskq_batch_http_wait_ms(void)
{
	if (taskq_http_finished() == 0)
		return 10;
	return Max(0, HTTP_RECORD_WAIT_MS - taskq_http_finished_wait_ms());
}

/* A task that ends failed, for good, without having run. */
static void
fail_unstarted(TaskqOutcome *out, const char *sqlstate, char *error)
{
	out->kind = TASKQ_FAILED;
	out->error = error;
	strlcpy(out->sqlstate, sqlstate, sizeof(out->sqlstate));
	out->started_at = out->finished_at = GetCurrentTimestamp();
}

/*
 * Run one batch.  Returns the number of tasks run or given back; 0 means the
 * queue has nothing due.
 *
 * 1. The batch was claimed in an earlier transaction that committed: the
 *    tasks are running and their attempts are counted (a claim of its own
 *    when the worker was idle, else the end of the previous batch).
 * 2. The tasks run in one transaction, each in a subtransaction.  No
 *    snapshot is held across the batch, only one per task (SPI takes a
 *    fresh one per statement under it), so this worker does not keep the
 *    rows other workers just claimed from being seen as dead, and skipped
 *    cheaply, by the claim query's index scan.
 * 3. The same transaction records the outcomes, advances workflows, and
 *    claims the next batch, so a busy worker commits once per batch, and a
 *    chain's next step, released here, can be claimed here too.
 */
int
taskq_run_batch(bool claim_next)
{
	TaskqClaimed *tasks;
	TaskqOutcome *outcomes;
	int			n;
	TimestampTz batch_start;
	int			finished_ids_n = 0;
	int64	   *finished_ids;
	int			capacity;
	bool		http_claimed = false;
	char	   *error;
	TaskqLogLine *log_lines;

	taskq_http_poll(0);
	/* (with HTTP results waiting, the claim is made when they are recorded) */
	if (nclaimed == 0 && (free_share() > 0 || !recent_http) && !queue_drained &&
		taskq_http_finished() == 0)
	{
		taskq_begin_work(false);
		claim_into(current_context, false);
		taskq_end_work(false);
	}
	if (nclaimed == 0 && !http_results_due() &&
		!taskq_slot_cancel_pending(my_slot))
		return 0;

	/* room for the claimed tasks and for every HTTP request that may end */
	n = nclaimed;
	capacity = n + n + taskq_http_in_flight() + taskq_http_finished();
	batch_context = claim_contexts[current_context];
	MemoryContextSwitchTo(batch_context);
	tasks = palloc(sizeof(TaskqClaimed) * capacity);
	memcpy(tasks, claimed, sizeof(TaskqClaimed) * n);
	outcomes = palloc0(sizeof(TaskqOutcome) * capacity);
	finished_ids = palloc(sizeof(int64) * capacity);

	taskq_begin_work(false);	/* a snapshot per task and per statement, none held */
	if (!OidIsValid(http_fn))
		http_fn = taskq_http_request_fn();
	batch_start = GetCurrentTimestamp();
	for (int i = 0; i < n; i++)
	{
		if (i > 0 && TimestampDifferenceExceeds(batch_start, GetCurrentTimestamp(),
												taskq_batch_time_ms))
		{
			/* give back what has not started, for other workers to take */
			for (; i < n; i++)
			{
				if (outcomes[i].kind == TASKQ_CANCELLED)
					continue;
				memset(&outcomes[i], 0, sizeof(TaskqOutcome));
				outcomes[i].kind = TASKQ_UNSTARTED;
			}
			taskq_wake_queue_at_commit(my_queue);
			break;
		}
		CHECK_FOR_INTERRUPTS();
		if (taskq_slot_take_cancel_pending(my_slot))
			apply_cancellations(tasks + i, outcomes + i, n - i);
		if (outcomes[i].kind == TASKQ_CANCELLED)
			continue;
		if (tasks[i].fn == http_fn)
		{
			http_claimed = true;
			if (free_share() <= 0)
			{
				/* the queue's concurrency is reached: give it back */
				outcomes[i].kind = TASKQ_UNSTARTED;
				taskq_wake_queue_at_commit(my_queue);
				continue;
			}
			/* an HTTP request: started now, recorded when it ends */
			if (!owner_exists(tasks[i].owner))
			{
				fail_unstarted(&outcomes[i], "42704",
							   psprintf("the role that enqueued the task no longer exists: role %u was dropped after the task was enqueued",
										tasks[i].owner));
				continue;
			}
			if (!taskq_http_start(&tasks[i], &error))
			{
				/* a malformed request fails for good; the worker goes on */
				fail_unstarted(&outcomes[i], "22023", error);
				continue;
			}
			outcomes[i].kind = TASKQ_IN_FLIGHT;
			note_task_duration(0, 0);
			continue;
		}
		PushActiveSnapshot(GetTransactionSnapshot());
		run_one(&tasks[i], &outcomes[i]);
		PopActiveSnapshot();
		note_task_duration(outcomes[i].started_at, outcomes[i].finished_at);
	}

	if (n > 0)
		recent_http = http_claimed;
	/* requests in flight that taskq.cancel stops */
	if (taskq_slot_take_cancel_pending(my_slot))
		apply_cancellations(tasks + n, outcomes + n, 0);

	/* the HTTP requests that ended meanwhile are recorded with the batch */
	taskq_http_poll(0);
	taskq_http_take_finished(tasks, outcomes, &n);
	for (int i = 0; i < n; i++)
	{
		/* a lock key freed (or given back): its waiting tasks may start */
		if (tasks[i].holds_lock && outcomes[i].kind != TASKQ_IN_FLIGHT)
			taskq_wake_queue_at_commit(my_queue);
		if (outcomes[i].kind == TASKQ_SUCCEEDED || outcomes[i].kind == TASKQ_FAILED ||
			outcomes[i].kind == TASKQ_CANCELLED)
			finished_ids[finished_ids_n++] = tasks[i].id;
	}
	pgstat_report_activity(STATE_RUNNING, "recording task outcomes");
	taskq_set_my_state(TASKQ_WORKER_RECORDING, GetCurrentTimestamp());
	PushActiveSnapshot(GetTransactionSnapshot());
	taskq_complete(tasks, outcomes, n);
	PopActiveSnapshot();
	log_lines = taskq_report_prepare(tasks, outcomes, n, batch_context);

	nclaimed = 0;
	if (claim_next)
	{
		current_context = 1 - current_context;
		claim_into(current_context, true);
	}
	taskq_end_work(false);
	MemoryContextSwitchTo(batch_context);
	pgstat_report_stat(false);

	/*
	 * Committed: what the batch did goes to the statistics and the log,
	 * before the waiters wake (what they read next is then up to date).
	 */
	taskq_report_batch(my_queue, tasks, outcomes, n, log_lines);
	taskq_wake_waiters(finished_ids, finished_ids_n);
	return n;
}

/* Who this worker is, and its batch contexts; once, at start. */
void
taskq_batch_init(int slotno, const char *queue, int index, int64 token)
{
	my_slot = slotno;
	strlcpy(my_queue, queue, NAMEDATALEN);
	my_index = index;
	my_token = token;
	claim_contexts[0] = AllocSetContextCreate(TopMemoryContext, "taskq batch A",
											  ALLOCSET_DEFAULT_SIZES);
	claim_contexts[1] = AllocSetContextCreate(TopMemoryContext, "taskq batch B",
											  ALLOCSET_DEFAULT_SIZES);
	batch_context = claim_contexts[0];
}

/* The worker was woken: its queue may have due tasks again. */
void
taskq_batch_woken(void)
{
	queue_drained = false;
}

/* How long the queue's rate limit wants the worker to wait (once; 0: not). */
long
taskq_batch_take_rate_wait(void)
{
	long		ms = rate_wait_ms;

	rate_wait_ms = 0;
	return ms;
}
