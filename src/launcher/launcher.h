/*-------------------------------------------------------------------------
 *
 * launcher.h
 *	  The launcher and what others use of it: the entry points of its
 *	  background workers, its registration and shared memory (for
 *	  src/pg_taskq.c), and the request that it probe a database again (for
 *	  api/ddl_guard.c).
 *
 *	  src/launcher/launcher.c   the launcher: starts, restarts and reaps the
 *	                            workers and probes of every database
 *	  src/launcher/databases.c  its list of databases and their states
 *	  src/launcher/probe.c      the probe process; the requests to probe
 *
 *-------------------------------------------------------------------------
 */
#ifndef TASKQ_LAUNCHER_H
#define TASKQ_LAUNCHER_H

#include "core/core.h"

/* background worker entry points: the postmaster finds them by name */
extern PGDLLEXPORT void taskq_launcher_main(Datum arg);
extern PGDLLEXPORT void taskq_probe_main(Datum arg);
extern void taskq_register_launcher(void);

extern void taskq_probe_shmem_request(void);
extern void taskq_probe_shmem_startup(void);
extern void taskq_request_probe(Oid dboid);

#endif							/* TASKQ_LAUNCHER_H */
