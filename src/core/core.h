/*-------------------------------------------------------------------------
 *
 * core.h
 *	  The small core of pg_taskq, used by every subsystem and using none:
 *	  the codes and defaults shared with the SQL of the extension, a claimed
 *	  task and its outcome, the queues of taskq.queues, the statements of
 *	  ours (saved plans, the rights and transaction they run in), catalog
 *	  look-ups, the retry backoff, and small builders of values.
 *
 *	  src/core/queues.c   taskq.queues, parsed; taskq.poll_interval
 *	  src/core/plans.c    saved plans with a fixed search_path; rights;
 *	                      a background process's transaction bracket
 *	  src/core/catalog.c  the tables' owner, taskq.http_request's OID, who
 *	                      is taskq_admin
 *	  src/core/backoff.c  the delay before a retry
 *	  src/core/sleep.c    how a process of ours sleeps
 *	  src/core/quiet_stop.c  a stop by SIGTERM logged at LOG, not FATAL
 *	  src/core/values.c   int8[] parameters, jsonb arrays and strings,
 *	                      interval lengths
 *	  src/core/row_check.c  the CHECK of taskq.tasks (taskq.task_row_valid)
 *	  src/core/estimates.c  the planner's size estimates of our tables, never
 *	                      "empty" while they have rows (planner hook)
 *
 *-------------------------------------------------------------------------
 */
#ifndef TASKQ_CORE_H
#define TASKQ_CORE_H

#include "postgres.h"

#include "core/compat.h"

#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#define TASKQ_MAX_QUEUES		64
#define TASKQ_MAX_CONCURRENCY	1000

/*
 * Defaults that C applies where SQL cannot: a trigger's arguments, a
 * workflow signature's members left out, an HTTP request made by hand.
 * The SQL functions of extension/pg_taskq--*.sql declare the same defaults
 * (taskq.enqueue, taskq.task, taskq.http); sql/enqueue.sql checks that
 * both agree.
 */
#define TASKQ_DEFAULT_QUEUE			"default"
#define TASKQ_DEFAULT_MAX_ATTEMPTS	3
#define TASKQ_DEFAULT_HTTP_TIMEOUT_MS 30000

/*
 * Codes stored in the tables, named once here.  Each list is also a CHECK
 * constraint of extension/pg_taskq--*.sql, which the comment names; a code
 * added here must be added there (and to an update script).
 *
 * taskq.dependencies.mode (CHECK on dependencies.mode): how a step waits
 * for an earlier one (docs/workflows.md).  The first three and the last
 * are ordering edges (the step waits for all of them to succeed); 'e' and
 * 'f' release an error callback when the earlier one fails.
 */
typedef enum TaskqDependencyMode
{
	TASKQ_DEP_PREPEND = 'p',	/* its result is put in front of the step's arguments */
	TASKQ_DEP_COLLECT = 'c',	/* its result goes into the step's array, at position */
	TASKQ_DEP_ORDER = 'o',		/* order only: an immutable step receives nothing */
	TASKQ_DEP_ON_ERROR = 'e',	/* error callback: receives the failed task's error */
	TASKQ_DEP_ON_ERROR_ORDER = 'f',	/* error callback that is immutable */
	TASKQ_DEP_CONTINUATION = 'r'	/* a continued task: its result is the other's */
} TaskqDependencyMode;

/* the ordering modes and the error-callback modes, as SQL lists */
#define TASKQ_DEP_ORDERING_SQL	"('p', 'c', 'o', 'r')"
#define TASKQ_DEP_ON_ERROR_SQL	"('e', 'f')"

/* taskq.tasks.lock_mode (CHECK on tasks.lock_mode) */
#define TASKQ_LOCK_SHARED		's'
#define TASKQ_LOCK_EXCLUSIVE	'x'

/*
 * taskq.tasks.state (CHECK on tasks.state): waiting (for earlier steps),
 * queued, running, then succeeded, failed or cancelled.  As SQL lists for
 * the statements of ours that look for the unfinished or the finished.
 */
#define TASKQ_STATES_UNFINISHED_SQL	"('waiting', 'queued', 'running')"
#define TASKQ_STATES_FINISHED_SQL	"('succeeded', 'failed', 'cancelled')"

/* A task a worker claimed: the columns of taskq.tasks it runs by. */
typedef struct TaskqClaimed
{
	int64		id;
	Oid			fn;
	Jsonb	   *args;
	Oid			owner;
	int			attempt;
	int			max_attempts;
	int			priority;
	TimestampTz run_at;
	int			timeout_ms;		/* 0 = none */
	bool		has_dependents; /* a workflow step others wait for */
	bool		carries_workflow_result;	/* its error callback waits on it */
	bool		holds_lock;		/* it has a lock key (shared or exclusive) */
} TaskqClaimed;

/*
 * What became of a claimed task.  The task store passes the recorded ones
 * to its completion statement as one "char" each (worker/complete.c): the
 * comment there says which.
 */
typedef enum TaskqOutcomeKind
{
	TASKQ_SUCCEEDED,
	TASKQ_RETRY,
	TASKQ_FAILED,
	TASKQ_UNSTARTED,			/* claimed but not run: give back */
	TASKQ_IN_FLIGHT,			/* an HTTP request under way: nothing to record yet */
	TASKQ_CANCELLED,			/* taskq.cancel stopped it */
	TASKQ_CONTINUED,			/* it handed its place to a signature: waits for it */
	TASKQ_PARKED				/* it waits for a signal (taskq.await) */
} TaskqOutcomeKind;

typedef struct TaskqOutcome
{
	TaskqOutcomeKind kind;
	Jsonb	   *result;			/* TASKQ_SUCCEEDED, may be NULL */
	char	   *error;			/* TASKQ_RETRY / TASKQ_FAILED */
	char		sqlstate[6];
	bool		ran;			/* it was run (started_at, finished_at are its run) */
	TimestampTz started_at;
	TimestampTz finished_at;
	double		backoff_s;		/* TASKQ_RETRY */
	int64		continued_in;	/* TASKQ_CONTINUED: the task that carries its result */
	char	   *await_key;		/* TASKQ_PARKED: the signal it waits for */
	TimestampTz await_deadline;	/* TASKQ_PARKED: when it fails without one, 0 never */
} TaskqOutcome;

/* queues.c: the parsed value of taskq.queues */
typedef struct TaskqQueueConfig
{
	char		name[NAMEDATALEN];
	int			concurrency;
	double		rate;			/* most task starts per second, 0 = no limit */
} TaskqQueueConfig;

typedef struct TaskqConfig
{
	int			nqueues;
	TaskqQueueConfig queues[TASKQ_MAX_QUEUES];
} TaskqConfig;

extern char *taskq_queues_string;
extern int	taskq_max_workers_per_queue;
extern int	taskq_poll_interval_ms;
extern bool taskq_queues_check_hook(char **newval, void **extra, GucSource source);
extern void taskq_queues_assign_hook(const char *newval, void *extra);
extern const TaskqConfig *taskq_config(void);
extern int	taskq_queue_concurrency(const char *queue);
extern int	taskq_queue_workers(const char *queue);
extern int	taskq_worker_share(const char *queue, int index);
extern double taskq_queue_rate(const char *queue);

/* plans.c: every statement of ours runs through these */
extern SPIPlanPtr taskq_saved_plan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes);
extern int	taskq_execute_plan(SPIPlanPtr plan, Datum *values, const char *nulls,
							   bool read_only, long count);
extern int	taskq_execute_once(const char *sql, int nargs, Oid *argtypes, Datum *values,
							   const char *nulls, bool read_only, long count);

/* the caller's rights, saved while a function of ours acts as the tables' owner */
typedef struct TaskqRights
{
	Oid			userid;
	int			sec_context;
} TaskqRights;
extern void taskq_become_tables_owner(TaskqRights *saved);
extern void taskq_restore_rights(const TaskqRights *saved);
extern void taskq_begin_work(bool with_snapshot);
extern void taskq_end_work(bool with_snapshot);

/* catalog.c */
extern Oid	taskq_tasks_owner(void);
extern Oid	taskq_http_request_fn(void);
extern Oid	taskq_continuation_type(void);
extern bool taskq_caller_is_admin(void);

/* quiet_stop.c */
extern void taskq_quiet_stop(char *(*describe) (void));

/* estimates.c */
extern void taskq_estimates_init(void);

/* sleep.c */
extern void taskq_sleep(long timeout_ms);

/* backoff.c */
extern double taskq_retry_backoff(int attempt);

/* values.c */
extern Datum taskq_param_array(Datum *elems, bool *nulls, int n, Oid elemtype);
extern Datum taskq_int8_array(const int64 *ids, int n);
extern Jsonb *taskq_no_args(void);
extern Jsonb *taskq_jsonb_prepend(const char *first, Jsonb *array);
extern JsonbValue *taskq_jsonb_member(JsonbContainer *obj, const char *key);
extern bool taskq_jsonb_string(JsonbContainer *obj, const char *key, char **out);
extern bool taskq_interval_usecs(const Interval *iv, int64 *us);
extern TimestampTz taskq_time_after(TimestampTz t, int64 us);

#endif							/* TASKQ_CORE_H */
