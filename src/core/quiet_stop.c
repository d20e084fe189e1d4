/*-------------------------------------------------------------------------
 *
 * quiet_stop.c
 *	  A process of ours told to stop (SIGTERM: a server shutdown, a DDL
 *	  pause, pg_terminate_backend) stops as before, but says so in one LOG
 *	  line of its own instead of PostgreSQL's "FATAL: terminating
 *	  background worker ... due to administrator command": a routine stop
 *	  is not a fatal error, and an operator watching for FATAL lines should
 *	  not see one each time a worker makes way for DDL.
 *
 *	  The stop itself is PostgreSQL's: die() sets ProcDiePending, the next
 *	  CHECK_FOR_INTERRUPTS raises the FATAL, errfinish() exits the process.
 *	  Only the report changes: an emit_log_hook lowers that one message
 *	  (FATAL with ERRCODE_ADMIN_SHUTDOWN) to LOG and words it.  errfinish
 *	  decides to exit from the level it read before the report, so the
 *	  process still exits, with the same exit code.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "core/core.h"

static emit_log_hook_type prev_emit_log_hook = NULL;
static char *(*stop_message) (void) = NULL;

static void
quiet_stop_hook(ErrorData *edata)
{
	if (edata->elevel == FATAL && edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN &&
		stop_message != NULL)
	{
		edata->elevel = LOG;
		edata->message = stop_message();
		edata->detail = NULL;
		edata->hint = NULL;
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/*
 * From now on, a stop by SIGTERM logs describe() (called in the error
 * context: it must only format, from what it already knows) at LOG.
 */
void
taskq_quiet_stop(char *(*describe) (void))
{
	if (stop_message == NULL)
	{
		prev_emit_log_hook = emit_log_hook;
		emit_log_hook = quiet_stop_hook;
	}
	stop_message = describe;
}
