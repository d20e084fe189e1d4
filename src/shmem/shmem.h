/*-------------------------------------------------------------------------
 *
 * shmem.h
 *	  The state pg_taskq's processes share, each part behind the functions
 *	  of the one file that owns it (no other file sees its fields):
 *
 *	  src/shmem/slots.c    the worker slots: which process serves which
 *	                       (database, queue, index), its claim token, the
 *	                       task it runs; the launcher's latch
 *	  src/shmem/pauses.c   the databases that DDL has paused
 *	  src/shmem/waiters.c  the backends blocked in taskq.wait
 *	  src/shmem/wakeups.c  wake-ups made when the transaction commits
 *
 *	  Each part requests its memory and locks in the postmaster's
 *	  shmem_request_hook and sets them up in its shmem_startup_hook; both
 *	  hooks are installed by src/pg_taskq.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TASKQ_SHMEM_H
#define TASKQ_SHMEM_H

#include "core/core.h"

/* what a probe or a worker found out about its database, as it exits */
typedef enum TaskqReport
{
	TASKQ_REPORT_NONE = 0,		/* nothing: it died, or it is still there */
	TASKQ_REPORT_PRESENT,		/* the extension is installed */
	TASKQ_REPORT_ABSENT,		/* it is not */
	TASKQ_REPORT_LEFT			/* left on purpose: database paused, slot unwanted */
} TaskqReport;

/* what a worker is doing, as taskq.workers shows it */
typedef enum TaskqWorkerState
{
	TASKQ_WORKER_STARTING = 0,
	TASKQ_WORKER_IDLE,
	TASKQ_WORKER_CLAIMING,
	TASKQ_WORKER_RUNNING,		/* a SQL task */
	TASKQ_WORKER_HTTP,			/* only HTTP requests in flight */
	TASKQ_WORKER_RECORDING,
	TASKQ_WORKER_WAITING_RATE,	/* for a permit of its queue's rate limit */
	TASKQ_WORKER_WAITING_LOCK	/* for a lock key's claim lock */
} TaskqWorkerState;

/* one worker's slot, as read for taskq.workers */
typedef struct TaskqSlotRow
{
	Oid			dboid;
	char		queue[NAMEDATALEN];
	int			index;
	pid_t		pid;			/* 0: reserved, not started yet */
	TaskqWorkerState state;
	int64		task_id;		/* the SQL task it runs, or 0 */
	TimestampTz since;			/* of the state (of the task, when running) */
} TaskqSlotRow;

extern const char *taskq_worker_state_name(TaskqWorkerState state);

/* slots.c: set-up */
extern void taskq_slots_shmem_request(void);
extern void taskq_slots_shmem_startup(void);

/* slots.c: for the launcher, which fills and frees them */
extern int	taskq_max_slots(void);
extern int	taskq_slot_reserve(Oid dboid, const char *queue, int index,
							   const bool *held, uint32 *generation);
extern void taskq_slot_unreserve(int slotno);
extern void taskq_slot_free(int slotno, Oid *dboid, bool *is_probe, TaskqReport *report);
extern int	taskq_slots_serving(Oid dboid, const char *queue);
extern bool taskq_slot_serving(Oid dboid, const char *queue, int index);
extern void taskq_ask_surplus_worker_to_yield(void);
extern void taskq_reset_slots(void);
extern void taskq_set_launcher_pid(pid_t pid);
extern void taskq_wake_launcher(void);

/* slots.c: for the process the launcher started in a slot */
extern bool taskq_claim_slot_or_leave(int slotno);
extern void taskq_slot_assignment(int slotno, Oid *dboid, char *queue, int *index);
extern int64 taskq_slot_take_token(int slotno);
extern void taskq_slot_report(int slotno, TaskqReport report);
extern void taskq_slot_set_task(int slotno, int64 task_id);
extern bool taskq_slot_cancel_pending(int slotno);
extern bool taskq_slot_take_cancel_pending(int slotno);
extern bool taskq_asked_to_yield(int slotno);
extern void taskq_set_my_state(TaskqWorkerState state, TimestampTz since);

/* slots.c: for anyone */
extern void taskq_wake_queue(const char *queue);	/* NULL: every queue */
extern int	taskq_live_tokens(int64 *tokens, int max);
extern void taskq_signal_cancel(int64 task_id, int worker_pid);
extern int	taskq_signal_database(Oid dboid, int signo);
extern int	taskq_database_processes(Oid dboid);
extern int	taskq_slots_read(TaskqSlotRow **rows);
extern void taskq_schedules_changed(void);
extern uint64 taskq_schedules_generation(void);

/* pauses.c */
#define TASKQ_MAX_PAUSES	64
extern void taskq_pauses_shmem_request(void);
extern void taskq_pauses_shmem_startup(void);
extern bool taskq_pause_database(Oid dboid);
extern int	taskq_unpause_mine(Oid *ended);
extern bool taskq_database_paused(Oid dboid);

/* waiters.c */
extern void taskq_waiters_shmem_request(void);
extern void taskq_waiters_shmem_startup(void);
extern void taskq_waiter_register(int64 task_id);
extern void taskq_waiter_unregister(void);
extern void taskq_wake_waiters(const int64 *ids, int n);

/* wakeups.c */
extern void taskq_wake_queue_at_commit(const char *queue);
extern void taskq_wake_queue_at_commit_for(const char *queue, int ntasks);
extern void taskq_wake_waiters_at_commit(int64 task_id);
extern void taskq_signal_cancel_at_commit(int64 task_id, int worker_pid);
extern void taskq_schedules_changed_at_commit(void);

#endif							/* TASKQ_SHMEM_H */
