/* pg_taskq--0.7.0--0.8.0.sql: schedules, continuations and signals (see docs/schedules.md) */

\echo Use "ALTER EXTENSION pg_taskq UPDATE TO '0.8.0'" to load this file. \quit

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

/* a continued task waits on its continuation with an edge of mode 'r' */
ALTER TABLE taskq.dependencies DROP CONSTRAINT dependencies_mode_check,
	ADD CONSTRAINT dependencies_mode_check CHECK (mode IN ('p', 'c', 'o', 'e', 'f', 'r'));
COMMENT ON TABLE taskq.dependencies IS
	'workflow edges: task_id waits for depends_on (p: gets its result prepended, c: collects it at position, o: order only, e/f: error callback with/without the failure, r: ends with its result, a continuation)';

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

/* schedules and signals are kept by a dump, as the tasks are */
SELECT pg_catalog.pg_extension_config_dump('taskq.schedules', '');
SELECT pg_catalog.pg_extension_config_dump('taskq.signals', '');
SELECT pg_catalog.pg_extension_config_dump('taskq.signal_waits', '');
