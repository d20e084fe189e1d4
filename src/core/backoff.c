/*-------------------------------------------------------------------------
 *
 * backoff.c
 *	  How long a failed attempt waits before the next one: the same for a
 *	  SQL task (worker/batch.c) and an HTTP request (runners/http_runner.c,
 *	  unless the server sent Retry-After).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/pg_prng.h"

#include "core/core.h"

/* Exponential backoff with jitter: about 2^attempt seconds, at most an hour. */
double
taskq_retry_backoff(int attempt)
{
	double		base = attempt >= 12 ? 3600.0 : Min(3600.0, (double) (1 << attempt));

	return base * (0.5 + pg_prng_double(&pg_global_prng_state));
}
