/*-------------------------------------------------------------------------
 *
 * queues.c
 *	  The queues: the taskq.queues GUC ('default:4, serial_queue:1,
 *	  api:8@50/s') parsed, what it says of each queue (concurrency, workers,
 *	  each worker's share, rate), and taskq.poll_interval, how often idle
 *	  processes look at the queues without being woken.
 *
 *	  The check hook parses into a guc_malloc'd TaskqConfig handed to the assign
 *	  hook as GUC "extra", so a malformed value is rejected with a message
 *	  and the value in force stays as it was.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "utils/guc.h"

#include "core/core.h"

char	   *taskq_queues_string = NULL;
int			taskq_max_workers_per_queue = 8;
int			taskq_poll_interval_ms = 10000;

static const TaskqConfig *current_config = NULL;

static bool
queue_name_char(char c)
{
	return isalnum((unsigned char) c) || c == '_' || c == '-' || c == '.';
}

/*
 * Parse value into cfg.  On a malformed value, report it through
 * GUC_check_errdetail and return false.
 */
static bool
parse_queues(const char *value, TaskqConfig *cfg)
{
	const char *p = value;

	cfg->nqueues = 0;
	for (;;)
	{
		const char *name_start;
		int			name_len;
		long		concurrency;
		double		rate;
		char	   *end;
		TaskqQueueConfig *q;

		while (isspace((unsigned char) *p))
			p++;
		if (*p == '\0')
			break;

		name_start = p;
		while (queue_name_char(*p))
			p++;
		name_len = p - name_start;
		if (name_len == 0)
		{
			GUC_check_errdetail("Expected a queue name at \"%s\"; names may use letters, digits, '_', '-' and '.'.", p);
			return false;
		}
		if (name_len >= NAMEDATALEN)
		{
			GUC_check_errdetail("Queue name \"%.*s\" is longer than %d characters.",
								name_len, name_start, NAMEDATALEN - 1);
			return false;
		}
		if (*p != '\0' && *p != ':' && *p != ',' && !isspace((unsigned char) *p))
		{
			/* a character a name may not have, in the middle of one */
			const char *word_end = p;

			while (*word_end != '\0' && *word_end != ':' && *word_end != ',' &&
				   !isspace((unsigned char) *word_end))
				word_end++;
			GUC_check_errdetail("Queue name \"%.*s\" has a character other than letters, digits, '_', '-' and '.'.",
								(int) (word_end - name_start), name_start);
			return false;
		}
		while (isspace((unsigned char) *p))
			p++;
		if (*p != ':')
		{
			GUC_check_errdetail("Queue \"%.*s\" needs a concurrency, as in \"%.*s:4\".",
								name_len, name_start, name_len, name_start);
			return false;
		}
		p++;
		while (isspace((unsigned char) *p))
			p++;
		errno = 0;
		concurrency = strtol(p, &end, 10);
		if (end == p || errno != 0 || concurrency < 1 || concurrency > TASKQ_MAX_CONCURRENCY)
		{
			GUC_check_errdetail("The concurrency of queue \"%.*s\" must be a whole number from 1 to %d.",
								name_len, name_start, TASKQ_MAX_CONCURRENCY);
			return false;
		}
		p = end;

		/* an optional rate limit: @N/s or @N/min */
		rate = 0;
		while (isspace((unsigned char) *p))
			p++;
		if (*p == '@')
		{
			p++;
			errno = 0;
			rate = strtod(p, &end);
			if (end == p || errno != 0 || rate <= 0 || rate > 1000000)
			{
				GUC_check_errdetail("The rate of queue \"%.*s\" must be a positive number of tasks, as in \"%.*s:4@50/s\".",
									name_len, name_start, name_len, name_start);
				return false;
			}
			p = end;
			if (strncmp(p, "/s", 2) == 0 && !isalpha((unsigned char) p[2]))
				p += 2;
			else if (strncmp(p, "/min", 4) == 0)
			{
				p += 4;
				rate /= 60.0;
			}
			else
			{
				GUC_check_errdetail("The rate of queue \"%.*s\" needs a unit, /s or /min, as in \"%.*s:4@50/s\".",
									name_len, name_start, name_len, name_start);
				return false;
			}
		}

		for (int i = 0; i < cfg->nqueues; i++)
		{
			if (strlen(cfg->queues[i].name) == (size_t) name_len &&
				strncmp(cfg->queues[i].name, name_start, name_len) == 0)
			{
				GUC_check_errdetail("Queue \"%.*s\" is listed twice.", name_len, name_start);
				return false;
			}
		}
		if (cfg->nqueues >= TASKQ_MAX_QUEUES)
		{
			GUC_check_errdetail("At most %d queues can be configured.", TASKQ_MAX_QUEUES);
			return false;
		}
		q = &cfg->queues[cfg->nqueues++];
		memcpy(q->name, name_start, name_len);
		q->name[name_len] = '\0';
		q->concurrency = (int) concurrency;
		q->rate = rate;

		while (isspace((unsigned char) *p))
			p++;
		if (*p == ',')
			p++;
		else if (*p != '\0')
		{
			GUC_check_errdetail("Expected ',' or the end of the list at \"%s\".", p);
			return false;
		}
	}
	return true;
}

bool
taskq_queues_check_hook(char **newval, void **extra, GucSource source)
{
	TaskqConfig *cfg;

	cfg = (TaskqConfig *) guc_malloc(LOG, sizeof(TaskqConfig));
	if (cfg == NULL)
		return false;
	if (!parse_queues(*newval ? *newval : "", cfg))
	{
		guc_free(cfg);
		return false;
	}
	*extra = cfg;
	return true;
}

void
taskq_queues_assign_hook(const char *newval, void *extra)
{
	current_config = (const TaskqConfig *) extra;
}

/* The configuration in force in this process. */
const TaskqConfig *
taskq_config(void)
{
	static const TaskqConfig empty = {0};

	return current_config ? current_config : &empty;
}

/*
 * How many worker processes serve the queue: one per unit of concurrency,
 * at most taskq.max_workers_per_queue (HTTP tasks are multiplexed, so a
 * queue of concurrency 200 needs a few processes, not 200).
 */
int
taskq_queue_workers(const char *queue)
{
	return Min(taskq_queue_concurrency(queue), taskq_max_workers_per_queue);
}

/*
 * How many tasks worker number index of the queue may have at once: its
 * share of the queue's concurrency.  The shares add up to the concurrency.
 */
int
taskq_worker_share(const char *queue, int index)
{
	int			concurrency = taskq_queue_concurrency(queue);
	int			workers = taskq_queue_workers(queue);

	if (workers == 0 || index >= workers)
		return 0;
	return concurrency / workers + (index < concurrency % workers ? 1 : 0);
}

/* The configuration of the queue, or NULL when it is not configured. */
static const TaskqQueueConfig *
find_queue(const char *queue)
{
	const TaskqConfig *cfg = taskq_config();

	for (int i = 0; i < cfg->nqueues; i++)
	{
		if (strcmp(cfg->queues[i].name, queue) == 0)
			return &cfg->queues[i];
	}
	return NULL;
}

/* Concurrency of the queue, or 0 when it is not configured. */
int
taskq_queue_concurrency(const char *queue)
{
	const TaskqQueueConfig *q = find_queue(queue);

	return q ? q->concurrency : 0;
}

/* The rate limit of the queue in task starts per second, 0 for none. */
double
taskq_queue_rate(const char *queue)
{
	const TaskqQueueConfig *q = find_queue(queue);

	return q ? q->rate : 0;
}
