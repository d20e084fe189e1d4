/*-------------------------------------------------------------------------
 *
 * rate_limit.c
 *	  The rate limits of taskq.queues ('api:8@50/s'): a token bucket per
 *	  rate-limited queue of each database, in shared memory, so that the
 *	  queue's workers there together start no more tasks a second than its
 *	  rate.  A worker takes permits before it claims (batch.c) and gives
 *	  back those the claim did not use.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "worker/worker_internal.h"

/* the token bucket of a rate-limited queue of one database */
typedef struct TaskqRateBucket
{
	Oid			dboid;
	char		queue[NAMEDATALEN];
	double		rate;
	double		tokens;
	TimestampTz refilled_at;
} TaskqRateBucket;

#define TASKQ_RATE_BUCKETS	(TASKQ_MAX_QUEUES * 4)

typedef struct TaskqRateBuckets
{
	slock_t		mutex;
	TaskqRateBucket buckets[TASKQ_RATE_BUCKETS];
} TaskqRateBuckets;

static TaskqRateBuckets *shared = NULL;

void
taskq_rate_limit_shmem_request(void)
{
	RequestAddinShmemSpace(sizeof(TaskqRateBuckets));
}

/* Called with AddinShmemInitLock held. */
void
taskq_rate_limit_shmem_startup(void)
{
	bool		found;

	shared = ShmemInitStruct("pg_taskq rate buckets", sizeof(TaskqRateBuckets), &found);
	if (found)
		return;
	memset(shared, 0, sizeof(TaskqRateBuckets));
	SpinLockInit(&shared->mutex);
}

/*
 * The token bucket of the queue in this database, or a new one (holding one
 * permit); NULL when every bucket is taken.  A bucket left idle long enough
 * to be full again is as good as a new one, so it may be reused.  Called
 * with the mutex held.
 */
static TaskqRateBucket *
rate_bucket(const char *queue, double rate, TimestampTz now)
{
	TaskqRateBucket *spare = NULL;

	for (int i = 0; i < TASKQ_RATE_BUCKETS; i++)
	{
		TaskqRateBucket *b = &shared->buckets[i];

		if (b->queue[0] != '\0' && b->dboid == MyDatabaseId && strcmp(b->queue, queue) == 0)
			return b;
		if (spare == NULL &&
			(b->queue[0] == '\0' ||
			 b->tokens + b->rate * (double) (now - b->refilled_at) / 1000000.0 >= Max(b->rate / 10.0, 1.0)))
			spare = b;
	}
	if (spare != NULL)
	{
		spare->dboid = MyDatabaseId;
		strlcpy(spare->queue, queue, NAMEDATALEN);
		spare->tokens = 1;
		spare->refilled_at = now;
	}
	return spare;
}

/*
 * Take up to want start permits of a rate-limited queue (a token bucket
 * holding a tenth of a second's worth, refilled continuously), so that its
 * workers in this database together start no more than rate tasks a
 * second.  Returns how many were granted; when none, *wait_ms says when
 * one will be.
 */
int
taskq_rate_take(const char *queue, double rate, int want, long *wait_ms)
{
	TimestampTz now = GetCurrentTimestamp();
	TaskqRateBucket *b;
	int			granted;

	SpinLockAcquire(&shared->mutex);
	b = rate_bucket(queue, rate, now);
	if (b == NULL)
	{
		SpinLockRelease(&shared->mutex);
		/* every bucket is busy (over 256 rate-limited queues): wait a little */
		*wait_ms = (long) (1000.0 / rate) + 1;
		return 0;
	}
	b->rate = rate;
	/* at most a tenth of a second's worth: a burst stays within the rate */
	b->tokens = Min(Max(rate / 10.0, 1.0), b->tokens + rate * (double) (now - b->refilled_at) / 1000000.0);
	b->refilled_at = now;
	granted = (int) Min((double) want, b->tokens);
	b->tokens -= granted;
	*wait_ms = granted > 0 ? 0 : (long) ((1.0 - b->tokens) / rate * 1000.0) + 1;
	SpinLockRelease(&shared->mutex);
	return granted;
}

/* Give back permits taken but not used (the claim found fewer tasks). */
void
taskq_rate_return(const char *queue, int unused)
{
	if (unused <= 0)
		return;
	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < TASKQ_RATE_BUCKETS; i++)
	{
		if (shared->buckets[i].dboid == MyDatabaseId &&
			strcmp(shared->buckets[i].queue, queue) == 0)
		{
			shared->buckets[i].tokens += unused;
			break;
		}
	}
	SpinLockRelease(&shared->mutex);
}
