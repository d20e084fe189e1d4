/* pg_taskq--0.3.0--0.4.0.sql: cancellation and retry */

\echo Use "ALTER EXTENSION pg_taskq UPDATE TO '0.4.0'" to load this file. \quit

/* set by taskq.cancel on a running task; its worker stops it */
ALTER TABLE taskq.tasks ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false;

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
