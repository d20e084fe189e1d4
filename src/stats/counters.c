/*-------------------------------------------------------------------------
 *
 * counters.c
 *	  The shared table of task statistics: a hash table in shared memory of
 *	  taskq.stats_max entries, one per (database, owner, queue, function),
 *	  as pg_stat_statements keeps one per statement.
 *
 *	  The LWLock is taken shared to find an entry and update it (each entry
 *	  has a spinlock for its counters), exclusive only to add or remove
 *	  entries.  An outcome whose entry cannot be added (the table is full)
 *	  goes to one overflow entry, so totals stay right.  Counters live only
 *	  in memory: they start from zero when the server starts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "stats/stats.h"

bool		taskq_track_stats = true;
int			taskq_stats_max = 1000;

typedef struct StatsKey
{
	Oid			dboid;
	Oid			owner;
	Oid			fn;
	char		queue[NAMEDATALEN];
} StatsKey;

typedef struct StatsEntry
{
	StatsKey	key;			/* the hash key: first */
	slock_t		mutex;
	TaskqStatsCounters c;
} StatsEntry;

typedef struct StatsShared
{
	LWLock	   *lock;
	slock_t		overflow_mutex;
	TaskqStatsCounters overflow;
} StatsShared;

static StatsShared *shared = NULL;
static HTAB *entries = NULL;

void
taskq_stats_shmem_request(void)
{
	RequestAddinShmemSpace(add_size(MAXALIGN(sizeof(StatsShared)),
									hash_estimate_size(taskq_stats_max, sizeof(StatsEntry))));
	RequestNamedLWLockTranche("pg_taskq stats", 1);
}

/* Called with AddinShmemInitLock held. */
void
taskq_stats_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	shared = ShmemInitStruct("pg_taskq stats", sizeof(StatsShared), &found);
	if (!found)
	{
		memset(shared, 0, sizeof(StatsShared));
		shared->lock = &(GetNamedLWLockTranche("pg_taskq stats"))->lock;
		SpinLockInit(&shared->overflow_mutex);
		shared->overflow.since = GetCurrentTimestamp();
	}
	info.keysize = sizeof(StatsKey);
	info.entrysize = sizeof(StatsEntry);
	entries = ShmemInitHash("pg_taskq stats entries", taskq_stats_max, taskq_stats_max,
							&info, HASH_ELEM | HASH_BLOBS);
}

static void
add_to(TaskqStatsCounters *c, TaskqStatKind kind, double run_ms, double wait_ms)
{
	c->count[kind]++;
	if (run_ms >= 0)
	{
		c->runs++;
		c->run_total_ms += run_ms;
		c->run_max_ms = Max(c->run_max_ms, run_ms);
	}
	if (wait_ms >= 0)
	{
		c->waits++;
		c->wait_total_ms += wait_ms;
		c->wait_max_ms = Max(c->wait_max_ms, wait_ms);
	}
}

/* Count one attempt of a task of this database (after its batch committed). */
void
taskq_stats_count(Oid owner, const char *queue, Oid fn, TaskqStatKind kind,
				  double run_ms, double wait_ms)
{
	StatsKey	key;
	StatsEntry *e;

	if (!taskq_track_stats || shared == NULL)
		return;
	memset(&key, 0, sizeof(key));	/* the hash reads every byte */
	key.dboid = MyDatabaseId;
	key.owner = owner;
	key.fn = fn;
	strlcpy(key.queue, queue, NAMEDATALEN);

	LWLockAcquire(shared->lock, LW_SHARED);
	e = hash_search(entries, &key, HASH_FIND, NULL);
	if (e == NULL)
	{
		bool		found;

		LWLockRelease(shared->lock);
		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		/* a shared hash table would grow past its size: the limit is ours */
		if (hash_get_num_entries(entries) < taskq_stats_max)
			e = hash_search(entries, &key, HASH_ENTER_NULL, &found);
		else
			e = hash_search(entries, &key, HASH_FIND, &found);
		if (e != NULL && !found)
		{
			SpinLockInit(&e->mutex);
			memset(&e->c, 0, sizeof(e->c));
			e->c.since = GetCurrentTimestamp();
		}
	}
	if (e != NULL)
	{
		SpinLockAcquire(&e->mutex);
		add_to(&e->c, kind, run_ms, wait_ms);
		SpinLockRelease(&e->mutex);
	}
	else
	{
		/* the table is full: counted all the same, in the overflow entry */
		SpinLockAcquire(&shared->overflow_mutex);
		add_to(&shared->overflow, kind, run_ms, wait_ms);
		SpinLockRelease(&shared->overflow_mutex);
	}
	LWLockRelease(shared->lock);
}

/*
 * A copy of every entry (the caller filters what it may show), the
 * overflow entry last when anything went there; returns how many.
 */
int
taskq_stats_read(TaskqStatsRow **rows)
{
	HASH_SEQ_STATUS seq;
	StatsEntry *e;
	int			n = 0;
	int			max;

	LWLockAcquire(shared->lock, LW_SHARED);
	max = (int) hash_get_num_entries(entries) + 1;
	*rows = palloc0(sizeof(TaskqStatsRow) * max);
	hash_seq_init(&seq, entries);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		TaskqStatsRow *row = &(*rows)[n++];

		row->dboid = e->key.dboid;
		row->owner = e->key.owner;
		row->fn = e->key.fn;
		strlcpy(row->queue, e->key.queue, NAMEDATALEN);
		SpinLockAcquire(&e->mutex);
		row->c = e->c;
		SpinLockRelease(&e->mutex);
	}
	SpinLockAcquire(&shared->overflow_mutex);
	if (shared->overflow.count[TASKQ_STAT_SUCCEEDED] + shared->overflow.count[TASKQ_STAT_FAILED] +
		shared->overflow.count[TASKQ_STAT_RETRIED] + shared->overflow.count[TASKQ_STAT_CANCELLED] > 0)
	{
		(*rows)[n].overflow = true;
		(*rows)[n].c = shared->overflow;
		n++;
	}
	SpinLockRelease(&shared->overflow_mutex);
	LWLockRelease(shared->lock);
	return n;
}

/* Remove the entries of a database (and empty the overflow entry). */
void
taskq_stats_reset_database(Oid dboid)
{
	HASH_SEQ_STATUS seq;
	StatsEntry *e;

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, entries);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (e->key.dboid == dboid)
			(void) hash_search(entries, &e->key, HASH_REMOVE, NULL);
	}
	SpinLockAcquire(&shared->overflow_mutex);
	memset(&shared->overflow, 0, sizeof(shared->overflow));
	shared->overflow.since = GetCurrentTimestamp();
	SpinLockRelease(&shared->overflow_mutex);
	LWLockRelease(shared->lock);
}
