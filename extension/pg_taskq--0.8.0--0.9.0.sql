/* pg_taskq--0.8.0--0.9.0.sql: taskq.enqueue_many, the CHECK of taskq.tasks in C, lz4 for results (issue 16) */

\echo Use "ALTER EXTENSION pg_taskq UPDATE TO '0.9.0'" to load this file. \quit

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

/* The CHECK of taskq.tasks as one C function (src/core/row_check.c says why). */
CREATE FUNCTION taskq.task_row_valid(state text, max_attempts integer,
									 lock_key_is_null boolean, lock_mode "char")
	RETURNS boolean
	LANGUAGE c IMMUTABLE PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'taskq_task_row_valid';

COMMENT ON FUNCTION taskq.task_row_valid(text, integer, boolean, "char")
	IS 'the CHECK constraint of taskq.tasks';

ALTER TABLE taskq.tasks
	DROP CONSTRAINT tasks_state_check,
	DROP CONSTRAINT tasks_max_attempts_check,
	DROP CONSTRAINT tasks_lock_mode_check,
	DROP CONSTRAINT tasks_lock_check,
	ADD CONSTRAINT tasks_row_check
		CHECK (taskq.task_row_valid(state, max_attempts, lock_key IS NULL, lock_mode));

/*
 * Results and arguments (an HTTP task's result holds the response body) are
 * compressed with lz4 where the server has it: pglz took a fifth of an HTTP
 * worker's time (issue 16).  A server built without lz4 keeps pglz.
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


/* taskq.enqueue_trigger may be fired FOR EACH STATEMENT, with a transition table */
COMMENT ON FUNCTION taskq.enqueue_trigger()
	IS 'trigger: enqueue fn(NEW) (OLD for DELETE) on a queue, for each row or for each row of a statement''s transition table; arguments: fn [, queue]';
