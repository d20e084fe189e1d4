/*-------------------------------------------------------------------------
 *
 * sleep.c
 *	  How every process of ours sleeps: on its latch, until the latch is
 *	  set (a wake-up) or the timeout passes, and never past the
 *	  postmaster's death.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/wait_event.h"

#include "core/core.h"

/* Sleep at most timeout_ms, or until this process's latch is set; the latch is reset. */
void
taskq_sleep(long timeout_ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 timeout_ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
}
