/* pg_taskq--0.10.0.sql: the tables, functions and views of pg_taskq 0.10.0 */

\echo Use "CREATE EXTENSION pg_taskq" to load this file. \quit

/*
 * The schema taskq must be ours.  CREATE EXTENSION creates it when it is
 * missing, but adopts one that exists; one made beforehand by an ordinary
 * role (a database owner may create schemas) would let that role drop and
 * replace the tables that the workers' superuser writes, or place objects
 * beside ours.  This script runs at the end of every install (the install
 * walks 0.1.0 and the updates) and on the update of an existing one, so
 * both refuse a schema that is owned by a role that is not a superuser,
 * that another role may create objects in, or that holds an object owned
 * by a role that is not a superuser (only superusers can install pg_taskq,
 * so all of its own objects are theirs).
 */
DO $check$
DECLARE
	nsp oid := (SELECT n.oid FROM pg_catalog.pg_namespace n
				WHERE n.nspname OPERATOR(pg_catalog.=) 'taskq');
	owner_name text;
	stray text;
BEGIN
	SELECT r.rolname INTO owner_name
	FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
	WHERE n.oid OPERATOR(pg_catalog.=) nsp AND NOT r.rolsuper;
	IF owner_name IS NOT NULL THEN
		RAISE EXCEPTION 'schema "taskq" is owned by role "%", which is not a superuser', owner_name
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'pg_taskq runs its workers as a superuser on the tables of this schema, so the schema must belong to a superuser; it was probably created before CREATE EXTENSION pg_taskq by someone else.',
				  HINT = 'Drop or rename that schema (after checking what it holds), then create the extension again.';
	END IF;

	SELECT pg_catalog.string_agg(COALESCE(r.rolname, 'PUBLIC'), ', ') INTO stray
	FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
		 LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
	WHERE n.oid OPERATOR(pg_catalog.=) nsp
	  AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
	  AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner;
	IF stray IS NOT NULL THEN
		RAISE EXCEPTION 'roles other than its owner may create objects in schema "taskq"'
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = pg_catalog.format('CREATE on the schema is granted to: %s.', stray),
				  HINT = 'REVOKE CREATE ON SCHEMA taskq FROM those roles, then try again.';
	END IF;

	SELECT pg_catalog.string_agg(pg_catalog.format('%s (owned by %s)', o.what, r.rolname), ', ')
	INTO stray
	FROM (SELECT pg_catalog.format('relation %s', c.oid::pg_catalog.regclass) AS what, c.relowner AS owner
		  FROM pg_catalog.pg_class c WHERE c.relnamespace OPERATOR(pg_catalog.=) nsp
		  UNION ALL
		  SELECT pg_catalog.format('function %s', p.oid::pg_catalog.regprocedure), p.proowner
		  FROM pg_catalog.pg_proc p WHERE p.pronamespace OPERATOR(pg_catalog.=) nsp
		  UNION ALL
		  SELECT pg_catalog.format('type %s', t.oid::pg_catalog.regtype), t.typowner
		  FROM pg_catalog.pg_type t WHERE t.typnamespace OPERATOR(pg_catalog.=) nsp
			AND t.typrelid OPERATOR(pg_catalog.=) 0	/* a relation's row type: its relation is listed */
			AND NOT (t.typcategory OPERATOR(pg_catalog.=) 'A' AND t.typelem OPERATOR(pg_catalog.<>) 0)
		  UNION ALL
		  SELECT pg_catalog.format('operator %s', o.oid::pg_catalog.regoperator), o.oprowner
		  FROM pg_catalog.pg_operator o WHERE o.oprnamespace OPERATOR(pg_catalog.=) nsp
		  UNION ALL
		  SELECT pg_catalog.format('operator class %s', c.opcname), c.opcowner
		  FROM pg_catalog.pg_opclass c WHERE c.opcnamespace OPERATOR(pg_catalog.=) nsp
		  UNION ALL
		  SELECT pg_catalog.format('operator family %s', f.opfname), f.opfowner
		  FROM pg_catalog.pg_opfamily f WHERE f.opfnamespace OPERATOR(pg_catalog.=) nsp
		  UNION ALL
		  SELECT pg_catalog.format('collation %s', c.collname), c.collowner
		  FROM pg_catalog.pg_collation c WHERE c.collnamespace OPERATOR(pg_catalog.=) nsp
		  UNION ALL
		  SELECT pg_catalog.format('conversion %s', c.conname), c.conowner
		  FROM pg_catalog.pg_conversion c WHERE c.connamespace OPERATOR(pg_catalog.=) nsp
		  UNION ALL
		  SELECT pg_catalog.format('text search configuration %s', c.cfgname), c.cfgowner
		  FROM pg_catalog.pg_ts_config c WHERE c.cfgnamespace OPERATOR(pg_catalog.=) nsp
		  UNION ALL
		  SELECT pg_catalog.format('text search dictionary %s', d.dictname), d.dictowner
		  FROM pg_catalog.pg_ts_dict d WHERE d.dictnamespace OPERATOR(pg_catalog.=) nsp
		  UNION ALL
		  SELECT pg_catalog.format('statistics object %s', s.stxname), s.stxowner
		  FROM pg_catalog.pg_statistic_ext s WHERE s.stxnamespace OPERATOR(pg_catalog.=) nsp
		  UNION ALL
		  SELECT pg_catalog.format('extension %s', e.extname), e.extowner
		  FROM pg_catalog.pg_extension e WHERE e.extnamespace OPERATOR(pg_catalog.=) nsp
			AND e.extname OPERATOR(pg_catalog.<>) 'pg_taskq') o
		 JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) o.owner
	WHERE NOT r.rolsuper;
	IF stray IS NOT NULL THEN
		RAISE EXCEPTION 'schema "taskq" holds objects owned by roles that are not superusers'
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = pg_catalog.format('Found: %s.', stray),
				  HINT = 'The schema was probably created before CREATE EXTENSION pg_taskq by someone else: drop or rename it (after checking what it holds), then create the extension again.';
	END IF;
END
$check$;

/*
 * taskq_admin is cluster-wide and may already exist (the extension is
 * installed in another database, or was dropped and created again).
 */
DO $do$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles
				   WHERE rolname OPERATOR(pg_catalog.=) 'taskq_admin') THEN
		CREATE ROLE taskq_admin NOLOGIN;
	END IF;
END
$do$;

/*
 * The CHECK of a task row, in C (src/core/row_check.c, where it says why):
 * a state of the six, max_attempts >= 1, a lock mode 's' or 'x', given
 * with a lock key and only with one.
 */
CREATE FUNCTION taskq.task_row_valid(state text, max_attempts integer,
									 lock_key_is_null boolean, lock_mode "char")
	RETURNS boolean
	LANGUAGE c IMMUTABLE PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'taskq_task_row_valid';

COMMENT ON FUNCTION taskq.task_row_valid(text, integer, boolean, "char")
	IS 'the CHECK constraint of taskq.tasks';

CREATE TABLE taskq.tasks (
	id				bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	queue			text NOT NULL,
	fn				regprocedure NOT NULL,
	args			jsonb NOT NULL DEFAULT '[]',
	state			text NOT NULL DEFAULT 'queued',
	priority		integer NOT NULL DEFAULT 0,
	attempt			integer NOT NULL DEFAULT 0,
	max_attempts	integer NOT NULL DEFAULT 3,
	run_at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	timeout			interval,
	unique_key		text,
	owner			regrole NOT NULL,
	result			jsonb,
	error			text,
	sqlstate		text,
	enqueued_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	started_at		timestamptz,
	finished_at		timestamptz,
	worker_pid		integer,
	/* internal: which worker claimed it, and the crash-isolation flags */
	worker_token	bigint,
	batched			boolean NOT NULL DEFAULT false,
	run_alone		boolean NOT NULL DEFAULT false,
	/* workflows (docs/workflows.md) */
	workflow_id		bigint,
	pending			integer NOT NULL DEFAULT 0,
	has_dependents	boolean NOT NULL DEFAULT false,
	/* set by taskq.cancel on a running task; its worker stops it */
	cancel_requested boolean NOT NULL DEFAULT false,
	/* lock keys (see the README) */
	lock_key		text,
	lock_mode		"char",
	/* a state of the six ('waiting', 'queued', 'running', 'succeeded',
	 * 'failed', 'cancelled'), max_attempts >= 1, lock_mode 's' or 'x' and
	 * given with lock_key only */
	CONSTRAINT tasks_row_check
		CHECK (taskq.task_row_valid(state, max_attempts, lock_key IS NULL, lock_mode))
) WITH (toast_tuple_target = 4096);	/* rows of up to 4 kB uncompressed: see below */

COMMENT ON TABLE taskq.tasks IS 'every task of pg_taskq, queued, running and finished';

/*
 * Results and arguments (an HTTP task's result holds the response body) are
 * compressed with lz4 where the server has it: pglz took a fifth of an HTTP
 * worker's time (issue 16).  A server built without lz4 keeps pglz.  And
 * only rows longer than 4 kB are compressed (toast_tuple_target above; 2 kB
 * by default): compressing a 3 kB response, and the next step's arguments
 * made of it, still cost an HTTP worker a sixth of its time per request.
 */
DO $$
BEGIN
	IF EXISTS (SELECT FROM pg_catalog.pg_settings
			   WHERE name OPERATOR(pg_catalog.=) 'default_toast_compression'
				 AND 'lz4' OPERATOR(pg_catalog.=) ANY (enumvals)) THEN
		ALTER TABLE taskq.tasks ALTER COLUMN result SET COMPRESSION lz4,
								ALTER COLUMN args SET COMPRESSION lz4;
	END IF;
END $$;

/*
 * What workers claim: only queued rows are in it, so finished ones cost
 * nothing.  Tasks with a lock key sit in a range of their own
 * ((lock_key IS NULL) = false) that the claims, which ask for lock_key IS
 * NULL, never enter; they are claimed through tasks_lock_queued_idx.
 */
CREATE INDEX tasks_claim_idx ON taskq.tasks (queue, (lock_key IS NULL), priority DESC, run_at, id)
	WHERE state = 'queued';
/* tasks that shared a crashed batch: claimed one at a time (see docs/design.md) */
CREATE INDEX tasks_claim_alone_idx ON taskq.tasks (queue, priority DESC, run_at, id)
	WHERE state = 'queued' AND run_alone AND lock_key IS NULL;
/* orphan recovery */
CREATE INDEX tasks_running_idx ON taskq.tasks (queue) WHERE state = 'running';
/* workflow steps waiting for earlier steps (taskq.queue_stats counts them) */
CREATE INDEX tasks_waiting_idx ON taskq.tasks (queue) WHERE state = 'waiting';
/* at most one unfinished task per unique_key, for each role */
CREATE UNIQUE INDEX tasks_unique_key_idx ON taskq.tasks (owner, unique_key)
	WHERE unique_key IS NOT NULL AND state IN ('waiting', 'queued', 'running');
CREATE INDEX tasks_workflow_idx ON taskq.tasks (workflow_id) WHERE workflow_id IS NOT NULL;
/* lock keys, (owner, lock_key): the queued tasks of a key, and its holders */
CREATE INDEX tasks_lock_queued_idx ON taskq.tasks (queue, owner, lock_key, id)
	WHERE state = 'queued' AND lock_key IS NOT NULL;
CREATE INDEX tasks_lock_running_idx ON taskq.tasks (owner, lock_key)
	WHERE state = 'running' AND lock_key IS NOT NULL;

/*
 * Users read their own tasks; every change goes through the functions below,
 * which write with the table owner's rights.
 */
ALTER TABLE taskq.tasks ENABLE ROW LEVEL SECURITY;
CREATE POLICY tasks_owner_or_admin ON taskq.tasks FOR SELECT
	USING (owner OPERATOR(pg_catalog.=) pg_catalog.current_user()::pg_catalog.regrole
		   OR pg_catalog.pg_has_role('taskq_admin', 'MEMBER'));

REVOKE ALL ON taskq.tasks FROM PUBLIC;
GRANT SELECT ON taskq.tasks TO PUBLIC;
GRANT USAGE ON SCHEMA taskq TO PUBLIC;

CREATE FUNCTION taskq.enqueue(fn text,
							  args jsonb DEFAULT '[]',
							  queue text DEFAULT 'default',
							  priority integer DEFAULT 0,
							  run_at timestamptz DEFAULT NULL,
							  delay interval DEFAULT NULL,
							  max_attempts integer DEFAULT 3,
							  timeout interval DEFAULT NULL,
							  unique_key text DEFAULT NULL,
							  lock text DEFAULT NULL)
	RETURNS bigint
	LANGUAGE c VOLATILE CALLED ON NULL INPUT
	AS 'MODULE_PATHNAME', 'taskq_enqueue';

COMMENT ON FUNCTION taskq.enqueue(text, jsonb, text, integer, timestamptz, interval, integer, interval, text, text)
	IS 'enqueue a call of a SQL function; lock => ''shared:KEY'' or ''exclusive:KEY''; returns the task id';

/*
 * Many tasks of one function in one call (README, "Enqueueing many tasks"):
 * resolved and checked once, inserted by one statement; the ids come back in
 * the order of args.
 */
CREATE FUNCTION taskq.enqueue_many(fn text,
								   args jsonb[],
								   queue text DEFAULT 'default',
								   priority integer DEFAULT 0,
								   run_at timestamptz DEFAULT NULL,
								   delay interval DEFAULT NULL,
								   max_attempts integer DEFAULT 3,
								   timeout interval DEFAULT NULL,
								   unique_keys text[] DEFAULT NULL,
								   lock text DEFAULT NULL)
	RETURNS SETOF bigint
	LANGUAGE c VOLATILE CALLED ON NULL INPUT ROWS 1000
	AS 'MODULE_PATHNAME', 'taskq_enqueue_many';

COMMENT ON FUNCTION taskq.enqueue_many(text, jsonb[], text, integer, timestamptz, interval, integer, interval, text[], text)
	IS 'enqueue one task of fn per element of args (unique_keys: one per task, or NULL); returns their ids in the order of args';

CREATE FUNCTION taskq.enqueue_trigger()
	RETURNS trigger
	LANGUAGE c
	AS 'MODULE_PATHNAME', 'taskq_enqueue_trigger';

COMMENT ON FUNCTION taskq.enqueue_trigger()
	IS 'trigger: enqueue fn(NEW) (OLD for DELETE) on a queue, for each row or for each row of a statement''s transition table; arguments: fn [, queue]';

CREATE FUNCTION taskq.wait(id bigint, timeout interval DEFAULT NULL)
	RETURNS taskq.tasks
	LANGUAGE c VOLATILE CALLED ON NULL INPUT
	AS 'MODULE_PATHNAME', 'taskq_wait';

COMMENT ON FUNCTION taskq.wait(bigint, interval)
	IS 'block until the task is finished (or the timeout passes) and return its row';

CREATE FUNCTION taskq.queues(OUT queue text, OUT concurrency integer)
	RETURNS SETOF record
	LANGUAGE c STABLE STRICT
	AS 'MODULE_PATHNAME', 'taskq_queues';

COMMENT ON FUNCTION taskq.queues()
	IS 'the queues configured by taskq.queues, with their concurrency';

/* workflows (see docs/workflows.md) */
/* task_id waits for depends_on */
CREATE TABLE taskq.dependencies (
	task_id		bigint NOT NULL,
	depends_on	bigint NOT NULL,
	position	integer NOT NULL DEFAULT 0,
	mode		"char" NOT NULL CHECK (mode IN ('p', 'c', 'o', 'e', 'f', 'r')),
	PRIMARY KEY (task_id, depends_on)
);
CREATE INDEX dependencies_depends_on_idx ON taskq.dependencies (depends_on);

COMMENT ON TABLE taskq.dependencies IS
	'workflow edges: task_id waits for depends_on (p: gets its result prepended, c: collects it at position, o: order only, e/f: error callback with/without the failure, r: ends with its result, a continuation)';

/* dependencies show only what the reader's tasks depend on */
ALTER TABLE taskq.dependencies ENABLE ROW LEVEL SECURITY;
CREATE POLICY dependencies_owner_or_admin ON taskq.dependencies FOR SELECT
	USING (EXISTS (SELECT FROM taskq.tasks t WHERE t.id OPERATOR(pg_catalog.=) task_id));
REVOKE ALL ON taskq.dependencies FROM PUBLIC;
GRANT SELECT ON taskq.dependencies TO PUBLIC;

CREATE DOMAIN taskq.signature AS jsonb
	CHECK (pg_catalog.jsonb_typeof(VALUE) OPERATOR(pg_catalog.=) 'object');

COMMENT ON DOMAIN taskq.signature IS
	'a task or workflow described, not enqueued: build with taskq.task, chain, group, chord';

CREATE FUNCTION taskq.task(fn text,
						   args jsonb DEFAULT '[]',
						   queue text DEFAULT 'default',
						   priority integer DEFAULT 0,
						   delay interval DEFAULT NULL,
						   max_attempts integer DEFAULT 3,
						   timeout interval DEFAULT NULL,
						   immutable boolean DEFAULT false,
						   lock text DEFAULT NULL)
	RETURNS taskq.signature
	LANGUAGE c STABLE CALLED ON NULL INPUT
	AS 'MODULE_PATHNAME', 'taskq_task_signature';

COMMENT ON FUNCTION taskq.task(text, jsonb, text, integer, interval, integer, interval, boolean, text)
	IS 'signature of a SQL task; immutable => true: it does not receive the previous result; lock => ''shared:KEY'' or ''exclusive:KEY''';

CREATE FUNCTION taskq.chain(VARIADIC steps taskq.signature[])
	RETURNS taskq.signature
	LANGUAGE c IMMUTABLE STRICT
	AS 'MODULE_PATHNAME', 'taskq_chain_signature';

COMMENT ON FUNCTION taskq.chain(taskq.signature[])
	IS 'signature: run the steps one after the other, each receiving the previous result';

CREATE FUNCTION taskq.group(VARIADIC members taskq.signature[])
	RETURNS taskq.signature
	LANGUAGE c IMMUTABLE STRICT
	AS 'MODULE_PATHNAME', 'taskq_group_signature';

COMMENT ON FUNCTION taskq.group(taskq.signature[])
	IS 'signature: run the members in parallel; the result is the array of their results';

CREATE FUNCTION taskq.chord(header taskq.signature[], body taskq.signature)
	RETURNS taskq.signature
	LANGUAGE c IMMUTABLE STRICT
	AS 'MODULE_PATHNAME', 'taskq_chord_signature';

COMMENT ON FUNCTION taskq.chord(taskq.signature[], taskq.signature)
	IS 'signature: run body once after every header member succeeded, with the array of their results';

CREATE FUNCTION taskq.enqueue(sig taskq.signature, on_error taskq.signature DEFAULT NULL)
	RETURNS bigint
	LANGUAGE c VOLATILE CALLED ON NULL INPUT
	AS 'MODULE_PATHNAME', 'taskq_enqueue_signature';

COMMENT ON FUNCTION taskq.enqueue(taskq.signature, taskq.signature)
	IS 'enqueue a task or workflow atomically; returns the id of the task that carries its result';

/* the collector of a group: its result is the array of the members' results */
CREATE FUNCTION taskq.collect(results jsonb) RETURNS jsonb
	LANGUAGE sql IMMUTABLE STRICT
	AS 'SELECT results';

COMMENT ON FUNCTION taskq.collect(jsonb)
	IS 'the task that ends a group: returns the results of its members';

/* the tasks of the workflow of a task, with what each waits for */
CREATE FUNCTION taskq.workflow(id bigint)
	RETURNS TABLE (task_id bigint, fn regprocedure, queue text, state text,
				   depends_on bigint[], modes text, pending integer,
				   attempt integer, result jsonb, error text)
	LANGUAGE sql STABLE STRICT
	SET search_path = pg_catalog, pg_temp
AS $$
	SELECT t.id, t.fn, t.queue, t.state,
		   ARRAY(SELECT d.depends_on FROM taskq.dependencies d
				 WHERE d.task_id OPERATOR(pg_catalog.=) t.id
				 ORDER BY d.position, d.depends_on),
		   (SELECT pg_catalog.string_agg(d.mode::text, '' ORDER BY d.position, d.depends_on)
			FROM taskq.dependencies d WHERE d.task_id OPERATOR(pg_catalog.=) t.id),
		   t.pending, t.attempt, t.result, t.error
	FROM taskq.tasks t
	WHERE t.id OPERATOR(pg_catalog.=) $1
	   OR t.workflow_id OPERATOR(pg_catalog.=)
		  (SELECT w.workflow_id FROM taskq.tasks w WHERE w.id OPERATOR(pg_catalog.=) $1)
	ORDER BY t.id
$$;

COMMENT ON FUNCTION taskq.workflow(bigint)
	IS 'the tasks of the workflow that task id belongs to, with their dependencies and states';

/* what HTTP tasks name as their function; workers run the request instead */
CREATE FUNCTION taskq.http_request(request jsonb)
	RETURNS jsonb
	LANGUAGE c VOLATILE STRICT
	AS 'MODULE_PATHNAME', 'taskq_http_request';

COMMENT ON FUNCTION taskq.http_request(jsonb)
	IS 'the function of HTTP tasks: workers run the request; it cannot be called from SQL';

CREATE FUNCTION taskq.http(url text,
						   method text DEFAULT 'GET',
						   headers jsonb DEFAULT '{}',
						   body text DEFAULT NULL,
						   timeout interval DEFAULT '30 s',
						   queue text DEFAULT 'default',
						   priority integer DEFAULT 0,
						   delay interval DEFAULT NULL,
						   max_attempts integer DEFAULT 3)
	RETURNS taskq.signature
	LANGUAGE c STABLE CALLED ON NULL INPUT
	AS 'MODULE_PATHNAME', 'taskq_http_signature';

COMMENT ON FUNCTION taskq.http(text, text, jsonb, text, interval, text, integer, interval, integer)
	IS 'signature of an HTTP task; its result is {status, headers, body, url}';

/* cancellation and retry */
CREATE FUNCTION taskq.cancel(id bigint)
	RETURNS boolean
	LANGUAGE c VOLATILE STRICT
	AS 'MODULE_PATHNAME', 'taskq_cancel';

COMMENT ON FUNCTION taskq.cancel(bigint)
	IS 'cancel a task: at once if it waits or is queued, promptly if it runs; what depends on it ends cancelled';

CREATE FUNCTION taskq.retry(id bigint)
	RETURNS boolean
	LANGUAGE c VOLATILE STRICT
	AS 'MODULE_PATHNAME', 'taskq_retry';

COMMENT ON FUNCTION taskq.retry(bigint)
	IS 'put a failed or cancelled task back in its queue, with its attempts counted afresh';

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

/*
 * Schedules (docs/schedules.md): a role's named schedules, each ticking a
 * signature on a cron expression or an interval, in a time zone.  The
 * workers enqueue the ticks, as the owner; callers change them only
 * through taskq.schedule and taskq.unschedule.
 */
CREATE TABLE taskq.schedules (
	name		text NOT NULL,
	owner		regrole NOT NULL,
	schedule	text NOT NULL,
	time_zone	text NOT NULL,
	signature	taskq.signature NOT NULL,
	missed		text NOT NULL DEFAULT 'skip' CHECK (missed IN ('skip', 'once')),
	next_run	timestamptz NOT NULL,
	last_run	timestamptz,
	last_task	bigint,
	runs		bigint NOT NULL DEFAULT 0,
	last_error	text,
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (owner, name)
);
CREATE INDEX schedules_next_run_idx ON taskq.schedules (next_run);

COMMENT ON TABLE taskq.schedules
	IS 'schedules: each ticks its signature at its cron expression or interval, enqueued as its owner';

ALTER TABLE taskq.schedules ENABLE ROW LEVEL SECURITY;
CREATE POLICY schedules_owner_or_admin ON taskq.schedules FOR SELECT
	USING (owner OPERATOR(pg_catalog.=) current_user::pg_catalog.regrole
		   OR pg_catalog.pg_has_role('taskq_admin', 'MEMBER'));
REVOKE ALL ON taskq.schedules FROM PUBLIC;
GRANT SELECT ON taskq.schedules TO PUBLIC;

CREATE FUNCTION taskq.schedule(name text, schedule text, sig taskq.signature,
							   time_zone text DEFAULT NULL, missed text DEFAULT 'skip')
	RETURNS timestamptz
	LANGUAGE c VOLATILE CALLED ON NULL INPUT
	AS 'MODULE_PATHNAME', 'taskq_schedule';

COMMENT ON FUNCTION taskq.schedule(text, text, taskq.signature, text, text)
	IS 'create or replace the caller''s schedule: a cron expression or an interval, in a time zone; returns its first tick';

CREATE FUNCTION taskq.unschedule(name text)
	RETURNS boolean
	LANGUAGE c VOLATILE STRICT
	AS 'MODULE_PATHNAME', 'taskq_unschedule';

COMMENT ON FUNCTION taskq.unschedule(text)
	IS 'remove the caller''s schedule of that name; false if there was none';

CREATE FUNCTION taskq.schedule_next(schedule text, after timestamptz DEFAULT NULL,
									time_zone text DEFAULT NULL)
	RETURNS timestamptz
	LANGUAGE c STABLE CALLED ON NULL INPUT
	AS 'MODULE_PATHNAME', 'taskq_schedule_next';

COMMENT ON FUNCTION taskq.schedule_next(text, timestamptz, text)
	IS 'when a schedule (cron expression or interval) ticks next after a time, in a time zone';

/*
 * Continuations (docs/schedules.md, "Waiting"): a SQL task whose function
 * returns taskq.continuation hands its place to the signature it returned.
 * The signature is enqueued (as the task's owner) when the task ends; the
 * task then waits, holding no worker, and ends with the signature's result
 * (or fails with it); what waited for the task waits for that result.
 */
CREATE DOMAIN taskq.continuation AS jsonb
	CHECK (pg_catalog.jsonb_typeof(VALUE) OPERATOR(pg_catalog.=) 'object');

COMMENT ON DOMAIN taskq.continuation IS
	'what a task returns to hand its place to a signature: build with taskq.replace, taskq.sleep, taskq.done';

CREATE FUNCTION taskq.replace(sig taskq.signature)
	RETURNS taskq.continuation
	LANGUAGE sql IMMUTABLE STRICT
	AS 'SELECT $1::pg_catalog.jsonb::taskq.continuation';

COMMENT ON FUNCTION taskq.replace(taskq.signature)
	IS 'returned by a task of taskq.continuation: the task ends with the result of sig, enqueued in its place';

CREATE FUNCTION taskq.done(result jsonb)
	RETURNS taskq.continuation
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT taskq.replace(taskq.task('taskq.collect', pg_catalog.jsonb_build_array($1),
	                                      immutable => true)) $$;

COMMENT ON FUNCTION taskq.done(jsonb)
	IS 'returned by a task of taskq.continuation that has no more to hand on: it ends with result';

CREATE FUNCTION taskq.sleep(duration interval, result jsonb DEFAULT NULL)
	RETURNS taskq.continuation
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT taskq.replace(taskq.task('taskq.collect', pg_catalog.jsonb_build_array($2),
	                                      delay => $1, immutable => true)) $$;

COMMENT ON FUNCTION taskq.sleep(interval, jsonb)
	IS 'returned by a task of taskq.continuation: it ends, with result, after duration, holding no worker meanwhile';

/*
 * Signals: a workflow step made by taskq.await(key, timeout) waits, holding
 * no worker, until taskq.signal(key, payload) is sent for its owner's key
 * (the payload is its result) or its timeout fails it.  A signal sent
 * before any step waits is kept in taskq.signals for the first that will.
 */
CREATE TABLE taskq.signals (
	owner		regrole NOT NULL,
	key			text NOT NULL,
	payload		jsonb,
	sent_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	sent_by		regrole NOT NULL,
	PRIMARY KEY (owner, key)
);

COMMENT ON TABLE taskq.signals
	IS 'signals sent while no step waited for their key: kept for the first step that will';

ALTER TABLE taskq.signals ENABLE ROW LEVEL SECURITY;
CREATE POLICY signals_owner_or_admin ON taskq.signals FOR SELECT
	USING (owner OPERATOR(pg_catalog.=) current_user::pg_catalog.regrole
		   OR pg_catalog.pg_has_role('taskq_admin', 'MEMBER'));
REVOKE ALL ON taskq.signals FROM PUBLIC;
GRANT SELECT ON taskq.signals TO PUBLIC;

CREATE TABLE taskq.signal_waits (
	task_id		bigint PRIMARY KEY,
	owner		regrole NOT NULL,
	key			text NOT NULL,
	deadline	timestamptz
);
CREATE INDEX signal_waits_key_idx ON taskq.signal_waits (owner, key);
CREATE INDEX signal_waits_deadline_idx ON taskq.signal_waits (deadline) WHERE deadline IS NOT NULL;

COMMENT ON TABLE taskq.signal_waits
	IS 'the steps waiting for a signal: their key, and when they fail without one';

ALTER TABLE taskq.signal_waits ENABLE ROW LEVEL SECURITY;
CREATE POLICY signal_waits_owner_or_admin ON taskq.signal_waits FOR SELECT
	USING (EXISTS (SELECT FROM taskq.tasks t WHERE t.id OPERATOR(pg_catalog.=) task_id));
REVOKE ALL ON taskq.signal_waits FROM PUBLIC;
GRANT SELECT ON taskq.signal_waits TO PUBLIC;

CREATE FUNCTION taskq.signal(key text, payload jsonb DEFAULT NULL,
							 to_role regrole DEFAULT NULL)
	RETURNS boolean
	LANGUAGE c VOLATILE CALLED ON NULL INPUT
	AS 'MODULE_PATHNAME', 'taskq_signal';

COMMENT ON FUNCTION taskq.signal(text, jsonb, regrole)
	IS 'send a signal: the steps waiting for key (of to_role, by default the caller) end with payload; true if any waited, else it is kept';

CREATE FUNCTION taskq.await_signal_run(key text, timeout interval)
	RETURNS taskq.continuation
	LANGUAGE c VOLATILE CALLED ON NULL INPUT
	AS 'MODULE_PATHNAME', 'taskq_await_signal_run';

COMMENT ON FUNCTION taskq.await_signal_run(text, interval)
	IS 'the function of a step made by taskq.await: it only runs as a task';

CREATE FUNCTION taskq.await(key text, timeout interval DEFAULT NULL, queue text DEFAULT 'default')
	RETURNS taskq.signature
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT taskq.task('taskq.await_signal_run(text, interval)', pg_catalog.jsonb_build_array($1, $2),
	                        queue => $3, immutable => true) $$;

COMMENT ON FUNCTION taskq.await(text, interval, text)
	IS 'signature of a step that waits, holding no worker, for taskq.signal(key, payload): its result is the payload; it fails after timeout';

/*
 * Backups keep the queue (guarantee 11, docs/guarantees.md): pg_dump dumps the rows of the
 * extension's tables, and the state of the id sequence, with the extension
 * (they are its configuration, in PostgreSQL's terms).  Row-level security
 * applies to a dump as to any read: dump as a superuser (or a role with
 * BYPASSRLS), see the README.
 */
SELECT pg_catalog.pg_extension_config_dump('taskq.tasks', '');
SELECT pg_catalog.pg_extension_config_dump('taskq.dependencies', '');
SELECT pg_catalog.pg_extension_config_dump('taskq.tasks_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('taskq.attempts', '');
SELECT pg_catalog.pg_extension_config_dump('taskq.schedules', '');
SELECT pg_catalog.pg_extension_config_dump('taskq.signals', '');
SELECT pg_catalog.pg_extension_config_dump('taskq.signal_waits', '');
