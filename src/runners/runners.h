/*-------------------------------------------------------------------------
 *
 * runners.h
 *	  The runners: what runs one claimed task, and what tells, at enqueue,
 *	  whether it could run.  They know nothing of the worker loop that
 *	  calls them or of the task store that records their outcomes.
 *
 *	  src/runners/sql_task.c        a SQL task: a call of a function with
 *	                                jsonb arguments, through a cached plan
 *	  src/runners/task_isolation.c  what a task leaves in its worker's
 *	                                session is removed
 *	  src/runners/http_request.c    what an HTTP request may be (checked at
 *	                                enqueue and again before it is made)
 *	  src/runners/http_runner.c     the HTTP runner: libcurl transfers in
 *	                                flight, many per worker
 *	  src/runners/http_policy.c     which addresses a request may reach
 *	                                (taskq.http_deny, taskq.http_allow)
 *
 *-------------------------------------------------------------------------
 */
#ifndef TASKQ_RUNNERS_H
#define TASKQ_RUNNERS_H

#include "core/core.h"

/* sql_task.c */
extern bool taskq_in_task;		/* a worker is running a SQL task now */
extern bool taskq_fail_for_good;	/* the task's error can never go away */
extern Jsonb *taskq_run_sql_task(Oid fn, Jsonb *args, bool *continues);
extern void taskq_check_sql_task(Oid fn, Jsonb *args, bool may_receive);
extern void taskq_check_sql_task_many(Oid fn, Jsonb **args, int n, int *current);
extern void taskq_check_receiving_sql_task(Oid fn, Jsonb *args);
extern void taskq_convert_sql_task_args(Oid fn, Jsonb *args);

/* task_isolation.c */
extern void taskq_task_isolation_init(void);
extern void taskq_task_isolation_before_release(void);
extern void taskq_task_isolation_clean(void);

/* http_request.c */
extern int	taskq_http_max_timeout_ms;
extern void taskq_check_http_args(Jsonb *args);

/* http_runner.c: the worker's transfers in flight */
extern int	taskq_http_max_redirects;
extern int	taskq_http_max_body_kb;
extern int	taskq_http_in_flight(void);
extern int	taskq_http_finished(void);
extern long taskq_http_finished_wait_ms(void);
extern bool taskq_http_start(const TaskqClaimed *task, char **error);
extern int	taskq_http_poll(long timeout_ms);
extern void taskq_http_take_finished(TaskqClaimed *tasks, TaskqOutcome *outcomes, int *n);
extern void taskq_http_abort_all(TaskqClaimed *tasks, int *n);
extern bool taskq_http_cancel(int64 task_id);
extern void taskq_http_ids(int64 *ids, int *n);

/* http_policy.c */
/* the default of taskq.http_deny: loopback, private, carrier NAT, link-local (metadata) */
#define TASKQ_HTTP_DENY_DEFAULT \
	"127.0.0.0/8, ::1/128, 0.0.0.0/8, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, " \
	"100.64.0.0/10, 169.254.0.0/16, fe80::/10, fc00::/7, ::/128"
extern char *taskq_http_deny_string;
extern char *taskq_http_allow_string;
extern bool taskq_cidr_list_check_hook(char **newval, void **extra, GucSource source);
extern void taskq_http_deny_assign_hook(const char *newval, void *extra);
extern void taskq_http_allow_assign_hook(const char *newval, void *extra);

#endif							/* TASKQ_RUNNERS_H */
