/* pg_taskq--0.6.0--0.7.0.sql: operations (see docs/operations.md) */

\echo Use "ALTER EXTENSION pg_taskq UPDATE TO '0.7.0'" to load this file. \quit

/* what queue_stats counts through (with the claim and running indexes) */
CREATE INDEX tasks_waiting_idx ON taskq.tasks (queue) WHERE state = 'waiting';

/*
 * Operations (docs/operations.md).  Statistics: cumulative counters in
 * shared memory per database, owner, queue and function; a role sees the
 * entries of the roles whose privileges it has, taskq_admin all of them.
 */
CREATE FUNCTION taskq.stats_rows(OUT dbid oid, OUT owner oid, OUT queue text, OUT fn oid,
								 OUT succeeded bigint, OUT failed bigint, OUT retried bigint,
								 OUT cancelled bigint, OUT runs bigint,
								 OUT run_total_ms double precision, OUT run_mean_ms double precision,
								 OUT run_max_ms double precision, OUT waits bigint,
								 OUT wait_total_ms double precision, OUT wait_mean_ms double precision,
								 OUT wait_max_ms double precision, OUT since timestamptz)
	RETURNS SETOF record
	LANGUAGE c VOLATILE STRICT
	AS 'MODULE_PATHNAME', 'taskq_stats_rows';

COMMENT ON FUNCTION taskq.stats_rows()
	IS 'the statistics entries the caller may see (the rows of taskq.stats, with OIDs)';

CREATE VIEW taskq.stats WITH (security_invoker = true) AS
SELECT d.datname AS database,
	   s.owner::pg_catalog.regrole AS owner,
	   s.queue,
	   CASE WHEN s.dbid OPERATOR(pg_catalog.=)
				 (SELECT h.oid FROM pg_catalog.pg_database h
				  WHERE h.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
			THEN s.fn::pg_catalog.regprocedure::pg_catalog.text
			ELSE s.fn::pg_catalog.text END AS fn,
	   s.succeeded, s.failed, s.retried, s.cancelled,
	   s.runs, s.run_total_ms, s.run_mean_ms, s.run_max_ms,
	   s.waits, s.wait_total_ms, s.wait_mean_ms, s.wait_max_ms,
	   s.since AS stats_since
FROM taskq.stats_rows() s
	 LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) s.dbid;

COMMENT ON VIEW taskq.stats
	IS 'per database, owner, queue and function since the server started or stats_reset: attempts succeeded, failed for good, retried, cancelled; run time and queue wait (ms)';

GRANT SELECT ON taskq.stats TO PUBLIC;

CREATE FUNCTION taskq.stats_reset()
	RETURNS void
	LANGUAGE c VOLATILE
	AS 'MODULE_PATHNAME', 'taskq_stats_reset';

COMMENT ON FUNCTION taskq.stats_reset()
	IS 'forget the statistics of this database (members of taskq_admin)';

REVOKE ALL ON FUNCTION taskq.stats_reset() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION taskq.stats_reset() TO taskq_admin;

/* workers: wanted here, and running anywhere; a task is shown to who may see it */
CREATE FUNCTION taskq.worker_rows(OUT dbid oid, OUT queue text, OUT worker integer,
								  OUT workers_wanted integer, OUT workers_running integer,
								  OUT pid integer, OUT state text, OUT task_id bigint,
								  OUT state_since timestamptz)
	RETURNS SETOF record
	LANGUAGE c VOLATILE STRICT
	AS 'MODULE_PATHNAME', 'taskq_worker_rows';

COMMENT ON FUNCTION taskq.worker_rows()
	IS 'the workers (the rows of taskq.workers, with OIDs)';

CREATE VIEW taskq.workers WITH (security_invoker = true) AS
SELECT d.datname AS database, w.queue, w.worker, w.workers_wanted, w.workers_running,
	   w.pid, w.state, w.task_id, w.state_since
FROM taskq.worker_rows() w
	 LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) w.dbid;

COMMENT ON VIEW taskq.workers
	IS 'each worker taskq.queues wants in this database and each worker running in any: pid, state, current task, since when';

GRANT SELECT ON taskq.workers TO PUBLIC;

/*
 * Every failed attempt, retried or not.  Deleted with its task, by the
 * statement that prunes tasks (as the dependencies are): no foreign key,
 * whose triggers every update of taskq.tasks would pay for.
 */
CREATE TABLE taskq.attempts (
	task_id		bigint NOT NULL,
	attempt		integer NOT NULL,
	error		text,
	sqlstate	text,
	started_at	timestamptz,
	finished_at	timestamptz NOT NULL,
	worker_pid	integer
);
/* a task's attempts (a task retried by taskq.retry counts its attempts from 1 again) */
CREATE INDEX attempts_task_idx ON taskq.attempts (task_id, finished_at);

COMMENT ON TABLE taskq.attempts
	IS 'the failed attempts of tasks: error, SQLSTATE, when, which worker';

ALTER TABLE taskq.attempts ENABLE ROW LEVEL SECURITY;
CREATE POLICY attempts_owner_or_admin ON taskq.attempts FOR SELECT
	USING (EXISTS (SELECT FROM taskq.tasks t WHERE t.id OPERATOR(pg_catalog.=) task_id));
REVOKE ALL ON taskq.attempts FROM PUBLIC;
GRANT SELECT ON taskq.attempts TO PUBLIC;

/* the caller's tasks that failed for good (everyone's for taskq_admin), retried */
CREATE FUNCTION taskq.retry_failed(queue text DEFAULT NULL, fn regprocedure DEFAULT NULL,
								   failed_since timestamptz DEFAULT NULL)
	RETURNS bigint
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.count(*) FILTER (WHERE taskq.retry(t.id))
	FROM taskq.tasks t
	WHERE t.state OPERATOR(pg_catalog.=) 'failed'
	  AND ($1 IS NULL OR t.queue OPERATOR(pg_catalog.=) $1)
	  AND ($2 IS NULL OR t.fn OPERATOR(pg_catalog.=) $2)
	  AND ($3 IS NULL OR t.finished_at OPERATOR(pg_catalog.>=) $3)
$$;

COMMENT ON FUNCTION taskq.retry_failed(text, regprocedure, timestamptz)
	IS 'retry, as taskq.retry does, the tasks the caller can see that failed for good, by queue, function and finish time; returns how many';

/* queue_stats, served by indexes; finished counts from the statistics */
DROP VIEW taskq.queue_stats;
/*
 * Per queue: its backlog, counted through the partial indexes of unfinished
 * tasks only (claim, running, waiting), so the view's cost follows the
 * unfinished tasks, not the retained history; the finished counts come
 * from taskq.stats (since its last reset).  oldest_queued_age: how long
 * the oldest due task has waited since it was due (delayed tasks are not
 * backlog).
 */
CREATE VIEW taskq.queue_stats WITH (security_invoker = true) AS
WITH here AS (
	SELECT s.queue, s.succeeded, s.failed, s.cancelled
	FROM taskq.stats_rows() s
	WHERE s.dbid OPERATOR(pg_catalog.=)
		  (SELECT d.oid FROM pg_catalog.pg_database d
		   WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())),
names AS (
	SELECT c.queue FROM taskq.queues() c
	UNION
	SELECT t.queue FROM taskq.tasks t WHERE t.state OPERATOR(pg_catalog.=) 'waiting'
	UNION
	SELECT t.queue FROM taskq.tasks t WHERE t.state OPERATOR(pg_catalog.=) 'queued'
	UNION
	SELECT t.queue FROM taskq.tasks t WHERE t.state OPERATOR(pg_catalog.=) 'running'
	UNION
	SELECT h.queue FROM here h)
SELECT n.queue,
	   (SELECT c.concurrency FROM taskq.queues() c WHERE c.queue OPERATOR(pg_catalog.=) n.queue)
		   AS concurrency,
	   (SELECT pg_catalog.count(*) FROM taskq.tasks t
		WHERE t.queue OPERATOR(pg_catalog.=) n.queue
		  AND t.state OPERATOR(pg_catalog.=) 'waiting') AS waiting,
	   q.queued,
	   (SELECT pg_catalog.count(*) FROM taskq.tasks t
		WHERE t.queue OPERATOR(pg_catalog.=) n.queue
		  AND t.state OPERATOR(pg_catalog.=) 'running') AS running,
	   (SELECT COALESCE(pg_catalog.sum(h.succeeded), 0)::bigint FROM here h
		WHERE h.queue OPERATOR(pg_catalog.=) n.queue) AS succeeded,
	   (SELECT COALESCE(pg_catalog.sum(h.failed), 0)::bigint FROM here h
		WHERE h.queue OPERATOR(pg_catalog.=) n.queue) AS failed,
	   (SELECT COALESCE(pg_catalog.sum(h.cancelled), 0)::bigint FROM here h
		WHERE h.queue OPERATOR(pg_catalog.=) n.queue) AS cancelled,
	   pg_catalog.now() OPERATOR(pg_catalog.-) q.oldest_due AS oldest_queued_age,
	   q.due
FROM names n,
	 LATERAL (SELECT pg_catalog.count(*) AS queued,
					 pg_catalog.count(*) FILTER (WHERE t.run_at OPERATOR(pg_catalog.<=) pg_catalog.now()) AS due,
					 pg_catalog.min(t.run_at) FILTER (WHERE t.run_at OPERATOR(pg_catalog.<=) pg_catalog.now())
						 AS oldest_due
			  FROM taskq.tasks t
			  WHERE t.queue OPERATOR(pg_catalog.=) n.queue
				AND t.state OPERATOR(pg_catalog.=) 'queued') q;

COMMENT ON VIEW taskq.queue_stats
	IS 'per queue: configured concurrency, unfinished tasks by state, due tasks and how long the oldest has waited, finished counts since the statistics were reset';

GRANT SELECT ON taskq.queue_stats TO PUBLIC;

/* the attempts are kept by a dump, as the tasks are */
SELECT pg_catalog.pg_extension_config_dump('taskq.attempts', '');
