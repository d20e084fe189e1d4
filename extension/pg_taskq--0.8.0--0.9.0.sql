/* pg_taskq--0.8.0--0.9.0.sql: taskq.enqueue_many, and the CHECK of taskq.tasks in C (issue 16) */

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
