/* pg_taskq--0.1.0--0.2.0.sql: workflows (signatures, chain, group, chord) */

\echo Use "ALTER EXTENSION pg_taskq UPDATE TO '0.2.0'" to load this file. \quit

/* see docs/workflows.md */
ALTER TABLE taskq.tasks
	ADD COLUMN workflow_id bigint,
	ADD COLUMN pending integer NOT NULL DEFAULT 0,
	ADD COLUMN has_dependents boolean NOT NULL DEFAULT false;

CREATE INDEX tasks_workflow_idx ON taskq.tasks (workflow_id) WHERE workflow_id IS NOT NULL;

/* task_id waits for depends_on */
CREATE TABLE taskq.dependencies (
	task_id		bigint NOT NULL,
	depends_on	bigint NOT NULL,
	position	integer NOT NULL DEFAULT 0,
	mode		"char" NOT NULL CHECK (mode IN ('p', 'c', 'o', 'e', 'f')),
	PRIMARY KEY (task_id, depends_on)
);
CREATE INDEX dependencies_depends_on_idx ON taskq.dependencies (depends_on);

COMMENT ON TABLE taskq.dependencies IS
	'workflow edges: task_id waits for depends_on (p: gets its result prepended, c: collects it at position, o: order only, e/f: error callback with/without the failure)';

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
						   immutable boolean DEFAULT false)
	RETURNS taskq.signature
	LANGUAGE c STABLE CALLED ON NULL INPUT
	AS 'MODULE_PATHNAME', 'taskq_task_signature';

COMMENT ON FUNCTION taskq.task(text, jsonb, text, integer, interval, integer, interval, boolean)
	IS 'signature of a SQL task; immutable => true: it does not receive the previous result';

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
