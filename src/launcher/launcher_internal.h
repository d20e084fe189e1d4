/*-------------------------------------------------------------------------
 *
 * launcher_internal.h
 *	  What the files of src/launcher/ share among themselves only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TASKQ_LAUNCHER_INTERNAL_H
#define TASKQ_LAUNCHER_INTERNAL_H

#include "launcher/launcher.h"
#include "shmem/shmem.h"

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
extern void taskq_database_reported(Oid dboid, bool probe, TaskqReport report);

/* probe.c */
extern int	taskq_take_probe_requests(Oid *dboids, int max, bool *all);

#endif							/* TASKQ_LAUNCHER_INTERNAL_H */
