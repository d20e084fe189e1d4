/*-------------------------------------------------------------------------
 *
 * taskq.h
 *	  Declarations shared by the files of pg_taskq: GUCs, the parsed queue
 *	  configuration, shared memory, and the entry points of each part.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TASKQ_H
#define TASKQ_H

#include "postgres.h"

#include "compat.h"

#include "datatype/timestamp.h"
#include "storage/latch.h"
#include "port/atomics.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#define TASKQ_MAX_QUEUES		64
#define TASKQ_MAX_CONCURRENCY	1000

/* GUCs (pg_taskq.c) */
extern char *taskq_queues_string;
extern int	taskq_batch_size;
extern int	taskq_batch_time_ms;
extern int	taskq_poll_interval_ms;
extern int	taskq_max_workers_per_queue;
extern char *taskq_http_deny_string;
extern char *taskq_http_allow_string;
extern int	taskq_http_max_redirects;
extern int	taskq_http_max_body_kb;
extern int	taskq_http_max_timeout_ms;
extern int	taskq_retention_s;

/* the default of taskq.http_deny: loopback, private, carrier NAT, link-local (metadata) */
#define TASKQ_HTTP_DENY_DEFAULT \
	"127.0.0.0/8, ::1/128, 0.0.0.0/8, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, " \
	"100.64.0.0/10, 169.254.0.0/16, fe80::/10, fc00::/7, ::/128"

/* http_policy.c */
struct sockaddr;
extern bool taskq_cidr_list_check_hook(char **newval, void **extra, GucSource source);
extern void taskq_http_deny_assign_hook(const char *newval, void *extra);
extern void taskq_http_allow_assign_hook(const char *newval, void *extra);
extern bool taskq_address_allowed(const struct sockaddr *sa, char *addr_text, size_t textlen);

/* config.c: the parsed value of taskq.queues */
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

extern bool taskq_queues_check_hook(char **newval, void **extra, GucSource source);
extern void taskq_queues_assign_hook(const char *newval, void *extra);
extern const TaskqConfig *taskq_config(void);
extern int	taskq_queue_concurrency(const char *queue);
extern int	taskq_queue_workers(const char *queue);
extern int	taskq_worker_share(const char *queue, int index);
extern double taskq_queue_rate(const char *queue);

/* what a probe or a worker found out about its database, as it exits */
typedef enum TaskqReport
{
	TASKQ_REPORT_NONE = 0,		/* nothing: it died, or it is still there */
	TASKQ_REPORT_PRESENT,		/* the extension is installed */
	TASKQ_REPORT_ABSENT,		/* it is not */
	TASKQ_REPORT_LEFT			/* left on purpose: database paused, slot unwanted */
} TaskqReport;

/* shmem.c: worker slots, waiters and wake-ups */
typedef struct TaskqWorkerSlot
{
	bool		in_use;			/* owned by the launcher */
	uint32		generation;		/* bumped at each start; the process checks it */
	Oid			dboid;			/* the database it serves */
	bool		is_probe;		/* a probe (databases.c), not a worker */
	TaskqReport report;			/* written by the process before it exits */
	char		queue[NAMEDATALEN];
	int			index;			/* 0 .. concurrency-1 within the queue */
	pid_t		pid;			/* set by the worker while it lives */
	int			pgprocno;
	int64		token;			/* claim token of the living worker, or 0 */
	pg_atomic_uint64 current_task;	/* the SQL task it runs now, or 0 */
	pg_atomic_uint32 cancel_pending;	/* taskq.cancel asked it to look */
	bool		yield;			/* the launcher wants the slot for another queue */
} TaskqWorkerSlot;

extern void taskq_shmem_init_hooks(void);
extern int	taskq_max_slots(void);
extern TaskqWorkerSlot *taskq_slot(int i);
extern void taskq_slots_lock(bool exclusive);
extern void taskq_slots_unlock(void);
extern int64 taskq_next_token(void);
extern void taskq_set_launcher_pid(pid_t pid);
extern void taskq_wake_launcher(void);
extern void taskq_wake_queue(const char *queue);
extern int	taskq_live_tokens(int64 *tokens, int max);
extern void taskq_waiter_register(int64 task_id);
extern void taskq_waiter_unregister(void);
extern void taskq_wake_waiters(const int64 *ids, int n);
extern void taskq_signal_cancel(int64 task_id, int worker_pid);
extern int	taskq_rate_take(const char *queue, double rate, int want, long *wait_ms);
extern void taskq_rate_return(const char *queue, int unused);
extern bool taskq_pause_database(Oid dboid);
extern void taskq_unpause_mine(void);
extern bool taskq_database_paused(Oid dboid);
extern int	taskq_database_processes(Oid dboid);
extern void taskq_request_probe(Oid dboid);
extern int	taskq_take_probe_requests(Oid *dboids, int max, bool *all);
extern bool taskq_claim_slot_or_leave(int slotno);
extern void taskq_ask_surplus_worker_to_yield(void);
extern bool taskq_asked_to_yield(int slotno);
extern void taskq_reset_slots(void);

/* launcher.c, worker.c and databases.c: background worker entry points */
extern PGDLLEXPORT void taskq_launcher_main(Datum arg);
extern PGDLLEXPORT void taskq_worker_main(Datum arg);
extern PGDLLEXPORT void taskq_probe_main(Datum arg);

/* databases.c: the launcher's list of databases and their states */
typedef enum TaskqDatabaseState
{
	TASKQ_DB_UNKNOWN,			/* to be probed */
	TASKQ_DB_PROBING,			/* a probe is under way */
	TASKQ_DB_PRESENT,			/* pg_taskq is installed: workers wanted */
	TASKQ_DB_ABSENT				/* it is not */
} TaskqDatabaseState;

typedef struct TaskqDatabase
{
	Oid			dboid;
	NameData	name;			/* for messages */
	TaskqDatabaseState state;
	TimestampTz probe_not_before;	/* a failed probe is retried after a while */
	bool		probe_again;	/* asked for while a probe was under way */
} TaskqDatabase;

extern void taskq_refresh_databases(void);
extern int	taskq_ndatabases(void);
extern TaskqDatabase *taskq_database_at(int i);
extern TaskqDatabase *taskq_find_database(Oid dboid);
extern void taskq_database_reported(Oid dboid, bool probe, TaskqReport report);

/* ddl_guard.c: keeps workers out of the way of DDL on their database */
extern void taskq_ddl_guard_init(void);

/* claim.c: the SQL the workers run against taskq.tasks */
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

typedef enum TaskqOutcomeKind
{
	TASKQ_SUCCEEDED,
	TASKQ_RETRY,
	TASKQ_FAILED,
	TASKQ_UNSTARTED,			/* claimed but not run: give back */
	TASKQ_IN_FLIGHT,			/* an HTTP request under way: nothing to record yet */
	TASKQ_CANCELLED				/* taskq.cancel stopped it */
} TaskqOutcomeKind;

typedef struct TaskqOutcome
{
	TaskqOutcomeKind kind;
	Jsonb	   *result;			/* TASKQ_SUCCEEDED, may be NULL */
	char	   *error;			/* TASKQ_RETRY / TASKQ_FAILED */
	char		sqlstate[6];
	TimestampTz started_at;
	TimestampTz finished_at;
	double		backoff_s;		/* TASKQ_RETRY */
} TaskqOutcome;

extern int	taskq_claim(const char *queue, int max, int64 token, TaskqClaimed *out,
						MemoryContext cxt);
extern int	taskq_claim_locked(const char *queue, int max, int64 token, TaskqClaimed *out,
							   MemoryContext cxt);
extern void taskq_complete(const TaskqClaimed *tasks, const TaskqOutcome *outcomes, int n);
extern int	taskq_recover_orphans(void);
extern long taskq_ms_until_next_due(const char *queue);
extern int	taskq_which_cancel_requested(const int64 *ids, int n, int64 *out);
extern bool taskq_cancel_requested(int64 id);

/* plans.c */
#include "executor/spi.h"
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
extern Datum taskq_int8_array(const int64 *ids, int n);
extern Jsonb *taskq_no_args(void);
extern Jsonb *taskq_jsonb_prepend(const char *first, Jsonb *array);

/* sql_task.c: running one SQL task */
extern Jsonb *taskq_run_sql_task(Oid fn, Jsonb *args);
extern void taskq_check_sql_task(Oid fn, Jsonb *args, bool may_receive);
extern void taskq_check_receiving_sql_task(Oid fn, Jsonb *args);
extern void taskq_convert_sql_task_args(Oid fn, Jsonb *args);

/* task_isolation.c: what a task leaves in its worker's session is removed */
extern void taskq_task_isolation_init(void);
extern void taskq_task_isolation_before_release(void);
extern void taskq_task_isolation_clean(void);

/* enqueue.c: checks shared by enqueue and the signature builders */
extern Oid	taskq_tasks_owner(void);
extern Oid	taskq_resolve_function(text *fn);
extern void taskq_check_queue(const char *queue);
extern void taskq_check_task(Oid fn, Jsonb *args, bool may_receive);
extern void taskq_check_options(int priority, Interval *delay, int max_attempts,
								Interval *timeout);
extern TimestampTz taskq_after_delay(Interval *delay);
extern void taskq_parse_lock(const char *lock, char **key, char *mode);
struct CreateTrigStmt;
extern void taskq_check_trigger_definition(struct CreateTrigStmt *stmt);

/* commit_wakeups.c */
extern void taskq_wake_queue_at_commit(const char *queue);
extern void taskq_wake_waiters_at_commit(int64 task_id);
extern void taskq_signal_cancel_at_commit(int64 task_id, int worker_pid);

/* workflow.c: the advancer, run in the transaction that records outcomes */
extern void taskq_advance_succeeded(const int64 *ids, int n);
extern void taskq_cancel_error_callbacks(const int64 *ids, int n);
extern void taskq_advance_failed(int64 id, bool cancelled);
extern void taskq_release_ready(const int64 *ids, int n);

/* signature.c */
extern const char *taskq_signature_kind(Jsonb *sig);
extern Datum taskq_build_task_signature(Oid fn, Jsonb *args, const char *queue, int priority,
										Interval *delay, int max_attempts, Interval *timeout,
										bool immutable, const char *lock);

/* http_task.c */
extern Oid	taskq_http_request_fn(void);
extern void taskq_check_http_args(Jsonb *args);
extern JsonbContainer *taskq_http_checked_request(Jsonb *args, char **error);

/* http_runner.c: the worker's transfers in flight */
extern void taskq_http_init(void);
extern int	taskq_http_in_flight(void);
extern int	taskq_http_finished(void);
extern bool taskq_http_start(const TaskqClaimed *task, char **error);
extern int	taskq_http_poll(long timeout_ms);
extern void taskq_http_take_finished(TaskqClaimed *tasks, TaskqOutcome *outcomes, int *n);
extern void taskq_http_abort_all(TaskqClaimed *tasks, int *n);
extern bool taskq_http_cancel(int64 task_id);
extern void taskq_http_ids(int64 *ids, int *n);

/* retention.c */
extern void taskq_prune_if_due(void);

/* worker.c */
extern double taskq_retry_backoff(int attempt);
extern bool taskq_in_task;		/* a worker is running a SQL task now */
extern bool taskq_fail_for_good;	/* the task's error can never go away */

#endif							/* TASKQ_H */
